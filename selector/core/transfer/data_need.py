"""Data need: how accuracy grows with labelled samples per class, from the same frozen features.

For each level of ``shots`` (labelled samples per class: 5, 10, 25, 50 by default), random
class-balanced training subsets are drawn ``repeats`` times; the k-NN classifier (training
subset as reference) and the logistic probe (fitted on the subset) predict the remaining
samples, scored by balanced accuracy. The last point, ``shots=None`` ("all"), is the
stratified k-fold estimate over all samples. A level is skipped when some class has no more
than that many samples (nothing would be left to test on).

``fewest_labels`` then answers "which model reaches accuracy A with the fewest labels", on the
measured points only (no interpolation between them).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from selector.core.transfer.scores import (
    FOLDS, KNN_K, LOGISTIC_L2, SCORE_NAMES, TransferInputError, balanced_accuracy,
    check_inputs, fit_predict_logistic, knn_predict, linear_probe_predictions, probe_space,
    thread_limit)

SHOTS = (5, 10, 25, 50)
REPEATS = 5
METHODS = ("knn", "linear")


@dataclass
class CurvePoint:
    shots: int | None
    """Labelled samples per class in each training subset; None = all (k-fold)."""
    labels_per_class: float
    """Mean over classes of the training labels per class (for ``shots=None``: (k-1)/k of
    the class)."""
    n_labels: float
    """Training labels in total."""
    knn_mean: float
    knn_std: float
    linear_mean: float
    linear_std: float
    """Balanced accuracy, mean and standard deviation over the repeats (``shots=None``: over
    the k folds)."""
    repeats: int

    def mean(self, method: str) -> float:
        return self.knn_mean if method == "knn" else self.linear_mean


@dataclass
class LearningCurve:
    """Balanced accuracy against labelled samples per class, for one model on one data set."""

    points: list[CurvePoint]
    n_samples: int
    n_classes: int
    seed: int = 0
    settings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "LearningCurve":
        values = dict(data)
        values["points"] = [CurvePoint(**p) for p in data["points"]]
        return cls(**values)


def _subset(codes: np.ndarray, shots: int, rng: np.random.Generator) -> np.ndarray:
    """Boolean mask of ``shots`` random samples of every class."""
    train = np.zeros(codes.shape[0], dtype=bool)
    for c in range(int(codes.max()) + 1):
        members = np.flatnonzero(codes == c)
        train[rng.choice(members, size=shots, replace=False)] = True
    return train


def learning_curve(features, labels, shots: tuple[int, ...] = SHOTS, repeats: int = REPEATS, *,
                   knn_k: int = KNN_K, folds: int = FOLDS, logistic_l2: float = LOGISTIC_L2,
                   seed: int = 0, threads: int | None = 1) -> LearningCurve:
    """k-NN and linear-probe balanced accuracy at several labelled samples per class.

    ``features`` (N, D), ``labels`` (N,). Deterministic for a given ``seed``; the "all" point
    uses the same folds as ``score_features`` with that seed. ``threads`` caps BLAS threads
    (1 by default, as for ``score_features``).
    """
    with thread_limit(threads):
        return _learning_curve(features, labels, shots, repeats, knn_k, folds, logistic_l2, seed)


def _learning_curve(features, labels, shots, repeats, knn_k, folds, logistic_l2,
                    seed) -> LearningCurve:
    f, codes, classes = check_inputs(features, labels)
    space = probe_space(f)
    counts = np.bincount(codes)
    rng = np.random.default_rng([seed, 0xC0DE])
    points = []
    for s in sorted(set(int(v) for v in shots)):
        if s < 1:
            raise TransferInputError(f"samples per class must be at least 1, got {s}")
        if s >= counts.min():
            continue
        knn_acc, lin_acc = [], []
        for _ in range(repeats):
            train = _subset(codes, s, rng)
            knn = knn_predict(f[train], codes[train], f[~train], k=knn_k)
            knn_acc.append(balanced_accuracy(codes[~train], knn))
            lin, _ = fit_predict_logistic(space[train], codes[train], space[~train], logistic_l2)
            lin_acc.append(balanced_accuracy(codes[~train], lin))
        points.append(CurvePoint(
            shots=s, labels_per_class=float(s), n_labels=float(s * len(classes)),
            knn_mean=float(np.mean(knn_acc)), knn_std=float(np.std(knn_acc)),
            linear_mean=float(np.mean(lin_acc)), linear_std=float(np.std(lin_acc)),
            repeats=repeats))
    lin, fold, n_folds, _ = linear_probe_predictions(space, codes, folds, logistic_l2, seed)
    knn_all = np.empty_like(codes)
    knn_acc, lin_acc = [], []
    for k in range(n_folds):
        test = fold == k
        knn_all[test] = knn_predict(f[~test], codes[~test], f[test], k=knn_k)
        knn_acc.append(balanced_accuracy(codes[test], knn_all[test]))
        lin_acc.append(balanced_accuracy(codes[test], lin[test]))
    per_class = float(np.mean(counts) * (n_folds - 1) / n_folds)
    points.append(CurvePoint(
        shots=None, labels_per_class=per_class,
        n_labels=float(codes.shape[0] * (n_folds - 1) / n_folds),
        knn_mean=balanced_accuracy(codes, knn_all), knn_std=float(np.std(knn_acc)),
        linear_mean=balanced_accuracy(codes, lin), linear_std=float(np.std(lin_acc)),
        repeats=n_folds))
    return LearningCurve(points=points, n_samples=int(codes.shape[0]), n_classes=len(classes),
                         seed=seed, settings={"knn_k": knn_k, "folds": n_folds,
                                              "logistic_l2": logistic_l2, "repeats": repeats})


@dataclass
class LabelNeed:
    """Which model reaches a target accuracy with the fewest labels per class."""

    target: float
    method: str
    rows: list[dict[str, Any]]
    """Per model, best first: ``model``, ``reached`` (bool), ``labels_per_class`` (first
    measured level at or above the target; None if never), ``accuracy`` there (or the best
    reached)."""
    best: str | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _fmt_level(row: dict[str, Any]) -> str:
    n = row["labels_per_class"]
    text = f"{n:.0f} labels per class"
    return text + " (all of them)" if row["shots"] is None else text


def fewest_labels(curves: Mapping[str, LearningCurve | Mapping[str, Any]], target: float,
                  method: str = "linear") -> LabelNeed:
    """Rank models by the fewest labels per class at which ``method`` (``knn`` or ``linear``)
    reaches balanced accuracy ``target`` (a fraction, e.g. 0.8) on the measured points."""
    if method not in METHODS:
        raise TransferInputError(f"method must be one of {list(METHODS)}, got {method!r}")
    if not 0.0 < target <= 1.0:
        raise TransferInputError(f"target accuracy is a fraction in (0, 1], got {target}")
    rows: list[dict[str, Any]] = []
    for model, value in curves.items():
        curve = value if isinstance(value, LearningCurve) else LearningCurve.from_dict(dict(value))
        points = sorted(curve.points, key=lambda p: p.labels_per_class)
        hit = next((p for p in points if p.mean(method) >= target), None)
        best = max(points, key=lambda p: p.mean(method))
        chosen = hit or best
        rows.append({"model": model, "reached": hit is not None, "shots": chosen.shots,
                     "labels_per_class": chosen.labels_per_class if hit else None,
                     "accuracy": chosen.mean(method),
                     "max_labels_per_class": points[-1].labels_per_class})
    rows.sort(key=lambda r: (not r["reached"], r["labels_per_class"] or 0.0, -r["accuracy"]))
    name = SCORE_NAMES[method]
    reached = [r for r in rows if r["reached"]]
    if not reached:
        top = max(rows, key=lambda r: r["accuracy"])
        message = (f"No model reaches {target:.0%} balanced accuracy ({name}) with the labels "
                   f"you have; the closest is {top['model']} at {top['accuracy']:.0%}.")
        return LabelNeed(target, method, rows, None, message)
    first = reached[0]
    parts = [f"{first['model']} reaches {target:.0%} balanced accuracy ({name}) with "
             f"{_fmt_level(first)}"]
    for r in reached[1:3]:
        parts.append(f"{r['model']} needs {r['labels_per_class']:.0f}"
                     + (" (all of them)" if r["shots"] is None else ""))
    missing = [r["model"] for r in rows if not r["reached"]]
    message = "; ".join(parts) + "."
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        shown = ", ".join(missing[:3]) + more
        message += f" Not reached with the labels you have: {shown}."
    return LabelNeed(target, method, rows, first["model"], message)
