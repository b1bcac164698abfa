"""From the results store to candidates, and the `recommend` / `export` commands end to end.

The probe results here are written by hand in the store's own format (``ProbeResult`` with
``LatencyRow`` / ``FinetuneReport`` rows), the way the probes write them, so the mapping is
checked without running models; the example sheet in resources/examples comes from real probes.
"""

from __future__ import annotations

import json

import pytest

from selector.cli import main
from selector.core.catalog.entry import CatalogEntry
from selector.core.errors import SelectorError
from selector.core.hardware import reference_profiles
from selector.core.recommend import Constraints, recommend
from selector.core.recommend.from_store import load_session
from selector.core.results import FinetuneReport, LatencyRow, ProbeResult, ResultStore


def _entry(model_id, top1, params):
    return CatalogEntry(model_id, "timm", "image-classification", "resnet", model_id.split(".")[0],
                        params=params, macs=params * 150.0, input_size=(3, 160, 160),
                        published={"imagenet_top1": top1}, published_source="results-imagenet.csv")


def _latency(session, entry, p50s, peak=600.0):
    rows = [LatencyRow(entry.id, "cpu", "fp32", b, [3, 160, 160], weights="pretrained", threads=2,
                       warmup_iters=5, iters=40, p50_ms=ms, p90_ms=ms * 1.1, p99_ms=ms * 1.4,
                       samples_per_s=b * 1000 / ms, peak_rss_mib=peak + 10 * b).to_dict()
            for b, ms in p50s.items()]
    return ProbeResult(f"lat-{entry.id}", "latency", entry.id, "cpu", "finished",
                       session_id=session.id, task=entry.task, weights="pretrained", rows=rows,
                       spec={"entry": entry.to_dict()}, ended_at="2026-01-01T00:00:01",
                       software={"torch": "2.14.1", "timm": "1.0.31"})


def _finetune(session, entry, acc_after, peak, status="finished"):
    report = FinetuneReport(entry.id, "cpu", weights="pretrained", lr=1e-3, batch_size_requested=16,
                            batch_size_used=16, steps=40, train_s=30.0, acc_before=0.3,
                            acc_after=acc_after, eval_samples=120, train_samples=360, num_classes=4,
                            classes=["a", "b", "c", "d"], peak_rss_mib=peak, threads=2,
                            data={"modality": "image", "source": "sample"})
    return ProbeResult(f"ft-{entry.id}", "finetune", entry.id, "cpu", status,
                       message="ran out of memory at batch 16" if status != "finished" else "",
                       session_id=session.id, task=entry.task, weights="pretrained",
                       rows=[report.to_dict()] if status == "finished" else [],
                       loss_curve=[{"step": s, "loss": 1.4 - 0.02 * s} for s in range(40)],
                       spec={"entry": entry.to_dict(), "data": {"source": "sample"}},
                       ended_at="2026-01-01T00:00:02")


def _transfer(session, entry, logme, boots):
    return ProbeResult(f"tr-{entry.id}", "transfer", entry.id, "cpu", "finished",
                       session_id=session.id, weights="pretrained",
                       rows=[{"logme": logme, "knn_balanced_accuracy": 0.7,
                              "linear_balanced_accuracy": 0.75, "logme_bootstrap": boots,
                              "n_samples": 120}],
                       spec={"entry": entry.to_dict()}, ended_at="2026-01-01T00:00:03")


@pytest.fixture()
def session():
    store = ResultStore()
    hardware = reference_profiles()["laptop-cpu-8gb"].to_dict()
    session = store.create_session("test run", hardware=hardware)
    small, big = _entry("small.a1", 70.0, 1_000_000), _entry("big.a1", 80.0, 20_000_000)
    for result in (
        _latency(session, small, {1: 4.0, 8: 20.0}), _latency(session, big, {1: 30.0, 8: 150.0}),
        _finetune(session, small, 0.85, 900.0), _finetune(session, big, None, None, "out_of_memory"),
        _transfer(session, small, -0.5, [-0.5, -0.6, -0.7, -0.4]),
        _transfer(session, big, -0.4, [-0.45, -0.55, -0.8, -0.3]),
    ):
        store.save_result(result)
    return session


