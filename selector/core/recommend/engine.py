"""The recommendation: check every candidate, order the ones that pass, say why, and how sure.

How candidates are ordered by accuracy without comparing unlike figures:

* The **basis** is the strongest kind of evidence (fine-tuned accuracy > transferability >
  published metric) held by the most candidates that pass the constraints. Candidates are
  sorted by it; those without it come after, ordered the same way among themselves.
* Stronger evidence held by only some of them **refines** that order: those candidates are put
  in the order of the stronger figure, and the others are merged around them so that as few
  as possible of the basis order's pairwise comparisons are broken (the strong order is kept
  whole; on a draw the candidate with stronger evidence goes first). If the top two by
  transferability are fine-tuned, their fine-tuned accuracy decides between them; a
  fine-tuned 88% is never set against someone else's ImageNet top-1 of 84%.
* Equal figures are ties (same accuracy rank); ties are broken by latency, then by fewer
  parameters, then by name, and the sheet says so.

Objectives: ``accuracy`` sorts by that accuracy rank, then latency; ``latency`` by latency,
then accuracy rank; ``balanced`` by ``w * a + (1 - w) * s``, where ``a`` is the accuracy rank
scaled to 0-1 and ``s`` the log-latency scaled to 0-1 (1 = fastest). The Pareto front is
taken over (accuracy rank, latency) among the candidates that pass every constraint.
"""

from __future__ import annotations

import math
from collections import Counter

from selector.core.recommend.candidate import Candidate
from selector.core.recommend.checks import (
    FINETUNED, PUBLISHED_KIND, TIERS, TRANSFER, Assessment, accuracy_of, assess, best_accuracy,
    common_metric, evidence, failed_probes, metric_label,
)
from selector.core.recommend.confidence import judge_confidence
from selector.core.recommend.result import (
    ACCURACY, BALANCED, DOMINATED, ENERGY, LATENCY, PARETO, RECOMMENDED, REJECTED, UNVERIFIED,
    Constraints, Objective, Recommendation, Verdict,
)
from selector.core.units import fmt_ms

_EPS = 1e-9


def recommend(
    candidates: list[Candidate],
    constraints: Constraints | None = None,
    objective: Objective | None = None,
) -> Recommendation:
    """Rank ``candidates`` under ``constraints`` for ``objective``; every verdict says why."""
    constraints = constraints or Constraints()
    objective = objective or Objective()
    counts = Counter(c.model_id for c in candidates)
    duplicates = sorted(i for i, n in counts.items() if n > 1)
    if duplicates:
        raise ValueError(f"candidates listed twice: {', '.join(duplicates)}")
    metric = constraints.accuracy_metric or common_metric(candidates)
    assessed = [assess(c, constraints, metric) for c in candidates]
    ok = [a for a in assessed if a.verified]

    order, basis, refined = accuracy_order([a.candidate for a in ok], metric)
    by_id = {a.model_id: a for a in ok}
    acc_rank = _dense_ranks(order, {m: a.candidate for m, a in by_id.items()}, metric)
    latency = {m: (lat.value if (lat := by_id[m].latency) else math.inf) for m in by_id}
    scores = _balanced_scores(acc_rank, latency, objective) if objective.kind == BALANCED else {}
    energy = {m: _joules_per_sample(by_id[m]) for m in by_id}
    ranked = sorted(by_id, key=lambda m: _objective_key(m, objective, acc_rank, latency, scores,
                                                        by_id[m].candidate, energy))
    front = _pareto(ranked, acc_rank, latency)

    verdicts: list[Verdict] = []
    for place, model_id in enumerate(ranked, start=1):
        a = by_id[model_id]
        status = RECOMMENDED if place == 1 else PARETO if model_id in front else DOMINATED
        verdict = _verdict(a, status, metric, place)
        verdict.score = scores.get(model_id)
        verdicts.append(verdict)
    recommended = ranked[0] if ranked else None
    if recommended:
        verdicts[0].reason = _recommended_reason(by_id[recommended], objective, len(ranked), metric)
        for v in verdicts[1:]:
            v.reason = _relative_reason(by_id[v.model_id], v.status, by_id, ranked, acc_rank,
                                        latency, metric, front)
    for a in sorted((a for a in assessed if not a.rejected and not a.verified),
                    key=lambda a: a.model_id):
        verdicts.append(_verdict(a, UNVERIFIED, metric, None,
                                 "not checked: " + "; ".join(a.unknowns)))
    for a in sorted((a for a in assessed if a.rejected), key=lambda a: (a.overshoot, a.model_id)):
        verdicts.append(_verdict(a, REJECTED, metric, None, "; ".join(a.failures)))

    basis_text = (describe_basis(basis, refined, metric, order) if ok
                  else "none: no candidate meets the constraints")
    rec = Recommendation(constraints, objective, verdicts, recommended, "", basis_text,
                         basis_kind=basis, metric=metric)
    judge_confidence(rec, assessed, ranked, acc_rank, basis, metric)
    if objective.kind == ENERGY and ranked and not any(math.isfinite(energy[m]) for m in ranked):
        rec.notes.insert(0, "no candidate has a measured energy figure (no readable energy counter "
                            "when the probes ran): ranked by accuracy instead")
    tasks = sorted({c.task for c in candidates if c.task})
    if len(tasks) > 1 and not constraints.task:
        rec.notes.insert(0, f"the candidates do different tasks ({', '.join(tasks)}); "
                            "set the task to compare like with like")
    rec.summary = _summary(rec, assessed)
    return rec


