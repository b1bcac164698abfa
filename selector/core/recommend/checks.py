"""Checking one candidate against the constraints, with the numbers in every sentence.

Which accuracy is used (the rule, strongest evidence first):

1. ``finetuned``: held-out accuracy on the user's data after the quick fine-tune (measured).
2. ``transfer``: the transferability score on the user's data (frozen features, no fine-tune).
3. ``published``: the authors' figure of one metric (ImageNet top-1 by default), labelled as
   such: it says how good the pretrained model is on *their* data, not on the user's.

Figures from a model probed with architecture-only (random) weights say nothing about the
pretrained model's accuracy, so its fine-tuned accuracy and transfer score are not used.
Kinds are never compared with each other as if equal: see :mod:`selector.core.recommend.engine`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from selector.core.estimate.fit import MARGIN, TIGHT, fit_status
from selector.core.recommend.candidate import ESTIMATED, MEASURED, Candidate, Figure
from selector.core.recommend.result import FINETUNE, Accuracy, Constraints
from selector.core.results.record import ProbeStatus
from selector.core.units import fmt_mib, fmt_ms

FINETUNED = "finetuned"
TRANSFER = "transfer"
PUBLISHED_KIND = "published"
TIERS = (PUBLISHED_KIND, TRANSFER, FINETUNED)
"""Accuracy evidence, weakest first."""

METRIC_LABELS = {
    "imagenet_top1": "ImageNet top-1",
    "imagenet_top5": "ImageNet top-5",
    "glue": "GLUE score",
    "sst2": "SST-2 accuracy",
    "mnli": "MNLI accuracy",
}
_METRIC_PREFERENCE = ("imagenet_top1", "sst2", "glue", "mnli", "imagenet_top5")


@dataclass
class Assessment:
    """One candidate checked against the constraints."""

    candidate: Candidate
    latency: Figure | None = None
    memory: Figure | None = None
    failures: list[str] = field(default_factory=list)
    """Constraints it breaks, one sentence each with the numbers."""
    unknowns: list[str] = field(default_factory=list)
    """Constraints that could not be checked, and why."""
    passes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Things worth knowing that check nothing (random weights, a fine-tune without steps)."""
    overshoot: float = 0.0
    """Worst ratio of need to limit over the failed numeric constraints (1.15 = 15% over)."""
    rejected_on_estimate: list[str] = field(default_factory=list)
    """Kinds (``latency``, ``memory``) of failures that rest on an estimate only."""

    @property
    def model_id(self) -> str:
        return self.candidate.model_id

    @property
    def rejected(self) -> bool:
        return bool(self.failures)

    @property
    def verified(self) -> bool:
        return not self.failures and not self.unknowns


def metric_label(metric: str) -> str:
    return METRIC_LABELS.get(metric, metric.replace("_", " "))


def common_metric(candidates: list[Candidate]) -> str | None:
    """The published metric most candidates have (ImageNet top-1 first on a draw)."""
    counts: dict[str, int] = {}
    for c in candidates:
        for metric in c.published:
            counts[metric] = counts.get(metric, 0) + 1
    if not counts:
        return None
    preference = {m: i for i, m in enumerate(_METRIC_PREFERENCE)}
    return max(counts, key=lambda m: (counts[m], -preference.get(m, len(preference)), m))


def evidence(c: Candidate, tier: str, metric: str | None) -> float | None:
    """The candidate's value for one kind of accuracy evidence, or None."""
    if tier == FINETUNED:
        fig = c.finetuned_accuracy
        return fig.value if fig is not None and c.has_pretrained_weights else None
    if tier == TRANSFER:
        return c.transfer.score if c.transfer is not None and c.has_pretrained_weights else None
    return c.published.get(metric) if metric else None


def accuracy_of(c: Candidate, tier: str, metric: str | None) -> Accuracy:
    value = evidence(c, tier, metric)
    if value is None:
        return Accuracy("none")
    if tier == FINETUNED:
        return Accuracy(FINETUNED, value, "fine-tuned held-out accuracy")
    if tier == TRANSFER:
        from selector.core.recommend.decoders import is_perplexity, label

        if c.transfer is not None and is_perplexity(c.transfer):
            return Accuracy(TRANSFER, value, label(c.transfer))
        method = c.transfer.method if c.transfer else "combined"
        return Accuracy(TRANSFER, value, f"transferability ({method})")
    return Accuracy(PUBLISHED_KIND, value, metric_label(metric or ""))


