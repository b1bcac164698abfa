"""The transfer probes of a session, ranked together: what the CLI, the GUI and sheets show.

``rank_session(results)`` takes stored ``ProbeResult``s (any kinds; the finished ``transfer``
ones count, the latest per model) and ranks the models with ``rank_candidates``:

- only models scored on the same samples in the same order compare (same ``label_digest``,
  and same ``sample_digest`` where the probe stored one: the label sequence alone does not
  tell two samplings of equal class counts apart): the largest such group is ranked, the
  others are listed in ``excluded`` with the reason;
- models probed with architecture-only (random) weights are ranked apart
  (``random_ranking``): their scores describe random features, not the pretrained models,
  and nothing should be chosen on them;
- beside the ranking: the comparison with the published accuracy (the prior, when some
  model has one) and which model reaches a target accuracy with the fewest labels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from selector.core.transfer.data_need import LabelNeed, fewest_labels
from selector.core.transfer.ranking import (
    PriorComparison, Ranking, compare_with_prior, rank_candidates)

PRIOR_METRICS = {"imagenet_top1": "ImageNet top-1", "sst2": "SST-2 accuracy",
                 "glue": "GLUE score", "mnli": "MNLI accuracy"}
"""Published metrics usable as the prior, in order of preference."""


@dataclass
class SessionTransfer:
    ranking: Ranking | None = None
    """Models with pretrained (or their own) weights, scored on the same samples."""
    prior: PriorComparison | None = None
    """The ranking against the published accuracy; None when no ranked model has one."""
    label_need: LabelNeed | None = None
    """Which ranked model reaches ``label_need.target`` with the fewest labels per class."""
    random_ranking: Ranking | None = None
    """Architecture-only models, ranked among themselves only (random features)."""
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Model id -> the stored transfer row used (``TransferScores`` fields and the probe's)."""
    excluded: dict[str, str] = field(default_factory=dict)
    """Model id -> why it is not in a ranking."""

    @property
    def empty(self) -> bool:
        return not self.rows

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, without the rows (they are in the results)."""
        def d(x):  # noqa: ANN001, ANN202
            return None if x is None else x.to_dict()

        return {"ranking": d(self.ranking), "prior": d(self.prior),
                "label_need": d(self.label_need), "random_ranking": d(self.random_ranking),
                "excluded": dict(self.excluded)}


def transfer_rows(results: Iterable[Any]) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """``(model -> row, model -> result)`` of the latest finished transfer probe per model."""
    rows: dict[str, dict[str, Any]] = {}
    owners: dict[str, Any] = {}
    ordered = sorted((r for r in results if r.kind == "transfer" and r.status == "finished"
                      and r.rows), key=lambda r: r.ended_at or "")
    for r in ordered:
        row = dict(r.rows[0])
        row.setdefault("weights", r.weights)
        rows[r.model_id] = row
        owners[r.model_id] = r
    return rows, owners


def comparable_rows(results: Iterable[Any]) -> dict[str, dict[str, Any]]:
    """The rows a recommendation may rank together: the latest finished transfer probe of
    each model with pretrained (or its own) weights, in the largest group scored on the same
    samples (same ``label_digest`` and ``sample_digest``)."""
    rows, owners = transfer_rows(results)
    real = {m: r for m, r in rows.items() if r.get("weights") != "random"}
    return _largest_group(real, owners, {})


def _largest_group(rows: dict[str, dict[str, Any]], owners: dict[str, Any],
                   excluded: dict[str, str]) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[str]] = {}
    for model, row in rows.items():
        same = f"{row.get('label_digest', '')}/{row.get('sample_digest', '')}"
        groups.setdefault(same, []).append(model)
    if not groups:
        return {}
    latest = {d: max(owners[m].ended_at or "" for m in ms) for d, ms in groups.items()}
    best = max(groups, key=lambda d: (len(groups[d]), latest[d]))
    for digest, models in groups.items():
        if digest != best:
            for m in models:
                n = rows[m].get("n_samples")
                partial = " (partial: cut short by its time budget)" if rows[m].get("partial") else ""
                excluded[m] = (f"scored on other samples ({n} samples{partial}) than the ranked "
                               f"models: its scores do not compare with theirs")
    return {m: rows[m] for m in groups[best]}


def _prior(models: list[str], owners: dict[str, Any]) -> tuple[str, dict[str, float]] | None:
    published = {m: ((owners[m].spec or {}).get("entry") or {}).get("published") or {}
                 for m in models}
    counts = {k: sum(1 for m in models if published[m].get(k) is not None) for k in PRIOR_METRICS}
    metric = max(PRIOR_METRICS, key=lambda k: (counts[k], -list(PRIOR_METRICS).index(k)))
    if counts[metric] == 0:
        return None
    return metric, {m: v for m in models if (v := published[m].get(metric)) is not None}


def default_target(curves: dict[str, dict[str, Any]]) -> float | None:
    """90% of the best all-labels linear-probe accuracy, rounded down to 5 points."""
    best = [p["linear_mean"] for c in curves.values() for p in c.get("points", [])
            if p.get("shots") is None]
    if not best or max(best) <= 0:
        return None
    return max(0.05, int(max(best) * 0.9 * 20) / 20)


def rank_session(results: Iterable[Any], target: float | None = None) -> SessionTransfer:
    """Rank the session's finished transfer probes (see the module docstring). ``target``:
    balanced accuracy for the data-need sentence (default ``default_target``)."""
    rows, owners = transfer_rows(results)
    out = SessionTransfer(rows=rows)
    if not rows:
        return out
    real = {m: r for m, r in rows.items() if r.get("weights") != "random"}
    random = {m: r for m, r in rows.items() if r.get("weights") == "random"}
    group = _largest_group(real, owners, out.excluded)
    if group:
        out.ranking = rank_candidates(group)
        prior = _prior(list(group), owners)
        if prior is not None:
            metric, values = prior
            out.prior = compare_with_prior(out.ranking, values, PRIOR_METRICS[metric])
        curves = {m: r["learning_curve"] for m, r in group.items() if r.get("learning_curve")}
        goal = target if target is not None else default_target(curves)
        if curves and goal is not None:
            out.label_need = fewest_labels(curves, goal, "linear")
    random_group = _largest_group(random, owners, out.excluded)
    if random_group:
        out.random_ranking = rank_candidates(random_group)
    return out