# ------------------------------------------------------------------ accuracy order
def accuracy_order(
    candidates: list[Candidate], metric: str | None
) -> tuple[list[str], str, list[str]]:
    """Model ids from most to least accurate, the basis tier, and the tiers that refined it."""
    if not candidates:
        return [], "none", []
    coverage = {t: sum(evidence(c, t, metric) is not None for c in candidates) for t in TIERS}
    basis = max(TIERS, key=lambda t: (coverage[t], TIERS.index(t)))
    if coverage[basis] == 0:
        return sorted(c.model_id for c in candidates), "none", []
    have = [c for c in candidates if evidence(c, basis, metric) is not None]
    rest = [c for c in candidates if evidence(c, basis, metric) is None]
    have.sort(key=lambda c: (-(evidence(c, basis, metric) or 0.0), c.model_id))
    order = [c.model_id for c in have]
    refined: list[str] = []
    lookup = {c.model_id: c for c in have}
    for tier in TIERS[TIERS.index(basis) + 1:]:
        members = [m for m in order if evidence(lookup[m], tier, metric) is not None]
        if len(members) < 2:
            continue
        better = sorted(members, key=lambda m: -(evidence(lookup[m], tier, metric) or 0.0))
        if better != members:
            refined.append(tier)
            order = merge_keeping(order, better)
    tail, _, _ = accuracy_order(rest, metric)
    return order + tail, basis, refined


def merge_keeping(order: list[str], strong: list[str]) -> list[str]:
    """Re-order ``order`` so that ``strong`` (a subset) appears in exactly that order and the
    rest keep their relative order, breaking the fewest pairs of ``order`` (dynamic programming
    over the merge of the two sequences; O(len(strong) x len(rest)))."""
    pos = {m: i for i, m in enumerate(order)}
    chosen = set(strong)
    rest = [m for m in order if m not in chosen]
    n, k = len(strong), len(rest)
    # cost_s[i][j]: placing strong[i] now, with rest[j:] still to come, breaks one pair for each
    # of those that came before it in ``order``; cost_r likewise for rest[j].
    cost_s = [[0] * (k + 1) for _ in range(n)]
    for i, s in enumerate(strong):
        for j in range(k - 1, -1, -1):
            cost_s[i][j] = cost_s[i][j + 1] + (pos[rest[j]] < pos[s])
    cost_r = [[0] * (n + 1) for _ in range(k)]
    for j, r in enumerate(rest):
        for i in range(n - 1, -1, -1):
            cost_r[j][i] = cost_r[j][i + 1] + (pos[strong[i]] < pos[r])
    best = [[0] * (k + 1) for _ in range(n + 1)]
    for i in range(n, -1, -1):
        for j in range(k, -1, -1):
            if i == n and j == k:
                continue
            options = []
            if i < n:
                options.append(cost_s[i][j] + best[i + 1][j])
            if j < k:
                options.append(cost_r[j][i] + best[i][j + 1])
            best[i][j] = min(options)
    merged, i, j = [], 0, 0
    while i < n or j < k:
        take_strong = i < n and (j == k or cost_s[i][j] + best[i + 1][j] <= cost_r[j][i] + best[i][j + 1])
        if take_strong:
            merged.append(strong[i])
            i += 1
        else:
            merged.append(rest[j])
            j += 1
    return merged


def _dense_ranks(
    order: list[str], candidates: dict[str, Candidate], metric: str | None
) -> dict[str, int]:
    """1 for the most accurate; neighbours whose strongest shared figure is equal tie."""
    ranks: dict[str, int] = {}
    rank = 0
    previous: str | None = None
    for model_id in order:
        if previous is None or not _tied(candidates[previous], candidates[model_id], metric):
            rank += 1
        ranks[model_id] = rank
        previous = model_id
    return ranks


