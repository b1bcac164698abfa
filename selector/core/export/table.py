"""The candidates table: stable CSV columns (with units in their names) and the short display
table the PDF, HTML and Markdown sheets show.

CSV column names never change meaning; new columns are only added at the end. Units: ``_ms``
milliseconds per batch, ``_mib`` MiB, ``_pct`` percent, ``macs`` multiply-accumulates per
sample, ``_samples_per_s`` samples per second. Sources are ``measured``, ``estimated`` or
``published``. ``latency_noisy_reasons``: why the measured latency may be off (the machine was
busy while it measured; ``; ``-separated), empty when it was quiet.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Callable

from selector.core.recommend import FINETUNE, Candidate, Figure, Verdict
from selector.core.units import fmt_count, fmt_mib, fmt_ms

# name, type (for reading back)
CSV_COLUMNS: list[tuple[str, type]] = [
    ("rank", int), ("model_id", str), ("status", str), ("reason", str),
    ("task", str), ("family", str), ("source", str), ("weights", str), ("license", str),
    ("params", int), ("macs", float),
    ("accuracy_basis", str), ("accuracy_kind", str), ("accuracy_value", float),
    ("finetuned_accuracy_pct", float), ("baseline_accuracy_pct", float),
    ("transfer_method", str), ("transfer_score", float), ("transfer_rank", int),
    ("transfer_stability", float),
    ("published_metric", str), ("published_accuracy_pct", float),
    ("latency_p50_ms", float), ("latency_p90_ms", float), ("latency_p99_ms", float),
    ("latency_source", str), ("latency_batch", int), ("latency_dtype", str),
    ("latency_threads", int), ("latency_device", str), ("throughput_samples_per_s", float),
    ("memory_mode", str), ("peak_memory_mib", float), ("peak_memory_source", str),
    ("inference_memory_estimated_mib", float), ("inference_memory_measured_mib", float),
    ("finetune_memory_estimated_mib", float), ("finetune_memory_measured_mib", float),
    ("balanced_score", float),
    ("latency_noisy_reasons", str),
    ("energy_per_sample_j", float), ("samples_per_joule", float), ("avg_power_w", float),
    ("latency_runtime", str), ("latency_speedup_vs_eager", float), ("latency_top1_agreement", float),
    ("ttft_p50_ms", float), ("decode_tokens_per_s", float), ("kv_cache_mib", float),
    ("perplexity", float), ("bits_per_byte", float), ("bits_per_token", float),
]
CSV_FIELDS = [name for name, _ in CSV_COLUMNS]


def csv_rows(sheet) -> list[dict[str, Any]]:  # noqa: ANN001 - Sheet (import cycle)
    """One dict per candidate, ranked order, keyed by :data:`CSV_FIELDS` (None = unknown)."""
    rec = sheet.recommendation
    con = rec.constraints
    rows = []
    for v in rec.verdicts:
        c = sheet.candidate(v.model_id)
        lat = v.latency
        metric = rec.metric
        row = {
            "rank": v.rank, "model_id": c.model_id, "status": v.status, "reason": v.reason,
            "task": c.task, "family": c.family, "source": c.source, "weights": c.weights,
            "license": c.license, "params": c.params, "macs": c.macs,
            "accuracy_basis": rec.basis_kind, "accuracy_kind": v.accuracy.kind,
            "accuracy_value": v.accuracy.value,
            "finetuned_accuracy_pct": _value(c.finetuned_accuracy),
            "baseline_accuracy_pct": _value(c.baseline_accuracy),
            "transfer_method": c.transfer.method if c.transfer else None,
            "transfer_score": c.transfer.score if c.transfer else None,
            "transfer_rank": c.transfer.rank if c.transfer else None,
            "transfer_stability": c.transfer.stability if c.transfer else None,
            "published_metric": metric if metric and metric in c.published else None,
            "published_accuracy_pct": c.published.get(metric) if metric else None,
            "latency_p50_ms": lat.value if lat else None,
            "latency_p90_ms": lat.extra.get("p90") if lat else None,
            "latency_p99_ms": lat.extra.get("p99") if lat else None,
            "latency_source": lat.source if lat else None,
            "latency_batch": lat.batch if lat else None,
            "latency_dtype": lat.dtype if lat else None,
            "latency_threads": lat.threads if lat else None,
            "latency_device": lat.device if lat else None,
            "latency_runtime": (lat.runtime or "eager") if lat else None,
            "latency_speedup_vs_eager": lat.extra.get("speedup_vs_eager") if lat else None,
            "latency_top1_agreement": lat.extra.get("top1_agreement") if lat else None,
            "throughput_samples_per_s": _throughput(lat),
            "memory_mode": con.memory_mode,
            "peak_memory_mib": v.memory.value if v.memory else None,
            "peak_memory_source": v.memory.source if v.memory else None,
            "inference_memory_estimated_mib": _pick(c, "inference_memory", "estimated", con),
            "inference_memory_measured_mib": _pick(c, "inference_memory", "measured", con),
            "finetune_memory_estimated_mib": _pick(c, "finetune_memory", "estimated", con),
            "finetune_memory_measured_mib": _pick(c, "finetune_memory", "measured", con),
            "balanced_score": v.score,
            "latency_noisy_reasons": "; ".join(lat.noisy) if lat and lat.noisy else None,
            **_energy(lat), **_decoder(c, lat),
        }
        rows.append({k: None if val == "" else val for k, val in row.items()})
    return rows


def to_csv(sheet) -> str:  # noqa: ANN001
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in csv_rows(sheet):
        writer.writerow({k: _csv_cell(v) for k, v in row.items()})
    return out.getvalue()


def read_csv(path: str | Path) -> list[dict[str, Any]]:
    """Read a candidates CSV back, typed: the same dicts :func:`csv_rows` gave."""
    types = dict(CSV_COLUMNS)
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = []
        for raw in reader:
            rows.append({k: _parse(v, types.get(k, str)) for k, v in raw.items()})
    return rows


# ------------------------------------------------------------------- display table
DISPLAY_HEADERS = ["#", "Model", "Status", "Accuracy", "p50 latency", "Memory", "Params", "Why"]
SOURCE_TAG = {"measured": "M", "estimated": "E", "published": "P"}
LEGEND = "M = measured on this machine, E = estimated, P = published by the model's authors."


def display_rows(sheet) -> list[dict[str, str]]:  # noqa: ANN001
    """Short strings for the sheets' table, plus ``status`` and ``model_id`` for styling."""
    rec = sheet.recommendation
    rows = []
    for v in rec.verdicts:
        c = sheet.candidate(v.model_id)
        rows.append({
            "#": str(v.rank) if v.rank is not None else "—",
            "Model": c.model_id,
            "Status": status_word(v.status),
            "Accuracy": accuracy_cell(v),
            "p50 latency": latency_cell(v.latency),
            "Memory": memory_cell(v.memory),
            "Params": fmt_count(c.params),
            "Why": v.reason,
            "status": v.status,
            "model_id": c.model_id,
        })
    return rows


