"""Deterministic, stratified splits and subsets (the same seed gives the same split)."""

from __future__ import annotations

import random
from collections import defaultdict


def _by_class(labels: list[int]) -> dict[int, list[int]]:
    groups: dict[int, list[int]] = defaultdict(list)
    for index, label in enumerate(labels):
        groups[label].append(index)
    return groups


def stratified_split(labels: list[int], holdout: float, seed: int = 0) -> tuple[list[int], list[int]]:
    """``(train, test)`` indices: ``holdout`` of each class held out, rounded, at least one
    per class that has two or more samples, never a class's last training sample."""
    if not 0 <= holdout < 1:
        raise ValueError(f"holdout must be in [0, 1), got {holdout}")
    rng = random.Random(seed)
    train: list[int] = []
    test: list[int] = []
    groups = _by_class(labels)
    for label in sorted(groups):
        members = list(groups[label])
        rng.shuffle(members)
        n_test = round(len(members) * holdout) if holdout > 0 else 0
        if holdout > 0 and len(members) >= 2:
            n_test = min(max(1, n_test), len(members) - 1)
        else:
            n_test = 0
        test.extend(members[:n_test])
        train.extend(members[n_test:])
    return sorted(train), sorted(test)


def subsample(labels: list[int], size: int, seed: int = 0) -> list[int]:
    """About ``size`` indices keeping each class's share (at least one per class)."""
    rng = random.Random(seed)
    groups = _by_class(labels)
    total = len(labels)
    keep: list[int] = []
    for label in sorted(groups):
        members = list(groups[label])
        rng.shuffle(members)
        keep.extend(members[: max(1, round(size * len(members) / total))])
    return sorted(keep)
