"""Ranking candidates by transfer scores, its stability, the prior, and the data-need curves."""

from __future__ import annotations

import json

import numpy as np
import pytest

from selector.core.transfer import (
    LearningCurve, Ranking, TransferInputError, compare_with_prior, fewest_labels,
    learning_curve, rank_candidates, score_features)


def planted(s: float, seed: int, n: int = 160, d: int = 48, informative: int = 8,
            classes: int = 4, means_seed: int = 0):
    """Same labels for every candidate; equidistant class means (orthonormal directions,
    pairwise distance 4 s in noise units) in ``informative`` dims, plus noise dims."""
    q, _ = np.linalg.qr(np.random.default_rng(means_seed).normal(size=(informative, classes)))
    means = q.T * np.sqrt(informative)
    rng = np.random.default_rng(seed)
    codes = np.arange(n) % classes
    x = np.concatenate([s * means[codes] + rng.normal(size=(n, informative)),
                        rng.normal(size=(n, d - informative))], axis=1)
    return x, codes


@pytest.fixture(scope="module")
def planted_scores():
    return {f"s{s}": score_features(*planted(s, seed=i), n_boot=20, threads=1)
            for i, s in enumerate((0.25, 0.5, 1.0, 2.0))}


def test_each_score_and_the_combined_rank_recover_the_planted_order(planted_scores):
    ranking = rank_candidates(planted_scores)
    planted_order = ["s2.0", "s1.0", "s0.5", "s0.25"]
    assert [c.model for c in ranking.candidates] == planted_order
    for key in ("logme", "knn", "linear"):
        values = [planted_scores[m].score(key) for m in planted_order]
        assert values == sorted(values, reverse=True), key
        assert values[1] > values[2] > values[3], key
    assert ranking.candidate("s2.0").ranks == {"logme": 1.0, "knn": 1.0, "linear": 1.0}
    assert ranking.candidate("s0.25").ranks == {"logme": 4.0, "knn": 4.0, "linear": 4.0}
    assert [c.position for c in ranking.candidates] == [1, 2, 3, 4]
    assert ranking.top_stability >= 0.9 and ranking.n_boot == 20
    assert ranking.candidate("s2.0").rank_interval == [1, 1]
    assert ranking.candidate("s0.25").rank_interval == [4, 4]


def test_stability_tells_a_clear_winner_from_a_coin_flip():
    twins = {name: score_features(*planted(1.0, seed=seed), n_boot=40, threads=1)
             for name, seed in (("twin-a", 11), ("twin-b", 12))}
    ranking = rank_candidates(twins)
    assert ranking.top_stability < 0.95
    a, b = ranking.candidates
    assert a.top_fraction + b.top_fraction == pytest.approx(1.0)
    assert b.top_fraction > 0.05
    assert a.rank_interval == [1, 2] or b.rank_interval == [1, 2]


def test_ranking_round_trips_and_works_from_stored_dicts(planted_scores):
    stored = {m: json.loads(json.dumps(r.to_dict())) for m, r in planted_scores.items()}
    from_dicts = rank_candidates(stored)
    direct = rank_candidates(planted_scores)
    assert from_dicts == direct
    assert Ranking.from_dict(json.loads(json.dumps(direct.to_dict()))) == direct
    only_logme = rank_candidates(planted_scores, scores=("logme",))
    assert only_logme.scores == ["logme"] and only_logme.top == "s2.0"


def test_ranking_refuses_models_scored_on_different_samples(planted_scores):
    other = score_features(*planted(2.0, seed=1, n=120), n_boot=0, threads=1)
    with pytest.raises(TransferInputError, match="different samples"):
        rank_candidates({**planted_scores, "other": other})
    with pytest.raises(TransferInputError, match="no scored models"):
        rank_candidates({})
    with pytest.raises(TransferInputError, match="unknown scores"):
        rank_candidates(planted_scores, scores=("accuracy",))


def test_without_bootstrap_there_is_no_stability_claim():
    results = {f"s{s}": score_features(*planted(s, seed=i), n_boot=0, threads=1)
               for i, s in enumerate((0.5, 3.0))}
    ranking = rank_candidates(results)
    assert ranking.top == "s3.0"
    assert ranking.top_stability is None and ranking.candidates[0].rank_interval is None
    assert "bootstrap" not in compare_with_prior(ranking, {"s0.5": 80, "s3.0": 70}).message


