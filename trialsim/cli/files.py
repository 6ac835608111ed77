"""Writing files whole or not at all."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["write_atomic"]


def write_atomic(path: str | os.PathLike, writer: Callable[[str], object]) -> Path:
    """Write ``path`` through ``writer(temporary_path)``, then rename the temporary file onto ``path``.

    The temporary file is created in the same directory (so the final ``os.replace`` is an atomic rename on
    the same file system) and removed on any failure, including ``KeyboardInterrupt``: ``path`` is either
    the complete new file or left as it was.

    Parameters
    ----------
    path
        Destination.
    writer
        Called once with the temporary file's path (a string); it must write the whole content there.

    Returns
    -------
    Path
        The destination.

    Raises
    ------
    OSError
        When the directory does not exist or cannot be written, or the writer fails to write.
    """
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    os.close(fd)
    try:
        writer(tmp)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return target
