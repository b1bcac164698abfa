"""LogME (You et al., ICML 2021): the evidence of a Bayesian linear model on frozen features.

Model, per one-vs-rest target ``y`` (N values, 1 for the class, 0 otherwise)::

    w ~ N(0, alpha^-1 I_D),   y | F, w ~ N(F w, beta^-1 I_N)
    log p(y | F, alpha, beta) = log N(y | 0, beta^-1 I_N + alpha^-1 F F^T)

maximised over the two precisions ``alpha`` (prior) and ``beta`` (noise): at a fixed point of
MacKay's iteration, found by a safeguarded 1-D search (``maximise_evidence`` says why the plain
iteration is not enough). Everything is evaluated in the eigenbasis of one eigendecomposition:
of the N x N Gram matrix ``F F^T`` when N <= D, of ``F^T F`` (D x D) otherwise. With the k
non-zero eigenvalues ``lam_i``, ``z = U^T y`` (the target in the left singular basis) and the
part of ``y`` outside the span of the features, ``r0 = |y|^2 - |z|^2``::

    |m|^2    = sum beta^2 lam z^2 / (alpha + beta lam)^2
    residual = r0 + sum (alpha / (alpha + beta lam))^2 z^2
    log|A|   = sum log(alpha + beta lam) + (D - k) log alpha       (A = alpha I_D + beta F^T F)
    evidence = D/2 log alpha + N/2 log beta - beta/2 residual - alpha/2 |m|^2
               - 1/2 log|A| - N/2 log 2 pi

The ``(D - k) log alpha`` term is the one the public reference code drops when N < D (its SVD
only returns min(N, D) singular values); at N = 1,000, D = 2,048 that error is
(D - N)/2 log alpha per target, which swamps the differences between models. Here it is kept
(``log_evidence`` simplifies D/2 - (D - k)/2 to k/2), and the tests check the closed form
against ``slogdet`` of the full matrices in both regimes.

The LogME score is the evidence divided by N, averaged over the classes: nats per sample.
Higher is better. It is only comparable between models scored on the same samples and
labels; a LogME value says nothing on its own, and it is not an accuracy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

LOG_2PI = math.log(2.0 * math.pi)


@dataclass
class Spectrum:
    """The features and targets in the eigenbasis; all the fixed point and the evidence need."""

    lam: np.ndarray
    """(k,) non-zero eigenvalues of ``F^T F`` (= those of ``F F^T``)."""
    z: np.ndarray
    """(k, C) the targets projected on the left singular vectors, ``U^T Y``."""
    r0: np.ndarray
    """(C,) squared norm of each target outside the span of the features."""
    n: float
    """Number of samples (with bootstrap weights: their sum)."""
    d: int
    """Feature dimension D."""

    @property
    def rank(self) -> int:
        return int(self.lam.shape[0])


def spectrum(features: np.ndarray, targets: np.ndarray, weights: np.ndarray | None = None,
             gram: np.ndarray | None = None) -> Spectrum:
    """One eigendecomposition of ``F F^T`` (N <= D) or ``F^T F`` (N > D).

    ``targets`` is (N, C). ``weights`` (N,) are sample multiplicities (a bootstrap resample with
    duplicates folded into counts): row i counts ``weights[i]`` times. ``gram`` may pass a
    precomputed ``F F^T`` (unweighted) to save the product when N <= D.
    """
    f = np.asarray(features, dtype=np.float64)
    y = np.asarray(targets, dtype=np.float64)
    n_rows, d = f.shape
    n_eff = float(n_rows) if weights is None else float(np.sum(weights))
    if weights is not None:
        root = np.sqrt(np.asarray(weights, dtype=np.float64))
        f_w = f * root[:, None]
        y = y * root[:, None]
    else:
        root, f_w = None, f
    if n_rows <= d:
        if gram is None:
            g = f_w @ f_w.T
        else:
            g = gram if root is None else gram * np.outer(root, root)
        lam, vec = np.linalg.eigh(g)
        keep = lam > _rank_tol(lam, n_rows, d)
        lam, vec = lam[keep], vec[:, keep]
        z = vec.T @ y
    else:
        lam, vec = np.linalg.eigh(f_w.T @ f_w)
        keep = lam > _rank_tol(lam, n_rows, d)
        lam, vec = lam[keep], vec[:, keep]
        z = (vec.T @ (f_w.T @ y)) / np.sqrt(lam)[:, None]
    y2 = np.einsum("ij,ij->j", y, y)
    r0 = y2 - np.einsum("ij,ij->j", z, z)
    # Below rounding noise the targets lie in the span of the features (always so for a
    # full-rank N <= D): exactly zero, or the evidence would fall off as beta -> infinity.
    r0 = np.where(r0 > 64 * max(n_rows, d) * np.finfo(np.float64).eps * y2, r0, 0.0)
    return Spectrum(lam=lam, z=z, r0=r0, n=n_eff, d=d)


def _rank_tol(lam: np.ndarray, n: int, d: int) -> float:
    top = float(lam.max(initial=0.0))
    return top * max(n, d) * np.finfo(np.float64).eps if top > 0 else math.inf


def _terms(s: Spectrum, alpha: np.ndarray, beta: np.ndarray):
    """|m|^2, residual and gamma (effective number of parameters), per target."""
    lam = s.lam[:, None]
    denom = alpha[None, :] + beta[None, :] * lam
    z2 = s.z * s.z
    m2 = np.sum(beta[None, :] ** 2 * lam * z2 / denom**2, axis=0)
    residual = s.r0 + np.sum((alpha[None, :] / denom) ** 2 * z2, axis=0)
    gamma = np.sum(beta[None, :] * lam / denom, axis=0)
    return m2, residual, gamma, denom


def log_evidence(s: Spectrum, alpha, beta) -> np.ndarray:
    """Closed-form log evidence (nats, not divided by N) of each target at given precisions.

    ``alpha`` and ``beta`` are scalars or (C,) arrays. Exact in both regimes, N < D included.
    """
    c = s.z.shape[1]
    alpha = np.broadcast_to(np.asarray(alpha, dtype=np.float64), (c,))
    beta = np.broadcast_to(np.asarray(beta, dtype=np.float64), (c,))
    m2, residual, _, denom = _terms(s, alpha, beta)
    return (s.rank / 2.0 * np.log(alpha) + s.n / 2.0 * np.log(beta)
            - beta / 2.0 * residual - alpha / 2.0 * m2
            - 0.5 * np.sum(np.log(denom), axis=0) - s.n / 2.0 * LOG_2PI)


def mackay_update(s: Spectrum, alpha: np.ndarray, beta: np.ndarray):
    """One step of MacKay's fixed-point iteration: ``alpha = gamma / |m|^2``,
    ``beta = (N - gamma) / residual``. Its fixed points are the stationary points of the evidence.
    """
    m2, residual, gamma, _ = _terms(s, np.asarray(alpha, float), np.asarray(beta, float))
    return gamma / m2, (s.n - gamma) / residual


def _profile(s: Spectrum, t: np.ndarray, shared: bool):
    """Evidence with beta at its optimum for the ratio ``t = alpha / beta`` (up to a constant).

    ``shared``: ``t`` is (G,), the same ratios for every class, and results are (G, C);
    otherwise ``t`` is (C,), one ratio per class, and results are (C,). For a fixed ratio the
    posterior mean is the ridge solution, ``E(t) = r0 + sum z^2 t / (t + lam)`` is the energy
    per unit beta, and the best beta is ``N / E(t)``. Returns ``(profile, slope, E)``;
    ``slope`` is the derivative with respect to ``log t``, zero at a MacKay fixed point.
    """
    shrink = t[:, None] / (t[:, None] + s.lam)                  # (G or C, k)
    dshrink = shrink * (1.0 - shrink)                           # d shrink / d log t
    z2 = s.z * s.z
    if shared:
        energy, denergy = s.r0 + shrink @ z2, dshrink @ z2       # (G, C)
    else:
        energy = s.r0 + np.einsum("ck,kc->c", shrink, z2)
        denergy = np.einsum("ck,kc->c", dshrink, z2)
    logdet = np.sum(np.log1p(s.lam / t[:, None]), axis=1)      # sum log(1 + lam / t)
    gamma = np.sum(1.0 - shrink, axis=1)                        # effective parameters
    if shared:
        logdet, gamma = logdet[:, None], gamma[:, None]
    energy = np.maximum(energy, np.finfo(np.float64).tiny)
    profile = -0.5 * logdet - s.n / 2.0 * np.log(energy)
    slope = 0.5 * gamma - s.n / 2.0 * denergy / energy
    return profile, slope, energy


def maximise_evidence(s: Spectrum, grid_per_unit: int = 3, margin: float = 30.0,
                      steps: int = 60):
    """``alpha``, ``beta`` maximising the evidence of every target; ``(alpha, beta, boundary)``.

    The stationary points of the evidence are the fixed points of MacKay's update
    (``mackay_update``). The plain iteration is not used to find them: when the maximum lies
    on the boundary (labels unrelated to the features: alpha -> inf; N <= D and a noise-free
    fit: beta -> inf) it never converges, which the reference code hides by stopping after
    11 steps. Instead, beta is profiled out and the evidence is a function of
    ``u = log(alpha / beta)`` alone: a scan over u (``grid_per_unit`` points per unit, from
    ``margin`` below the smallest to ``margin`` above the largest log-eigenvalue) finds the
    best region, and bisection on the slope refines it to a fixed point. ``boundary`` flags
    targets whose best value is at an end of the scan (the evidence is then its limit,
    within ~exp(-margin)).
    """
    c = s.z.shape[1]
    if s.rank == 0:
        beta = s.n / np.maximum(s.r0, np.finfo(np.float64).tiny)
        return np.ones(c), beta, np.ones(c, dtype=bool)
    lo = math.log(float(s.lam.min())) - margin
    hi = math.log(float(s.lam.max())) + margin
    grid = np.linspace(lo, hi, max(int((hi - lo) * grid_per_unit), 8))
    profile, slope, _ = _profile(s, np.exp(grid), shared=True)      # (G, C)
    best = np.argmax(profile, axis=0)
    boundary = (best == 0) | (best == grid.size - 1)
    step = grid[1] - grid[0]
    # The slope is positive left of a maximum and negative right of it.
    here = slope[best, np.arange(c)]
    left = np.where(here > 0, grid[best], grid[best] - step)
    right = np.where(here > 0, grid[best] + step, grid[best])
    left, right = np.clip(left, lo, hi), np.clip(right, lo, hi)
    for _ in range(steps):
        mid = 0.5 * (left + right)
        _, s_mid, _ = _profile(s, np.exp(mid), shared=False)
        left = np.where(s_mid > 0, mid, left)
        right = np.where(s_mid > 0, right, mid)
    refined = 0.5 * (left + right)
    coarse = grid[best]
    # Keep the refined point only where it is at least as good (rounding can flatten slopes).
    better = _profile(s, np.exp(refined), shared=False)[0] >= profile[best, np.arange(c)]
    u = np.where(boundary | ~better, coarse, refined)
    t = np.exp(u)
    _, _, energy = _profile(s, t, shared=False)
    beta = s.n / energy
    return t * beta, beta, boundary


@dataclass
class LogMEResult:
    score: float
    """Mean over classes of the maximised log evidence / N (nats per sample). Higher is better;
    comparable only between models scored on the same samples and labels."""
    per_class: list[float]
    """The same, per one-vs-rest target, in class-code order."""
    alpha: list[float]
    """Prior precision at the maximum, per class."""
    beta: list[float]
    """Noise precision at the maximum, per class."""
    boundary: list[bool]
    """Per class: the maximum is at the edge of the search (alpha or beta -> infinity), as
    with labels unrelated to the features."""
    rank: int
    """Numerical rank k of the features."""


def one_hot(codes: np.ndarray, n_classes: int) -> np.ndarray:
    y = np.zeros((codes.shape[0], n_classes), dtype=np.float64)
    y[np.arange(codes.shape[0]), codes] = 1.0
    return y


def logme_from_spectrum(s: Spectrum) -> LogMEResult:
    alpha, beta, boundary = maximise_evidence(s)
    evidence = log_evidence(s, alpha, beta) / s.n
    return LogMEResult(score=float(np.mean(evidence)), per_class=evidence.tolist(),
                       alpha=alpha.tolist(), beta=beta.tolist(), boundary=boundary.tolist(),
                       rank=s.rank)


def logme(features: np.ndarray, codes: np.ndarray, n_classes: int | None = None,
          gram: np.ndarray | None = None) -> LogMEResult:
    """LogME of ``features`` (N, D) for integer class ``codes`` (N,) in ``0..C-1``.

    Features are used as given (no centring or scaling, as in the paper); the score is
    invariant to one global scale factor. Input checks live in ``scores.check_inputs``.
    """
    codes = np.asarray(codes)
    n_classes = int(codes.max()) + 1 if n_classes is None else n_classes
    return logme_from_spectrum(spectrum(features, one_hot(codes, n_classes), gram=gram))


def direct_log_evidence(features: np.ndarray, target: np.ndarray, alpha: float,
                        beta: float) -> tuple[float, float]:
    """The log evidence of one target computed the slow, obvious way, twice.

    Returns ``(from the N x N covariance, from the D x D posterior precision)``: the Gaussian
    log density of ``y`` under ``beta^-1 I + alpha^-1 F F^T`` with ``slogdet`` and ``solve``,
    and Bishop's form (PRML eq. 3.86) with ``A = alpha I + beta F^T F``. For tests and
    validation only: O(N^3 + D^3).
    """
    f = np.asarray(features, dtype=np.float64)
    y = np.asarray(target, dtype=np.float64)
    n, d = f.shape
    cov = np.eye(n) / beta + (f @ f.T) / alpha
    sign, logdet = np.linalg.slogdet(cov)
    assert sign > 0
    from_cov = -0.5 * (logdet + y @ np.linalg.solve(cov, y) + n * LOG_2PI)
    a = alpha * np.eye(d) + beta * (f.T @ f)
    sign_a, logdet_a = np.linalg.slogdet(a)
    assert sign_a > 0
    m = beta * np.linalg.solve(a, f.T @ y)
    energy = beta / 2.0 * float(np.sum((y - f @ m) ** 2)) + alpha / 2.0 * float(m @ m)
    from_a = (d / 2.0 * math.log(alpha) + n / 2.0 * math.log(beta) - energy
              - 0.5 * logdet_a - n / 2.0 * LOG_2PI)
    return float(from_cov), float(from_a)
