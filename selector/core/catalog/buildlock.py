"""One catalog build at a time: a lock file in ``cache_dir()`` that names its owner.

The file holds the owner's pid, command line and start time as JSON, so a second build can
say who holds it. On POSIX the owner also holds an exclusive ``flock`` on it for as long as it
lives: the kernel drops that lock when the process ends however it ends, so a lock left by a
dead build is taken over without guessing from pids. Where ``fcntl`` is missing (Windows) a
lock whose pid no longer runs is stale and taken over.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
from pathlib import Path
from typing import IO, Any

from selector.core.errors import SelectorError
from selector.core.paths import cache_dir

LOCK_NAME = "catalog-build.lock"


def lock_path() -> Path:
    return cache_dir() / LOCK_NAME


def read_owner(path: Path | None = None) -> dict[str, Any] | None:
    """The owner record in the lock file, or None when there is none or it cannot be read."""
    try:
        data = json.loads((path or lock_path()).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def describe_owner(owner: dict[str, Any] | None) -> str:
    if not owner:
        return "another process"
    return f"pid {owner.get('pid', '?')} (`{owner.get('command', '?')}`, started {owner.get('started', '?')})"


class BuildLock:
    """Context manager: held for a whole build; raises ``SelectorError`` naming the owner when taken."""

    def __init__(self, path: Path | None = None, command: str | None = None) -> None:
        self.path = path or lock_path()
        self.command = command or " ".join(["selector", *sys.argv[1:]])
        self._file: IO[str] | None = None

    def __enter__(self) -> "BuildLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            self._acquire_by_pid()
            return
        for _ in range(3):
            handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held until release()
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                raise SelectorError(f"a catalog build is already running: {describe_owner(read_owner(self.path))}"
                                    "; wait for it or stop it first") from None
            if _same_file(handle, self.path):
                break
            handle.close()  # the owner removed the file as we opened it: lock the new one
        else:
            raise SelectorError(f"cannot take the catalog build lock {self.path}")
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(self._record()))
        handle.flush()
        self._file = handle

    def _acquire_by_pid(self) -> None:  # pragma: no cover - exercised on Windows only
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                owner = read_owner(self.path)
                if owner and _alive(owner.get("pid")):
                    raise SelectorError(f"a catalog build is already running: {describe_owner(owner)}; "
                                        "wait for it or stop it first") from None
                self.path.unlink(missing_ok=True)  # stale: its owner is gone
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(json.dumps(self._record()))
            return
        raise SelectorError(f"cannot take the catalog build lock {self.path}")

    def _record(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "command": self.command,
                "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds")}

    def release(self) -> None:
        owner = read_owner(self.path)
        if owner and owner.get("pid") == os.getpid():
            self.path.unlink(missing_ok=True)
        if self._file is not None:
            self._file.close()  # closing drops the flock
            self._file = None


def _same_file(handle: IO[str], path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(handle.fileno()), os.stat(path))
    except OSError:
        return False


def _alive(pid: Any) -> bool:
    try:
        import psutil

        return bool(pid) and psutil.pid_exists(int(pid))
    except (ImportError, ValueError, TypeError):
        return False
