"""LogME, k-NN and linear probe on frozen features: exactness, invariances, errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from selector.core.errors import SelectorError
from selector.core.transfer import TransferInputError, TransferScores, score_features
from selector.core.transfer.logme import (
    direct_log_evidence, log_evidence, logme, logme_from_spectrum, mackay_update, one_hot,
    spectrum)
from selector.core.transfer.scores import (
    balanced_accuracy, knn_predict, linear_probe_predictions, probe_space, stratified_folds)


def blobs(n=120, d=30, classes=3, sep=3.0, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    codes = np.arange(n) % classes
    means = rng.normal(size=(classes, d)) * sep / math.sqrt(d)
    return scale * (means[codes] + rng.normal(size=(n, d))), codes


# ----------------------------------------------------------------------------- LogME

SHAPES = {
    "N<D": (12, 40, None),
    "N>D": (40, 12, None),
    "N=D": (25, 25, None),
    "N<D, rank-deficient": (20, 50, 8),     # rank 8 < N < D: (D - k) is not D - N
    "N>D, rank-deficient": (60, 15, 6),     # rank 6 < D < N: the term matters here too
}


@pytest.mark.parametrize("name", list(SHAPES))
def test_logme_closed_form_equals_slogdet_in_both_regimes(name):
    n, d, rank = SHAPES[name]
    rng = np.random.default_rng(list(SHAPES).index(name))
    f = rng.normal(size=(n, d)) * 2.0
    if rank is not None:
        f = rng.normal(size=(n, rank)) @ rng.normal(size=(rank, d))
    codes = np.arange(n) % 3
    y = one_hot(codes, 3)
    s = spectrum(f, y)
    assert s.rank == (rank or min(n, d))
    for alpha, beta in [(0.01, 3.0), (40.0, 0.2), (1e3, 50.0), (0.5, 0.5)]:
        closed = log_evidence(s, alpha, beta)
        for c in range(3):
            from_cov, from_posterior = direct_log_evidence(f, y[:, c], alpha, beta)
            assert closed[c] == pytest.approx(from_cov, rel=1e-9, abs=1e-9)
            assert closed[c] == pytest.approx(from_posterior, rel=1e-9, abs=1e-9)
            # The public reference code keeps D/2 log(alpha) but sums log(alpha + beta lam)
            # over the min(N, D) singular values only, i.e. drops (D - k)/2 log(alpha). The
            # comparison above must be tight enough to catch that whenever D > k.
            dropped = closed[c] + (d - s.rank) / 2.0 * math.log(alpha)
            if d > s.rank:
                assert abs(dropped - from_cov) > 1e-3 * abs(from_cov)


def relu_features(n, d, classes=3, seed=0, latent=8):
    """Low-rank, non-negative, correlated features, like a ReLU network's."""
    rng = np.random.default_rng(seed)
    codes = np.arange(n) % classes
    z = rng.normal(size=(classes, latent))[codes] + 1.5 * rng.normal(size=(n, latent))
    proj = rng.normal(size=(latent, d))
    return np.maximum(z @ proj + 0.3 * rng.normal(size=(n, d)), 0.0), codes


def test_logme_optimum_is_a_fixed_point_and_a_local_maximum():
    from scipy.optimize import minimize

    for n, d in [(30, 80), (80, 30)]:
        f, codes = relu_features(n, d, seed=n)
        y = one_hot(codes, 3)
        s = spectrum(f, y)
        res = logme_from_spectrum(s)
        assert not any(res.boundary)
        alpha, beta = np.array(res.alpha), np.array(res.beta)
        new_alpha, new_beta = mackay_update(s, alpha, beta)
        np.testing.assert_allclose(new_alpha, alpha, rtol=1e-7)
        np.testing.assert_allclose(new_beta, beta, rtol=1e-7)
        best = log_evidence(s, alpha, beta)
        for da in (-1e-3, 0.0, 1e-3):
            for db in (-1e-3, 0.0, 1e-3):
                moved = log_evidence(s, alpha * np.exp(da), beta * np.exp(db))
                assert np.all(moved <= best + 1e-12)
        # An independent optimiser on the direct N x N formula finds the same maximum.
        for c in range(3):
            res_c = minimize(lambda p: -direct_log_evidence(f, y[:, c], *np.exp(p))[0],
                             np.log([alpha[c] * 3, beta[c] / 3]), method="Nelder-Mead",
                             options={"xatol": 1e-9, "fatol": 1e-11, "maxiter": 4000})
            assert -res_c.fun == pytest.approx(best[c], rel=1e-8)
            assert np.exp(res_c.x) == pytest.approx([alpha[c], beta[c]], rel=1e-3)


