"""Decisions written once: the fit check, the probe statuses, the accuracy a plot shows, and
which free memory a recommendation checks against. Each test puts two callers side by side."""

from __future__ import annotations

import json

import pytest

from selector.core.catalog.filters import CatalogFilter, apply
from selector.core.estimate.fit import (
    FITS,
    NO,
    TIGHT,
    fit,
    fit_request,
    fit_status,
    free_for_verdicts,
    request_device,
)
from selector.core.estimate.memory import Workload
from selector.core.probes.preflight import preflight
from selector.core.probes.spec import ProbeSpec
from selector.core.request import Request
from selector.core.results.record import STATUS_WORDS, STATUSES, ProbeResult, ProbeStatus
from selector.core.shortlist import shortlist
from tests.test_filters import machine, vision

# ------------------------------------------------------------------------ the fit check


def test_the_fit_rule_has_three_answers_at_the_margin():
    assert fit_status(899, 1000) == FITS
    assert fit_status(901, 1000) == TIGHT and fit_status(1000, 1000) == TIGHT
    assert fit_status(1001, 1000) == NO
    assert fit_status(100, -5) == NO, "negative free memory is none"
    with pytest.raises(ValueError, match="margin"):
        fit_status(1, 1, margin=1.0)


def _entry_needing(free_mib: float, status: str):
    """A model whose inference at batch 1 is ``status`` against ``free_mib`` on the CPU."""
    for weights in range(1, 3000, 2):
        entry = vision("probe.x", "resnet", 10_000_000, 75.0, weights, 20)
        if fit(entry, Workload(), machine(free_mib / 1024).device("cpu")).status == status:
            return entry
    raise AssertionError(f"no size gives {status}")


@pytest.mark.parametrize("status", [FITS, TIGHT, NO])
def test_filter_badges_shortlist_and_preflight_agree_with_fit(status):
    from selector.ui.catalog_rows import compute_rows, runs_here

    free = 2000.0
    profile = machine(free / 1024)
    entry = _entry_needing(free, status)
    request = Request(batch_size=1)
    truth = fit(entry, request.inference_workload(), request_device(request, profile))
    assert truth.status == status

    kept = apply([entry], CatalogFilter(fits_on="cpu"), profile)
    strict = apply([entry], CatalogFilter(fits_on="cpu", include_tight=False), profile)
    assert bool(kept) == (status != NO) and bool(strict) == (status == FITS)
    assert not kept or kept[0][1].status == status

    [row] = compute_rows([entry], request, profile)
    assert row.inference.status == status and runs_here(row, request) == truth.runs

    assert bool(shortlist([entry], request, profile)) == truth.runs

    spec = ProbeSpec(kind="latency", model=entry.id, batch_sizes=[1], dtypes=["fp32"])
    verdict = preflight(spec, entry, free_mib=lambda device: free)
    assert verdict.fits == truth.runs and verdict.refused == (status == NO)
    assert ("tight" in verdict.message) == (status == TIGHT)


def test_a_memory_budget_caps_the_free_memory_the_request_is_checked_on():
    profile = machine(ram_free_gib=16)
    assert request_device(Request(), profile).free_mib == 16 * 1024
    assert request_device(Request(memory_budget_gib=2), profile).free_mib == 2048
    assert request_device(Request(memory_budget_gib=2), profile, with_budget=False).free_mib == 16 * 1024
    assert request_device(Request(device="cuda:3"), profile).id == "cpu", "no such GPU: the CPU"
    entry = vision("m.x", "resnet", 10_000_000, 75.0, 40, 50)
    both = fit_request(entry, Request(memory_mode="finetune"), request_device(Request(), profile))
    assert both.checked is both.finetune and both.finetune.needed_mib > both.inference.needed_mib


# ------------------------------------------------------------------------ probe statuses


def test_one_status_vocabulary_with_stored_values_unchanged():
    assert [s.value for s in STATUSES] == ["finished", "cancelled", "timed_out", "out_of_memory",
                                           "crashed", "failed", "refused"]
    assert {s for s in ProbeStatus if s.bad_end} == {
        ProbeStatus.OUT_OF_MEMORY, ProbeStatus.CRASHED, ProbeStatus.FAILED, ProbeStatus.TIMED_OUT,
        ProbeStatus.REFUSED}
    assert not ProbeStatus.QUEUED.ended and ProbeStatus.CANCELLED.ended
    assert ProbeStatus.TIMED_OUT.words == "timed out" and STATUS_WORDS["refused"] == "refused (does not fit)"
    with pytest.raises(ValueError, match="known: queued"):
        ProbeStatus.of("exploded")


def test_a_result_with_an_enum_status_stores_and_reads_back_as_the_plain_string():
    result = ProbeResult(id="p1", kind="latency", model_id="m", device="cpu", status=ProbeStatus.TIMED_OUT)
    text = json.dumps(result.to_dict())
    assert '"status": "timed_out"' in text
    back = ProbeResult.from_dict(json.loads(text))
    assert back.status == ProbeStatus.TIMED_OUT and back.bad_end and back.status_words == "timed out"
    old = ProbeResult.from_dict({"id": "p2", "status": "from a future version", "kind": "x",
                                 "model_id": "m", "device": "cpu"})
    assert old.probe_status is None and not old.bad_end and old.status_words == "from a future version"