def status_word(status: str) -> str:
    return {"recommended": "recommended", "pareto": "Pareto front", "dominated": "dominated",
            "unverified": "unverified", "rejected": "rejected"}.get(status, status)


def accuracy_cell(v: Verdict) -> str:
    acc = v.accuracy
    if acc.value is None:
        return "—"
    tag = {"finetuned": "fine-tuned", "transfer": "transfer", "published": "P"}[acc.kind]
    if acc.kind == "transfer" and acc.label.startswith("perplexity"):
        tag = acc.label
    return f"{acc.number()} ({tag})"


def latency_cell(fig: Figure | None) -> str:
    if fig is None:
        return "—"
    batch = f" @{fig.batch}" if fig.batch is not None else ""
    noisy = ", noisy" if fig.noisy else ""
    if fig.unit == "ms/token":  # a decoder: per generated token, time to first token beside it
        ttft = fig.extra.get("ttft_ms")
        first = f", first token {fmt_ms(ttft)}" if ttft is not None else ""
        return f"{fmt_ms(fig.value)}/token{first}{batch} ({SOURCE_TAG[fig.source]}{noisy})"
    return f"{fmt_ms(fig.value)}{batch} ({SOURCE_TAG[fig.source]}{noisy})"


def noisy_lines(sheet) -> list[str]:  # noqa: ANN001
    """One line per reason behind each latency in the table marked noisy (measured while the
    machine was busy), for under the table."""
    lines = []
    for v in sheet.recommendation.verdicts:
        fig = v.latency
        if fig is not None and fig.noisy:
            lines += [f"{v.model_id} ({fig.setting()}): {reason}" for reason in fig.noisy]
    return lines


