"""Latency predictions: CPU from a calibration, GPU from published throughput; cached calibration."""

from __future__ import annotations

import json

import pytest

from selector.core.estimate.calibration import Calibration, calibrate, load_calibration, save_calibration
from selector.core.estimate.latency import estimate_latency, gpu_specs, prediction_record
from selector.core.estimate.memory import Workload
from tests.test_estimate_memory import TINY_BERT, traced_entry

CAL = Calibration(key="test", macs_per_s={"conv": 50e9, "depthwise": 3e9, "matmul": 60e9, "attention": 20e9},
                  bytes_per_s=5e9, op_overhead_s=10e-6, threads=2)


def test_cpu_prediction_scales_with_work():
    entry = traced_entry({"timm": "test_resnet"})
    one = estimate_latency(entry, Workload(batch_size=1), "cpu", CAL)
    many = estimate_latency(entry, Workload(batch_size=64), "cpu", CAL)
    train = estimate_latency(entry, Workload(mode="train", batch_size=64), "cpu", CAL)
    big = estimate_latency(entry, Workload(batch_size=64, image_size=320), "cpu", CAL)
    assert one.ms_per_batch < many.ms_per_batch < 64 * one.ms_per_batch  # per-op overhead amortised
    assert many.samples_per_s > one.samples_per_s
    assert 2.5 * many.ms_per_batch < train.ms_per_batch < 4 * many.ms_per_batch
    assert big.ms_per_batch == pytest.approx(4 * many.ms_per_batch, rel=0.2)
    assert "CPU" in one.method and "this machine" in one.method and one.device_id == "cpu"


def test_cpu_needs_a_calibration():
    assert estimate_latency(traced_entry({"timm": "test_resnet"}), Workload(), "cpu", None) is None


def test_gpu_prediction_from_published_throughput_scales_by_card():
    entry = traced_entry({"timm": "test_resnet"})
    entry.reference_throughput = {"rtx4090-amp-infer": 20000.0}
    wl = Workload(batch_size=256, dtype="amp")
    h100 = estimate_latency(entry, wl, "cuda:0", None, device_name="NVIDIA H100 80GB HBM3")
    t4 = estimate_latency(entry, wl, "cuda:0", None, device_name="Tesla T4")
    assert h100.samples_per_s > 3 * t4.samples_per_s
    assert "rtx4090-amp-infer" in h100.method
    odd = estimate_latency(entry, wl, "cuda:1", None, device_name="Mystery Accelerator")
    assert "unknown card" in odd.method and odd.device_id == "cuda:1"
    fp32 = estimate_latency(entry, Workload(batch_size=256), "cuda:0", None, device_name="NVIDIA L4")
    amp = estimate_latency(entry, wl, "cuda:0", None, device_name="NVIDIA L4")
    assert fp32.ms_per_batch > amp.ms_per_batch


def test_gpu_without_published_figure_uses_macs():
    entry = traced_entry(TINY_BERT)
    est = estimate_latency(entry, Workload(batch_size=32), "cuda:0", None, device_name="NVIDIA A100-SXM4-80GB")
    assert est is not None and "MACs" in est.method
    assert gpu_specs("NVIDIA GeForce RTX 4060 Laptop GPU")[0] == gpu_specs("4060 laptop")[0]


def test_prediction_record_is_json_for_the_results_store():
    entry = traced_entry({"timm": "test_resnet"})
    est = estimate_latency(entry, Workload(batch_size=8), "cpu", CAL)
    record = json.loads(json.dumps(prediction_record(entry, est, CAL)))
    assert record["model_id"] == entry.id and record["ms_per_batch"] == pytest.approx(est.ms_per_batch)
    assert record["workload"]["batch_size"] == 8 and record["calibration_key"] == "test"


@pytest.mark.slow
def test_calibration_measures_this_cpu_and_is_cached():
    cal = calibrate()
    # measured speeds: only their sign is asserted (how fast depends on how busy the machine is;
    # tests/benchmarks/latency_calibration.py prints the figures)
    assert cal.macs_per_s and all(rate > 0 for rate in cal.macs_per_s.values())
    assert cal.bytes_per_s > 0 and cal.op_overhead_s > 0
    assert cal.correction > 0 and set(cal.reference) == {"resnet18", "vit_tiny_patch16_224"}
    save_calibration(cal)
    again = load_calibration(cal.threads)
    assert again is not None and again.macs_per_s == cal.macs_per_s
    assert load_calibration(cal.threads + 7) is None  # another thread count needs its own
