"""Predicted latency (ms per batch) and throughput of an entry on a device, before any probe.

Two methods, each named in ``LatencyEstimate.method``:

- **CPU**: the entry's traced work per sample (MACs by kind of layer, bytes written by
  element-wise ops, number of ops; from its activation profile) over this machine's measured
  rates (:mod:`selector.core.estimate.calibration`), times the calibration's correction from
  two reference models. A training step counts the backward as twice the forward plus the
  optimizer's pass over the parameters.
- **CUDA GPU**: timm's published throughput on an RTX 4090 / 3090 (AMP, large batch;
  ``entry.reference_throughput``) scaled to the device by the geometric mean of its tensor
  throughput and memory bandwidth relative to the reference card, plus a kernel-launch floor
  per op that dominates at small batches. Without a published figure (text models, local
  models): MACs over 35 % of the device's peak tensor throughput.

These predict eager PyTorch. Another runtime (ONNX Runtime, OpenVINO, torch.compile, int8)
is estimated only from speed-ups measured on this machine, by
:func:`selector.core.runtimes.ratios.runtime_estimate` (the eager estimate over the median
ratio of at least two models of the same modality; its method names them).

Everything is in milliseconds per batch and samples per second. ``prediction_record`` is the
JSON the results store keeps so a probe's measurement can be compared with it later.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
from dataclasses import dataclass
from typing import Any

from selector.core.catalog.entry import CatalogEntry
from selector.core.estimate.calibration import KINDS, Calibration
from selector.core.estimate.memory import Workload, device_kind_of

GPU_SPECS: dict[str, tuple[float, float]] = {
    # name fragment: (dense fp16 tensor TFLOPS, memory bandwidth GB/s); first match wins
    "h200": (989.0, 4800.0), "h100 pcie": (756.0, 2000.0), "h100": (989.0, 3350.0),
    "a100": (312.0, 2039.0), "l40s": (362.0, 864.0), "l40": (181.0, 864.0), "l4": (121.0, 300.0),
    "a10g": (125.0, 600.0), "a10": (125.0, 600.0), "t4": (65.0, 320.0), "v100": (125.0, 900.0),
    "rtx 6000 ada": (364.0, 960.0), "a6000": (155.0, 768.0),
    "4090 laptop": (80.0, 576.0), "4080 laptop": (60.0, 432.0), "4070 laptop": (40.0, 256.0),
    "4060 laptop": (30.0, 256.0), "4050 laptop": (22.0, 192.0),
    "4090": (165.0, 1008.0), "4080": (97.0, 717.0), "4070": (58.0, 504.0), "4060": (30.0, 272.0),
    "3090": (71.0, 936.0), "3080": (60.0, 760.0), "3070": (41.0, 448.0), "3060": (25.0, 360.0),
    "5090": (210.0, 1792.0), "5080": (113.0, 960.0),
    "mi300x": (1307.0, 5300.0), "7900 xtx": (123.0, 960.0), "a770": (138.0, 560.0),
    "m3 max": (14.0, 400.0), "m4 max": (17.0, 546.0), "m3 pro": (7.4, 150.0),
    "m4 pro": (9.2, 273.0), "apple m3": (3.6, 100.0), "apple m4": (4.3, 120.0),
    "890m": (12.0, 120.0),
}
REFERENCE_CARDS = {"rtx4090": GPU_SPECS["4090"], "rtx3090": GPU_SPECS["3090"]}
UNKNOWN_GPU = (65.0, 320.0)
"""An unknown NVIDIA card is assumed to be like a T4 (cautious)."""
GPU_LAUNCH_S = 8e-6
"""Per-op cost on a GPU in eager mode (kernel launch and Python dispatch)."""
FP32_GPU_FACTOR = {"conv": 0.5, "attention": 0.3}
"""fp32 throughput relative to AMP: convolutions use TF32 by default, matmuls do not."""
TRAIN_FACTOR = 3.0
"""A training step's work relative to the forward: backward is about twice the forward."""
OPTIMIZER_TRAFFIC = {"adamw": 18.0, "sgd": 10.0}
"""Bytes-written equivalents per parameter byte of one optimizer step on CPU (PyTorch's
single-tensor AdamW: eight kernels streaming parameters, gradients, moments and two
temporaries, out of cache; fitted to BERT-base's step on this machine), and the freshly
allocated gradients' page faults."""


