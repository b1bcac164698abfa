"""A full catalog rebuild that the app asked for, in a child process the app owns.

Only ever started by the user (the GUI's Catalog > Rebuild action); never at start-up, and
never because the installed timm/transformers differ from the snapshot's (entries are then
re-traced one at a time, see ``retrace``). The child is ``selector catalog build
--watch-stdin`` at low priority: it writes the refreshed snapshot into ``cache_dir()``,
holds the build lock (so a second build refuses and names this one), and ends when its
stdin closes, so it cannot outlive the app even if the app is killed. ``cancel()`` sends it
SIGTERM, which stops its worker processes too.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from selector.core.catalog.catalog import refreshed_snapshot_path

_PROGRESS = re.compile(r"^\[(\d+)/(\d+)\]\s+(\d+) s, about\s+(\d+) s left: (.*)$")


@dataclass
class BuildProgress:
    done: int
    total: int
    eta_s: float | None
    """Seconds left, as the build estimates them (None before the first model is measured)."""
    label: str
    """The model just measured, or a line the build printed."""


def build_command(out: str | Path, jobs: int, extra: list[str] | None = None) -> list[str]:
    """``selector catalog build`` for this interpreter (or this frozen app), niced on POSIX."""
    base = [sys.executable] if getattr(sys, "frozen", False) else [sys.executable, "-m", "selector"]
    command = [*base, "catalog", "build", "--out", str(out), "--jobs", str(jobs), "--watch-stdin",
               *(extra or [])]
    if sys.platform != "win32":
        import shutil

        nice = shutil.which("nice")
        if nice:
            command = [nice, "-n", "10", *command]
    return command


class CatalogBuild:
    """One running rebuild: iterate ``progress()`` in a worker, ``cancel()`` from anywhere."""

    def __init__(self, *, jobs: int = 1, out: str | Path | None = None, extra: list[str] | None = None) -> None:
        self.out = Path(out) if out is not None else refreshed_snapshot_path()
        self.command = build_command(self.out, jobs, extra)
        kwargs: dict = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "stderr": subprocess.STDOUT,
                        "text": True, "bufsize": 1}
        if sys.platform == "win32":  # pragma: no cover
            kwargs["creationflags"] = getattr(subprocess, "BELOW_NORMAL_PRIORITY_CLASS", 0)
        self.process = subprocess.Popen(self.command, **kwargs)
        self.cancelled = False
        self.lines: list[str] = []
        """Every line the build printed (the last ones explain a failure)."""

    def progress(self) -> Iterator[BuildProgress]:
        """Progress until the child ends (finished, failed or cancelled); then ``wait()`` it."""
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            line = raw.rstrip()
            self.lines.append(line)
            match = _PROGRESS.match(line)
            if match:
                done, total, _elapsed, eta, label = match.groups()
                yield BuildProgress(int(done), int(total), float(eta) if int(done) else None, label)
            elif line:
                yield BuildProgress(0, 0, None, line)
        self.process.wait()

    @property
    def returncode(self) -> int | None:
        return self.process.poll()

    def outcome(self) -> str:
        """One line for the user once the child has ended."""
        code = self.process.wait()
        if self.cancelled:
            return "Catalog rebuild cancelled; the catalog in use is unchanged."
        if code == 0:
            return next((line for line in reversed(self.lines) if line.startswith("wrote ")),
                        f"Catalog rebuilt into {self.out}.")
        last = next((line for line in reversed(self.lines) if line.strip()), "")
        return f"Catalog rebuild failed (exit code {code}): {last}"

    def cancel(self, wait_s: float = 15.0) -> None:
        """SIGTERM (the build stops its workers and exits), then SIGKILL after ``wait_s``."""
        if self.process.poll() is not None:
            return
        self.cancelled = True
        self.process.terminate()
        deadline = time.monotonic() + wait_s
        while self.process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._close_pipes()

    def _close_pipes(self) -> None:
        for pipe in (self.process.stdin,):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:
                    pass
