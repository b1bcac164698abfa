"""How sure the recommendation is, and which probe would settle what is open.

Confidence is ``low`` when there is no pick, when the accuracy order rests on published figures
(not the user's data), or when the pick's latency is estimated while a latency budget or the
latency objective decides; ``medium`` when it rests on transferability (not a fine-tune), the
transferability top pick is unstable, the top two tie, a figure near its limit is an estimate,
a measured latency of the top two is noisy (varied by more than 30% between runs, or was
measured while the machine was busy: its contention record says why),
or the top two fine-tuned accuracies differ by less than their sampling noise; else ``high``.
"""

from __future__ import annotations

import math

from selector.core.recommend.candidate import MEASURED
from selector.core.recommend.checks import (
    FINETUNED, PUBLISHED_KIND, TRANSFER, Assessment, evidence,
)
from selector.core.recommend.result import ProbeSuggestion, Recommendation
from selector.core.units import fmt_mib, fmt_ms

UNSTABLE_BELOW = 0.7
"""A transferability top pick that keeps first place in fewer bootstrap resamples is unstable."""
NEAR_LIMIT = 0.8
"""An estimate above this share of its limit is too close to trust without measuring."""
NOISY_CV = 0.3
"""A measured latency whose run-to-run variation (std / mean) exceeds this is noisy."""
RETRY_OVERSHOOT = 1.25
"""A candidate rejected on an estimate less than 25% over the limit is worth measuring."""

_LOW, _MEDIUM, _HIGH = 0, 1, 2
_LEVELS = {_LOW: "low", _MEDIUM: "medium", _HIGH: "high"}


def judge_confidence(
    rec: Recommendation, assessed: list[Assessment], ranked: list[str],
    acc_rank: dict[str, int], basis: str, metric: str | None,
) -> None:
    """Fill ``rec.confidence``, ``rec.notes`` and ``rec.next_probes``."""
    level = _HIGH
    notes, probes = rec.notes, rec.next_probes
    by_id = {a.model_id: a for a in assessed}
    con, objective = rec.constraints, rec.objective
    top2 = [by_id[m] for m in ranked[:2]]

    if not ranked:
        level = _LOW
        _suggest_for_rejected(assessed, probes, notes)
    latency_decides = con.latency_ms is not None or objective.kind != "accuracy"
    if top2 and latency_decides:
        estimated = [a.model_id for a in top2 if a.latency is None or a.latency.source != MEASURED]
        if estimated:
            if top2[0].model_id in estimated:
                level = min(level, _LOW)
            figures = ", ".join(
                f"{m} {fmt_ms(lat.value)}" if (lat := by_id[m].latency) else f"{m} unknown"
                for m in estimated
            )
            notes.append(f"latency is estimated, not measured, for {figures}")
            probes.append(ProbeSuggestion(
                "latency", estimated, f"measure p50 at batch {con.batch} on {con.device}"))

    noisy = [a for a in top2 if a.latency is not None and a.latency.source == MEASURED
             and (a.latency.extra.get("cv") or 0) > NOISY_CV]
    if noisy and latency_decides:
        level = min(level, _MEDIUM)
        notes.append("noisy latency measurement (the machine was busy or throttling?): " + ", ".join(
            f"{a.model_id} varied by {a.latency.extra['cv']:.0%} between runs" for a in noisy if a.latency))
    busy = [a for a in top2 if a.latency is not None and a.latency.source == MEASURED
            and a.latency.noisy]
    if busy and latency_decides:
        level = min(level, _MEDIUM)
        for a in busy:
            notes.append(f"the latency of {a.model_id} was measured on a busy machine: "
                         + "; ".join(a.latency.noisy if a.latency else []))
    if (noisy or busy) and latency_decides:
        probes.append(ProbeSuggestion("latency", list(dict.fromkeys(a.model_id for a in noisy + busy)),
                                      "re-measure on a quiet machine"))

    if top2 and con.memory_limit_mib:
        limit = con.memory_limit_mib
        near = [a for a in top2 if a.memory is not None and a.memory.source != MEASURED
                and a.memory.value > NEAR_LIMIT * limit]
        if near:
            level = min(level, _MEDIUM)
            notes.append("memory is an estimate close to the limit for " + ", ".join(
                f"{a.model_id} ({fmt_mib(a.memory.value)} of {fmt_mib(limit)})" for a in near if a.memory))
            finetune = con.memory_mode == "finetune"
            probes.append(ProbeSuggestion(
                "memory" if finetune else "latency", [a.model_id for a in near],
                "the estimate is close to the limit" + ("" if finetune else
                                                        "; the latency probe measures memory too")))

    if top2:
        level = min(level, _accuracy_confidence(rec, top2, basis, metric, acc_rank, notes, probes))
        random = [a.model_id for a in top2 if not a.candidate.has_pretrained_weights]
        if random:
            level = min(level, _MEDIUM)
            notes.append(
                f"{' and '.join(random)} ran with random weights (no pretrained weights on this "
                "machine): latency and memory hold for the pretrained model, accuracy on your "
                "data was not measured")
    if len(top2) == 2 and _tie_at_top(top2, acc_rank):
        level = min(level, _MEDIUM)
        a, b = top2
        notes.append(
            f"{a.model_id} and {b.model_id} tie on the objective; {a.model_id} is listed first "
            f"for {_tiebreak_reason(a, b)}"
        )
        if not any(p.kind == "finetune" for p in probes) and basis != FINETUNED:
            probes.append(ProbeSuggestion("finetune", [a.model_id, b.model_id],
                                          "a fine-tune on your data breaks the tie"))
    close = [a for a in assessed if a.rejected_on_estimate and a.failures
             and a.overshoot < RETRY_OVERSHOOT]
    if close and ranked:
        _suggest_close_calls(close, notes, probes)
    unverified = [a for a in assessed if not a.rejected and not a.verified]
    if unverified:
        level = min(level, _MEDIUM)
        kinds = {_probe_kind(u) for a in unverified for u in a.unknowns}
        for kind in sorted(kinds):
            models = [a.model_id for a in unverified if any(_probe_kind(u) == kind for u in a.unknowns)]
            probes.append(ProbeSuggestion(kind, models, "it could not be checked against the constraints"))
    rec.confidence = _LEVELS[level]
    _dedupe(probes)


