"""The probe runner under fault injection: every end classified, the parent unharmed, no
process left behind. The ``fault`` kind imports no torch, so each probe takes ~0.1-0.5 s."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import psutil
import pytest

from selector.core.probes import ProbeRun, ProbeSpec
from selector.core.results import record as rec


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _ours(process: psutil.Process) -> bool:
    """A probe process, not the interpreter's own multiprocessing helper: the resource tracker
    an earlier test (a DataLoader, a semaphore) started lives as long as this process does."""
    try:
        return "multiprocessing.resource_tracker" not in " ".join(process.cmdline())
    except psutil.Error:
        return False


@pytest.fixture(autouse=True)
def no_children_left():
    yield
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        left = [p for p in psutil.Process().children(recursive=True) if _alive(p.pid) and _ours(p)]
        if not left:
            return
        time.sleep(0.05)
    pytest.fail("probe processes left behind: "
                + "; ".join(f"{p.pid} {' '.join(p.cmdline())[:200]}" for p in left))


def fault(mode: str, **params) -> ProbeSpec:
    budget = params.pop("budget_s", 5.0)
    timeout = params.pop("timeout_s", 30.0)
    return ProbeSpec(kind="fault", model="fake-model", budget_s=budget, timeout_s=timeout,
                     params={"mode": mode, **params})


def run_probe(spec: ProbeSpec):
    run = ProbeRun(spec)
    events = list(run.events())
    return run, events, run.result


@pytest.mark.parametrize("mode, status, words", [
    ("exit", rec.CRASHED, "exited with code 7 without reporting a result"),
    ("memory_error", rec.OUT_OF_MEMORY, "MemoryError"),
    ("cuda_oom", rec.OUT_OF_MEMORY, "CUDA out of memory"),
    ("raise", rec.FAILED, "ValueError: fault injection"),
    ("sigkill", rec.CRASHED, "SIGKILL from outside selector (not by the out-of-memory killer"),
    ("segfault", rec.CRASHED, "SIGSEGV"),
])
def test_every_failure_is_classified_and_keeps_earlier_rows(mode, status, words):
    run, events, result = run_probe(fault(mode, code=7, rows=2))
    assert result.status == status, result.message
    assert words in result.message
    assert len(result.rows) == 2, "rows emitted before the failure are kept"
    assert events[0].type == "started" and events[-1].type == "end"
    assert events[-1].result is result
    if mode == "raise":
        assert "Traceback" in result.error and "fault.py" in result.error
    if mode == "exit":
        assert result.exit_code == 7 and "about to exit hard" in result.stderr_tail
    if mode == "segfault":
        assert result.exit_code == -signal.SIGSEGV
        assert "Fatal Python error" in result.stderr_tail  # faulthandler's stack is kept


def test_a_finished_probe_reports_its_result_and_overheads():
    run, events, result = run_probe(fault("finish", rows=3))
    assert result.status == rec.FINISHED
    assert result.message == "fault probe finished (finish)"
    assert [r["index"] for r in result.rows] == [0, 1, 2]
    assert result.summary["mode"] == "finish"
    assert result.exit_code == 0
    assert 0 < result.overhead["spawn_s"] <= result.overhead["ready_s"]
    assert result.to_dict()["spec"]["params"]["mode"] == "finish"
    types = [e.type for e in events]
    assert types[0] == "started" and types[-1] == "end" and "result" in types


def test_noise_on_stdout_cannot_fake_or_corrupt_events():
    run, events, result = run_probe(fault("noisy"))
    assert result.status == rec.FINISHED
    assert "fake" not in result.summary, "a JSON line printed by the probe is not an event"
    assert "plain noise on stdout" in result.stderr_tail
    assert "raw bytes on fd 1" in result.stderr_tail


def test_cancel_ends_a_hung_probe():
    run = ProbeRun(fault("hang"))
    for event in run.events():
        if event.type == "log" and event.message == "hanging":
            run.cancel()
    assert run.result.status == rec.CANCELLED
    assert run.result.rows, "the row measured before the cancel is kept"
    assert not _alive(run.pid)


def test_cancel_kills_a_probe_that_ignores_sigterm():
    run = ProbeRun(fault("hang_hard"), grace_s=0.3)
    for event in run.events():
        if event.type == "log":
            threading.Timer(0.0, run.cancel).start()  # from another thread, as the GUI does
    assert run.result.status == rec.CANCELLED
    assert run.result.exit_code == -signal.SIGKILL  # SIGTERM was ignored: killed after the grace


def test_cancel_also_ends_grandchildren():
    run = ProbeRun(fault("grandchild"))
    grandchild = None
    for event in run.events():
        if event.type == "log" and event.data.get("pid"):
            grandchild = event.data["pid"]
            assert _alive(grandchild)
            run.cancel()
    assert run.result.status == rec.CANCELLED
    deadline = time.monotonic() + 10
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _alive(grandchild)


def test_hard_timeout_kills_and_classifies():
    run, _, result = run_probe(fault("hang", timeout_s=1.0))
    assert result.status == rec.TIMED_OUT
    assert "hard timeout of 1 s" in result.message
    assert not _alive(run.pid)


def test_an_external_sigkill_with_memory_free_is_a_crash_not_the_oom_killer():
    run = ProbeRun(fault("hang"))
    for event in run.events():
        if event.type == "log":
            os.kill(run.pid, signal.SIGKILL)  # a kill -9 from outside, the machine far from full
    assert run.result.status == rec.CRASHED
    assert "killed by SIGKILL from outside selector (not by the out-of-memory killer: " in run.result.message
    assert "GiB was free" in run.result.message
    assert run.result.child_peak_rss_mib and run.result.child_peak_rss_mib > 1


def test_the_soft_budget_and_a_stop_request_wrap_up_with_a_result():
    _, _, result = run_probe(fault("stop_aware", budget_s=0.5))
    assert result.status == rec.FINISHED
    assert result.summary["steps"] > 5 and not result.summary["stopped_by_request"]

    run = ProbeRun(fault("stop_aware", budget_s=60))
    for event in run.events():
        if event.type == "progress" and event.step >= 5:
            run.request_stop()
    assert run.result.status == rec.FINISHED
    assert run.result.summary["stopped_by_request"]


def test_stopping_iteration_early_kills_the_child():
    run = ProbeRun(fault("hang"))
    events = run.events()
    for event in events:
        if event.type == "log":
            break
    pid = run.pid
    events.close()  # the consumer went away (GUI closed, exception in the loop)
    assert not _alive(pid)


def test_cancel_before_start_runs_nothing():
    run = ProbeRun(fault("finish"))
    run.cancel()
    events = list(run.events())
    assert [e.type for e in events] == ["end"]
    assert run.result.status == rec.CANCELLED and run.pid is None


def test_unknown_kind_fails_with_the_known_kinds_named():
    _, _, result = run_probe(ProbeSpec(kind="nope", model="m", budget_s=1, timeout_s=20))
    assert result.status == rec.FAILED
    assert "unknown probe kind 'nope'" in result.message and "latency" in result.message


def test_the_child_dies_with_its_parent(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent("""
        from selector.core.probes import ProbeRun, ProbeSpec
        run = ProbeRun(ProbeSpec(kind="fault", model="m", timeout_s=60, params={"mode": "grandchild"}))
        for event in run.events():
            if event.type == "log":
                print(run.pid, event.data["pid"], flush=True)
    """))
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        child, grandchild = map(int, parent.stdout.readline().split())
        assert _alive(child) and _alive(grandchild)
        parent.kill()  # SIGKILL: no atexit, no finally; only the closed stdin pipe tells the child
        parent.wait()
        deadline = time.monotonic() + 10
        while (_alive(child) or _alive(grandchild)) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not _alive(child) and not _alive(grandchild)
    finally:
        parent.kill()
        parent.stdout.close()


def test_finish_runs_to_the_end_and_returns_the_recorded_result():
    run = ProbeRun(fault("finish", rows=2))
    result = run.finish()
    assert result is run.result and result.status == rec.FINISHED
    assert [row["index"] for row in result.rows] == [0, 1]
    crashed = ProbeRun(fault("raise")).finish()
    assert crashed.status == rec.FAILED and "fault injection" in crashed.error