@dataclass
class LatencyEstimate:
    ms_per_batch: float
    samples_per_s: float
    method: str
    device_id: str
    workload: Workload | None = None

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["workload"] = self.workload.to_dict() if self.workload else None
        return data


def gpu_specs(name: str) -> tuple[tuple[float, float], bool]:
    """(TFLOPS, GB/s) of a card by its name; False when the name is unknown (T4 assumed)."""
    lowered = name.lower()
    for fragment, specs in GPU_SPECS.items():
        if fragment in lowered:
            return specs, True
    return UNKNOWN_GPU, False


def estimate_latency(
    entry: CatalogEntry,
    workload: Workload,
    device_id: str,
    calibration: Calibration | None,
    device_name: str = "",
    corrected: bool = True,
) -> LatencyEstimate | None:
    """Predicted ms per batch of ``workload`` on ``device_id`` (``cpu``, ``cuda:N``).

    CPU needs a ``calibration`` (None gives None: no guess without a measurement); a GPU needs
    ``device_name`` (``NVIDIA L4``) for its specs. None when the entry lacks what the method
    needs (no profile and no MACs).
    """
    if device_kind_of(device_id) != "cpu":
        result = _gpu(entry, workload, device_name)
    else:
        result = _cpu(entry, workload, calibration, corrected) if calibration else None
    if result is None:
        return None
    seconds, method = result
    ms = seconds * 1000.0
    return LatencyEstimate(ms, workload.batch_size / seconds, method, device_id, workload)


def _work(entry: CatalogEntry, workload: Workload) -> dict[str, Any] | None:
    """MACs per kind, element-wise bytes and op count for one batch (forward only)."""
    profile = entry.activation or {}
    b = workload.batch_size
    traced = profile.get("traced", {})
    if profile.get("kind") == "text":
        r = workload.seq_len / max(1, traced.get("seq_len", 128))
    elif workload.image_size and traced.get("image_size"):
        r = (workload.image_size / traced["image_size"]) ** 2
    elif workload.image_size and entry.input_size:
        r = (workload.image_size / entry.input_size[-1]) ** 2
    else:
        r = 1.0
    macs = profile.get("macs_per_sample")
    if macs:
        by_kind = {k: macs.get(k, 0.0) * b * (r * r if k == "attention" else r) for k in KINDS}
    elif entry.macs or entry.published_macs:
        by_kind = {"conv": float(entry.macs or entry.published_macs or 0) * b * r}
    else:
        return None
    inference = profile.get("inference", {})
    written = inference.get("written", [0.0, 0.0])
    return {
        "macs": by_kind, "bytes": written[0] + written[1] * b * r,
        "ops": inference.get("ops", 200), "params": profile.get("param_bytes", (entry.params or 0) * 4),
        "param_tensors": profile.get("param_tensors", 100), "traced": bool(macs),
    }