def memory_cell(fig: Figure | None) -> str:
    return "—" if fig is None else f"{fmt_mib(fig.value)} ({SOURCE_TAG[fig.source]})"


def memory_header(sheet) -> str:  # noqa: ANN001
    return "Fine-tune memory" if sheet.recommendation.constraints.memory_mode == FINETUNE else (
        "Inference memory")


FIGURE_HEADERS = ["Model", "Figure", "Value", "Source", "Batch", "dtype", "Threads", "Device"]


def figure_rows(sheet) -> list[dict[str, str]]:  # noqa: ANN001
    """Every figure behind the table, one row each: the latency sweep, memory, accuracy."""
    kinds = (("latency", "p50 latency"), ("inference_memory", "inference memory"),
             ("finetune_memory", "fine-tune memory"))
    rows = []
    for v in sheet.recommendation.verdicts:
        c = sheet.candidate(v.model_id)
        figures = [(label, f) for kind, label in kinds for f in getattr(c, kind)]
        if c.finetuned_accuracy is not None:
            figures.append(("held-out accuracy after fine-tune", c.finetuned_accuracy))
        if c.baseline_accuracy is not None:
            figures.append(("held-out accuracy before", c.baseline_accuracy))
        for label, f in figures:
            rows.append({
                "Model": c.model_id, "Figure": label, "Value": _figure_value(f),
                "Source": f.source, "Batch": "" if f.batch is None else str(f.batch),
                "dtype": f.dtype or "", "Threads": "" if f.threads is None else str(f.threads),
                "Device": f.device or "",
            })
    return rows


def _figure_value(f: Figure) -> str:
    if f.unit == "ms":
        tail = ", ".join(f"{k} {fmt_ms(f.extra[k])}" for k in ("p90", "p99") if k in f.extra)
        return fmt_ms(f.value) + (f" ({tail})" if tail else "")
    if f.unit == "MiB":
        return fmt_mib(f.value)
    if f.unit == "%":
        return f"{f.value:.1f}%"
    return f"{f.value:g} {f.unit}".strip()


# ------------------------------------------------------------------------ helpers
def _energy(fig: Figure | None) -> dict[str, float | None]:
    """Measured joules per sample of a latency figure, its inverse and the average power."""
    joules = fig.extra.get("energy_per_sample_j") if fig else None
    return {"energy_per_sample_j": joules,
            "samples_per_joule": round(1.0 / joules, 3) if joules else None,
            "avg_power_w": fig.extra.get("avg_power_w") if fig else None}


def _decoder(c: Candidate, lat: Figure | None) -> dict[str, float | None]:
    """Decoders: time to first token, decode tokens/s and the KV cache of the latency figure;
    held-out perplexity on the user's text (None for other models)."""
    extra = lat.extra if lat is not None and lat.unit == "ms/token" else {}
    scores = c.transfer.scores if c.transfer is not None and c.transfer.method == "perplexity" else {}
    return {"ttft_p50_ms": extra.get("ttft_ms"), "decode_tokens_per_s": extra.get("tokens_per_s"),
            "kv_cache_mib": extra.get("kv_cache_mib"), "perplexity": scores.get("perplexity"),
            "bits_per_byte": scores.get("bits_per_byte"), "bits_per_token": scores.get("bits_per_token")}


def _value(fig: Figure | None) -> float | None:
    return fig.value if fig is not None else None


def _throughput(fig: Figure | None) -> float | None:
    if fig is None:
        return None
    if "samples_per_s" in fig.extra:
        return fig.extra["samples_per_s"]
    if fig.batch and fig.value > 0:
        return round(fig.batch * 1000.0 / fig.value, 3)
    return None


def _pick(c: Candidate, kind: str, source: str, con) -> float | None:  # noqa: ANN001
    batch = con.batch if kind == "inference_memory" else None
    figures = [f for f in c.figures(kind, source)
               if (batch is None or f.batch in (None, batch))]
    return min(f.value for f in figures) if figures else None


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return value


_PARSERS: dict[type, Callable[[str], Any]] = {int: int, float: float, str: str}


def _parse(text: str | None, kind: type) -> Any:
    if text is None or text == "":
        return None
    try:
        return _PARSERS[kind](text)
    except ValueError:
        return text
