"""Perplexity probe: how well a frozen decoder already knows the user's text, in seconds.

The decoder's counterpart of the transfer probe. It scores the held-out documents of the
user's file (:mod:`selector.core.data.lm_text`: the same seeded split the LoRA probe holds out)
with the frozen model: mean negative log-likelihood per predicted token, perplexity, bits per
token, and **bits per byte** (bits per token over the text's UTF-8 bytes per token): the
figure that compares models with different tokenizers, so the ranking uses it.

Sampling: the held-out documents in order until ``max_tokens x 4`` characters (about 4 characters
of English per token), so every model scores the same text whatever its tokenizer; blocks of
``max_length`` tokens, no overlap. Caching: the score is kept per model (id, where its weights
come from, settings) and sampled text (its hash), like the transfer probe's features; a rerun
loads no model. Random weights ("architecture only") score near ``log2(vocab)`` bits per token:
the result says so (``scores_meaningful`` false) and rankings put such models apart.

``spec.params``: :class:`selector.core.probes.settings.PerplexitySettings`.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

from selector.core.errors import SelectorError
from selector.core.probes.kinds.lora import pad_blocks, read_user_text
from selector.core.probes.settings import PerplexitySettings

RANDOM_CAVEAT = ("architecture-only (random) weights: this perplexity is of random weights and says "
                 "nothing of the pretrained model; do not rank on it")
CHARS_PER_TOKEN = 4


def run(spec, ctx) -> dict[str, Any]:  # noqa: ANN001 - ProbeSpec, ProbeContext
    import torch

    from selector.core.data.lm_text import blocks, tokenizer_for
    from selector.core.probes import environment as env
    from selector.core.probes.loading import entry_for, load_model
    from selector.core.probes.memory import MemoryMonitor
    from selector.core.transfer import cache

    p = PerplexitySettings.from_spec(spec).to_dict()
    device = env.resolve_device(spec.device)
    software = env.software_versions()
    entry = entry_for(spec)
    if not entry.is_decoder:
        raise SelectorError(f"{spec.model}: the perplexity probe is for text-generation models; "
                            "use the transfer probe for encoders and vision models")
    text = read_user_text(spec, ctx, "the perplexity probe")
    sample, chars = [], 0
    for doc in text.test:
        sample.append(doc)
        chars += len(doc)
        if chars >= int(p["max_tokens"]) * CHARS_PER_TOKEN:
            break
    sampled = {"source": text.source, "seed": int(spec.data.get("seed") or 0),
               "holdout": spec.data.get("holdout"), "text": cache.digest(sample, 32)}
    key = None
    if p["cache"]:
        fingerprint = cache.model_fingerprint(entry, spec.weights, {
            "max_length": p["max_length"], "max_tokens": p["max_tokens"], "probe": "perplexity",
            "versions": {k: software.get(k) for k in ("torch", "transformers")}})
        key = cache.digest({"model": fingerprint, "data": sampled}, 32) if fingerprint else None
    cached = _read_cache(key) if key else None
    if key and cached is not None:
        ctx.log(f"score from cache ({_cache_path(key).name})")
        ctx.phase("measure", "from cache")
        row = {**cached, "from_cache": True}
        ctx.row(row)
        return _report(row, cached.get("weights_note", ""), software, p, device)
    monitor = MemoryMonitor(device, poll_s=float(p["rss_poll_ms"]) / 1000).start()
    try:
        ctx.phase("load", f"building {spec.model}")
        torch.manual_seed(int(p["seed"]))
        loaded = load_model(spec, device)
        model = loaded.model.eval()
        vocab = int(getattr(model.config, "vocab_size", 0) or 0)
        tokenizer, tok_name = tokenizer_for(loaded.tokenizer, vocab)
        length = min(int(p["max_length"]), int(loaded.preprocess.get("model_max_length") or p["max_length"]))
        ctx.start_budget()
        ctx.phase("measure", f"scoring {len(sample)} held-out documents")
        ids = blocks(sample, tokenizer, length)
        n_tokens = sum(map(len, ids))
        n_bytes = sum(len(d.encode("utf-8")) for d in sample)
        nll, predicted, scored_blocks, limited = 0.0, 0, 0, False
        start = time.perf_counter()
        batch = max(1, int(p["batch_size"]))
        with torch.inference_mode():
            for i in range(0, len(ids), batch):
                if ctx.should_stop():
                    limited = True
                    break
                chunk = ids[i:i + batch]
                loss_sum, count = _score(model, chunk, device)
                nll += loss_sum
                predicted += count
                scored_blocks += len(chunk)
                ctx.progress(scored_blocks, len(ids))
        eval_s = time.perf_counter() - start
        peaks = monitor.peaks()
    finally:
        monitor.stop()
    if not predicted:
        raise SelectorError("the budget ended before one block was scored: give it more time (--budget)")
    mean = nll / predicted
    bits = mean / math.log(2)
    scored_tokens = sum(len(b) for b in ids[:scored_blocks])
    bytes_per_token = n_bytes / n_tokens if n_tokens else None
    meaningful = loaded.weights != "random"
    row = {
        "model_id": spec.model, "device": device, "weights": loaded.weights,
        "weights_note": loaded.weights_note, "tokenizer": tok_name, "documents": len(sample),
        "tokens": scored_tokens, "predicted_tokens": predicted, "bytes": n_bytes,
        "max_length": length, "batch_size": batch, "nll_per_token": round(mean, 5),
        "perplexity": round(math.exp(min(mean, 700.0)), 4), "bits_per_token": round(bits, 5),
        "bits_per_byte": round(bits / bytes_per_token, 5) if bytes_per_token else None,
        "eval_s": round(eval_s, 4), "tokens_per_s": round(scored_tokens / eval_s, 2) if eval_s else None,
        "load_s": round(loaded.load_s, 4), "threads": torch.get_num_threads(),
        "budget_limited": limited, "scores_meaningful": meaningful, "from_cache": False,
        "data": {**text.summary(), "sample_documents": len(sample)}, "software": software,
        "note": "" if meaningful else RANDOM_CAVEAT, **peaks,
    }
    if key and not limited:
        _write_cache(key, row)
    ctx.row(row)
    return _report(row, loaded.weights_note, software, p, device)


def _score(model, chunk: list[list[int]], device: str) -> tuple[float, int]:  # noqa: ANN001
    """Summed NLL (nats) of the next-token predictions in ``chunk`` and how many there were."""
    import torch

    ids, mask, _ = pad_blocks(chunk, device)
    logits = model(input_ids=ids, attention_mask=mask).logits.float()
    target = ids[:, 1:]
    keep = mask[:, 1:].bool()
    losses = torch.nn.functional.cross_entropy(logits[:, :-1].transpose(1, 2), target, reduction="none")
    return float(losses[keep].sum()), int(keep.sum())


def _report(row: dict, weights_note: str, software: dict, p: dict, device: str) -> dict[str, Any]:
    message = (f"held-out perplexity {row['perplexity']:.2f} ({row['bits_per_token']:.3f} bits/token, "
               f"{row['bits_per_byte'] or 0:.3f} bits/byte) over {row['tokens']} tokens")
    if row.get("from_cache"):
        message += "; from cache"
    if not row["scores_meaningful"]:
        message += "; " + RANDOM_CAVEAT
    summary = {k: row.get(k) for k in ("perplexity", "bits_per_token", "bits_per_byte", "tokens",
                                       "tokenizer", "scores_meaningful", "from_cache", "eval_s",
                                       "peak_rss_mib", "load_s")}
    return {"weights": row["weights"], "weights_note": weights_note, "rows": [row], "summary": summary,
            "settings": {**p, "device": device}, "software": software, "message": message}


def _cache_path(key: str):  # noqa: ANN202
    from selector.core.transfer.cache import feature_dir

    return feature_dir() / f"perplexity-{key}.json"


def _read_cache(key: str | None) -> dict | None:
    if not key:
        return None
    try:
        return json.loads(_cache_path(key).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_cache(key: str, row: dict) -> None:
    path = _cache_path(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({k: v for k, v in row.items() if k != "contention"}), encoding="utf-8")
        tmp.replace(path)
    except OSError:
        pass
