"""Memory estimates from traced profiles, checked against peaks measured in fresh processes.

The measured children run with glibc's mmap threshold fixed (``plain_malloc``), so their RSS
follows the live tensors and the comparison checks the traced model itself; glibc's caching on
top of it is what ``allocator_mib`` adds, validated in tests/benchmarks/memory_validation.py.
"""

from __future__ import annotations

import json

import pytest

from selector.core.catalog.entry import TEXT, VISION, CatalogEntry
from selector.core.estimate.measure import build_model, measure_peak
from selector.core.estimate.memory import Workload, estimate_memory

TINY_BERT = {
    "hf_config": {"model_type": "bert", "hidden_size": 64, "num_hidden_layers": 2,
                  "num_attention_heads": 2, "intermediate_size": 256, "vocab_size": 1000},
    "seq_len": 128, "name": "tiny-bert",
}
_ENTRIES: dict[str, CatalogEntry] = {}


def traced_entry(spec: dict) -> CatalogEntry:
    """A catalog entry for ``spec`` with its activation profile traced on the meta device."""
    import torch

    from selector.core.estimate.trace import profile_entry

    name = spec.get("name") or spec["timm"]
    if name not in _ENTRIES:
        with torch.device("meta"):
            model = build_model(spec)
        if "timm" in spec:
            size = tuple(model.pretrained_cfg["input_size"])
            entry = CatalogEntry(name, "timm", VISION, "test", name, input_size=size)
        else:
            entry = CatalogEntry(name, "transformers", TEXT, "bert", "bert", input_size=(spec["seq_len"],))
        entry.params = sum(p.numel() for p in model.parameters())
        entry.activation = profile_entry(model, entry)
        _ENTRIES[name] = entry
    return _ENTRIES[name]


def live_estimate(entry: CatalogEntry, wl: Workload) -> float:
    """Estimated peak over the process baseline, without glibc's caching allowance."""
    est = estimate_memory(entry, wl, "cpu")
    return est.dynamic_mib - est.allocator_mib


@pytest.mark.slow
@pytest.mark.parametrize(
    "spec, mode, batch",
    [
        ({"timm": "test_resnet"}, "train", 64),
        ({"timm": "test_vit"}, "train", 64),
        ({"timm": "test_efficientnet"}, "inference", 64),
        (TINY_BERT, "train", 64),
    ],
    ids=["resnet-train", "vit-train", "efficientnet-inference", "bert-train"],
)
def test_estimate_matches_measured_peak(spec, mode, batch):
    entry = traced_entry(spec)
    wl = Workload(mode=mode, batch_size=batch, seq_len=spec.get("seq_len", 128))
    measured = measure_peak(spec, wl, threads=2, steps=2, plain_malloc=True)["peak_mib"]
    estimated = live_estimate(entry, wl)
    assert estimated == pytest.approx(measured, rel=0.15), (estimated, measured)


_MEASURED: dict[tuple, float] = {}


def measured_peak(spec: dict, wl: Workload) -> float:
    """Peak over the baseline, plain malloc, measured once per (model, workload) per session."""
    key = (json.dumps(spec, sort_keys=True), json.dumps(wl.to_dict(), sort_keys=True))
    if key not in _MEASURED:
        _MEASURED[key] = measure_peak(spec, wl, threads=2, steps=2, plain_malloc=True)["peak_mib"]
    return _MEASURED[key]


@pytest.mark.slow
@pytest.mark.parametrize("checkpointing", [False, True], ids=["plain", "checkpointing"])
def test_growth_with_batch_matches_measurement(checkpointing):
    """From batch 32 to 128 the estimate grows as the measured peak does (a process's fixed
    non-tensor memory, a few tens of MiB, cancels out)."""
    spec = {"timm": "test_vit"}
    entry = traced_entry(spec)
    small, large = (Workload(mode="train", batch_size=b, grad_checkpointing=checkpointing) for b in (32, 128))
    grown = measured_peak(spec, large) - measured_peak(spec, small)
    assert live_estimate(entry, large) - live_estimate(entry, small) == pytest.approx(grown, rel=0.15)


