"""Transferability scores of one model's frozen features on the user's labelled samples.

``score_features(features, labels)`` runs the three scores and returns a :class:`TransferScores`
whose ``to_dict()`` is what the transfer probe stores (one row of its ``ProbeResult``):

- **LogME** (``logme.py``): evidence of a Bayesian linear model, nats per sample. Only
  comparable between models scored on the *same* samples and labels; never an accuracy.
- **k-NN**: leave-one-out k-nearest-neighbour classification with cosine similarity on
  L2-normalised features, ``k = 5`` by default (majority vote; ties go to the class with the
  larger summed similarity). Balanced accuracy (mean per-class recall), in [0, 1].
- **Linear probe**: stratified k-fold (5 by default) multinomial logistic regression
  (scikit-learn, lbfgs) with an L2 penalty of ``1e-3`` per sample on standardised features
  scaled to unit mean squared norm (``probe_space``). Balanced accuracy of the out-of-fold
  predictions, in [0, 1].

The per-sample predictions and the LogME of every bootstrap resample are kept, so that
``ranking.rank_candidates`` can say how stable the ranking of several models is without the
features. All models of one comparison must be scored on the same samples, in the same order,
with the same ``seed``: ``label_digest`` lets the ranking check that.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from selector.core.errors import SelectorError
from selector.core.transfer.logme import logme_from_spectrum, one_hot, spectrum

KNN_K = 5
FOLDS = 5
LOGISTIC_L2 = 1e-3
LOGISTIC_MAX_ITER = 300
N_BOOT = 30


class TransferInputError(SelectorError, ValueError):
    """The features or labels cannot be scored (shape, NaN, too few samples per class)."""


# ----------------------------------------------------------------------------- input checks

def encode_labels(labels) -> tuple[np.ndarray, list]:
    """Class codes ``0..C-1`` (in sorted order of the labels) and the list of class labels."""
    arr = np.asarray(labels)
    if arr.ndim != 1:
        raise TransferInputError(
            f"labels must be one label per sample (1-D), got shape {arr.shape}")
    if arr.dtype.kind == "f" and np.isnan(arr).any():
        raise TransferInputError(f"labels contain NaN ({int(np.isnan(arr).sum())} samples)")
    if arr.dtype.kind == "O" and any(v is None for v in arr):
        raise TransferInputError("labels contain None")
    classes, codes = np.unique(arr, return_inverse=True)
    return codes.astype(np.int64), classes.tolist()


def check_inputs(features, labels, min_per_class: int = 2) -> tuple[np.ndarray, np.ndarray, list]:
    """Validate and convert: ``(features float64 (N, D), codes (N,), classes)``.

    Raises :class:`TransferInputError` with a message that says what is wrong and where.
    """
    f = np.asarray(features)
    if f.ndim != 2:
        raise TransferInputError(
            f"features must be a 2-D array (samples x feature dims), got shape {f.shape}")
    if f.dtype.kind not in "fiub":
        raise TransferInputError(f"features must be numbers, got dtype {f.dtype}")
    f = np.ascontiguousarray(f, dtype=np.float64)
    n, d = f.shape
    codes, classes = encode_labels(labels)
    if codes.shape[0] != n:
        raise TransferInputError(
            f"features have {n} rows (samples) but there are {codes.shape[0]} labels")
    if d == 0 or n == 0:
        raise TransferInputError(f"features are empty (shape {f.shape})")
    bad = ~np.isfinite(f)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        raise TransferInputError(
            f"features contain NaN or infinity: {int(bad.sum())} values in {rows.size} samples "
            f"(first: sample {int(rows[0])}); the model produced non-finite outputs")
    if len(classes) < 2:
        raise TransferInputError(
            f"transfer scores need at least 2 classes; every label is {classes[0]!r}")
    counts = np.bincount(codes, minlength=len(classes))
    small = [f"class {classes[i]!r} ({int(counts[i])} sample{'' if counts[i] == 1 else 's'})"
             for i in np.flatnonzero(counts < min_per_class)]
    if small:
        raise TransferInputError(
            f"every class needs at least {min_per_class} labelled samples (leave-one-out and "
            f"k-fold hold one out); too few in {', '.join(small[:10])}"
            + (f" and {len(small) - 10} more classes" if len(small) > 10 else ""))
    if not np.any(f):
        raise TransferInputError("features are all zero; the model produced no signal")
    return f, codes, classes


def label_digest(codes: np.ndarray, classes: list) -> str:
    """Short hash of the label sequence: equal digests = same samples, same order."""
    h = hashlib.sha256(np.asarray(codes, dtype=np.int64).tobytes())
    h.update(json.dumps([str(c) for c in classes]).encode())
    return h.hexdigest()[:16]


# ----------------------------------------------------------------------------- building blocks

def balanced_accuracy(codes: np.ndarray, predictions: np.ndarray,
                      weights: np.ndarray | None = None) -> float:
    """Mean over the classes present of the fraction of their samples predicted right."""
    n_classes = int(codes.max()) + 1
    w = np.ones(codes.shape[0]) if weights is None else weights
    total = np.bincount(codes, weights=w, minlength=n_classes)
    right = np.bincount(codes, weights=w * (predictions == codes), minlength=n_classes)
    present = total > 0
    # Rounded so that equal fractions reached by different sums compare equal (ranks tie).
    return round(float(np.mean(right[present] / total[present])), 12)


def _normalise(features: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(features, axis=1, keepdims=True)
    return features / np.where(norm > 0, norm, 1.0)


def knn_predict(reference: np.ndarray, reference_codes: np.ndarray, queries: np.ndarray,
                k: int = KNN_K, leave_one_out: bool = False, block: int = 1024,
                gram: np.ndarray | None = None) -> np.ndarray:
    """k-NN class predictions by cosine similarity (rows are L2-normalised here).

    ``leave_one_out``: ``queries`` are the reference samples themselves and each one's own row
    is excluded; ``gram`` may then pass ``reference @ reference.T`` (computed for LogME) to
    save the product. Majority vote; a tie goes to the class with the larger summed similarity.
    """
    ref = _normalise(reference)
    qry = ref if leave_one_out else _normalise(queries)
    n_ref = ref.shape[0]
    k = max(1, min(k, n_ref - (1 if leave_one_out else 0)))
    n_classes = int(reference_codes.max()) + 1
    out = np.empty(qry.shape[0], dtype=np.int64)
    if leave_one_out and gram is not None:
        norm = np.sqrt(np.maximum(np.diag(gram), 0.0))
        inv = np.where(norm > 0, 1.0 / np.where(norm > 0, norm, 1.0), 0.0)
    for start in range(0, qry.shape[0], block):
        if leave_one_out and gram is not None:
            sim = gram[start:start + block] * inv[start:start + block, None] * inv[None, :]
        else:
            sim = qry[start:start + block] @ ref.T
        rows = np.arange(sim.shape[0])
        if leave_one_out:
            sim[rows, start + rows] = -np.inf
        idx = np.argpartition(-sim, k - 1, axis=1)[:, :k]
        near = np.take_along_axis(sim, idx, axis=1)
        votes = np.zeros((sim.shape[0], n_classes))
        simsum = np.zeros((sim.shape[0], n_classes))
        np.add.at(votes, (rows[:, None], reference_codes[idx]), 1.0)
        np.add.at(simsum, (rows[:, None], reference_codes[idx]), near)
        out[start:start + block] = np.argmax(votes * (2 * k + 1) + simsum, axis=1)
    return out


def stratified_folds(codes: np.ndarray, n_folds: int, seed: int) -> np.ndarray:
    """Fold number of each sample; every class is dealt round-robin over the folds.

    Depends only on the partition of the samples into classes (not on the label names), so
    renaming the classes gives the same folds.
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(codes.shape[0])
    fold = np.empty(codes.shape[0], dtype=np.int64)
    ordered = codes[order]
    _, first = np.unique(ordered, return_index=True)
    start = 0
    for c in ordered[np.sort(first)]:
        members = order[ordered == c]
        fold[members] = (start + np.arange(members.size)) % n_folds
        start += members.size
    return fold


