"""Output files: checked before any work starts, and written whole or not at all."""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

from ..exceptions import SHOWN_PATH, invalid

__all__ = ["write_atomic", "check_output_path", "write_output", "same_file"]


def write_atomic(path: str | os.PathLike, writer: Callable[[str], object]) -> Path:
    """Write ``path`` through ``writer(temporary_path)``, then rename the temporary file onto ``path``.

    The temporary file is created in the same directory (so the final ``os.replace`` is an atomic rename on
    the same file system) and removed on any failure, including ``KeyboardInterrupt`` and the SIGTERM and SIGHUP
    the command line turns into one: ``path`` is either the complete new file or left as it was. An existing file
    keeps its permission bits; a new one gets what ``open`` would give it (0o666 less the umask). A symbolic link
    is followed: the file it points to is replaced, the link stays.
    Anything but a regular file at the destination (a directory, a device, a pipe, a socket) is refused, checked
    again just before the rename.

    Parameters
    ----------
    path
        Destination.
    writer
        Called once with the temporary file's path (a string); it must write the whole content there.

    Returns
    -------
    Path
        The destination (the link's target when ``path`` is a symbolic link).

    Raises
    ------
    OSError
        When the directory does not exist or cannot be written, the writer fails to write, or something other
        than a regular file is in the way (``IsADirectoryError`` for a directory, ``FileExistsError`` otherwise).
    """
    target = _resolved(path)
    directory = target.parent
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
        os.close(fd)
        writer(tmp)
        mode = _existing_mode(target)
        os.chmod(tmp, _new_file_mode() if mode is None else stat.S_IMODE(mode))
        os.replace(tmp, target)
    except BaseException:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
        raise
    return target


def _new_file_mode() -> int:
    """What ``open`` gives a new file, 0o666 less the umask (``mkstemp`` alone gives 0o600)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def _resolved(path: str | os.PathLike) -> Path:
    """``path`` with symbolic links followed (a link to a file that does not exist yet names that file)."""
    return Path(os.path.realpath(os.fspath(path)))


def _existing_mode(target: Path) -> int | None:
    """The mode of the regular file at ``target``, ``None`` when there is none; ``OSError`` when something else is
    there (it must not be replaced)."""
    try:
        info = os.lstat(target)
    except FileNotFoundError:
        return None
    if stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(errno.EISDIR, "a directory is in the way", str(target))
    if not stat.S_ISREG(info.st_mode):
        raise FileExistsError(errno.EEXIST, "not a regular file (a device, pipe or socket) is in the way", str(target))
    return info.st_mode


def check_output_path(option: str, path: str, suffixes: tuple[str, ...]) -> None:
    """Refuse, before any work, an output ``path`` that could not be written whole: an empty name or one ending in
    a separator, a wrong suffix, a missing or unwritable directory, or something other than a regular file in the
    way (a directory, a device, a pipe, a socket), also when reached through a symbolic link."""
    if not path or path.endswith(("/", os.sep)) or "\0" in path:
        raise invalid(option, "must name a file", path, subject=option, limit=SHOWN_PATH)
    target = Path(path)
    if target.suffix.lower() not in suffixes:
        raise invalid(option, f"must end in {' or '.join(suffixes)}", path, subject=option, limit=SHOWN_PATH)
    real = _resolved(path)
    if not real.parent.is_dir():
        raise invalid(option, "must be in an existing directory", path, subject=option, limit=SHOWN_PATH)
    try:
        _existing_mode(real)
    except OSError:
        raise invalid(option, "must be a regular file (not a directory, device, pipe or socket)", path,
                      subject=option, limit=SHOWN_PATH) from None
    if not os.access(real.parent, os.W_OK | os.X_OK):
        raise invalid(option, "must be in a directory this user can write", path, subject=option, limit=SHOWN_PATH)


def same_file(first: str, second: str) -> bool:
    """Whether two output paths name one file (through symbolic links, or hard links when both exist)."""
    if _resolved(first) == _resolved(second):
        return True
    try:
        return os.path.samefile(first, second)
    except OSError:
        return False


def write_output(option: str, path: str, writer: Callable[[str], object]) -> None:
    """:func:`write_atomic`, with a failure to write reported as bad input naming the option."""
    try:
        write_atomic(path, writer)
    except OSError as exc:
        raise invalid(option, f"cannot be written ({exc.strerror or exc})", path, subject=option,
                      limit=SHOWN_PATH) from None
