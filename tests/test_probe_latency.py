"""The latency probe on tiny real models, each in its own child process."""

from __future__ import annotations

import pytest
import torch

from selector.core.catalog.entry import TEXT, CatalogEntry
from selector.core.probes import ProbeRun, ProbeSpec
from selector.core.results import FINISHED

pytestmark = pytest.mark.slow

QUICK = {"warmup_iters": 2, "warmup_s": 0.05, "min_iters": 5, "min_time_s": 0.2}


def tiny_bert() -> CatalogEntry:
    config = dict(model_type="bert", hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                  intermediate_size=64, vocab_size=5000, max_position_embeddings=64)
    return CatalogEntry(id="tiny-bert", source="transformers", task=TEXT, family="bert",
                        architecture="bert", config=config, input_size=(24,))


@pytest.fixture(scope="module")
def test_resnet() -> CatalogEntry:
    from selector.core.models import resolve_model

    return resolve_model("test_resnet")


def run(spec: ProbeSpec):
    probe = ProbeRun(spec)
    events = list(probe.events())
    assert probe.result.status == FINISHED, probe.result.error or probe.result.message
    return probe.result, events


def test_latency_sweep_of_batches_and_int8(test_resnet):
    spec = ProbeSpec(kind="latency", model=test_resnet.id, entry=test_resnet.to_dict(), threads=1,
                     batch_sizes=[2, 1], dtypes=["fp32", "int8"], budget_s=30, params=QUICK)
    result, events = run(spec)
    rows = result.latency_rows()
    assert [(r.dtype, r.batch_size) for r in rows] == [("fp32", 1), ("fp32", 2), ("int8", 1), ("int8", 2)]
    for row in rows:
        assert row.model_id == test_resnet.id and row.device == "cpu" and row.weights == "random"
        assert row.input_size == [3, 160, 160] and row.threads == 1 and row.timing == "perf_counter"
        assert row.software["torch"] == torch.__version__
        assert row.iters >= 5 and row.measure_s >= 0.2 and row.warmup_iters >= 2
        assert row.min_ms <= row.p50_ms <= row.p90_ms <= row.max_ms
        assert len(row.samples_ms) == row.iters and min(row.samples_ms) == row.min_ms
        if row.iters < 10:
            assert row.p99_ms is None and row.note == f"only {row.iters} iterations: no p99"
        else:
            assert row.p90_ms <= row.p99_ms <= row.max_ms and row.note == ""
        assert row.contention["wall_s"] > 0 and row.contention["others_cores"] is not None
        assert row.contention["reference_before_gmacs"] > 0 and row.contention["reference_after_gmacs"] > 0
        assert row.samples_per_s == pytest.approx(row.batch_size * 1000 / row.mean_ms, rel=1e-3)
        assert row.cv == pytest.approx(row.std_ms / row.mean_ms, rel=1e-2)
        assert row.first_call_ms > 0 and row.load_s > 0
        assert row.peak_rss_mib >= row.rss_before_mib > 100
        assert row.peak_rss_method in ("kernel high-water mark (VmHWM)", "polled every 10 ms")
        assert row.cuda_max_allocated_mib is None and not row.budget_limited
    assert rows[0].quantized_fraction is None and 0 < rows[2].quantized_fraction < 1
    assert rows[2].convert_s > 0
    assert result.weights == "random" and "random" in result.weights_note
    assert result.summary["best_samples_per_s"] == max(r.samples_per_s for r in rows)
    row_events = [i for i, e in enumerate(events) if e.type == "row"]
    assert len(row_events) == 4 and row_events[-1] < len(events) - 1, "rows stream before the end"
    fractions = [e.fraction for e in events if e.type == "progress"]
    assert fractions and fractions == sorted(fractions) and all(0 <= f <= 1 for f in fractions)
    assert any(e.eta_s is not None for e in events if e.type == "progress")


def test_text_model_bf16_within_a_tight_budget():
    entry = tiny_bert()
    spec = ProbeSpec(kind="latency", model=entry.id, entry=entry.to_dict(), threads=1,
                     batch_sizes=[1, 2], dtypes=["fp32", "bf16"], budget_s=1.5,
                     params={**QUICK, "min_time_s": 30.0})
    result, _ = run(spec)
    rows = result.latency_rows()
    assert [(r.dtype, r.batch_size) for r in rows] == [("fp32", 1), ("fp32", 2), ("bf16", 1), ("bf16", 2)]
    assert all(r.input_size == [24] for r in rows)
    assert all(r.budget_limited and r.iters >= 3 for r in rows), "the budget, not min_time, ended each row"
    assert result.summary["budget_limited"]


def test_cuda_without_a_gpu_fails_with_a_plain_reason(test_resnet):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    spec = ProbeSpec(kind="latency", model=test_resnet.id, entry=test_resnet.to_dict(),
                     device="cuda", budget_s=5, timeout_s=120)
    probe = ProbeRun(spec)
    list(probe.events())
    assert probe.result.status == "failed"
    assert "torch sees no CUDA" in probe.result.message


class _OomAbove2(torch.nn.Module):
    """A model that runs out of memory (as CUDA says it) above a batch of 2."""

    def __init__(self) -> None:
        super().__init__()
        self.head = torch.nn.Linear(3, 4)

    def forward(self, x):
        if x.shape[0] > 2:
            raise RuntimeError("CUDA out of memory. Tried to allocate 20.00 MiB")
        return self.head(x.mean((2, 3)))


def _run_in_process(monkeypatch, spec: ProbeSpec):
    import io
    import json

    from selector.core.probes import loading
    from selector.core.probes.context import ProbeContext
    from selector.core.probes.kinds import latency

    entry = CatalogEntry(id="oomy", source="timm", task="image-classification", family="x",
                         architecture="x", input_size=(3, 8, 8))
    monkeypatch.setattr(loading, "entry_for", lambda spec: entry)
    monkeypatch.setattr(loading, "load_model", lambda spec, device: loading.LoadedModel(
        _OomAbove2(), entry, "random", "test model", {}, None, 0.01))
    stream = io.BytesIO()
    report = latency.run(spec, ProbeContext(spec, stream))
    return report, [json.loads(line) for line in stream.getvalue().splitlines()]


def test_out_of_memory_at_a_batch_keeps_the_smaller_ones(monkeypatch):
    spec = ProbeSpec(kind="latency", model="oomy", batch_sizes=[1, 2, 4, 8], budget_s=20, params=QUICK)
    report, events = _run_in_process(monkeypatch, spec)
    assert [e["data"]["batch_size"] for e in events if e["type"] == "row"] == [1, 2]
    assert report["summary"]["out_of_memory"] == ["fp32 batch 4"]
    assert report["summary"]["skipped"] == ["fp32 batch 8"]
    assert report["message"] == "measured 2 row(s); out of memory at fp32 batch 4"
    assert any(e["type"] == "log" and "out of memory at fp32 batch 4" in e["message"] for e in events)


def test_out_of_memory_at_the_smallest_batch_is_an_out_of_memory_end(monkeypatch):
    from selector.core.probes.context import is_oom

    spec = ProbeSpec(kind="latency", model="oomy", batch_sizes=[4, 8], budget_s=20, params=QUICK)
    with pytest.raises(RuntimeError) as err:
        _run_in_process(monkeypatch, spec)
    assert is_oom(err.value)
