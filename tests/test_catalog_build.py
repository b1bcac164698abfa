"""A full catalog build runs only when asked, one at a time, and takes its workers with it.

Real builds in real processes: SIGTERM in the middle of a build leaves no worker behind; the
lock refuses a second build and names the first; a lock left by a dead build is taken over;
start-up starts no build at all; and the session-wide leftover check fails a run that leaves
a process behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from selector.core.catalog.buildlock import BuildLock, lock_path, read_owner
from selector.core.errors import SelectorError

ROOT = Path(__file__).resolve().parents[1]


def _wait_for(condition, timeout: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def _alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _workers(build: psutil.Process) -> list[psutil.Process]:
    try:
        return [p for p in build.children(recursive=True)
                if "resource_tracker" not in " ".join(p.cmdline())]
    except psutil.Error:
        return []


def _start_build(out: Path, *extra: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "selector", "catalog", "build", "--out", str(out), *extra]
    return subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


@pytest.mark.parametrize("how", ["sigterm", "stdin closed"])
def test_stopping_a_build_stops_its_workers(tmp_path, how):
    out = tmp_path / "catalog.json.gz"
    build = _start_build(out, "--limit", "3", "--no-text", "--jobs", "2",
                         *(["--watch-stdin"] if how == "stdin closed" else []))
    parent = psutil.Process(build.pid)
    try:
        assert _wait_for(lambda: len(_workers(parent)) >= 2, 60), "the build started no workers"
        owner = read_owner(lock_path())
        assert owner and owner["pid"] == build.pid and "catalog build" in owner["command"]
        workers = _workers(parent)
        time.sleep(1.0)  # into their imports or first trace
        if how == "sigterm":
            build.send_signal(signal.SIGTERM)
        else:
            build.stdin.close()
        assert build.wait(timeout=30) == 128 + signal.SIGTERM
        assert _wait_for(lambda: not any(_alive(w) for w in workers), 10), \
            f"workers outlived the build: {[w.pid for w in workers if _alive(w)]}"
        output = build.stdout.read()
        assert "catalog build stopped (SIGTERM)" in output
        assert not out.exists(), "a stopped build must not write a snapshot"
        assert not lock_path().exists(), "the stopped build kept its lock"
    finally:
        if build.poll() is None:
            build.kill()
            build.wait()
        for pipe in (build.stdin, build.stdout):
            if pipe and not pipe.closed:
                pipe.close()


def test_killed_build_takes_its_workers_with_it(tmp_path):
    """SIGKILL leaves no chance to clean up: the workers watch their parent and end themselves."""
    build = _start_build(tmp_path / "catalog.json.gz", "--limit", "3", "--no-text", "--jobs", "2")
    parent = psutil.Process(build.pid)
    try:
        assert _wait_for(lambda: len(_workers(parent)) >= 2, 60)
        workers = _workers(parent)
        time.sleep(1.0)
        build.kill()
        build.wait(timeout=10)
        assert _wait_for(lambda: not any(_alive(w) for w in workers), 20), \
            f"workers outlived a killed build: {[w.pid for w in workers if _alive(w)]}"
    finally:
        if build.poll() is None:
            build.kill()
            build.wait()
        build.stdin.close()
        build.stdout.close()


HOLDER = textwrap.dedent("""
    import sys, time
    from selector.core.catalog.buildlock import BuildLock
    with BuildLock(command="selector catalog build --jobs 2"):
        print("held", flush=True)
        sys.stdin.read()
""")


def test_second_build_is_refused_and_names_the_owner(tmp_path, capsys):
    from selector.cli import main

    holder = subprocess.Popen([sys.executable, "-c", HOLDER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        code = main(["catalog", "build", "--out", str(tmp_path / "c.json.gz"), "--limit", "0", "--no-text"])
        err = capsys.readouterr().err
        assert code == 2
        assert len(err.strip().splitlines()) == 1, err
        assert f"pid {holder.pid}" in err and "selector catalog build --jobs 2" in err and "already running" in err
        assert not (tmp_path / "c.json.gz").exists()
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)
        holder.stdout.close()
    assert not lock_path().exists(), "the owner removes its lock when it ends"


def test_lock_of_a_dead_build_is_taken_over():
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock_path().parent.mkdir(parents=True, exist_ok=True)
    lock_path().write_text(json.dumps({"pid": dead.pid, "command": "selector catalog build", "started": "x"}))
    with BuildLock(command="selector catalog build --limit 1"):
        owner = read_owner(lock_path())
        assert owner["pid"] == os.getpid() and owner["command"] == "selector catalog build --limit 1"
        with pytest.raises(SelectorError, match=f"pid {os.getpid()}"):
            BuildLock().acquire()  # held: a second one in this very process is refused too
    assert not lock_path().exists()


def test_a_quick_build_writes_the_snapshot_and_releases_the_lock(tmp_path, capsys):
    from selector.cli import main
    from selector.core.catalog.snapshot import read_snapshot

    out = tmp_path / "c.json.gz"
    assert main(["catalog", "build", "--out", str(out), "--limit", "0", "--no-text", "--quiet"]) == 0
    assert read_snapshot(out)["entries"] == []
    assert not lock_path().exists()
    assert "wrote" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [(["--jobs", "-1"], "--jobs"), (["--timeout", "0"], "--timeout"),
                                           (["--limit", "-2"], "--limit")])
def test_bad_build_options_are_refused_before_work(tmp_path, capsys, args, message):
    from selector.cli import main

    assert main(["catalog", "build", "--out", str(tmp_path / "c.json.gz"), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_start_up_shows_the_catalog_first_and_starts_no_build(monkeypatch):
    """A snapshot built with other timm/transformers (as here) is shown as it is: no process."""
    from selector.core.estimate import calibration
    from selector.ui import workflow

    calls = []
    monkeypatch.setattr(calibration, "load_calibration", lambda threads=None: None)
    monkeypatch.setattr(calibration, "get_calibration", lambda **kw: calls.append(kw) or "measured")
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    [(what, catalog)] = list(workflow.load_catalog_quietly())
    assert what == "catalog" and len(catalog) > 1000 and not calls  # the calibration is a step of its own
    time.sleep(0.5)
    started = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
    assert not started, f"start-up started processes: {[' '.join(p.cmdline()) for p in started]}"
    assert not any("being refreshed" in p for p in catalog.problems)


LEAKY = textwrap.dedent("""
    import subprocess, sys

    def test_leaves_a_process_behind():
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
""")


def test_the_suite_fails_on_a_process_left_behind(tmp_path):
    (tmp_path / "test_leaky.py").write_text(LEAKY)
    env = dict(os.environ)
    env.pop("SELECTOR_TEST_RUN", None)
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "tests.conftest", "-p", "no:cacheprovider",
                          str(tmp_path / "test_leaky.py")], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, env=env)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "leftover processes" in run.stdout and "time.sleep(120)" in run.stdout, run.stdout
    assert "1 passed" in run.stdout