def best_accuracy(c: Candidate, metric: str | None) -> Accuracy:
    """The strongest accuracy evidence the candidate has."""
    for tier in reversed(TIERS):
        acc = accuracy_of(c, tier, metric)
        if acc.value is not None:
            return acc
    return Accuracy("none")


def shown_accuracy(c: Candidate, metric: str | None) -> Accuracy:
    """The accuracy a model is shown (and its floor checked) with, in percent: held-out
    accuracy after the quick fine-tune when it was measured with pretrained weights, else the
    published figure of ``metric`` (else of the candidate's first published metric), labelled
    as such. A fine-tune from random weights is never shown as measured accuracy. The GUI's
    Pareto plot and the sheets' plot both draw this; ``kind`` tells them apart."""
    acc = accuracy_of(c, FINETUNED, metric)
    if acc.value is not None:
        return acc
    acc = accuracy_of(c, PUBLISHED_KIND, metric)
    if acc.value is None and c.published:
        acc = accuracy_of(c, PUBLISHED_KIND, next(iter(c.published)))
    return acc


def floor_accuracy(c: Candidate, metric: str | None) -> Accuracy:
    """What the accuracy floor is checked against: :func:`shown_accuracy` for ``metric``
    (no fallback to another published metric: a floor is stated in one)."""
    acc = accuracy_of(c, FINETUNED, metric)
    return acc if acc.value is not None else accuracy_of(c, PUBLISHED_KIND, metric)


def latency_text(fig: Figure) -> str:
    """``p50 31 ms at batch 1 (measured)``; the dtype is named when it is not fp32, the runtime
    when it is not eager PyTorch, with its speed-up over eager and its top-1 agreement:
    ``(measured, OpenVINO int8-static: 3.1x eager, top-1 agreement 99.2 %)``."""
    how = fig.source
    if fig.runtime and fig.runtime != "eager":
        from selector.core.runtimes import LABELS

        how += f", {LABELS.get(fig.runtime, fig.runtime)}"
        how += f" {fig.dtype}" if fig.dtype and fig.dtype not in ("float32", "fp32") else ""
        speedup, agree = fig.extra.get("speedup_vs_eager"), fig.extra.get("top1_agreement")
        if speedup:
            how += f": {speedup:.1f}x eager"
        if agree is not None:
            how += f"{',' if speedup else ':'} top-1 agreement {100 * agree:.1f} %"
    elif fig.dtype and fig.dtype not in ("float32", "fp32"):
        how += f", {fig.dtype}"
    batch = f" at batch {fig.batch}" if fig.batch is not None else ""
    return f"p50 {fmt_ms(fig.value)}{batch} ({how})"


def memory_text(fig: Figure, mode: str) -> str:
    what = "fine-tuning" if mode == FINETUNE else "inference"
    batch = f" at batch {fig.batch}" if fig.batch is not None else ""
    return f"{what} needs {fmt_mib(fig.value)}{batch} ({fig.source})"


def assess(c: Candidate, con: Constraints, metric: str | None) -> Assessment:
    a = Assessment(c)
    if con.task and c.task and c.task != con.task:
        a.failures.append(f"task {c.task}, not {con.task}")
        a.overshoot = float("inf")
    _check_latency(a, con)
    _check_memory(a, con)
    _check_accuracy(a, con, metric)
    if not c.has_pretrained_weights:
        a.notes.append(
            "probed with architecture-only (random) weights: its fine-tune and transfer "
            "figures are not used for accuracy"
        )
    a.notes.extend(c.notes)
    said = " ".join(a.unknowns + a.failures)
    a.notes.extend(f for f in failed_probes(c) if f.split(":")[0] not in said)
    return a


