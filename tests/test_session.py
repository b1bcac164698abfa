"""The Qt-free application session: resume plans only what did not end, "Cancel all" ends in
a true state, discard clears what it discarded, recent sessions, re-ranking an opened sheet."""

from __future__ import annotations

import pytest

from selector.core.catalog.catalog import Catalog
from selector.core.catalog.entry import VISION, CatalogEntry
from selector.core.errors import SelectorError
from selector.core.funnel import SESSION_CANCELLED, Funnel
from selector.core.hardware import detect_hardware
from selector.core.request import Request
from selector.core.results import ResultStore
from selector.core.results.record import ProbeResult
from selector.core.session import AppSession


def entry(model_id, top1=70.0):
    return CatalogEntry(model_id, "timm", VISION, "test", model_id, params=500_000,
                        macs=1e7, input_size=(3, 160, 160), published={"imagenet_top1": top1})


def stored(store, session_id, model_id, kind, status="finished"):
    result = ProbeResult(id=f"{session_id}-{model_id}-{kind}", kind=kind, model_id=model_id,
                         device="cpu", status=status, session_id=session_id, weights="random",
                         message=status)
    store.save_result(result)
    return result


@pytest.fixture
def store(tmp_path):
    return ResultStore(tmp_path / "results.sqlite")


@pytest.fixture
def catalog():
    return Catalog({m: entry(m, top1) for m, top1 in (("a", 80.0), ("b", 75.0), ("c", 70.0))})


def test_resume_plans_only_the_probes_that_did_not_end(store, catalog):
    first = Funnel(list(catalog), Request(), store=store, top_k=1)
    sid = first.session_id
    stored(store, sid, "a", "latency")
    stored(store, sid, "a", "transfer")
    stored(store, sid, "b", "latency", status="out_of_memory")  # ended: not run again
    stored(store, sid, "c", "latency", status="cancelled")  # the app closed mid-probe

    resumed = Funnel.resume(store, sid, catalog)
    planned = sorted((s.model, s.kind) for s in resumed.specs)
    assert planned == [("b", "transfer"), ("c", "latency"), ("c", "transfer")]
    assert resumed.session_id == sid and resumed.planned_later == 1


def test_resume_does_not_fine_tune_twice(store, catalog):
    first = Funnel(list(catalog), Request(), store=store, top_k=2)
    sid = first.session_id
    for m in ("a", "b", "c"):
        stored(store, sid, m, "latency")
        stored(store, sid, m, "transfer")
    stored(store, sid, "a", "finetune")
    resumed = Funnel.resume(store, sid, catalog)
    assert resumed.specs == [] and resumed.planned_later == 1
    queued = list(resumed._plan_finetune())
    assert [s["model"] for e in queued for s in e.data["specs"]] == ["b"]  # a is done; one more


def test_cancel_all_ends_every_probe_cancelled_and_the_session_is_not_resumable(store, catalog):
    app = AppSession(store=store)
    live = detect_hardware(include_torch=False)
    app.set_catalog(catalog)
    app.set_live_profile(live)
    seen = []
    app.subscribe(lambda event, payload: seen.append((event, payload)))
    funnel = app.run(list(catalog), top_k=2)
    assert [e for e, _ in seen][:2] == ["shown", "run_started"]
    app.cancel()  # "Cancel all" before the first probe even started
    ends = [e for e in funnel.events() if e.type == "end"]
    assert len(ends) == len(catalog) * 2  # every row gets its end: none stays "queued"
    assert {e.result.status for e in ends} == {"cancelled"}
    assert not any(e.type == "queued" for e in funnel.events())  # no fine-tune planned after
    end = app.run_ended()
    assert end.cancelled and end.session_id == funnel.session_id
    assert ("run_finished", end) in seen
    assert store.get_session(funnel.session_id).status == SESSION_CANCELLED
    assert {r.id for r in store.session_results(funnel.session_id)} == {e.result.id for e in ends}
    assert app.resumable() is None  # a cancelled run is not offered for resume...
    recent = app.recent_sessions()
    assert recent[0].id == funnel.session_id and not recent[0].resumable
    assert "cancelled" in recent[0].label()
    app.reopen(funnel.session_id[:6])  # ...but it can be reopened
    assert app.shown_session == funnel.session_id


def test_an_interrupted_run_stays_resumable(store, catalog):
    app = AppSession(store=store)
    app.set_catalog(catalog)
    app.set_live_profile(detect_hardware(include_torch=False))
    funnel = app.run(list(catalog), top_k=1)
    app.interrupt()  # the app is closing
    assert [e for e in funnel.events() if e.type == "end"] == []
    assert not app.run_ended().cancelled
    assert store.get_session(funnel.session_id).status == "open"
    offered = app.resumable()
    assert offered is not None and offered.id == funnel.session_id
    assert offered.models == ["a", "b", "c"] and "interrupted" in offered.label()


