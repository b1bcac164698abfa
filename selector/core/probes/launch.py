"""How a probe's child process is started and read: its command line (a frozen bundle has no
``-m``), its environment (selector importable, threads pinned), and the two reader threads
that turn its stdout into events and keep the tail of its stderr. ``runner.ProbeRun`` drives it.
"""

from __future__ import annotations

import os
import queue
import sys
from collections import deque
from pathlib import Path

from selector.core.probes import events as ev
from selector.core.probes.spec import ProbeSpec

PROBE_CHILD_FLAG = "--probe-child"
"""Hidden first argument of a frozen bundle's ``selector`` executable: run the probe child."""


def frozen_console_executable() -> str:
    """The bundle's console ``selector`` beside ``sys.executable`` (which may be the windowed
    ``selector-gui``, whose standard streams Windows does not wire); else ``sys.executable``."""
    exe = Path(sys.executable)
    console = exe.with_name("selector" + exe.suffix)
    return str(console) if console.is_file() else sys.executable


def child_command() -> list[str]:
    """``python -m selector.core.probes.child``; a frozen bundle (PyInstaller) has no ``-m``,
    so there its console executable runs the child behind a hidden flag (``selector.cli``)."""
    if getattr(sys, "frozen", False):
        return [frozen_console_executable(), PROBE_CHILD_FLAG]
    return [sys.executable, "-m", "selector.core.probes.child"]


def child_env(spec: ProbeSpec) -> dict[str, str]:
    """The child's environment: this one, plus selector importable, threads pinned."""
    env = dict(os.environ)
    if not getattr(sys, "frozen", False):  # a bundle carries selector inside itself
        root = str(Path(__file__).resolve().parents[3])
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONFAULTHANDLER"] = "1"  # a segfault leaves a Python stack in the stderr tail
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    if spec.threads:
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            env[name] = str(spec.threads)
    return env


EOF = object()
"""Put on the event queue when the child's stdout closes."""


def read_events(pipe, out: queue.Queue) -> None:  # noqa: ANN001
    """Put each event the child writes to ``pipe`` on ``out``, then :data:`EOF` (a thread)."""
    try:
        for line in pipe:
            data = ev.decode(line)
            if data is not None:
                out.put(data)
    except (OSError, ValueError):
        pass
    out.put(EOF)


def read_tail(pipe, tail: deque) -> None:  # noqa: ANN001
    """Keep the last lines of the child's stderr in ``tail`` (a bounded deque; a thread)."""
    try:
        for line in pipe:
            tail.append(line.decode("utf-8", errors="replace"))
    except (OSError, ValueError):
        pass