def test_the_funnel_passes_over_every_bad_end_and_only_those():
    from selector.core.funnel import Funnel

    results = [ProbeResult(id=s.value, kind="latency", model_id=s.value, device="cpu", status=s)
               for s in STATUSES]
    funnel = Funnel.__new__(Funnel)  # choose_finetune reads only these
    funnel.entries = {s.value: vision(f"{s.value}.x", "resnet", 1e7, 70.0, 40, 20) for s in STATUSES}
    funnel.top_k, funnel.ranking_note = len(STATUSES), ""
    chosen = funnel.choose_finetune(results)
    assert set(chosen) == {"finished", "cancelled"}


# ------------------------------------------------------------------- accuracy on the plots


def _sheet():
    from selector.core.export.sheet import build_sheet
    from selector.core.recommend import Candidate, Constraints, Figure

    def lat(ms):
        return [Figure(ms, "measured", "ms", batch=1, device="cpu")]

    tuned = Figure(93.0, "measured", "%", batch=16, device="cpu")
    cands = [
        Candidate("pretrained-tuned", task="image-classification", weights="pretrained",
                  published={"imagenet_top1": 70.0}, latency=lat(10), finetuned_accuracy=tuned),
        Candidate("random-tuned", task="image-classification", weights="architecture-only",
                  published={"imagenet_top1": 80.0}, latency=lat(20),
                  finetuned_accuracy=Figure(97.0, "measured", "%", batch=16, device="cpu")),
        Candidate("published-only", task="image-classification", published={"imagenet_top1": 75.0},
                  latency=lat(5)),
    ]
    return build_sheet(cands, Constraints(task="image-classification"))


def test_the_gui_and_the_sheet_plot_the_same_accuracy():
    from selector.core.export.plots import accuracy_latency_figure
    from selector.ui.results_presenter import present

    sheet = _sheet()
    gui = {p.model_id: (p.accuracy, p.accuracy_kind) for p in present(sheet).points}
    assert gui == {"pretrained-tuned": (93.0, "measured"), "random-tuned": (80.0, "published"),
                   "published-only": (75.0, "published")}, "a random-weight fine-tune is never measured"
    fig = accuracy_latency_figure(sheet)
    drawn = {}
    for coll in fig.axes[0].collections:
        for x, y in coll.get_offsets():
            drawn[round(float(x))] = float(y)
    assert drawn == {10: 93.0, 20: 80.0, 5: 75.0}
    assert "fine-tuned on your data, else published" in fig.axes[0].get_ylabel()


# ---------------------------------------------------------------- free memory: then or now


def test_verdicts_use_the_free_memory_recorded_with_the_probes_else_now():
    then, now = machine(ram_free_gib=3), machine(ram_free_gib=20)
    assert free_for_verdicts("cpu", recorded=then.to_dict(), live=now) == 3 * 1024
    assert free_for_verdicts("cpu", recorded=then, live=now) == 3 * 1024
    assert free_for_verdicts("cpu", recorded=None, live=now) == 20 * 1024
    assert free_for_verdicts("cuda:0", recorded=then.to_dict(), live=machine(20, gpu_free_gib=8)) is None, \
        "the probes' machine had no such GPU: today's says nothing of then"
    assert free_for_verdicts("cpu") is None


def test_export_and_the_app_session_read_a_session_with_the_same_free_memory(tmp_path):
    from selector.core.export.session import sheet_from_session
    from selector.core.results import ResultStore
    from selector.core.session import AppSession

    store = ResultStore(tmp_path / "results.db")
    session = store.create_session("s", hardware=machine(ram_free_gib=3).to_dict())
    entry = vision("published-only.x", "resnet", 10_000_000, 75.0, 40, 20)
    store.save_result(ProbeResult(id="r1", kind="latency", model_id=entry.id, device="cpu",
                                  status=ProbeStatus.FINISHED, session_id=session.id,
                                  task="image-classification", spec={"entry": entry.to_dict()}))
    exported = sheet_from_session(session.id, store=store)
    assert exported.recommendation.constraints.free_memory_mib == 3 * 1024

    app = AppSession(store=store)
    app.live_profile = app.profile = machine(ram_free_gib=20)  # more is free now
    app.reopen(session.id)
    shown = app.sheet_job()()
    assert shown.recommendation.constraints.free_memory_mib == 3 * 1024, "the GUI reads it as export does"
    app.show_models([entry.id])
    assert app.constraints().free_memory_mib == 20 * 1024, "an unprobed 'what fits' uses now"


def test_the_recommendation_calls_a_need_within_the_margin_tight_as_the_badges_do():
    from selector.core.recommend import Candidate, Constraints, Figure
    from selector.core.recommend.checks import assess

    def need(mib):
        return Candidate("m", inference_memory=[Figure(mib, "measured", "MiB", batch=1, device="cpu")])

    con = Constraints(free_memory_mib=1000)
    assert fit_status(950, 1000) == TIGHT
    assert "(tight: within the 10% safety margin)" in assess(need(950), con, None).passes[0]
    assert "tight" not in assess(need(500), con, None).passes[0]
    assert assess(need(1001), con, None).rejected