def _tied(ca: Candidate, cb: Candidate, metric: str | None) -> bool:
    for tier in reversed(TIERS):
        va, vb = evidence(ca, tier, metric), evidence(cb, tier, metric)
        if va is not None and vb is not None:
            return abs(va - vb) < _EPS
    return best_accuracy(ca, metric).value is None and best_accuracy(cb, metric).value is None


def describe_basis(basis: str, refined: list[str], metric: str | None, order: list[str]) -> str:
    words = {
        FINETUNED: "held-out accuracy after fine-tuning on your data",
        TRANSFER: "transferability score on your data (frozen features, not fine-tuned)",
        PUBLISHED_KIND: f"published {metric_label(metric or '')} (not measured on your data)",
        "none": "no accuracy figure (ordered by speed and size only)",
    }
    text = words[basis]
    if refined:
        text += "; refined by " + " and ".join(
            "fine-tuned accuracy" if t == FINETUNED else "transferability" for t in refined
        ) + " where measured"
    return text


# ---------------------------------------------------------------- objective order
def _objective_key(model_id, objective, acc_rank, latency, scores, candidate,  # noqa: ANN001
                   energy=None):  # noqa: ANN001
    params = candidate.params if candidate.params is not None else math.inf
    if objective.kind == ENERGY:
        return ((energy or {}).get(model_id, math.inf), acc_rank[model_id], latency[model_id],
                params, model_id)
    if objective.kind == ACCURACY:
        return (acc_rank[model_id], latency[model_id], params, model_id)
    if objective.kind == LATENCY:
        return (latency[model_id], acc_rank[model_id], params, model_id)
    return (-scores[model_id], acc_rank[model_id], latency[model_id], params, model_id)


def _joules_per_sample(a: Assessment) -> float:
    """Measured joules per sample of the latency figure the constraints chose (inf: none)."""
    value = a.latency.extra.get("energy_per_sample_j") if a.latency is not None else None
    return float(value) if value else math.inf


def _balanced_scores(acc_rank: dict[str, int], latency: dict[str, float],
                     objective: Objective) -> dict[str, float]:
    worst = max(acc_rank.values(), default=1)
    known = [math.log(v) for v in latency.values() if math.isfinite(v) and v > 0]
    lo, hi = (min(known), max(known)) if known else (0.0, 0.0)
    scores = {}
    for m, r in acc_rank.items():
        acc = 1.0 if worst == 1 else 1.0 - (r - 1) / (worst - 1)
        lat = latency[m]
        if not math.isfinite(lat) or lat <= 0:
            speed = 0.0
        else:
            speed = 1.0 if hi - lo < _EPS else (hi - math.log(lat)) / (hi - lo)
        w = objective.accuracy_weight
        scores[m] = round(w * acc + (1 - w) * speed, 6)
    return scores


def _pareto(ranked: list[str], acc_rank: dict[str, int], latency: dict[str, float]) -> set[str]:
    """Candidates no other is at least as accurate and as fast as (one strictly): a sweep in
    order of accuracy rank, O(n log n)."""
    front: set[str] = set()
    best_before = math.inf  # fastest among strictly more accurate candidates
    by_rank: dict[int, list[str]] = {}
    for m in ranked:
        by_rank.setdefault(acc_rank[m], []).append(m)
    for rank in sorted(by_rank):
        group = by_rank[rank]
        fastest = min(latency[m] for m in group)
        for m in group:
            if not (best_before <= latency[m] or fastest < latency[m]):
                front.add(m)
        best_before = min(best_before, fastest)
    return front


def dominators(model_id: str, ranked: list[str], acc_rank: dict[str, int],
               latency: dict[str, float]) -> list[str]:
    return [
        o for o in ranked if o != model_id
        and acc_rank[o] <= acc_rank[model_id] and latency[o] <= latency[model_id]
        and (acc_rank[o] < acc_rank[model_id] or latency[o] < latency[model_id])
    ]


# ------------------------------------------------------------------------ reasons
def _verdict(a: Assessment, status: str, metric, rank, reason: str = "") -> Verdict:  # noqa: ANN001
    return Verdict(
        model_id=a.model_id, status=status, reason=reason, rank=rank,
        checks=[*a.failures, *a.unknowns, *a.passes, *a.notes],
        accuracy=best_accuracy(a.candidate, metric), latency=a.latency, memory=a.memory,
    )