def test_logme_boundary_optimum_is_the_noise_free_limit():
    """N < D with isotropic noise in the features: the noise already acts as observation
    noise, the evidence grows as beta -> infinity, and LogME must report that limit:
    max over alpha of log N(y | 0, F F^T / alpha)."""
    f, codes = blobs(30, 80, classes=3, sep=4.0, seed=30)
    y = one_hot(codes, 3)
    res = logme_from_spectrum(spectrum(f, y))
    assert all(res.boundary)
    gram = f @ f.T
    _, logdet = np.linalg.slogdet(gram)
    for c in range(3):
        quad = y[:, c] @ np.linalg.solve(gram, y[:, c])
        alpha = 30 / quad
        limit = -0.5 * (logdet - 30 * math.log(alpha) + alpha * quad + 30 * math.log(2 * math.pi))
        assert res.per_class[c] * 30 == pytest.approx(limit, rel=1e-9)


def test_logme_handles_labels_unrelated_to_features():
    rng = np.random.default_rng(3)
    f, codes = rng.normal(size=(40, 20)), rng.permutation(np.arange(40) % 2)
    res = logme(f, codes)
    assert math.isfinite(res.score)
    y = one_hot(codes, 2)
    # Whatever the optimiser reports, nothing on a wide grid beats it.
    grid = [(a, b) for a in np.logspace(-4, 8, 25) for b in np.logspace(-3, 3, 25)]
    s = spectrum(f, y)
    best_grid = max(float(np.mean(log_evidence(s, a, b))) for a, b in grid) / 40
    assert res.score >= best_grid - 1e-9


def test_logme_invariances():
    f, codes = blobs(60, 90, classes=4, seed=1)
    base = logme(f, codes).score
    renamed = np.array([2, 0, 3, 1])[codes]
    assert logme(f, renamed).score == pytest.approx(base, rel=1e-12, abs=1e-12)
    for scale in (1e-3, 1e3):
        assert logme(f * scale, codes).score == pytest.approx(base, rel=1e-9, abs=1e-9)
    order = np.random.default_rng(0).permutation(60)
    assert logme(f[order], codes[order]).score == pytest.approx(base, rel=1e-10, abs=1e-10)


@pytest.mark.parametrize("n,d", [(30, 70), (70, 20)])
def test_logme_sample_weights_equal_duplicated_rows(n, d):
    """The bootstrap folds duplicates into weights; that must be exact."""
    f, codes = blobs(n, d, classes=3, seed=2)
    counts = np.random.default_rng(4).integers(0, 4, size=n)
    counts[:3] = 1                                   # keep every class present
    rows = np.repeat(np.arange(n), counts)
    dup = logme_from_spectrum(spectrum(f[rows], one_hot(codes[rows], 3)))
    keep = counts > 0
    weighted = logme_from_spectrum(spectrum(f[keep], one_hot(codes[keep], 3),
                                            weights=counts[keep].astype(float)))
    assert weighted.score == pytest.approx(dup.score, rel=1e-9)


def test_logme_ranks_more_separable_features_higher():
    scores = [logme(*blobs(150, 40, classes=3, sep=s, seed=7)).score for s in (0.5, 2, 6)]
    assert scores[0] < scores[1] < scores[2]


# ----------------------------------------------------------------------------- k-NN

def _on_circle(degrees, radius=None):
    rad = np.radians(degrees)
    pts = np.stack([np.cos(rad), np.sin(rad)], axis=1)
    return pts if radius is None else pts * np.asarray(radius)[:, None]


def test_knn_leave_one_out_on_a_hand_made_set():
    # Class 0 near 0 degrees plus one stray at 95; class 1 near 100 degrees. Lengths differ
    # (cosine similarity ignores them).
    angles = [0, 10, 20, 95, 90, 100, 110]
    codes = np.array([0, 0, 0, 0, 1, 1, 1])
    f = _on_circle(angles, radius=[5, 1, 0.2, 3, 1, 7, 2])
    # k=1: the stray takes a class-1 neighbour, and steals 90 and 100 from class 1.
    pred1 = knn_predict(f, codes, f, k=1, leave_one_out=True)
    np.testing.assert_array_equal(pred1, [0, 0, 0, 1, 0, 0, 1])
    assert balanced_accuracy(codes, pred1) == pytest.approx((3 / 4 + 1 / 3) / 2)
    # k=3: class 1 outvotes the stray everywhere; only the stray is wrong.
    pred3 = knn_predict(f, codes, f, k=3, leave_one_out=True)
    np.testing.assert_array_equal(pred3, [0, 0, 0, 1, 1, 1, 1])
    assert balanced_accuracy(codes, pred3) == pytest.approx((3 / 4 + 1) / 2)


def test_knn_vote_tie_goes_to_the_more_similar_class():
    ref = _on_circle([0, 50])
    pred = knn_predict(ref, np.array([0, 1]), _on_circle([20, 30]), k=2)
    np.testing.assert_array_equal(pred, [0, 1])


