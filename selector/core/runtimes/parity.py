"""Parity before speed: does a runtime give the answers eager PyTorch gives?

Every exported, compiled or quantised model is run on the same inputs as the eager fp32
model: a fixed batch of random inputs (seeded), and, when the user gave data, a sample of
it. Reported: the largest absolute difference of the outputs, the same relative to the
largest eager output (``max_rel_diff``, so a scale-free figure), and the share of samples
whose top-1 class is the same (the outputs' last axis). With data, the rule reads the
figures on the data (random noise lies far outside the ranges int8 was calibrated on, and
near class boundaries); the random-input figures are kept beside them (``*_random``). A
runtime beyond its :class:`Tolerance` is marked (``ok`` false, ``reason``) and never
recommended.

With labels, each runtime's held-out accuracy is measured beside eager fp32's with one
classifier fitted on eager's outputs: nearest class centroid (cosine) of the outputs of the
calibration split. It is no fine-tuned accuracy; it shows whether the runtime changes what a
model's outputs say about the user's classes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Tolerance:
    max_rel_diff: float
    """Largest |runtime - eager| over the largest |eager| output."""
    min_top1_agreement: float
    """Share of the user's samples with the same top-1 class (checked only with data)."""


FP32 = Tolerance(max_rel_diff=1e-3, min_top1_agreement=0.99)
"""fp32 runtimes reorder float sums: differences around 1e-6 of the scale are normal."""
INT8 = Tolerance(max_rel_diff=0.25, min_top1_agreement=0.90)
"""int8 changes every output a little; it must keep nine answers in ten on the user's data."""


def tolerance_for(precision: str) -> Tolerance:
    return INT8 if precision.startswith("int8") else FP32


def differences(reference: np.ndarray, outputs: np.ndarray) -> tuple[float, float]:
    """``(max absolute difference, the same over the largest |reference|)``."""
    if reference.shape != outputs.shape:
        raise ValueError(f"output shape {list(outputs.shape)} differs from eager's {list(reference.shape)}")
    diff = float(np.max(np.abs(reference - outputs))) if reference.size else 0.0
    if not np.isfinite(outputs).all():
        diff = float("inf")
    scale = float(np.max(np.abs(reference))) if reference.size else 0.0
    return diff, diff / max(scale, 1e-12)


def top1_agreement(reference: np.ndarray, outputs: np.ndarray) -> float | None:
    """Share of samples with the same argmax over the last axis (None for outputs that are not
    one score vector per sample, e.g. hidden states)."""
    if reference.ndim != 2 or reference.shape[0] == 0:
        return None
    return float(np.mean(reference.argmax(axis=1) == outputs.argmax(axis=1)))


def check(reference: np.ndarray, outputs: np.ndarray, precision: str,
          data_reference: np.ndarray | None = None, data_outputs: np.ndarray | None = None) -> dict[str, Any]:
    """The parity record of one runtime: figures, the tolerance, ``ok`` and its ``reason``."""
    tol = tolerance_for(precision)
    max_abs, max_rel = differences(reference, outputs)
    record: dict[str, Any] = {
        "reference": "eager fp32", "inputs": "random", "max_abs_diff": _r(max_abs), "max_rel_diff": _r(max_rel),
        "max_abs_diff_random": _r(max_abs), "max_rel_diff_random": _r(max_rel),
        "top1_agreement_random": top1_agreement(reference, outputs), "random_samples": int(reference.shape[0]),
        "top1_agreement": None, "data_samples": 0, "tolerance": asdict(tol),
    }
    if data_reference is not None and data_outputs is not None and len(data_reference):
        d_abs, d_rel = differences(data_reference, data_outputs)
        record.update(inputs="your data", max_abs_diff=_r(d_abs), max_rel_diff=_r(d_rel),
                      top1_agreement=top1_agreement(data_reference, data_outputs),
                      data_samples=int(len(data_reference)))
    reasons = []
    if not record["max_rel_diff"] <= tol.max_rel_diff:  # also NaN and inf
        reasons.append(f"outputs differ from eager by {record['max_rel_diff']:.3g} of their scale "
                       f"(tolerance {tol.max_rel_diff:g})")
    agree = record["top1_agreement"]
    if agree is not None and agree < tol.min_top1_agreement:
        reasons.append(f"top-1 agrees with eager on {100 * agree:.1f} % of your samples "
                       f"(tolerance {100 * tol.min_top1_agreement:.0f} %)")
    record["ok"] = not reasons
    record["reason"] = "; ".join(reasons)
    return record


def reference_record() -> dict[str, Any]:
    """The parity record of eager fp32 itself: the reference."""
    return {"reference": "eager fp32", "ok": True, "reason": "", "max_abs_diff": 0.0, "max_rel_diff": 0.0,
            "is_reference": True}


def centroid_accuracy(train: np.ndarray, train_labels: np.ndarray, test: np.ndarray,
                      test_labels: np.ndarray) -> float | None:
    """Held-out accuracy of the nearest class centroid (cosine) fitted on ``train``."""
    if not len(train) or not len(test):
        return None
    train = _flat_unit(train)
    test = _flat_unit(test)
    classes = np.unique(train_labels)
    centroids = np.stack([train[train_labels == c].mean(axis=0) for c in classes])
    centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
    predicted = classes[np.argmax(test @ centroids.T, axis=1)]
    return float(np.mean(predicted == test_labels))


ACCURACY_METHOD = ("held-out accuracy of a nearest-class-centroid classifier on the model's "
                   "outputs, centroids from eager fp32 outputs of the calibration split")


def _flat_unit(x: np.ndarray) -> np.ndarray:
    x = x.reshape(len(x), -1).astype(np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _r(value: float) -> float:
    return float(f"{value:.4g}") if np.isfinite(value) else value
