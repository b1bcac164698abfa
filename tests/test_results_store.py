"""The results database: round trips, sessions, queries, schema versions, crash safety."""

from __future__ import annotations

import inspect
import json
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from selector.core.errors import SelectorError
from selector.core.results import (
    FINISHED,
    SCHEMA_VERSION,
    LatencyRow,
    ProbeResult,
    ResultStore,
)


def make_result(model="resnet18", kind="latency", status=FINISHED, ended="2026-01-01T00:00:00",
                session=None, p50=12.5) -> ProbeResult:
    row = LatencyRow(model_id=model, device="cpu", dtype="fp32", batch_size=8, input_size=[3, 224, 224],
                     threads=2, p50_ms=p50, samples_per_s=640.0, software={"torch": "2.x"})
    return ProbeResult(
        id=f"{model}-{kind}-{ended}", kind=kind, model_id=model, device="cpu", status=status,
        message="ok", session_id=session, started_at=ended, ended_at=ended, duration_s=3.5,
        weights="random", rows=[row.to_dict()], summary={"best_samples_per_s": 640.0},
        loss_curve=[{"step": 1, "loss": 1.2}, {"step": 2, "loss": 0.9}],
        events=[{"type": "started", "t": 0.0}, {"type": "end", "t": 3.5}],
        estimate={"total_mib": 900.0}, preflight={"fits": True}, spec={"kind": kind},
        hardware={"name": "box"}, software={"torch": "2.x"}, overhead={"spawn_s": 0.1},
    )


def test_a_result_round_trips_exactly_through_json_and_the_store(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    session = store.create_session("first", hardware={"name": "box"})
    result = make_result(session=session.id)
    assert ProbeResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result
    store.save_result(result)
    assert store.get_result(result.id) == result
    assert store.get_result(result.id, with_events=False).events == []
    assert store.get_result(result.id).latency_rows()[0].p50_ms == 12.5
    store.save_result(result)  # saving again replaces, never duplicates
    assert len(store.session_results(session.id)) == 1


def test_sessions_group_results_and_can_be_closed_or_discarded(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    one = store.create_session("one")
    two = store.create_session("two")
    for i, model in enumerate(["a", "b", "c"]):
        store.save_result(make_result(model, session=one.id, ended=f"2026-01-0{i + 1}T00:00:00"))
    store.save_result(make_result("d", session=two.id))
    assert [r.model_id for r in store.session_results(one.id)] == ["a", "b", "c"]
    listed = {s.name: s for s in store.list_sessions()}
    assert listed["one"].result_count == 3 and listed["two"].result_count == 1
    assert store.get_session(one.id[:6]).id == one.id  # a unique prefix is enough
    store.set_session_status(one.id, "closed")
    assert store.get_session(one.id).status == "closed"
    assert store.discard_session(one.id) == 3
    with pytest.raises(SelectorError, match="no probe result"):
        store.get_result(make_result("a", ended="2026-01-01T00:00:00").id)
    with sqlite3.connect(store.path) as conn:  # rows, curves and events went with it
        assert conn.execute("SELECT COUNT(*) FROM result_rows").fetchone()[0] == 1
        assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 2
    with pytest.raises(SelectorError, match="no session"):
        store.get_session("zzz")


def test_latest_result_per_model_and_kind(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    s = store.create_session()
    store.save_result(make_result("a", ended="2026-01-01T00:00:00", p50=10, session=s.id))
    store.save_result(make_result("a", ended="2026-01-03T00:00:00", p50=30, session=s.id))
    store.save_result(make_result("a", ended="2026-01-04T00:00:00", status="failed", session=s.id))
    store.save_result(make_result("a", kind="finetune", ended="2026-01-02T00:00:00", session=s.id))
    store.save_result(make_result("b", ended="2026-01-02T00:00:00", p50=20, session=s.id))
    latest = store.latest_results(kind="latency")
    assert [(r.model_id, r.latency_rows()[0].p50_ms) for r in latest] == [("a", 30), ("b", 20)]
    assert [r.status for r in store.latest_results(kind="latency", status=None)][0] == "failed"
    assert [r.kind for r in store.latest_results(model_ids=["a"])] == ["finetune", "latency"]


def test_schema_is_versioned_and_a_newer_database_is_refused(tmp_path):
    path = tmp_path / "r.sqlite"
    assert ResultStore(path).schema_version == SCHEMA_VERSION
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(SelectorError, match="newer than this selector understands"):
        ResultStore(path)


def test_default_location_is_the_data_dir(isolated_home):
    store = ResultStore()
    assert store.path == isolated_home / "data" / "results.sqlite"


def test_killing_the_writer_loses_at_most_the_probe_in_flight(tmp_path):
    path = tmp_path / "r.sqlite"
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(tmp_path)!r})
        from selector.core.results import ResultStore
        from test_helper import make_result
        store = ResultStore({str(path)!r})
        session = store.create_session("crash")
        i = 0
        while True:
            store.save_result(make_result(f"m{{i}}", session=session.id))
            i += 1
            print(i, flush=True)
    """)
    source = inspect.getsource(make_result)
    (tmp_path / "test_helper.py").write_text(
        "from selector.core.results import ProbeResult, LatencyRow, FINISHED\n" + source)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    saved = 0
    while saved < 20:
        saved = int(proc.stdout.readline())
    proc.kill()
    proc.wait()
    proc.stdout.close()
    store = ResultStore(path)
    session = store.list_sessions()[0]
    results = store.session_results(session.id, with_events=True)
    assert len(results) >= saved
    # nothing half-written: every stored result is whole
    assert all(len(r.rows) == 1 and len(r.events) == 2 and len(r.loss_curve) == 2 for r in results)


def test_many_stores_created_at_once_on_a_new_file_all_open_it(tmp_path):
    """Two ``selector bench`` started together on a new home: each opens its own connection
    and finds no schema yet; one must create it while the others wait, none may fail."""
    for attempt in range(5):
        path = tmp_path / f"r{attempt}.sqlite"
        barrier = threading.Barrier(6)
        errors: list[str] = []

        def open_and_write(path=path, barrier=barrier, errors=errors) -> None:
            barrier.wait()
            try:
                ResultStore(path).create_session("together")
            except SelectorError as err:
                errors.append(str(err))

        threads = [threading.Thread(target=open_and_write) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        store = ResultStore(path)
        assert store.schema_version == SCHEMA_VERSION
        assert len(store.list_sessions()) == 6


def test_processes_creating_the_store_at_once_all_succeed(tmp_path):
    go = tmp_path / "go"
    path = tmp_path / "r.sqlite"
    script = textwrap.dedent(f"""
        import os, time
        while not os.path.exists({str(go)!r}):
            time.sleep(0.002)
        from selector.core.results import ResultStore
        ResultStore({str(path)!r}).create_session("together")
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    try:
        time.sleep(1.0)  # let each import selector and wait at the start line
        go.touch()
        errors = [proc.communicate(timeout=120)[1] for proc in procs]
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
    assert [proc.returncode for proc in procs] == [0, 0, 0], errors
    assert len(ResultStore(path).list_sessions()) == 3
