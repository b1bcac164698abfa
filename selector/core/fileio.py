"""Writing files so that a crash or a full disk never leaves half a file behind, and telling
the files a reader must not open (a named pipe blocks the reader until something writes)."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


def special_file_kind(path: str | os.PathLike[str]) -> str | None:
    """``a named pipe (FIFO)``, ``a socket`` or ``a device file`` when ``path`` is one; None for
    a regular file, a folder, or nothing there. Readers refuse these before opening them:
    reading a FIFO waits for a writer that may never come."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device file"
    return "not a regular file"


class OutputExistsError(FileExistsError):
    """The target exists and the caller did not allow overwriting it."""


def atomic_write_bytes(path: Path, data: bytes, *, overwrite: bool = True) -> Path:
    """Write ``data`` to a temporary file beside ``path``, then rename it into place.

    Raises :class:`OutputExistsError` when ``path`` exists and ``overwrite`` is False, and
    ``PermissionError``/``OSError`` with the path in the message when it cannot be written.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} already exists (use --force to overwrite it)")
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder, not a file")
    folder = path.parent if str(path.parent) else Path(".")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as err:
        raise type(err)(err.errno, f"cannot write to {folder}: {err.strerror}") from err
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o666 & ~_umask())
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except OSError:
            pass
        raise
    return path


def atomic_write_text(path: Path, text: str, *, overwrite: bool = True) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"), overwrite=overwrite)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