def test_session_becomes_candidates_with_tagged_figures(session):
    loaded = load_session(constraints=Constraints(batch=1))
    assert loaded.session_id == session.id
    assert loaded.hardware["name"] == reference_profiles()["laptop-cpu-8gb"].name
    cands = {c.model_id: c for c in loaded.candidates}
    small, big = cands["small.a1"], cands["big.a1"]
    lat1 = small.best_figure("latency", batch=1, device="cpu")
    assert (lat1.value, lat1.source, lat1.threads, lat1.dtype) == (4.0, "measured", 2, "fp32")
    assert lat1.extra["p90"] == pytest.approx(4.4)
    assert small.finetuned_accuracy.value == pytest.approx(85.0)
    assert small.baseline_accuracy.value == pytest.approx(30.0)
    assert small.finetune_memory[0].source == "measured" and small.finetune_memory[0].value == 900.0
    assert small.finetune_memory[0].batch == 16
    assert len(small.loss_curve) == 40 and small.published == {"imagenet_top1": 70.0}
    assert big.probe_status["finetune"] == "oom"
    assert big.probe_messages["finetune"] == "ran out of memory at batch 16"
    # LogME ranks big first (-0.4 > -0.5); it keeps rank 1 in 3 of 4 resamples.
    assert big.transfer.rank == 1 and big.transfer.stability == 0.75
    assert small.transfer.rank == 2 and small.transfer.scores["linear_balanced_accuracy"] == 0.75
    assert loaded.data["classes"] == ["a", "b", "c", "d"] and loaded.data["eval_samples"] == 120


def test_recommendation_from_the_session(session):
    cands = load_session(constraints=Constraints(batch=1)).candidates
    rec = recommend(cands, Constraints(latency_ms=20, batch=1, memory_mode="finetune",
                                       memory_budget_mib=4096))
    assert rec.recommended == "small.a1"
    assert rec.verdict("big.a1").status == "rejected"
    assert "p50 30 ms at batch 1 (measured) exceeds the 20 ms budget" in rec.verdict("big.a1").reason
    assert "fine-tuning ran out of memory (measured)" in rec.verdict("big.a1").reason


def test_no_session_is_a_clear_error():
    with pytest.raises(SelectorError, match="no probe sessions yet"):
        load_session()


