"""Test setup shared by every test.

Set before anything imports Qt or huggingface_hub: Qt renders offscreen, the hub is
offline (it is unreachable here, and a real user's tests must never wait on it), and every
file the app writes goes under a per-test temporary folder.

Nothing a test starts may outlive the run: every process this run started (a descendant of
pytest, or an orphan that carries this run's ``SELECTOR_TEST_RUN`` mark in its environment:
catalog builds, probe children, build workers) and that is still alive at the end fails the
run, named, and is then killed. Python's own multiprocessing resource tracker is allowed.
"""

from __future__ import annotations

import os
import time

os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["PYQTGRAPH_QT_LIB"] = "PySide6"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
RUN_MARK = f"{os.getpid()}-{time.time_ns()}"
os.environ["SELECTOR_TEST_RUN"] = RUN_MARK
"""Inherited by every process the run starts, so an orphan is still known as ours."""
LEFTOVER_GRACE_S = 5.0

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch):
    """Settings, results, logs and caches of the app live in a fresh folder per test."""
    home = tmp_path_factory.mktemp("selector-home")
    monkeypatch.setenv("SELECTOR_HOME", str(home))
    return home


def leftover_processes() -> list:
    """Live processes this run started: descendants of pytest, and orphans carrying RUN_MARK."""
    import psutil

    found = {p.pid: p for p in psutil.Process().children(recursive=True)}
    for process in psutil.process_iter(["cmdline"]):
        if process.pid in found or process.pid == os.getpid():
            continue
        command = " ".join(process.info["cmdline"] or []).lower()
        if "python" not in command and "selector" not in command:
            continue
        try:
            if process.environ().get("SELECTOR_TEST_RUN") == RUN_MARK:
                found[process.pid] = process
        except psutil.Error:
            continue
    left = []
    for process in found.values():
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                continue
            command = " ".join(process.cmdline())
        except psutil.Error:
            continue
        if "multiprocessing.resource_tracker" not in command:
            left.append((process, command))
    return left


def pytest_sessionfinish(session, exitstatus):
    """Fail the run on any process it left behind (named), then end them."""
    import psutil

    deadline = time.monotonic() + LEFTOVER_GRACE_S
    left = leftover_processes()
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = leftover_processes()
    if not left:
        return
    lines = [f"  pid {p.pid}: {command[:200]}" for p, command in left]
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    text = "processes started by the tests outlived the run (killed now):\n" + "\n".join(lines)
    if reporter is not None:
        reporter.write_sep("=", "leftover processes", red=True)
        reporter.write_line(text)
    else:
        print(text)
    for process, _command in left:
        try:
            process.kill()
        except psutil.Error:
            pass
    session.exitstatus = 1
