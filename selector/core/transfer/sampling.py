"""The samples a transfer probe scores: capped, class-balanced, the same for every model.

Every model of a comparison must be scored on the same samples in the same order (their
``label_digest`` must match for ``rank_candidates``). Each probe child draws the sample itself
from the same data with the same seed, so the draw is a pure function of the labels, the cap
and the seed. The order interleaves the classes (one of each class in turn), so that the
first k samples are balanced too: a probe stopped by its time budget still scores a balanced
prefix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_MAX_ITEMS = 600
MIN_PER_CLASS = 2
"""Leave-one-out k-NN and k-fold probes need two samples of a class to hold one out."""


def class_quotas(counts: list[int], cap: int) -> list[int]:
    """Samples per class: as equal as the data allows, at most ``cap`` in all.

    Water-filling: every class gets an equal share; a class with fewer samples gives all it
    has and the rest is shared among the others. When the cap does not divide evenly, the
    first classes (in label order) get one more.
    """
    quota = [0] * len(counts)
    remaining = min(int(cap), sum(counts))
    active = [c for c in range(len(counts)) if counts[c] > 0]
    while remaining > 0 and active:
        share = remaining // len(active)
        if share == 0:
            for c in active[:remaining]:
                quota[c] += 1
            break
        for c in active:
            take = min(share, counts[c] - quota[c])
            quota[c] += take
            remaining -= take
        active = [c for c in active if quota[c] < counts[c]]
    return quota


def balanced_sample(labels: list[int], cap: int, seed: int = 0) -> list[int]:
    """Indices into ``labels`` of at most ``cap`` samples, class-balanced, drawn at random
    within each class (``seed``), in class-interleaved order (see the module docstring)."""
    labels_arr = np.asarray(labels, dtype=np.int64)
    classes = sorted(set(labels_arr.tolist()))
    members = []
    for c in classes:
        idx = np.flatnonzero(labels_arr == c)
        rng = np.random.default_rng([int(seed), int(c), 0x7A5])
        members.append(idx[rng.permutation(idx.size)].tolist())
    quota = class_quotas([len(m) for m in members], cap)
    order = []
    for r in range(max(quota, default=0)):
        for c, m in enumerate(members):
            if r < quota[c]:
                order.append(int(m[r]))
    return order


@dataclass
class TransferSample:
    """What the probe scores: indices into the loaded data, and how they were chosen."""

    indices: list[int]
    labels: list[str]
    """Class name of each sample, in order."""
    ids: list[str]
    """Stable id of each sample: the file path relative to the data, else its index."""
    available: int
    """Usable samples in the data (before the cap)."""
    cap: int
    seed: int
    per_class: dict[str, int] = field(default_factory=dict)
    dropped_classes: dict[str, int] = field(default_factory=dict)
    """Classes left out for having fewer than ``MIN_PER_CLASS`` samples (name -> count)."""

    def to_dict(self) -> dict[str, Any]:
        return {"selected": len(self.indices), "available": self.available, "max_items": self.cap,
                "seed": self.seed, "per_class": dict(self.per_class),
                "dropped_classes": dict(self.dropped_classes)}


def select_sample(data: Any, cap: int = DEFAULT_MAX_ITEMS, seed: int = 0) -> TransferSample:
    """The sample of a ``LoadedDataset`` to score. Classes with fewer than two samples are
    left out (and named); fewer than two classes left is a ``DataError``."""
    from selector.core.data.dataset import DataError

    if cap < 2 * MIN_PER_CLASS:
        raise DataError(f"max_items must be at least {2 * MIN_PER_CLASS} to score two classes, "
                        f"got {cap}")
    counts = np.bincount(np.asarray(data.labels, dtype=np.int64), minlength=len(data.classes))
    dropped = {data.classes[c]: int(n) for c, n in enumerate(counts) if 0 < n < MIN_PER_CLASS}
    usable = [i for i, label in enumerate(data.labels) if counts[label] >= MIN_PER_CLASS]
    kept_classes = sorted({data.labels[i] for i in usable})
    if len(kept_classes) < 2:
        have = ", ".join(f"{data.classes[c]!r} ({int(counts[c])})" for c in range(len(counts))
                         if counts[c]) or "none"
        raise DataError(f"{data.source}: transfer scores need at least two classes with at least "
                        f"{MIN_PER_CLASS} samples each; found {have}")
    cap_per = max(cap, MIN_PER_CLASS * len(kept_classes))
    chosen = balanced_sample([data.labels[i] for i in usable], cap_per, seed)
    indices = [usable[j] for j in chosen]
    labels = [data.classes[data.labels[i]] for i in indices]
    per_class = {name: 0 for name in (data.classes[c] for c in kept_classes)}
    for name in labels:
        per_class[name] += 1
    return TransferSample(indices, labels, [sample_id(data, i) for i in indices], len(usable),
                          cap, seed, per_class, dropped)


def sample_id(data: Any, index: int) -> str:
    item = data.items[index]
    if isinstance(item, str) and data.modality == "image":
        try:
            return Path(item).relative_to(data.source).as_posix()
        except ValueError:
            return item
    return f"#{index}"