def test_cli_recommend_json_and_table(session, capsys):
    assert main(["recommend", "--latency-ms", "20", "--batch", "1", "--device", "cpu",
                 "--memory-gib", "4", "--memory-for", "finetune", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["recommended"] == "small.a1"
    assert data["constraints"]["memory_budget_mib"] == 4096
    assert main(["recommend", "--session", session.id[:6], "--objective", "latency"]) == 0
    out = capsys.readouterr().out
    assert "Recommended: small.a1" in out and "big.a1" in out


def test_cli_export_every_format_and_force(session, tmp_path, capsys):
    for fmt in ("json", "csv", "md", "html", "pdf"):
        out = tmp_path / f"sheet.{fmt}"
        assert main(["export", "--format", fmt, "--out", str(out), "--latency-ms", "20",
                     "--note", "measured on battery"]) == 0
        assert out.stat().st_size > 200
    assert "recommended: small.a1" in capsys.readouterr().out
    assert main(["export", "--out", str(tmp_path / "sheet.json"), "--latency-ms", "5"]) == 2
    assert "already exists (use --force" in capsys.readouterr().err
    assert main(["export", "--out", str(tmp_path / "sheet.json"), "--latency-ms", "5",
                 "--force"]) == 0
    capsys.readouterr()
    sheet = json.loads((tmp_path / "sheet.json").read_text())
    assert sheet["recommendation"]["constraints"]["latency_ms"] == 5
    assert sheet["session_id"] == session.id
    assert "measured on battery" in (tmp_path / "sheet.md").read_text()
    # The probe results behind the figures travel with the sheet and read back as results.
    results = [ProbeResult.from_dict(r) for r in sheet["results"]]
    assert sorted(r.kind for r in results) == ["finetune", "finetune", "latency", "latency",
                                               "transfer", "transfer"]
    lat = next(r for r in results if r.kind == "latency" and r.model_id == "small.a1")
    assert [row.p50_ms for row in lat.latency_rows()] == [4.0, 20.0]
    # Re-using a sheet: new constraints on the same candidates.
    assert main(["recommend", "--sheet", str(tmp_path / "sheet.json"), "--latency-ms", "50",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["recommended"] == "big.a1"


def test_cli_compare_machines(session, tmp_path, capsys):
    a = tmp_path / "a.json"
    assert main(["export", "--out", str(a)]) == 0
    b_data = json.loads(a.read_text())
    b_data["hardware"]["name"] = "second box"
    b = tmp_path / "b.json"
    b.write_text(json.dumps(b_data))
    for fmt in ("html", "md", "csv", "json"):
        out = tmp_path / f"cmp.{fmt}"
        assert main(["export", "--compare", str(a), str(b), "--out", str(out)]) == 0
    text = (tmp_path / "cmp.md").read_text()
    assert "second box" in text and "small.a1" in text
    cmp = json.loads((tmp_path / "cmp.json").read_text())
    assert len(cmp["cells"]) == 4 and cmp["machines"][1] == "second box"
    assert main(["export", "--compare", str(a), "--out", str(tmp_path / "c.pdf")]) == 2
    assert "not pdf" in capsys.readouterr().err


def test_cli_bad_input_is_a_clear_error(tmp_path, capsys):
    assert main(["export", "--out", str(tmp_path / "x.docx")]) == 2
    assert "cannot tell the format" in capsys.readouterr().err
    assert main(["recommend", "--sheet", str(tmp_path / "missing.json")]) == 2
    assert "no such sheet" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["recommend", "--latency-ms", "-3"])


def test_sheet_from_session_uses_the_sessions_free_memory(session):
    from selector.core.export import sheet_from_session

    sheet = sheet_from_session(constraints=Constraints(memory_mode="finetune"))
    laptop = reference_profiles()["laptop-cpu-8gb"]
    assert sheet.constraints.free_memory_mib == laptop.device("cpu").free_mib
    assert sheet.session_id == session.id and sheet.hardware["name"] == laptop.name
    assert sheet.data.classes == ["a", "b", "c", "d"]
    assert sheet.recommendation.verdict("big.a1").status == "rejected"


def test_catalog_models_as_candidates_carry_published_figures_and_estimates():
    from selector.core.catalog.catalog import Catalog
    from selector.core.recommend.from_store import candidates_from_catalog

    catalog = Catalog()
    for entry in (_entry("small.a1", 70.0, 1_000_000), _entry("big.a1", 80.0, 20_000_000)):
        catalog.add(entry)
    cands = candidates_from_catalog(["big.a1", "small.a1"], Constraints(batch=4), catalog=catalog)
    big = cands[0]
    assert big.published == {"imagenet_top1": 80.0} and big.params == 20_000_000
    inference = big.inference_memory[0]
    assert (inference.source, inference.batch) == ("estimated", 4)
    finetune = big.finetune_memory[0]
    assert finetune.source == "estimated" and finetune.batch == 16
    assert finetune.value > inference.value  # gradients and optimizer state come on top
    assert not big.latency  # CPU latency needs a calibration; none is cached in a test home
    # On a GPU the estimator needs only the card: an estimated latency at the asked batch.
    t4 = reference_profiles()["t4"].to_dict()
    gpu = candidates_from_catalog(["big.a1", "small.a1"], Constraints(batch=4, device="cuda:0"),
                                  catalog=catalog, hardware=t4)
    fig = gpu[0].latency[0]
    assert (fig.source, fig.batch, fig.device) == ("estimated", 4, "cuda:0")
    assert fig.value > 0 and fig.method.startswith("estimate_latency")
    assert gpu[0].latency[0].value > gpu[1].latency[0].value  # 20x the MACs
    with pytest.raises(SelectorError, match="unknown model id"):
        candidates_from_catalog(["nope"], catalog=catalog)


def test_real_transfer_scores_are_ranked_by_the_transfer_module():
    import numpy as np

    from selector.core.transfer.scores import score_features

    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 20)
    good = np.eye(4)[labels] * 3 + rng.normal(0, 0.5, (80, 4))
    good = np.hstack([good, rng.normal(0, 1, (80, 12))])
    noise = rng.normal(0, 1, (80, 16))
    store = ResultStore()
    session = store.create_session("transfer")
    for name, feats in (("good.m", good), ("noise.m", noise)):
        scores = score_features(feats, labels, n_boot=10, seed=0)
        store.save_result(ProbeResult(f"tr-{name}", "transfer", name, "cpu", "finished",
                                      session_id=session.id, weights="pretrained",
                                      rows=[scores.to_dict()], spec={"entry": _entry(
                                          name, 70.0, 1_000_000).to_dict()}))
    cands = {c.model_id: c for c in load_session(session.id).candidates}
    good_t, noise_t = cands["good.m"].transfer, cands["noise.m"].transfer
    assert (good_t.method, good_t.rank, good_t.score) == ("combined", 1, 1.0)
    assert noise_t.rank == 2 and noise_t.score == 0.0
    assert good_t.stability == 1.0 and set(good_t.scores) == {"logme", "knn", "linear"}
    assert good_t.samples == 80
    rec = recommend(list(cands.values()))
    assert rec.recommended == "good.m" and rec.basis_kind == "transfer"


def test_a_fine_tune_without_steps_gives_no_accuracy_and_no_peak():
    store = ResultStore()
    session = store.create_session("slow box")
    entry = _entry("slow.a1", 75.0, 5_000_000)
    result = _finetune(session, entry, 0.4, 1500.0)
    result.rows[0]["steps"] = 0
    store.save_result(result)
    cand = load_session(session.id).candidates[0]
    assert cand.finetuned_accuracy is None
    assert [f.source for f in cand.finetune_memory] == ["estimated"]
    assert cand.probe_status["finetune"] == "no-steps"
    rec = recommend([cand])
    assert any("no training step" in line for line in rec.verdict("slow.a1").checks)
