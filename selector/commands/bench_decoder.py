"""``selector bench``'s tables for decoders: generation latency, LoRA fine-tune, perplexity."""

from __future__ import annotations

from typing import Any


def print_decoder(console: Any, results: list) -> None:
    """The decoder tables under bench's others (nothing when no decoder was probed)."""
    from rich.table import Table

    from selector.commands.bench import _machine_cell, _num, _print_notes

    gen = [row for r in results for row in r.generation_rows()]
    if gen:
        caption = "; ".join(sorted({f"{g.model_id}: {g.weights} weights, {g.threads} threads, prompt "
                                    f"{g.prompt_len} tokens, {g.gen_len} generated greedily (KV cache), "
                                    f"{g.device}" for g in gen}))
        table = Table(title="Generation", title_justify="left", caption=caption, caption_justify="left")
        for col in ("model", "dtype", "batch", "TTFT p50 ms", "TTFT p90 ms", "ms/token p50", "tokens/s",
                    "KV MiB", "RSS MiB", "machine"):
            table.add_column(col, justify="left" if col in ("model", "dtype", "machine") else "right",
                             no_wrap=col == "model")
        for g in gen:
            table.add_row(g.model_id, g.dtype, str(g.batch_size), _num(g.ttft_p50_ms, 3), _num(g.ttft_p90_ms, 3),
                          _num(g.decode_ms_per_token_p50, 3), _num(g.decode_tokens_per_s, 3),
                          _num(g.kv_cache_mib, 3), _num(g.peak_rss_mib, 4), _machine_cell(g.contention))
        console.print(table)
        _print_notes(console, [(f"{g.model_id} {g.dtype} batch {g.batch_size}", g.contention, g.note)
                               for g in gen])
    tunes = [r.rows[0] for r in results if r.kind == "finetune" and r.rows and r.rows[0].get("lora")]
    if tunes:
        table = Table(title="LoRA fine-tune", title_justify="left", caption_justify="left")
        for col in ("model", "rank", "trainable", "batch", "steps", "step p50 ms", "tokens/s",
                    "held-out loss before", "after", "RSS MiB", "machine"):
            table.add_column(col, justify="left" if col in ("model", "machine") else "right", no_wrap=col == "model")
        for t in tunes:
            table.add_row(t["model_id"], str(t["lora"]["rank"]), f"{t['lora']['trainable_params']:,}",
                          str(t["batch_size_used"]), str(t["steps"]), _num(t["p50_step_ms"], 3),
                          _num(t["tokens_per_s"], 4), _num(t["heldout_loss_before"], 4),
                          _num(t["heldout_loss_after"], 4), _num(t["peak_rss_mib"], 4),
                          _machine_cell(t.get("contention")))
        console.print(table)
        _print_notes(console, [(f"{t['model_id']} LoRA", t.get("contention"),
                                f"tokenizer: {t['tokenizer']}") for t in tunes])
    ppl = [r.rows[0] for r in results if r.kind == "perplexity" and r.rows]
    if ppl:
        table = Table(title="Perplexity on your text (held out, frozen model)", title_justify="left")
        for col in ("model", "weights", "perplexity", "bits/token", "bits/byte", "tokens", "tokens/s", "cached"):
            table.add_column(col, justify="left" if col in ("model", "weights") else "right", no_wrap=col == "model")
        for p in sorted(ppl, key=lambda p: (not p["scores_meaningful"], p["bits_per_byte"] or 1e9)):
            table.add_row(p["model_id"], p["weights"] + ("" if p["scores_meaningful"] else " ✗"),
                          _num(p["perplexity"], 4), _num(p["bits_per_token"], 4), _num(p["bits_per_byte"], 4),
                          str(p["tokens"]), _num(p["tokens_per_s"], 4), "yes" if p["from_cache"] else "no")
        console.print(table)
        if any(not p["scores_meaningful"] for p in ppl):
            console.print("✗ architecture-only (random) weights: ranked apart, their perplexity says nothing "
                          "of the pretrained model", style="dim")