def test_knn_from_the_logme_gram_matches_the_direct_computation():
    f, codes = blobs(40, 90, classes=4, sep=2.0, seed=9)
    f[5] = 0.0                                          # a zero row has no direction
    direct = knn_predict(f, codes, f, k=5, leave_one_out=True)
    from_gram = knn_predict(f, codes, f, k=5, leave_one_out=True, gram=f @ f.T)
    np.testing.assert_array_equal(from_gram, direct)


# ----------------------------------------------------------------------------- linear probe

@pytest.mark.parametrize("duplicate", [False, True])
def test_probe_space_is_exact_for_the_l2_logistic_model(duplicate):
    """N < D: the probe fits on N coordinates with the rows' inner products; the fitted model
    must predict the same probabilities as one fitted on all D standardised dimensions."""
    from sklearn.linear_model import LogisticRegression

    f, codes = blobs(40, 120, classes=3, sep=2.0, seed=10)
    if duplicate:
        f[1], codes[1] = f[0], codes[0]
    space = probe_space(f)
    assert space.shape[0] == 40 and space.shape[1] <= 40
    full = (f - f.mean(0)) / (f.std(0) * np.sqrt(f.shape[1]))
    np.testing.assert_allclose(space @ space.T, full @ full.T, atol=1e-9)
    train = np.arange(40) % 4 != 0
    probs = []
    for x in (full, space):
        model = LogisticRegression(C=1.0 / (1e-3 * train.sum()), tol=1e-12, max_iter=20_000)
        model.fit(x[train], codes[train])
        probs.append(model.predict_proba(x[~train]))
    np.testing.assert_allclose(probs[0], probs[1], atol=1e-5)


def test_linear_probe_separates_separable_data_and_not_random_labels():
    f, codes = blobs(200, 50, classes=4, sep=8.0, seed=5)
    pred, fold, n_folds, converged = linear_probe_predictions(probe_space(f), codes)
    assert n_folds == 5 and converged
    assert balanced_accuracy(codes, pred) >= 0.95
    shuffled = np.random.default_rng(6).permutation(codes)
    pred, *_ = linear_probe_predictions(probe_space(f), shuffled)
    assert balanced_accuracy(shuffled, pred) < 0.45           # chance is 0.25


def test_folds_are_stratified_and_ignore_label_names():
    codes = np.repeat([0, 1, 2], [10, 7, 5])
    fold = stratified_folds(codes, 5, seed=3)
    for c in range(3):
        sizes = np.bincount(fold[codes == c], minlength=5)
        assert sizes.min() >= 1 and sizes.max() - sizes.min() <= 1
    renamed = np.array([2, 0, 1])[codes]
    np.testing.assert_array_equal(stratified_folds(renamed, 5, seed=3), fold)


def test_scores_do_not_depend_on_label_names_and_round_trip_json():
    f, codes = blobs(90, 40, classes=3, sep=2.0, seed=8)
    names = np.array(["cat", "dog", "eel"])[codes]
    a = score_features(f, names, n_boot=5)
    b = score_features(f, np.array([7, 3, 5])[codes], n_boot=5)
    assert a.logme == pytest.approx(b.logme, rel=1e-12)
    assert a.knn_balanced_accuracy == b.knn_balanced_accuracy
    assert abs(a.linear_balanced_accuracy - b.linear_balanced_accuracy) <= 1.5 / 30
    assert a.classes == ["cat", "dog", "eel"]
    again = TransferScores.from_dict(json.loads(json.dumps(a.to_dict())))
    assert again == a
    assert len(a.logme_bootstrap) == 5 and len(a.knn_predictions) == 90
    assert set(a.timings_s) == {"logme", "knn", "linear", "bootstrap"}


# ----------------------------------------------------------------------------- bad input

RANDOM = np.random.default_rng(0).normal(size=(6, 3))
NON_FINITE = np.array([[0.0, 1], [np.nan, 2], [3, np.inf], [1, 1]])


@pytest.mark.parametrize("features,labels,words", [
    (np.ones((6, 3)), [0] * 6, "at least 2 classes"),
    (RANDOM[:5], [0, 0, 0, 0, 1], "class 1 (1 sample)"),
    (RANDOM[:5], ["a", "a", "b", "b", "c"], "class 'c' (1 sample)"),
    (RANDOM, [0, 1] * 2, "6 rows (samples) but there are 4 labels"),
    (np.arange(6.0), [0, 1] * 3, "2-D array"),
    (NON_FINITE, [0, 1, 0, 1], "2 values in 2 samples (first: sample 1)"),
    (np.zeros((4, 3)), [0, 1, 0, 1], "all zero"),
    (np.ones((4, 3)), [0.0, np.nan, 1.0, 1.0], "labels contain NaN"),
    (np.array([["a", "b"], ["c", "d"]]), [0, 1], "must be numbers"),
])
def test_bad_input_gives_a_clear_error(features, labels, words):
    with pytest.raises(TransferInputError) as err:
        score_features(features, labels)
    assert words in str(err.value)
    assert isinstance(err.value, SelectorError)