def probe_space(features: np.ndarray) -> np.ndarray:
    """The features as the linear probe sees them: (N, r) with r <= min(N, D).

    Standardised per dimension over all N samples (no labels involved), scaled so the mean
    squared norm of a sample is 1 (so one L2 strength suits any D), then, when N < D, replaced
    by N coordinates with the same inner products (the Cholesky factor of the Gram matrix,
    i.e. the rows in some orthonormal basis of their span). An L2-penalised linear model
    depends on the rows only through their inner products (its optimal weights lie in the
    span of the training rows), so this is exact, and every fit gets cheaper.
    """
    mean = features.mean(axis=0)
    std = features.std(axis=0)
    std = np.where(std > 1e-12 * max(float(std.max()), 1e-300), std, 1.0)
    x = (features - mean) / (std * np.sqrt(features.shape[1]))
    n, d = x.shape
    if n >= d:
        return x
    gram = x @ x.T
    # A relative jitter of 1e-12 keeps duplicated samples factorable; it is far below anything
    # the fit can resolve.
    jitter = 1e-12 * float(np.trace(gram)) / n
    try:
        return np.linalg.cholesky(gram + jitter * np.eye(n))
    except np.linalg.LinAlgError:
        lam, vec = np.linalg.eigh(gram)
        keep = lam > float(lam.max()) * n * np.finfo(np.float64).eps
        return vec[:, keep] * np.sqrt(lam[keep])


