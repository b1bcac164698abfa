"""Pre-flight checks and BenchRun sessions (with the torch-free fault kind: fast)."""

from __future__ import annotations

import threading

import pytest

from selector.core.catalog.entry import VISION, CatalogEntry
from selector.core.errors import SelectorError
from selector.core.probes.bench import BenchRun
from selector.core.probes.preflight import check_spec, preflight
from selector.core.probes.spec import ProbeSpec, parse_duration
from selector.core.results import ResultStore

ENTRY = CatalogEntry(id="resnet-like", source="timm", task=VISION, family="resnet", architecture="resnet50",
                     params=25_000_000, macs=4e9, input_size=(3, 224, 224))


def fault(mode: str = "finish", **kw) -> ProbeSpec:
    return ProbeSpec(kind="fault", model=ENTRY.id, entry=ENTRY.to_dict(), timeout_s=30,
                     params={"mode": mode}, **kw)


def test_the_estimator_decides_whether_a_probe_fits():
    spec = ProbeSpec(kind="latency", model=ENTRY.id, batch_sizes=[1, 8], dtypes=["fp32", "int8"])
    roomy = preflight(spec, ENTRY, free_mib=lambda device: 64_000.0)
    assert roomy.fits and not roomy.refused and roomy.workload == "inference (fp32), batch 8"
    assert roomy.estimate["workload"]["batch_size"] == 8 and "rule of thumb" in roomy.method
    # the int8 copy lives beside the fp32 model: its weights count once more
    assert roomy.estimate_mib == pytest.approx(roomy.estimate["total_mib"] + roomy.estimate["weights_mib"], abs=0.1)
    tight = preflight(spec, ENTRY, free_mib=lambda device: 300.0)
    assert tight.refused and tight.fits is False
    assert "needs about" in tight.message and "300 MiB is free" in tight.message and "--force" in tight.message
    train = ProbeSpec(kind="finetune", model=ENTRY.id, batch_sizes=[8], data={"source": "sample"})
    assert preflight(train, ENTRY, lambda d: 64_000.0).estimate_mib > roomy.estimate["total_mib"]


def test_a_given_estimate_wins_and_force_overrides():
    spec = ProbeSpec(kind="fault", model="m", estimate={"total_mib": 5000}, force=True)
    verdict = preflight(spec, ENTRY, free_mib=lambda device: 1000.0)
    assert verdict.fits is False and not verdict.refused and "forced" in verdict.message
    unknown = preflight(ProbeSpec(kind="fault", model="m", estimate={"total_mib": 10}), ENTRY, lambda d: None)
    assert unknown.fits is None and not unknown.refused


@pytest.mark.parametrize("changes, words", [
    ({"kind": "nope"}, "unknown probe kind"),
    ({"kind": "latency", "dtypes": ["int8"], "device": "cuda"}, "CPU only"),
    ({"kind": "latency", "dtypes": ["fp16"]}, "fp16 is a GPU precision"),
    ({"kind": "latency", "dtypes": ["fp8"]}, "unknown dtype"),
    ({"kind": "latency", "device": "cuda:1"}, "this machine has 1 NVIDIA GPU"),
    ({"kind": "latency", "device": "tpu"}, "unknown device"),
    ({"kind": "latency", "batch_sizes": [0]}, "batch sizes must be 1 or more"),
    ({"kind": "finetune"}, "needs data"),
    ({"kind": "latency", "budget_s": 0}, "budget must be positive"),
])
def test_specs_that_cannot_run_are_caught_before_any_process(changes, words):
    spec = ProbeSpec(**{"model": "m", **changes})
    with pytest.raises(SelectorError, match=words):
        check_spec(spec, gpu_count=1)


def test_refused_probes_are_recorded_and_the_session_closes(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    big = fault(estimate={"total_mib": 10_000})
    small = fault(estimate={"total_mib": 10})
    bench = BenchRun([big, small], store=store, free_mib=lambda device: 1000.0, session_name="two")
    ends = [e for e in bench.events() if e.type == "end"]
    assert [e.result.status for e in ends] == ["refused", "finished"]
    assert [(e.index, e.count) for e in ends] == [(0, 2), (1, 2)]
    assert ends[0].result.preflight["estimate_mib"] == 10_000 and ends[0].result.preflight["free_mib"] == 1000
    stored = store.session_results(bench.session_id)
    assert [r.status for r in stored] == ["refused", "finished"]
    assert stored[1].preflight["fits"] and stored[1].estimate == {"total_mib": 10}
    session = store.get_session(bench.session_id)
    assert session.status == "closed" and session.name == "two"


def test_cancel_stops_the_probe_in_flight_and_skips_the_rest(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    bench = BenchRun([fault("hang"), fault("finish")], store=store, free_mib=lambda d: None)
    seen = []
    for event in bench.events():
        seen.append(event)
        if event.type == "log":
            threading.Timer(0.05, bench.cancel).start()
    assert [e.result.status for e in seen if e.type == "end"] == ["cancelled"]
    assert [r.status for r in store.session_results(bench.session_id)] == ["cancelled"]
    assert store.get_session(bench.session_id).status == "open", "kept open to resume or discard"


def test_a_later_session_can_be_continued_and_bad_models_fail_alone(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    first = BenchRun([fault()], store=store, free_mib=lambda d: None)
    list(first.events())
    unknown = ProbeSpec(kind="fault", model="no-such-model-xyz", timeout_s=30, params={"mode": "finish"})
    again = BenchRun([unknown, fault()], store=store, session=first.session_id, free_mib=lambda d: None)
    statuses = [e.result.status for e in again.events() if e.type == "end"]
    assert statuses == ["failed", "finished"]
    results = store.session_results(first.session_id)
    assert len(results) == 3 and "cannot start" in results[1].message
    gpu = ProbeSpec(kind="fault", model=ENTRY.id, entry=ENTRY.to_dict(), device="cuda")
    nogpu = BenchRun([gpu], hardware={"gpus": []}, free_mib=lambda d: None)
    assert [e.result.message for e in nogpu.events()] == [
        "cannot start: cuda asked for, but this machine has 0 NVIDIA GPU(s)"]


def test_durations_parse():
    assert parse_duration("60s") == 60 and parse_duration("2m") == 120 and parse_duration("90") == 90
    assert parse_duration("500ms") == 0.5 and parse_duration(3) == 3.0
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("soon")


def test_cancelling_one_probe_lets_the_others_run_and_probes_can_be_added(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    hang, queued, last = fault("hang"), fault("finish"), fault("finish")
    bench = BenchRun([hang, queued], store=store, free_mib=lambda d: None)
    bench.cancel_probe(queued.id)  # skipped before it starts
    ends = []
    for event in bench.events():
        if event.type == "log" and event.probe_id == hang.id:
            threading.Timer(0.05, bench.cancel_probe, args=(hang.id,)).start()
        if event.type == "end":
            ends.append((event.result.id, event.result.status))
            if event.result.id == hang.id:
                bench.add(last)  # queued while the run goes on
    assert ends == [(hang.id, "cancelled"), (queued.id, "cancelled"), (last.id, "finished")]
    assert store.get_session(bench.session_id).status == "closed"