def _accuracy_confidence(rec, top2, basis, metric, acc_rank, notes, probes) -> int:  # noqa: ANN001
    level = _HIGH
    ids = [a.model_id for a in top2]
    not_tuned = [m for m, a in zip(ids, top2) if evidence(a.candidate, FINETUNED, metric) is None]
    if basis in (PUBLISHED_KIND, "none"):
        level = _LOW
        notes.append(f"the accuracy order rests on {rec.basis}")
        random = [a.model_id for a in top2 if not a.candidate.has_pretrained_weights]
        if random:  # no probe can measure accuracy before the weights are here
            probes.append(ProbeSuggestion(
                "download", random, "then score transferability to rank the candidates on your data"))
        elif all(a.candidate.transfer is None for a in top2):
            probes.append(ProbeSuggestion("transfer", ids, "to rank the candidates on your data"))
        elif not_tuned:
            probes.append(ProbeSuggestion("finetune", ids, "to compare the candidates on your data"))
    elif basis == TRANSFER:
        level = _MEDIUM
        top = top2[0].candidate.transfer
        if (top is not None and top.rank in (None, 1) and top.stability is not None
                and top.stability < UNSTABLE_BELOW):
            notes.append(
                f"the transferability top pick is unstable: {top2[0].model_id} ranked first in "
                f"{top.stability:.0%} of bootstrap resamples"
            )
            probes.append(ProbeSuggestion("finetune", ids, "the transferability order is unstable"))
        elif not_tuned:
            notes.append("accuracy on your data is a transferability score, not a fine-tune")
    if len(top2) == 2 and all(evidence(a.candidate, FINETUNED, metric) is not None for a in top2):
        fa, fb = (a.candidate.finetuned_accuracy for a in top2)
        noise = _noise(fa.value, fa.extra.get("samples")) + _noise(fb.value, fb.extra.get("samples"))
        if noise and abs(fa.value - fb.value) < 2 * noise:
            level = min(level, _MEDIUM)
            notes.append(
                f"fine-tuned accuracies of {ids[0]} ({fa.value:.1f}%) and {ids[1]} "
                f"({fb.value:.1f}%) differ by less than their sampling noise (±{noise:.1f} points)"
            )
    return level


def _noise(pct: float, samples: float | None) -> float:
    """Standard error of an accuracy in percent points measured on ``samples`` examples."""
    if not samples:
        return 0.0
    p = min(max(pct / 100.0, 0.0), 1.0)
    return 100.0 * math.sqrt(max(p * (1 - p), 1e-4) / samples)


def _tie_at_top(top2: list[Assessment], acc_rank: dict[str, int]) -> bool:
    """Equal accuracy rank and equal latency: no objective can tell them apart."""
    a, b = top2
    la = a.latency.value if a.latency else math.inf
    lb = b.latency.value if b.latency else math.inf
    return acc_rank[a.model_id] == acc_rank[b.model_id] and la == lb


def _tiebreak_reason(a: Assessment, b: Assessment) -> str:
    pa, pb = a.candidate.params, b.candidate.params
    if pa is not None and pb is not None and pa != pb:
        from selector.core.units import fmt_count

        return f"fewer parameters ({fmt_count(pa)} vs {fmt_count(pb)})"
    return "its name (alphabetical order)"


def _probe_kind(unknown: str) -> str:
    if "latency" in unknown:
        return "latency"
    if "accuracy" in unknown:
        return "finetune"
    return "memory"


def _suggest_close_calls(close: list[Assessment], notes, probes) -> None:  # noqa: ANN001
    """One note and one probe per kind for candidates rejected on an estimate just over."""
    close = sorted(close, key=lambda a: a.overshoot)
    shown = ", ".join(f"{a.model_id} ({a.failures[0]})" for a in close[:3])
    more = f" and {len(close) - 3} more" if len(close) > 3 else ""
    notes.append(f"rejected on estimates less than {RETRY_OVERSHOOT - 1:.0%} over a limit, "
                 f"a measurement may let them in: {shown}{more}")
    for kind in ("latency", "memory"):
        models = [a.model_id for a in close if kind in a.rejected_on_estimate][:3]
        if models:
            probes.append(ProbeSuggestion(
                kind, models, f"rejected on an estimated {kind} just over the limit"))


def _suggest_for_rejected(assessed: list[Assessment], probes, notes) -> None:  # noqa: ANN001
    close = [a for a in assessed if a.rejected_on_estimate and a.overshoot < RETRY_OVERSHOOT]
    if close:
        _suggest_close_calls(close, notes, probes)
    rejected = sorted((a for a in assessed if a.rejected), key=lambda a: a.overshoot)
    if rejected:
        notes.append("relax a constraint or add candidates; the closest is "
                     f"{rejected[0].model_id}: {rejected[0].failures[0]}")


def _dedupe(probes: list[ProbeSuggestion]) -> None:
    seen: set[tuple[str, tuple[str, ...]]] = set()
    keep = []
    for p in probes:
        key = (p.kind, tuple(p.models))
        if key not in seen:
            seen.add(key)
            keep.append(p)
    probes[:] = keep