def test_probes_run_only_on_the_live_machine(store, catalog):
    from selector.core.hardware import reference_profiles

    app = AppSession(store=store)
    app.set_catalog(catalog)
    app.set_live_profile(detect_hardware(include_torch=False))
    app.set_profile(next(iter(reference_profiles().values())))
    with pytest.raises(SelectorError, match="This machine"):
        app.run(list(catalog))
    assert store.list_sessions() == []


def test_discard_clears_what_was_shown(store):
    app = AppSession(store=store)
    session = store.create_session("cli bench")
    stored(store, session.id, "a", "latency")
    events = []
    app.subscribe(lambda event, payload: events.append(event))
    app.reopen(session.id)
    assert app.recent_sessions()[0].models == ["a"]
    app.sheet = object()  # as if a sheet were shown
    assert app.discard() == 1
    assert app.sheet is None and app.shown_session is None and app.source is None
    assert "cleared" in events and store.list_sessions() == []
    with pytest.raises(SelectorError):
        app.discard()


def test_a_stale_sheet_is_dropped(store):
    app = AppSession(store=store)
    session = store.create_session("x")
    app.reopen(session.id)
    job = app.sheet_job()
    app.set_objective("latency")  # the state moves on while the job runs
    assert not app.set_sheet(object(), job.generation)
    assert app.sheet is None


def test_the_objective_re_ranks_an_opened_sheet(tmp_path, store):
    from selector.core.export import build_sheet, export_sheet
    from selector.core.recommend import Constraints, Objective

    candidates = _two_candidates()
    sheet = build_sheet(candidates, Constraints(batch=1), Objective("accuracy"))
    path = tmp_path / "sheet.json"
    export_sheet(sheet, path, "json")
    app = AppSession(store=store)
    events = []
    app.subscribe(lambda event, payload: events.append(event))
    opened = app.open_sheet(str(path))
    assert app.sheet is opened and opened.recommendation.recommended == "accurate_slow"
    app.set_objective("latency")
    assert "stale" in events
    job = app.sheet_job()
    assert app.set_sheet(job(), job.generation)
    assert app.sheet.recommendation.recommended == "fast_rough"
    assert app.sheet.recommendation.objective.kind == "latency"
    written = app.export(str(tmp_path / "out.md"), overwrite=True)
    assert "fast_rough" in written[0].read_text()


def _two_candidates():
    from selector.core.recommend.candidate import MEASURED, Candidate, Figure

    return [Candidate(model_id, task=VISION, published={"imagenet_top1": acc},
                      latency=[Figure(ms, MEASURED, unit="ms", batch=1, dtype="fp32", device="cpu")])
            for model_id, acc, ms in (("accurate_slow", 85.0, 40.0), ("fast_rough", 70.0, 4.0))]


def test_the_cli_and_the_app_answer_from_the_same_code(tmp_path, capsys):
    import json

    from selector.cli import main
    from tests.test_recommend_store import _entry, _latency

    store = ResultStore()
    probed = store.create_session("bench", hardware=detect_hardware(include_torch=False).to_dict())
    for e, ms in ((_entry("small.a1", 70.0, 1_000_000), 4.0), (_entry("big.a1", 80.0, 20_000_000), 30.0)):
        store.save_result(_latency(probed, e, {1: ms}))
    out = tmp_path / "sheet.json"
    assert main(["export", "--latency-ms", "20", "--out", str(out), "--objective", "latency"]) == 0
    capsys.readouterr()
    cli = json.loads(out.read_text())

    app = AppSession()  # what the window does: reopen, set the request and the objective
    app.reopen(probed.id[:5])
    app.set_request(Request(latency_budget_ms=20.0))
    app.set_objective("latency")
    job = app.sheet_job()
    assert app.set_sheet(job(), job.generation)
    verdicts = [(v.model_id, v.status, v.rank) for v in app.sheet.recommendation.verdicts]
    assert [(v["model_id"], v["status"], v["rank"]) for v in cli["recommendation"]["verdicts"]] == verdicts
    assert app.sheet.recommendation.recommended == "small.a1" == cli["recommendation"]["recommended"]


def test_a_model_the_catalog_does_not_list_resumes_as_it_started(store, catalog):
    local = entry("local:my-model")
    first = Funnel([*catalog, local], Request(), store=store, top_k=0)
    stored(store, first.session_id, "a", "latency")
    resumed = Funnel.resume(store, first.session_id, catalog)  # the catalog lacks the local model
    assert ("local:my-model", "latency") in {(s.model, s.kind) for s in resumed.specs}
    assert resumed.entries["local:my-model"].to_dict() == local.to_dict()
