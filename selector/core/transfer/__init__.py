"""Transferability scores: rank candidate models on the user's own labelled data, from frozen
features, in seconds, before any fine-tuning.

- ``score_features(features, labels)`` -> :class:`TransferScores` (LogME, leave-one-out k-NN,
  k-fold linear probe, plus what the ranking needs for its bootstrap).
- ``rank_candidates({model: scores})`` -> :class:`Ranking` (mean of per-score ranks, with how
  often the first model stays first), ``compare_with_prior(ranking, {model: top1})``.
- ``learning_curve(features, labels)`` -> :class:`LearningCurve`; ``fewest_labels(curves, A)``.

LogME values compare models on one data set only; results carry ranks beside scores.
Everything here is numpy/scipy/scikit-learn on float64, no torch, no Qt.
"""

from selector.core.transfer.data_need import (
    CurvePoint, LabelNeed, LearningCurve, fewest_labels, learning_curve)
from selector.core.transfer.logme import LogMEResult, logme
from selector.core.transfer.ranking import (
    PriorComparison, RankedCandidate, Ranking, compare_with_prior, rank_candidates)
from selector.core.transfer.scores import (
    SCORE_KEYS, SCORE_NAMES, TransferInputError, TransferScores, score_features)

__all__ = [
    "CurvePoint", "LabelNeed", "LearningCurve", "LogMEResult", "PriorComparison",
    "RankedCandidate", "Ranking", "SCORE_KEYS", "SCORE_NAMES", "TransferInputError",
    "TransferScores", "compare_with_prior", "fewest_labels", "learning_curve", "logme",
    "rank_candidates", "score_features",
]