def fit_predict_logistic(train_x: np.ndarray, train_codes: np.ndarray, test_x: np.ndarray,
                         l2: float = LOGISTIC_L2,
                         max_iter: int = LOGISTIC_MAX_ITER) -> tuple[np.ndarray, bool]:
    """Fit multinomial logistic regression on ``probe_space`` rows, predict the test rows.

    Objective: mean cross-entropy + ``l2`` / 2 * |W|^2 (scikit-learn lbfgs, ``C = 1 / (l2 N)``,
    intercept not penalised), single-threaded (faster for these sizes, and immune to
    oversubscription). Returns ``(predicted codes, converged)``; a fit that stops at
    ``max_iter`` is kept and flagged.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    model = LogisticRegression(C=1.0 / (l2 * train_x.shape[0]), max_iter=max_iter)
    with warnings.catch_warnings(record=True) as caught, threadpool_limits(limits=1):
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(train_x, train_codes)
        predicted = model.predict(test_x).astype(np.int64)
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return predicted, converged


def linear_probe_predictions(space: np.ndarray, codes: np.ndarray, folds: int = FOLDS,
                             l2: float = LOGISTIC_L2, seed: int = 0):
    """Out-of-fold predictions of the k-fold logistic probe on ``probe_space`` rows:
    ``(predictions, fold of each sample, folds used, converged)``.

    The number of folds is capped by the smallest class (each fold holds every class).
    """
    n_folds = int(min(folds, np.bincount(codes).min()))
    fold = stratified_folds(codes, n_folds, seed)
    predictions = np.empty_like(codes)
    converged = True
    for k in range(n_folds):
        test = fold == k
        predictions[test], ok = fit_predict_logistic(space[~test], codes[~test], space[test], l2)
        converged &= ok
    return predictions, fold, n_folds, converged


SUBSAMPLE_FRACTION = 0.8
"""Share of each class kept in a stability resample."""


def bootstrap_indices(codes: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, M) stratified resamples for the stability of the ranking: in each, 80% of every
    class (at least 2 samples) drawn *without* replacement.

    Not the classic with-replacement bootstrap: a duplicated sample is evidence LogME counts
    twice, which inflates it (at 32 samples x 384 features, resample means of 6.7 against a
    full-data 1.2) and more so for wide features, so the "stays first" share would measure the
    duplicates rather than the data. A function of the labels and the seed only, so every model
    of a comparison gets the same resamples.
    """
    rng = np.random.default_rng([seed, 0xB007])
    members = [np.flatnonzero(codes == c) for c in range(int(codes.max()) + 1)]
    sizes = [min(m.size, max(2, int(round(SUBSAMPLE_FRACTION * m.size)))) for m in members]
    out = np.empty((n_boot, sum(sizes)), dtype=np.int64)
    for b in range(n_boot):
        out[b] = np.concatenate([np.sort(rng.choice(m, size=k, replace=False))
                                 for m, k in zip(members, sizes)])
    return out


def logme_bootstrap(features: np.ndarray, codes: np.ndarray, indices: np.ndarray,
                    gram: np.ndarray | None = None) -> list[float]:
    """LogME on each resample, exactly (duplicates, if a caller's indices have any, become
    sample weights; one eigendecomposition of the distinct samples per resample)."""
    n, n_classes = codes.shape[0], int(codes.max()) + 1
    out = []
    for idx in indices:
        counts = np.bincount(idx, minlength=n)
        keep = np.flatnonzero(counts)
        sub_gram = None if gram is None else gram[np.ix_(keep, keep)]
        s = spectrum(features[keep], one_hot(codes[keep], n_classes),
                     weights=counts[keep].astype(np.float64), gram=sub_gram)
        out.append(logme_from_spectrum(s).score)
    return out


# ----------------------------------------------------------------------------- the result

SCORE_KEYS = ("logme", "knn", "linear")
SCORE_NAMES = {"logme": "LogME", "knn": "k-NN", "linear": "linear probe"}


