"""The recommendation names the model and runtime pair, and never a runtime whose answers
differ from eager's (rows written in the store's own format, as the latency probe writes them)."""

from __future__ import annotations

from selector.core.catalog.entry import CatalogEntry
from selector.core.hardware import reference_profiles
from selector.core.recommend import Constraints, recommend
from selector.core.recommend.from_store import load_session
from selector.core.results import LatencyRow, ProbeResult, ResultStore


def _row(runtime: str, dtype: str, ms: float, parity: dict | None) -> dict:
    return LatencyRow("resnet50.a1_in1k", "cpu", dtype, 1, [3, 224, 224], weights="pretrained", threads=2,
                      iters=40, p50_ms=ms, samples_per_s=1000 / ms, peak_rss_mib=500.0, runtime=runtime,
                      parity=parity).to_dict()


def test_the_recommendation_names_the_runtime_and_skips_one_that_changed_the_answers():
    store = ResultStore()
    session = store.create_session("runtimes", hardware=reference_profiles()["laptop-cpu-8gb"].to_dict())
    entry = CatalogEntry("resnet50.a1_in1k", "timm", "image-classification", "resnet", "resnet50",
                         params=25_000_000, macs=4.1e9, input_size=(3, 224, 224),
                         published={"imagenet_top1": 80.1}, published_source="results-imagenet.csv")
    good = {"ok": True, "reason": "", "top1_agreement": 0.992, "max_rel_diff": 0.03}
    bad = {"ok": False, "reason": "outputs differ from eager by 0.4 of their scale (tolerance 0.001)",
           "top1_agreement": 0.5, "max_rel_diff": 0.4}
    rows = [_row("eager", "fp32", 31.0, {"ok": True, "is_reference": True}),
            _row("openvino", "int8-static", 10.0, good), _row("onnxruntime", "fp32", 2.0, bad)]
    store.save_result(ProbeResult("lat-1", "latency", entry.id, "cpu", "finished", session_id=session.id,
                                  task=entry.task, weights="pretrained", rows=rows,
                                  spec={"entry": entry.to_dict()}, ended_at="2026-01-01T00:00:01"))
    [cand] = load_session(constraints=Constraints(batch=1)).candidates
    assert {f.runtime for f in cand.latency} == {None, "openvino"}  # the broken one is left out
    assert "ONNX Runtime fp32 left out: outputs differ from eager" in cand.probe_messages["latency"]
    rec = recommend([cand], Constraints(latency_ms=20, batch=1))
    verdict = rec.verdict(entry.id)
    assert rec.recommended == entry.id
    assert verdict.latency.runtime == "openvino" and verdict.latency.dtype == "int8-static"
    pair = "p50 10 ms at batch 1 (measured, OpenVINO int8-static: 3.1x eager, top-1 agreement 99.2 %)"
    assert pair in verdict.reason and any(c.startswith(pair) for c in verdict.checks), verdict


def test_a_runtime_estimate_needs_two_measured_models_and_says_how():
    from selector.core.estimate.latency import LatencyEstimate
    from selector.core.runtimes.ratios import measured_ratios, runtime_estimate

    def result(model_id: str, eager_ms: float, ov_ms: float, noisy: bool = False) -> ProbeResult:
        rows = [_row("eager", "fp32", eager_ms, None), _row("openvino", "fp32", ov_ms, {"ok": True})]
        rows[1]["model_id"] = rows[0]["model_id"] = model_id
        rows[1]["contention"] = {"noisy": noisy}
        return ProbeResult(f"lat-{model_id}", "latency", model_id, "cpu", "finished",
                           task="image-classification", rows=rows)

    eager = LatencyEstimate(40.0, 25.0, "traced work over this CPU's rates", "cpu")
    one = measured_ratios([result("a", 30.0, 10.0), result("b", 20.0, 2.0, noisy=True)])
    [ratio] = one.values()
    assert ratio.ratios == {"a": 3.0} and runtime_estimate(eager, ratio) is None
    assert "measured on 1 image model(s) here (a 3x); probe 1 more" in ratio.describe()
    two = measured_ratios([result("a", 30.0, 10.0), result("b", 20.0, 10.0)])
    scaled = runtime_estimate(eager, two["openvino", "fp32", "image"])
    assert scaled.ms_per_batch == 16.0 and scaled.samples_per_s == 62.5  # median speed-up 2.5x
    assert scaled.method.startswith("eager estimate / 2.5 (median speed-up of OpenVINO fp32 over eager on "
                                    "2 image models measured on this machine: a 3x, b 2x; range 2-3x)")


def test_the_sheet_plot_names_the_runtime_of_each_point():
    from selector.core.export.plots import point_name
    from selector.core.recommend.candidate import Figure
    from selector.core.recommend.result import Verdict

    eager = Verdict("resnet50", "recommended", "", latency=Figure(31.0, "measured", "ms", dtype="fp32"))
    ov = Verdict("resnet50", "recommended", "", latency=Figure(10.0, "measured", "ms", dtype="int8-static",
                                                               runtime="openvino"))
    assert point_name(eager) == "resnet50"
    assert point_name(ov) == "resnet50 (OpenVINO int8-static)"