@pytest.mark.slow
def test_grad_checkpointing_reduces_training_memory_as_measured():
    spec = {"timm": "test_vit"}
    entry = traced_entry(spec)
    plain = Workload(mode="train", batch_size=128)
    ckpt = Workload(mode="train", batch_size=128, grad_checkpointing=True)
    est_plain, est_ckpt = estimate_memory(entry, plain), estimate_memory(entry, ckpt)
    assert est_ckpt.activations_mib < 0.5 * est_plain.activations_mib
    saved_estimated = live_estimate(entry, plain) - live_estimate(entry, ckpt)
    saved_measured = measured_peak(spec, plain) - measured_peak(spec, ckpt)
    assert saved_estimated == pytest.approx(saved_measured, rel=0.2)


def test_activations_scale_with_batch_and_input_size():
    entry = traced_entry({"timm": "test_resnet"})
    one = estimate_memory(entry, Workload(batch_size=8)).activations_mib
    two = estimate_memory(entry, Workload(batch_size=16)).activations_mib
    assert two == pytest.approx(2 * one, rel=0.1)
    big = estimate_memory(entry, Workload(batch_size=8, image_size=320)).activations_mib
    assert big == pytest.approx(4 * one, rel=0.1)  # 2x the side, 4x the pixels


def test_text_activations_grow_with_sequence_length():
    entry = traced_entry(TINY_BERT)
    short = estimate_memory(entry, Workload(mode="train", batch_size=32, seq_len=128)).activations_mib
    long = estimate_memory(entry, Workload(mode="train", batch_size=32, seq_len=512)).activations_mib
    assert long > 3.5 * short


def test_training_breakdown_follows_optimizer_and_dtype():
    entry = traced_entry({"timm": "test_resnet"})
    adamw = estimate_memory(entry, Workload(mode="train", batch_size=8))
    sgd = estimate_memory(entry, Workload(mode="train", batch_size=8, optimizer="sgd"))
    weights = entry.activation["param_bytes"] / 2**20
    assert adamw.gradients_mib == pytest.approx(weights, rel=0.01)
    assert adamw.optimizer_mib >= 2 * weights * 0.99
    assert sgd.optimizer_mib == pytest.approx(weights, rel=0.01)
    fp32_gpu = estimate_memory(entry, Workload(mode="train", batch_size=8), "cuda")
    half = estimate_memory(entry, Workload(mode="train", batch_size=8, dtype="fp16"), "cuda")
    assert half.weights_mib == pytest.approx(adamw.weights_mib / 2, rel=0.01)
    assert half.activations_mib < 0.6 * fp32_gpu.activations_mib
    amp = estimate_memory(entry, Workload(mode="train", batch_size=8, dtype="amp"), "cuda")
    assert amp.weights_mib == pytest.approx(fp32_gpu.weights_mib)  # fp32 master weights
    assert half.activations_mib < amp.activations_mib < fp32_gpu.activations_mib
    assert "AMP precisions traced" in amp.method
    parts = (adamw.weights_mib + adamw.gradients_mib + adamw.optimizer_mib + adamw.activations_mib
             + adamw.allocator_mib + adamw.overhead_mib)
    assert adamw.total_mib == pytest.approx(parts)


def test_inference_needs_no_gradients_or_optimizer_state():
    est = estimate_memory(traced_entry({"timm": "test_vit"}), Workload(batch_size=4), "cuda")
    assert est.gradients_mib == 0 and est.optimizer_mib == 0
    assert est.device_kind == "cuda" and "traced" in est.method


def test_entry_without_profile_gets_a_labelled_rule_of_thumb():
    entry = CatalogEntry("x", "timm", VISION, "resnet", "resnet50", params=25_557_032, macs=4.1e9,
                         input_size=(3, 224, 224))
    est = estimate_memory(entry, Workload(mode="train", batch_size=32))
    assert "rule of thumb" in est.method
    assert est.weights_mib == pytest.approx(25_557_032 * 4 / 2**20)
    assert est.activations_mib > 0


def test_bad_workloads_are_refused_in_plain_words():
    with pytest.raises(ValueError, match="dtype"):
        Workload(dtype="int8")
    with pytest.raises(ValueError, match="batch size"):
        Workload(batch_size=0)
    with pytest.raises(ValueError, match="mode"):
        Workload(mode="serve")