def _recommended_reason(a: Assessment, objective: Objective, n: int, metric: str | None) -> str:
    lead = {
        ACCURACY: "most accurate",
        LATENCY: "fastest",
        ENERGY: "fewest joules per sample",
    }.get(objective.kind, "best balance of accuracy and speed")
    lead = f"{lead} of {n} candidates within the constraints" if n > 1 else (
        "the only candidate within the constraints")
    acc = best_accuracy(a.candidate, metric)
    parts = [lead, acc.text() if acc.value is not None else "", *a.passes[:3],
             *(f"though its {f}" for f in failed_probes(a.candidate))]
    return "; ".join(p for p in parts if p)


def _relative_reason(a, status, by_id, ranked, acc_rank, latency, metric, front) -> str:  # noqa: ANN001
    """``dominated by X, which is more accurate (..) and faster (..)`` or, on the front,
    ``on the Pareto front: less accurate than X (..), faster (..)``."""
    top = ranked[0]
    if status == DOMINATED:
        # Name the closest dominator whose own figures agree with the order: look on the
        # front first (every dominated candidate is dominated by one there), then everywhere.
        def agrees(o: str) -> bool:
            return _shared_figure(by_id[o].candidate, a.candidate, acc_rank, metric)[2]

        others = dominators(a.model_id, [m for m in ranked if m in front], acc_rank, latency)
        if not any(agrees(o) for o in others):
            others = dominators(a.model_id, ranked, acc_rank, latency)
        other = min(others, key=lambda o: (not agrees(o), -acc_rank[o], latency[o]))
        acc, speed = _comparison(by_id[other], a, acc_rank, latency, metric)
        return f"dominated by {other}, which is {acc} and {speed}"
    acc, speed = _comparison(a, by_id[top], acc_rank, latency, metric, name=top)
    return f"on the Pareto front: {acc}, {speed}"


def _comparison(x: Assessment, y: Assessment, acc_rank, latency, metric,  # noqa: ANN001
                name: str | None = None) -> tuple[str, str]:
    """How x compares with y (named ``name`` in the text, if given) in accuracy and speed."""
    rx, ry = acc_rank[x.model_id], acc_rank[y.model_id]
    word = "more accurate" if rx < ry else "less accurate" if rx > ry else "as accurate"
    if name:
        word += f" {'as' if rx == ry else 'than'} {name}"
    ax, ay, agrees = _shared_figure(x.candidate, y.candidate, acc_rank, metric)
    if ax is None:
        detail = "by the merged order; no figure both share"
    else:
        tail = ", published" if ax.kind == PUBLISHED_KIND else ""
        detail = f"{ax.label} {ax.number()} vs {ay.number()}{tail}"
        if not agrees:
            detail = f"by the merged order, though {detail} alone"
    lx, ly = latency[x.model_id], latency[y.model_id]
    if math.isfinite(lx) and math.isfinite(ly):
        fast = "faster" if lx < ly else "slower" if lx > ly else "as fast"
        speed = f"{fast} (p50 {fmt_ms(lx)} vs {fmt_ms(ly)})"
    else:
        speed = "of unknown relative speed (no latency figure for both)"
    return f"{word} ({detail})", speed


def _shared_figure(x: Candidate, y: Candidate, acc_rank, metric):  # noqa: ANN001, ANN202
    """The strongest accuracy figure both have, and whether it agrees with their ranks."""
    for tier in reversed(TIERS):
        ax, ay = accuracy_of(x, tier, metric), accuracy_of(y, tier, metric)
        if ax.value is not None and ay.value is not None:
            rx, ry = acc_rank[x.model_id], acc_rank[y.model_id]
            agrees = (ax.value > ay.value) if rx < ry else (ax.value < ay.value) if rx > ry else (
                abs(ax.value - ay.value) < _EPS)
            return ax, ay, agrees
    return None, None, True


def _summary(rec: Recommendation, assessed: list[Assessment]) -> str:
    if rec.recommended:
        return f"Recommended: {rec.recommended} — {rec.verdicts[0].reason}"
    if not assessed:
        return "No candidates to recommend from."
    rejected = [a for a in assessed if a.rejected]
    unverified = [a for a in assessed if not a.rejected and not a.verified]
    parts = []
    if rejected:
        closest = min(rejected, key=lambda a: a.overshoot)
        parts.append(f"{len(rejected)} rejected; closest: {closest.model_id} ({closest.failures[0]})")
    if unverified:
        parts.append(f"{len(unverified)} could not be checked")
    return "No candidate meets the constraints: " + "; ".join(parts) + "."