def test_prior_comparison_says_when_the_data_disagrees(planted_scores):
    ranking = rank_candidates(planted_scores)
    reversed_prior = {"s0.25": 84.2, "s0.5": 82.0, "s1.0": 81.0, "s2.0": 80.1}
    against = compare_with_prior(ranking, reversed_prior)
    assert against.kendall_tau == pytest.approx(-1.0)
    assert not against.agrees_on_top
    assert ("On your data, s2.0 ranks first although s0.25 has the higher ImageNet top-1 "
            "(84.2% vs 80.1%)") in against.message
    assert "runs against" in against.message

    aligned = compare_with_prior(ranking, {"s0.25": 70.0, "s0.5": 75.0, "s1.0": 79.0,
                                           "s2.0": 81.0})
    assert aligned.kendall_tau == pytest.approx(1.0) and aligned.agrees_on_top
    assert aligned.message.startswith("On your data, s2.0 ranks first, as its ImageNet top-1")

    unknown_top = compare_with_prior(ranking, {"s0.25": 70.0, "s1.0": 75.0, "s2.0": None})
    assert unknown_top.n_models == 2 and unknown_top.prior_top == "s1.0"
    assert "no published ImageNet top-1" in unknown_top.message
    nothing = compare_with_prior(ranking, {})
    assert nothing.kendall_tau is None and "no candidate has a published" in nothing.message


@pytest.fixture(scope="module")
def planted_curves():
    return {f"s{s}": learning_curve(*planted(s, seed=i, n=240), shots=(2, 5, 10, 25),
                                    repeats=4, threads=1)
            for i, s in enumerate((0.6, 1.5, 4.0))}


def test_learning_curves_rise_with_labels(planted_curves):
    for model, curve in planted_curves.items():
        assert [p.shots for p in curve.points] == [2, 5, 10, 25, None]
        assert curve.points[-1].labels_per_class == pytest.approx(60 * 4 / 5)
        for method in ("knn", "linear"):
            means = [p.mean(method) for p in curve.points]
            assert all(b >= a - 0.05 for a, b in zip(means, means[1:])), (model, method, means)
            assert means[-1] > means[0] or means[0] > 0.95
    strong = planted_curves["s4.0"].points
    weak = planted_curves["s0.6"].points
    assert all(s.linear_mean > w.linear_mean for s, w in zip(strong, weak))
    again = LearningCurve.from_dict(json.loads(json.dumps(planted_curves["s1.5"].to_dict())))
    assert again == planted_curves["s1.5"]


def test_fewest_labels_names_the_model_that_needs_least(planted_curves):
    need = fewest_labels(planted_curves, 0.9)
    assert need.best == "s4.0"
    assert [r["model"] for r in need.rows][0] == "s4.0"
    weak = next(r for r in need.rows if r["model"] == "s0.6")
    assert not weak["reached"] and weak["labels_per_class"] is None
    assert need.message.startswith("s4.0 reaches 90% balanced accuracy (linear probe) with")
    assert "Not reached with the labels you have: s0.6" in need.message
    reached = [r for r in need.rows if r["reached"]]
    needed = [r["labels_per_class"] for r in reached]
    assert needed == sorted(needed)
    impossible = fewest_labels(planted_curves, 1.0, method="knn")
    assert impossible.best is None or impossible.rows[0]["accuracy"] == 1.0
    with pytest.raises(TransferInputError):
        fewest_labels(planted_curves, 80)
    with pytest.raises(TransferInputError):
        fewest_labels(planted_curves, 0.8, method="logme")


def test_learning_curve_skips_levels_a_class_cannot_fill():
    x, codes = planted(2.0, seed=3, n=40)               # 10 per class
    curve = learning_curve(x, codes, shots=(5, 10, 25), repeats=2, threads=1)
    assert [p.shots for p in curve.points] == [5, None]


def test_stability_resamples_do_not_inflate_logme_in_the_wide_regime():
    """With-replacement resamples duplicate samples, which LogME counts as extra evidence:
    at 32 x 384 the resample mean was far above the full-data score. Subsamples are not."""
    import numpy as np

    from selector.core.transfer import score_features
    from selector.core.transfer.scores import bootstrap_indices

    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(2), 16)
    features = rng.normal(size=(32, 384)) + 1.5 * np.eye(2, 384)[labels]
    scores = score_features(features, labels, n_boot=20)
    assert abs(np.mean(scores.logme_bootstrap) - scores.logme) < 0.1
    for idx in bootstrap_indices(labels, 5, seed=1):
        assert len(set(idx.tolist())) == len(idx) and np.bincount(labels[idx]).min() >= 2
