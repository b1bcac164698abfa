"""Fit verdicts against free memory: fits, tight (within the margin), no; reasons with numbers."""

from __future__ import annotations

import pytest

from selector.core.catalog.entry import VISION, CatalogEntry
from selector.core.estimate.fit import fit
from selector.core.estimate.memory import Workload, estimate_memory
from selector.core.hardware import MemoryDevice

GIB = 1024.0


def entry_with_profile() -> CatalogEntry:
    """A hand-written profile: 100 MiB of weights, 2 MiB of activations per sample."""
    mib = 2**20
    profile = {
        "version": 2, "kind": "image", "traced": {"batch": 11, "image_size": 224},
        "param_bytes": 100 * mib, "trainable_param_bytes": 100 * mib, "buffer_bytes": 0,
        "largest_param_bytes": 10 * mib, "param_tensors": 50, "input_bytes_per_sample": 0,
        "inference": {"peak": [[0, 0, 0, 2 * mib, 0]], "ops": 100},
        "train": {"peak": [[0, 0, 0, 20 * mib, 0], [100 * mib, 0, 0, 0, 0]], "ops": 300},
        "train_ckpt": None, "train_math": None, "train_ckpt_math": None,
        "attention": {"calls": 0, "dropout": False},
    }
    return CatalogEntry("toy", "timm", VISION, "toy", "toy", input_size=(3, 224, 224), activation=profile)


def device_with_free(free_mib: float, device_id: str = "cuda:0") -> MemoryDevice:
    return MemoryDevice(device_id, "Fake GPU", total_mib=free_mib * 2, free_mib=free_mib)


def test_fits_tight_and_no_against_free_memory():
    entry, wl = entry_with_profile(), Workload(mode="train", batch_size=32)
    needed = estimate_memory(entry, wl, "cuda").total_mib
    roomy = fit(entry, wl, device_with_free(needed * 1.5))
    tight = fit(entry, wl, device_with_free(needed * 1.05))
    short = fit(entry, wl, device_with_free(needed * 0.8))
    assert (roomy.status, tight.status, short.status) == ("fits", "tight", "no")
    assert roomy.needed_mib == pytest.approx(needed)
    assert short.free_mib == pytest.approx(needed * 0.8)
    assert not short.runs and tight.runs


def test_reason_names_the_workload_the_numbers_and_the_device():
    entry = entry_with_profile()
    result = fit(entry, Workload(mode="train", batch_size=4000), device_with_free(7.1 * GIB))
    assert result.status == "no"
    assert result.reason.startswith("fine-tuning needs ")
    assert "7.1 GiB free on cuda:0" in result.reason
    assert "short" in result.reason
    inference = fit(entry, Workload(batch_size=1), device_with_free(7.1 * GIB))
    assert inference.reason.startswith("inference needs ") and inference.status == "fits"


def test_cpu_fit_counts_the_process_baseline():
    entry = entry_with_profile()
    wl = Workload(batch_size=1)
    cpu = fit(entry, wl, MemoryDevice("cpu", "CPU", 16 * GIB, 8 * GIB))
    gpu = fit(entry, wl, device_with_free(8 * GIB))
    assert cpu.estimate.overhead_mib > 300  # torch + timm + transformers imported
    assert cpu.estimate.device_kind == "cpu" and gpu.estimate.device_kind == "cuda"
    assert gpu.estimate.overhead_mib > 300  # the CUDA context


def test_margin_decides_between_fits_and_tight():
    entry, wl = entry_with_profile(), Workload(batch_size=8)
    needed = estimate_memory(entry, wl, "cuda").total_mib
    device = device_with_free(needed / 0.85)
    assert fit(entry, wl, device, margin=0.10).status == "fits"
    assert fit(entry, wl, device, margin=0.20).status == "tight"
    with pytest.raises(ValueError):
        fit(entry, wl, device, margin=1.5)


def test_training_peak_can_fall_in_the_optimizer_step():
    """At batch 1 the backward holds little; AdamW's step on CUDA holds a copy of all params."""
    entry = entry_with_profile()
    est = estimate_memory(entry, Workload(mode="train", batch_size=1), "cuda")
    assert "optimizer.step" in est.method
    assert est.optimizer_mib == pytest.approx(300, rel=0.01)  # two moments + sqrt(v) temporaries
