"""Output files: checked before any work starts, and written whole or not at all."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

from ..exceptions import SHOWN_PATH, invalid

__all__ = ["write_atomic", "check_output_path", "write_output"]


def write_atomic(path: str | os.PathLike, writer: Callable[[str], object]) -> Path:
    """Write ``path`` through ``writer(temporary_path)``, then rename the temporary file onto ``path``.

    The temporary file is created in the same directory (so the final ``os.replace`` is an atomic rename on
    the same file system) and removed on any failure, including ``KeyboardInterrupt``: ``path`` is either
    the complete new file or left as it was. An existing file keeps its permission bits.

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
        if target.exists():
            os.chmod(tmp, stat.S_IMODE(target.stat().st_mode))
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return target


def check_output_path(option: str, path: str, suffixes: tuple[str, ...]) -> None:
    """Refuse, before any work, an output ``path`` that could not be written whole: a wrong suffix, a missing
    directory, or something other than a regular file in the way (a directory, a device, a pipe)."""
    if not path or path.endswith(("/", os.sep)):
        raise invalid(option, "must name a file", path, subject=option, limit=SHOWN_PATH)
    target = Path(path)
    if target.suffix.lower() not in suffixes:
        raise invalid(option, f"must end in {' or '.join(suffixes)}", path, subject=option, limit=SHOWN_PATH)
    if not (target.parent if str(target.parent) else Path(".")).is_dir():
        raise invalid(option, "must be in an existing directory", path, subject=option, limit=SHOWN_PATH)
    if target.exists() and not target.is_file():
        raise invalid(option, "must be a regular file (not a directory, device or pipe)", path, subject=option,
                      limit=SHOWN_PATH)


def write_output(option: str, path: str, writer: Callable[[str], object]) -> None:
    """:func:`write_atomic`, with a failure to write reported as bad input naming the option."""
    try:
        write_atomic(path, writer)
    except OSError as exc:
        raise invalid(option, f"cannot be written ({exc.strerror or exc})", path, subject=option,
                      limit=SHOWN_PATH) from None