@dataclass
class TransferScores:
    """The three scores of one model on one labelled sample set (JSON-ready via ``to_dict``).

    Accuracies are balanced (mean per-class recall) fractions in [0, 1]. ``logme`` is in nats
    per sample and is only comparable between models scored on the same samples: show ranks
    beside it, never a LogME value as if it were an accuracy.
    """

    n_samples: int
    n_features: int
    n_classes: int
    logme: float
    knn_balanced_accuracy: float
    linear_balanced_accuracy: float
    classes: list = field(default_factory=list)
    """Class labels, in code order (codes are positions in this list)."""
    label_codes: list[int] = field(default_factory=list)
    knn_predictions: list[int] = field(default_factory=list)
    """Leave-one-out k-NN prediction (class code) of every sample."""
    linear_predictions: list[int] = field(default_factory=list)
    """Out-of-fold linear-probe prediction (class code) of every sample."""
    logme_per_class: list[float] = field(default_factory=list)
    logme_boundary: list[bool] = field(default_factory=list)
    """Per class: the evidence peaked at alpha or beta -> infinity (labels ~ unrelated)."""
    logme_rank: int = 0
    """Numerical rank of the features."""
    logme_bootstrap: list[float] = field(default_factory=list)
    """LogME on each of the ``n_boot`` stratified bootstrap resamples (same for all models)."""
    n_boot: int = 0
    seed: int = 0
    label_digest: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    """``knn_k``, ``folds`` (used), ``logistic_l2``, ``linear_converged``."""
    timings_s: dict[str, float] = field(default_factory=dict)
    """Seconds per step: ``logme``, ``knn``, ``linear``, ``bootstrap``."""

    def score(self, key: str) -> float:
        """``logme``, ``knn`` or ``linear``: the headline value (higher is better)."""
        return {"logme": self.logme, "knn": self.knn_balanced_accuracy,
                "linear": self.linear_balanced_accuracy}[key]

    def summary(self) -> dict[str, Any]:
        """Headline figures for lists (the probe's ``ProbeResult.summary``)."""
        return {"logme": self.logme, "knn_balanced_accuracy": self.knn_balanced_accuracy,
                "linear_balanced_accuracy": self.linear_balanced_accuracy,
                "n_samples": self.n_samples, "n_classes": self.n_classes,
                "n_features": self.n_features}

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["classes"] = [c if isinstance(c, (str, int, float, bool)) else str(c)
                           for c in self.classes]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TransferScores":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def score_features(features, labels, *, knn_k: int = KNN_K, folds: int = FOLDS,
                   logistic_l2: float = LOGISTIC_L2, n_boot: int = N_BOOT,
                   seed: int = 0, threads: int | None = 1) -> TransferScores:
    """LogME, leave-one-out k-NN and k-fold linear probe of ``features`` (N, D) for ``labels`` (N,).

    ``labels`` may be ints or strings. ``n_boot`` stratified bootstrap resamples of LogME are
    computed for the ranking's stability (0 to skip; one eigendecomposition each, about 40 ms
    at 1,000 x 2,048). ``threads`` caps the BLAS/OpenMP threads for the call: 1 by default,
    as fast as two at these sizes and it does not collapse when the cores are busy (measured:
    3x slower with 2 threads on a loaded 2-core machine); None leaves the process setting.
    Raises :class:`TransferInputError` on unusable input.
    """
    with thread_limit(threads):
        return _score_features(features, labels, knn_k, folds, logistic_l2, n_boot, seed)


def thread_limit(threads: int | None):
    """Context manager capping BLAS/OpenMP threads (a no-op for None)."""
    if threads is None:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=int(threads))


def _score_features(features, labels, knn_k, folds, logistic_l2, n_boot, seed) -> TransferScores:
    f, codes, classes = check_inputs(features, labels)
    n, d = f.shape
    n_classes = len(classes)
    timings = {}
    t0 = time.perf_counter()
    gram = f @ f.T if n <= d else None
    lm = logme_from_spectrum(spectrum(f, one_hot(codes, n_classes), gram=gram))
    timings["logme"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    knn = knn_predict(f, codes, f, k=knn_k, leave_one_out=True, gram=gram)
    timings["knn"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    linear, _, used_folds, converged = linear_probe_predictions(probe_space(f), codes, folds,
                                                                logistic_l2, seed)
    timings["linear"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    boot = logme_bootstrap(f, codes, bootstrap_indices(codes, n_boot, seed), gram) if n_boot else []
    timings["bootstrap"] = time.perf_counter() - t0

    return TransferScores(
        n_samples=n, n_features=d, n_classes=n_classes, logme=lm.score,
        knn_balanced_accuracy=balanced_accuracy(codes, knn),
        linear_balanced_accuracy=balanced_accuracy(codes, linear),
        classes=classes, label_codes=codes.tolist(), knn_predictions=knn.tolist(),
        linear_predictions=linear.tolist(), logme_per_class=lm.per_class,
        logme_boundary=lm.boundary, logme_rank=lm.rank, logme_bootstrap=boot, n_boot=n_boot,
        seed=seed, label_digest=label_digest(codes, classes),
        settings={"knn_k": knn_k, "folds": used_folds, "logistic_l2": logistic_l2,
                  "linear_converged": bool(converged)},
        timings_s=timings)
