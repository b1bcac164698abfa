"""Rank candidate models by their transfer scores, say how stable that is, and compare the
ranking with the published-accuracy prior.

The combined rank of a model is the mean of its ranks under the chosen scores (1 = best;
ties share the average rank). Ties in the mean rank go to the better linear probe, then k-NN,
then LogME. Stability is measured over the stratified bootstrap resamples stored with the
scores (``TransferScores.n_boot``): k-NN and linear-probe balanced accuracy are recomputed
from the stored per-sample predictions on each resample (the uncertainty of *which samples*
were evaluated, models not refitted), LogME is the model refitted on each resample.

Rankings carry ranks and scores side by side. LogME values compare models on one data set
only; they are never shown as if they were accuracies.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from selector.core.transfer.scores import (
    SCORE_KEYS, TransferInputError, TransferScores, balanced_accuracy, bootstrap_indices)


@dataclass
class RankedCandidate:
    model: str
    position: int
    """1 = first in the combined ranking."""
    mean_rank: float
    """Mean of the per-score ranks (1 = best under every score)."""
    ranks: dict[str, float] = field(default_factory=dict)
    """Rank under each score (``logme``, ``knn``, ``linear``)."""
    scores: dict[str, float] = field(default_factory=dict)
    """The score values: LogME in nats per sample, accuracies as balanced fractions."""
    top_fraction: float | None = None
    """Share of bootstrap resamples in which this model is first."""
    rank_interval: list[int] | None = None
    """2.5th and 97.5th percentile of its position over the resamples."""


@dataclass
class Ranking:
    """Candidates best first, with per-score ranks and the bootstrap stability of the order."""

    candidates: list[RankedCandidate]
    scores: list[str]
    """The scores that were combined."""
    n_samples: int
    n_classes: int
    n_boot: int = 0
    """Resamples behind ``top_stability`` and the intervals (0: none stored)."""
    top_stability: float | None = None
    """How often the first model stays first over the resamples (None without resamples)."""

    @property
    def top(self) -> str:
        return self.candidates[0].model

    def candidate(self, model: str) -> RankedCandidate:
        return next(c for c in self.candidates if c.model == model)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Ranking":
        values = dict(data)
        values["candidates"] = [RankedCandidate(**c) for c in data["candidates"]]
        return cls(**values)


def _as_scores(value: TransferScores | Mapping[str, Any]) -> TransferScores:
    return value if isinstance(value, TransferScores) else TransferScores.from_dict(dict(value))


def _ranks(values: np.ndarray) -> np.ndarray:
    """Rank 1 = highest value; ties share their average rank. ``values`` is (..., M)."""
    from scipy.stats import rankdata

    return rankdata(-values, method="average", axis=-1)


def _order(mean_rank: np.ndarray, tiebreak: np.ndarray) -> np.ndarray:
    """Model indices best first: lowest mean rank, then ``tiebreak`` rows (higher wins)."""
    keys = [-row for row in tiebreak[::-1]] + [mean_rank]
    return np.lexsort(keys)


def rank_candidates(results: Mapping[str, TransferScores | Mapping[str, Any]],
                    scores: tuple[str, ...] = SCORE_KEYS) -> Ranking:
    """Combined ranking of the models in ``results`` (model id -> scores or their dict).

    Every model must have been scored on the same samples and labels (same ``label_digest``);
    otherwise their LogME values and accuracies do not compare and this raises
    :class:`TransferInputError`.
    """
    if not results:
        raise TransferInputError("no scored models to rank")
    unknown = [s for s in scores if s not in SCORE_KEYS]
    if unknown or not scores:
        raise TransferInputError(f"unknown scores {unknown}; choose from {list(SCORE_KEYS)}")
    models = list(results)
    items = [_as_scores(results[m]) for m in models]
    digests = {r.label_digest for r in items}
    if len(digests) > 1:
        raise TransferInputError(
            "these models were scored on different samples or labels, so their scores do "
            "not compare; score every model on the same data (same samples, same order)")
    values = np.array([[r.score(s) for r in items] for s in scores])       # (S, M)
    ranks = _ranks(values)
    mean_rank = ranks.mean(axis=0)
    tiebreak = np.array([[r.score(s) for r in items] for s in ("linear", "knn", "logme")])
    order = _order(mean_rank, tiebreak)
    position = np.empty(len(models), dtype=np.int64)
    position[order] = np.arange(1, len(models) + 1)

    top_fraction, intervals, n_boot = _stability(items, scores)
    candidates = []
    for i in order:
        candidates.append(RankedCandidate(
            model=models[i], position=int(position[i]), mean_rank=float(mean_rank[i]),
            ranks={s: float(ranks[j, i]) for j, s in enumerate(scores)},
            scores={s: float(values[j, i]) for j, s in enumerate(scores)},
            top_fraction=None if top_fraction is None else float(top_fraction[i]),
            rank_interval=None if intervals is None else [int(v) for v in intervals[i]]))
    top_stability = None if top_fraction is None else float(top_fraction[order[0]])
    return Ranking(candidates=candidates, scores=list(scores), n_samples=items[0].n_samples,
                   n_classes=items[0].n_classes, n_boot=n_boot, top_stability=top_stability)


def _stability(items: list[TransferScores], scores: tuple[str, ...]):
    """Per model: share of resamples where it is first, and its 95% position interval."""
    n_boot = items[0].n_boot
    usable = n_boot > 0 and all(
        r.n_boot == n_boot and r.seed == items[0].seed and len(r.logme_bootstrap) == n_boot
        for r in items)
    if not usable:
        return None, None, 0
    codes = np.asarray(items[0].label_codes, dtype=np.int64)
    indices = bootstrap_indices(codes, n_boot, items[0].seed)
    knn = [np.asarray(r.knn_predictions, dtype=np.int64) for r in items]
    linear = [np.asarray(r.linear_predictions, dtype=np.int64) for r in items]
    positions = np.empty((n_boot, len(items)), dtype=np.int64)
    for b, idx in enumerate(indices):
        c = codes[idx]
        per = {"logme": np.array([r.logme_bootstrap[b] for r in items]),
               "knn": np.array([balanced_accuracy(c, p[idx]) for p in knn]),
               "linear": np.array([balanced_accuracy(c, p[idx]) for p in linear])}
        mean_rank = _ranks(np.array([per[s] for s in scores])).mean(axis=0)
        order = _order(mean_rank, np.array([per[s] for s in ("linear", "knn", "logme")]))
        positions[b, order] = np.arange(1, len(items) + 1)
    top_fraction = np.mean(positions == 1, axis=0)
    low = np.percentile(positions, 2.5, axis=0, method="lower")
    high = np.percentile(positions, 97.5, axis=0, method="higher")
    return top_fraction, np.stack([low, high], axis=1), n_boot


# ----------------------------------------------------------------------------- the prior

@dataclass
class PriorComparison:
    """How the ranking on the user's data relates to a published accuracy (the prior)."""

    prior_name: str
    n_models: int
    """Models with a published value (the ones the tau is computed on)."""
    kendall_tau: float | None
    """Kendall's tau-b between the combined ranking and the prior (1: same order)."""
    p_value: float | None
    data_top: str
    prior_top: str | None
    agrees_on_top: bool | None
    message: str
    """Plain words for the GUI and the CLI."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _agreement_words(tau: float) -> str:
    if tau >= 0.6:
        return "agrees with"
    if tau >= 0.2:
        return "partly agrees with"
    if tau > -0.2:
        return "is unrelated to"
    return "runs against"


def compare_with_prior(ranking: Ranking, prior: Mapping[str, float | None],
                       prior_name: str = "ImageNet top-1", unit: str = "%") -> PriorComparison:
    """Kendall's tau between the combined ranking and ``prior`` (model id -> published
    accuracy, higher is better; None or missing = unknown), and a sentence saying where the
    user's data disagrees with it, e.g. "On your data, X ranks first although Y has the higher
    ImageNet top-1 (84.2% vs 80.1%)."
    """
    from scipy.stats import kendalltau

    known = {c.model: float(v) for c in ranking.candidates
             if (v := prior.get(c.model)) is not None and np.isfinite(v)}
    top = ranking.top
    stability = ""
    if ranking.top_stability is not None:
        share = f"{ranking.top_stability:.0%} of {ranking.n_boot} bootstrap resamples"
        stability = (f" That lead is not reliable: {top} stays first in only {share}."
                     if ranking.top_stability < 0.5 else f" {top} stays first in {share}.")
    if not known:
        return PriorComparison(prior_name, 0, None, None, top, None, None,
                               f"On your data, {top} ranks first; no candidate has a published "
                               f"{prior_name} to compare with.{stability}")
    prior_top = max(known, key=lambda m: (known[m], -ranking.candidate(m).position))

    def fmt(model: str) -> str:
        return f"{known[model]:.1f}{unit}"

    if prior_top == top:
        head = (f"On your data, {top} ranks first, as its {prior_name} ({fmt(top)}, the highest "
                f"of the candidates) suggests.")
    elif top in known:
        head = (f"On your data, {top} ranks first although {prior_top} has the higher "
                f"{prior_name} ({fmt(prior_top)} vs {fmt(top)}).")
    else:
        head = (f"On your data, {top} ranks first (no published {prior_name}); among the "
                f"published ones {prior_top} has the highest ({fmt(prior_top)}).")
    tau = p_value = None
    tail = ""
    if len(known) >= 2:
        models = list(known)
        positions = [ranking.candidate(m).position for m in models]
        result = kendalltau([-p for p in positions], [known[m] for m in models])
        if np.isfinite(result.statistic):
            tau, p_value = float(result.statistic), float(result.pvalue)
            tail = (f" Over the {len(models)} models with a published figure, the order on your "
                    f"data {_agreement_words(tau)} the {prior_name} order (Kendall tau "
                    f"{tau:+.2f}).")
    return PriorComparison(prior_name, len(known), tau, p_value, top, prior_top,
                           prior_top == top, head + tail + stability)