def failed_probes(c: Candidate) -> list[str]:
    """``latency probe out of memory: ...``: each probe of ``c`` that ended without a usable
    measurement (crashed, out of memory, timed out...), so a pick never hides one."""
    out = []
    for kind in ("latency", "finetune", "transfer"):
        end = c.probe_end(kind)
        if end is not None and end.bad_end:
            why = c.probe_messages.get(kind, "")
            words = "ran out of memory" if end == ProbeStatus.OUT_OF_MEMORY else end.words
            out.append(f"{kind} probe {words}" + (f": {why}" if why else ""))
    return out


def _check_latency(a: Assessment, con: Constraints) -> None:
    c = a.candidate
    a.latency = c.best_figure("latency", batch=con.batch, device=con.device, dtype=con.dtype)
    if con.latency_ms is None:
        if a.latency is not None:
            a.passes.append(latency_text(a.latency))
        return
    if a.latency is None:
        end = c.probe_end("latency")
        if end is not None and end.bad_end:
            why = c.probe_messages.get("latency", "")
            a.unknowns.append(f"latency probe failed ({end.words}{': ' + why if why else ''})")
        else:
            a.unknowns.append(f"no latency figure at batch {con.batch} on {con.device}")
        return
    text = latency_text(a.latency)
    if a.latency.value > con.latency_ms:
        sentence = f"{text} exceeds the {con.latency_ms:g} ms budget"
        others = [f for f in c.figures("latency", ESTIMATED)
                  if f.batch in (None, con.batch) and f.value <= con.latency_ms]
        if a.latency.source == MEASURED and others:
            sentence += f" (the estimate, {fmt_ms(others[0].value)}, would have fit)"
        a.failures.append(sentence)
        a.overshoot = max(a.overshoot, a.latency.value / con.latency_ms)
        if a.latency.source != MEASURED:
            a.rejected_on_estimate.append("latency")
    else:
        a.passes.append(f"{text} within the {con.latency_ms:g} ms budget")


def _check_memory(a: Assessment, con: Constraints) -> None:
    c = a.candidate
    kind = "finetune_memory" if con.memory_mode == FINETUNE else "inference_memory"
    batch = con.batch if con.memory_mode != FINETUNE else None
    a.memory = c.best_figure(kind, batch=batch, device=con.device)
    limit = con.memory_limit_mib
    limit_text = (
        f"{fmt_mib(limit)} budget" if con.memory_budget_mib is not None else f"{fmt_mib(limit)} free"
    )
    if con.memory_mode == FINETUNE and c.probe_end("finetune") == ProbeStatus.OUT_OF_MEMORY:
        why = c.probe_messages.get("finetune", "")
        a.failures.append(f"fine-tuning ran out of memory (measured){': ' + why if why else ''}")
        a.overshoot = max(a.overshoot, 1.5)
        return
    if a.memory is None:
        if limit is not None:
            a.unknowns.append(f"no {kind.replace('_', ' ')} figure on {con.device}")
        return
    text = memory_text(a.memory, con.memory_mode)
    if limit is None:
        a.passes.append(text)
    elif a.memory.value > limit:
        sentence = f"{text}, {limit_text}"
        fitting = [f for f in c.figures(kind, ESTIMATED) if f.value <= limit]
        if a.memory.source == MEASURED and fitting:
            sentence += f" (the estimate, {fmt_mib(fitting[0].value)}, would have fit)"
        a.failures.append(sentence)
        a.overshoot = max(a.overshoot, a.memory.value / max(limit, 1e-9))
        if a.memory.source != MEASURED:
            a.rejected_on_estimate.append("memory")
    elif fit_status(a.memory.value, limit) == TIGHT:
        a.passes.append(f"{text}, {limit_text} (tight: within the {MARGIN:.0%} safety margin)")
    else:
        a.passes.append(f"{text}, {limit_text}")


def _check_accuracy(a: Assessment, con: Constraints, metric: str | None) -> None:
    if con.min_accuracy is None:
        return
    acc = floor_accuracy(a.candidate, metric)
    if acc.value is None:
        a.unknowns.append(f"no accuracy figure to check the {con.min_accuracy:g}% floor")
    elif acc.value < con.min_accuracy:
        a.failures.append(f"{acc.text()} below the {con.min_accuracy:g}% floor")
        a.overshoot = max(a.overshoot, con.min_accuracy / max(acc.value, 1e-9))
    else:
        a.passes.append(f"{acc.text()} meets the {con.min_accuracy:g}% floor")
