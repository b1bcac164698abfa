"""Decoder figures for the recommendation: generation latency and perplexity on the user's text.

A decoder's latency figure is its **decode time per token** (p50, ms; what a reader waits for
each word), with time to first token, tokens/s and the KV cache beside it in ``extra``. Its
data-fit score is the held-out **perplexity on the user's text**, ranked by bits per byte (a
figure that compares models with different tokenizers) among the models scored on the same
text with pretrained weights; it takes the place transferability holds for encoders and
vision models, and says which it is (``TransferScore.method`` ``perplexity``). Models scored
with architecture-only (random) weights are left out of that ranking.
"""

from __future__ import annotations

from typing import Any

from selector.core.recommend.candidate import MEASURED, Candidate, Figure, TransferScore

PERPLEXITY = "perplexity"


def add_generation_row(cand: Candidate, row: Any) -> None:
    """One ``GenerationRow`` as a latency figure (ms per decoded token) and a memory figure."""
    from selector.core.probes.contention import reasons_of

    if row.decode_ms_per_token_p50 is None:
        return
    method = (f"p50 decode step of {row.repeats} greedy generations of {row.gen_len} tokens after a "
              f"{row.prompt_len}-token prompt, KV cache on ({row.timing})")
    if row.budget_limited:
        method += "; cut short by the time budget"
    extra = {k: v for k, v in (("p90", row.decode_ms_per_token_p90), ("ttft_ms", row.ttft_p50_ms),
                               ("ttft_p90_ms", row.ttft_p90_ms), ("tokens_per_s", row.decode_tokens_per_s),
                               ("samples_per_s", row.decode_tokens_per_s),
                               ("prompt_len", row.prompt_len), ("gen_len", row.gen_len),
                               ("kv_cache_mib", row.kv_cache_mib)) if v is not None}
    cand.latency.append(Figure(row.decode_ms_per_token_p50, MEASURED, "ms/token", batch=row.batch_size,
                               dtype=row.dtype, threads=row.threads, device=row.device, method=method,
                               extra=extra, noisy=reasons_of(row.contention)))
    peak = row.cuda_max_reserved_mib if row.device != "cpu" and row.cuda_max_reserved_mib else row.peak_rss_mib
    if peak is not None:
        cand.inference_memory.append(Figure(peak, MEASURED, "MiB", batch=row.batch_size, dtype=row.dtype,
                                            threads=row.threads, device=row.device,
                                            method="peak memory of the probe while generating"))


def add_perplexity(cands: list[Candidate], results: list[Any]) -> None:
    """Rank the session's perplexity rows (same text, pretrained weights) by bits per byte and
    give each ranked candidate its ``transfer`` score: 1 for the best, 0 for the worst."""
    rows: dict[str, dict[str, Any]] = {}
    for r in results:
        if r.kind == PERPLEXITY and r.status == "finished" and r.rows:
            row = r.rows[0]
            if row.get("scores_meaningful") and row.get("bits_per_byte") is not None:
                rows[r.model_id] = row
    if not rows:
        return
    # only rows scored on the same text compare: keep the largest group
    groups: dict[tuple, list[str]] = {}
    for model, row in rows.items():
        data = row.get("data") or {}
        groups.setdefault((data.get("source"), data.get("sample_documents"), data.get("chars")), []).append(model)
    models = max(groups.values(), key=len)
    ordered = sorted(models, key=lambda m: rows[m]["bits_per_byte"])
    n = len(ordered)
    for cand in cands:
        if cand.model_id in ordered:
            place = ordered.index(cand.model_id) + 1
            row = rows[cand.model_id]
            cand.transfer = TransferScore(
                1.0 if n == 1 else round((n - place) / (n - 1), 6), PERPLEXITY, place, None,
                {"bits_per_byte": row["bits_per_byte"], "bits_per_token": row["bits_per_token"],
                 "perplexity": row["perplexity"]}, row.get("tokens"))


def is_perplexity(score: TransferScore | None) -> bool:
    return score is not None and score.method == PERPLEXITY


def label(score: TransferScore) -> str:
    """How the sheets name a perplexity score."""
    bpb = score.scores.get("bits_per_byte")
    return "perplexity on your text" + (f" ({bpb:.3f} bits/byte)" if bpb is not None else "")


def generation_points(cands: list[Candidate]) -> dict[str, list[dict[str, float]]]:
    """For the generation plots, per decoder: each measured row's ``tokens_per_s``,
    ``memory_mib`` (its peak, same batch and dtype), ``prompt_len`` and ``ttft_ms``."""
    out: dict[str, list[dict[str, float]]] = {}
    for cand in cands:
        for fig in cand.latency:
            if fig.unit != "ms/token" or fig.source != MEASURED:
                continue
            memory = next((m.value for m in cand.inference_memory if m.source == MEASURED
                           and m.batch == fig.batch and m.dtype == fig.dtype), None)
            point = {"tokens_per_s": fig.extra.get("tokens_per_s"), "memory_mib": memory,
                     "prompt_len": fig.extra.get("prompt_len"), "ttft_ms": fig.extra.get("ttft_ms"),
                     "batch": fig.batch}
            out.setdefault(cand.model_id, []).append({k: v for k, v in point.items() if v is not None})
    return out