def _cpu(entry: CatalogEntry, workload: Workload, cal: Calibration, corrected: bool):
    work = _work(entry, workload)
    if work is None:
        return None
    compute = sum(m / cal.macs_per_s.get(k, cal.macs_per_s.get("conv", 1e10)) for k, m in work["macs"].items())
    elementwise = work["bytes"] / cal.bytes_per_s
    overhead = work["ops"] * cal.op_overhead_s
    scale = 0.5 if workload.dtype in ("fp16", "bf16", "amp") else 1.0
    note = "" if scale == 1.0 else f"; {workload.dtype} on CPU assumed like fp32 compute, half the memory traffic"
    seconds = compute + elementwise * scale + overhead
    if workload.training:
        compute, elementwise = compute * TRAIN_FACTOR, elementwise * TRAIN_FACTOR
        overhead = work["ops"] * TRAIN_FACTOR * cal.train_op_overhead_s
        traffic = OPTIMIZER_TRAFFIC[workload.optimizer]
        optimizer = work["params"] * traffic / cal.bytes_per_s
        optimizer += work["param_tensors"] * (12 if workload.optimizer == "adamw" else 5) * cal.op_overhead_s
        seconds = compute + elementwise * scale + overhead + optimizer
    if corrected:
        seconds *= cal.correction
    source = "traced MACs by layer kind" if work["traced"] else "published MACs (no traced profile)"
    method = (f"CPU: {source} over rates measured on this machine ({cal.threads} threads, "
              f"correction x{cal.correction:.2f} from reference models){note}")
    if workload.training:
        method += "; training step = 3 x forward + optimizer pass"
    if cal.provisional:
        method += "; provisional: the CPU was calibrated on a busy machine"
    return seconds, method


def _gpu(entry: CatalogEntry, workload: Workload, device_name: str):
    (tflops, bandwidth), known = gpu_specs(device_name)
    work = _work(entry, workload)
    has_attention = bool(work and work["macs"].get("attention"))
    dtype_factor = 1.0
    if workload.dtype == "fp32":
        dtype_factor = FP32_GPU_FACTOR["attention" if has_attention else "conv"]
    ref_key, rate = _reference(entry, workload)
    b = workload.batch_size
    launch = (work["ops"] if work else 200) * GPU_LAUNCH_S * (TRAIN_FACTOR if workload.training else 1.0)
    who = device_name or "unknown GPU"
    if not known:
        who += " (unknown card: T4-class assumed)"
    if rate is not None:
        card = REFERENCE_CARDS[ref_key.split("-")[0]]
        factor = math.sqrt(tflops / card[0] * bandwidth / card[1])
        size_ratio = 1.0
        if workload.image_size and entry.input_size:
            size_ratio = (workload.image_size / entry.input_size[-1]) ** 2
        seconds = b * size_ratio / (rate * factor * dtype_factor) + launch
        method = (f"GPU: published {ref_key} throughput ({rate:.0f}/s) x {factor:.2f} for {who} "
                  f"(tensor TFLOPS and bandwidth vs the reference card)")
    elif work is not None:
        macs = sum(work["macs"].values())
        if workload.training:
            macs *= TRAIN_FACTOR
        seconds = macs / (tflops * 1e12 / 2 * 0.35 * dtype_factor) + launch
        method = f"GPU: MACs over 35 % of {who}'s {tflops:.0f} TFLOPS (no published throughput)"
    else:
        return None
    if dtype_factor != 1.0:
        method += f"; fp32 at x{dtype_factor} of AMP"
    return seconds, method + "; plus a kernel-launch floor per op"


def _reference(entry: CatalogEntry, workload: Workload) -> tuple[str, float | None]:
    refs = entry.reference_throughput or {}
    keys = ("rtx3090-amp-train",) if workload.training else ("rtx4090-amp-infer", "rtx3090-amp-infer")
    for key in keys:
        if refs.get(key):
            return key, float(refs[key])
    if workload.training:
        for key in ("rtx4090-amp-infer", "rtx3090-amp-infer"):
            if refs.get(key):
                return key, float(refs[key]) / TRAIN_FACTOR
    return "", None


def prediction_record(entry: CatalogEntry, estimate: LatencyEstimate,
                      calibration: Calibration | None = None) -> dict[str, Any]:
    """What the results store keeps: the prediction, its method and inputs, and when."""
    return {
        "kind": "latency-prediction", "model_id": entry.id, "device_id": estimate.device_id,
        "workload": estimate.workload.to_dict() if estimate.workload else None,
        "ms_per_batch": estimate.ms_per_batch, "samples_per_s": estimate.samples_per_s,
        "method": estimate.method,
        "calibration_key": calibration.key if calibration else None,
        "predicted_at": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
    }
