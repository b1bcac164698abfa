"""Decoder latency: time to first token and decode tokens/s, per batch size and precision.

What a user of a local LLM waits for, measured the way it is run: a prompt of ``prompt_len``
token ids goes through the model once (the prefill; its time is the **time to first token**,
TTFT, the first token picked greedily from its logits), then ``gen_len - 1`` more tokens are
generated one at a time with the KV cache on, greedy (**decode**: ms per token and tokens/s
over the batch). One repeat is one prefill plus its decode; repeats run (after one warm-up
repeat) until ``min_iters`` and ``min_time_s`` are both met or the row's share of the budget is
spent, and every repeat's TTFT and per-token decode time are kept (``samples_*``) with their
p50/p90. The KV cache the last repeat held is measured from its tensors (MiB), beside peak
resident memory (and the allocator's peak on a GPU).

Out of memory at a batch skips the larger batches of that precision (the probe's step-down);
the rows measured so far are kept. Prompt ids are random (seeded), so no tokenizer is needed:
speed and memory do not depend on which tokens they are.

Run by the ``latency`` kind for an entry of task ``text-generation``; ``spec.params``:
:class:`selector.core.probes.settings.LatencySettings` (``prompt_len``, ``gen_len``).
"""

from __future__ import annotations

import time
from typing import Any

from selector.core.devices.backend import empty_cache, step_timer, timing_method
from selector.core.probes.context import is_oom
from selector.core.probes.settings import LatencySettings
from selector.core.results.record import GenerationRow

DTYPES = ("fp32", "bf16", "fp16")


def run(spec, ctx) -> dict[str, Any]:  # noqa: ANN001 - ProbeSpec, ProbeContext
    import torch

    from selector.core.probes import environment as env
    from selector.core.probes.environment import ProbeSettingError
    from selector.core.probes.loading import load_model
    from selector.core.probes.memory import MemoryMonitor

    p = LatencySettings.from_spec(spec).to_dict()
    if p["runtime"] != ["eager"] or p["quantize"]:
        raise ProbeSettingError("decoders are measured eagerly (torch) only: drop --runtime/--quantize")
    device = env.resolve_device(spec.device)
    for name in spec.dtypes:
        if name not in DTYPES:
            raise ProbeSettingError(f"decoders run in {', '.join(DTYPES)}, not {name!r}")
        if name == "fp16" and device == "cpu":
            raise ProbeSettingError("fp16 is a GPU precision; on the CPU use bf16")
    prompt_len, gen_len = int(p["prompt_len"]), int(p["gen_len"])
    if prompt_len < 1 or gen_len < 1:
        raise ProbeSettingError("prompt_len and gen_len must be 1 or more")
    software = env.software_versions()
    batches = sorted({int(b) for b in spec.batch_sizes})
    monitor = MemoryMonitor(device, poll_s=float(p["rss_poll_ms"]) / 1000).start()
    rows: list[dict] = []
    skipped: list[str] = []
    oom: list[str] = []
    try:
        ctx.phase("load", f"building {spec.model}")
        loaded = load_model(spec, device)
        model = loaded.model.eval()
        positions = int(loaded.preprocess.get("model_max_length") or 0)
        if positions and prompt_len + gen_len > positions:
            raise ProbeSettingError(f"prompt_len + gen_len = {prompt_len + gen_len} is past the model's "
                                    f"{positions} positions")
        load_peak = monitor.peaks()["peak_rss_mib"]
        ctx.start_budget()
        ctx.log(f"{spec.model}: {loaded.weights} weights, loaded in {loaded.load_s:.1f} s")
        common = {"model_id": spec.model, "device": device, "weights": loaded.weights,
                  "device_name": env.device_name(device), "threads": torch.get_num_threads(),
                  "timing": timing_method(device), "load_s": round(loaded.load_s, 4),
                  "prompt_len": prompt_len, "gen_len": gen_len, "software": software}
        plan = [(d, b) for d in spec.dtypes for b in batches]
        for n, (dtype, batch) in enumerate(plan):
            label = f"{dtype} batch {batch}"
            if ctx.should_stop() or any(o.startswith(dtype + " ") for o in oom):
                skipped.append(label)
                continue
            variant = model.to({"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[dtype])
            share = max(0.0, ctx.time_left()) / max(1, len(plan) - n)
            try:
                row = _measure(ctx, variant, batch, dtype, device, p, monitor, share, (n, len(plan)))
            except (RuntimeError, MemoryError) as err:
                if not is_oom(err):
                    raise
                oom.append(label)
                ctx.log(f"out of memory at {label}: larger batches of {dtype} skipped", level="warning")
                _free(device)
                continue
            row = GenerationRow.from_dict({**common, **row}).to_dict()
            rows.append(row)
            ctx.row(row)
    finally:
        monitor.stop()
    if oom and not rows:
        raise MemoryError(f"out of memory at every batch ({', '.join(oom)})")
    best = max(rows, key=lambda r: r["decode_tokens_per_s"] or 0, default=None)
    first = next((r for r in rows if r["batch_size"] == 1), rows[0] if rows else None)
    summary = {
        "rows": len(rows), "skipped": skipped, "out_of_memory": oom,
        "budget_limited": bool(skipped) or any(r["budget_limited"] for r in rows),
        "load_s": round(loaded.load_s, 4), "load_peak_rss_mib": load_peak,
        "prompt_len": prompt_len, "gen_len": gen_len,
        "ttft_p50_ms": first and first["ttft_p50_ms"],
        "decode_tokens_per_s": first and first["decode_tokens_per_s"],
        "best_decode_tokens_per_s": best and best["decode_tokens_per_s"],
        "best_setting": best and f"{best['dtype']} batch {best['batch_size']}",
    }
    message = (f"measured {len(rows)} row(s): time to first token {_ms(summary['ttft_p50_ms'])} at "
               f"{prompt_len} prompt tokens, {summary['decode_tokens_per_s'] or 0:.1f} tokens/s decoding")
    if oom:
        message += f"; out of memory at {', '.join(oom)}"
    if skipped:
        message += f"; the budget ran out before {', '.join(skipped)}"
    return {"weights": loaded.weights, "weights_note": loaded.weights_note, "summary": summary,
            "rows": rows, "software": software, "message": message,
            "settings": {**p, "batch_sizes": batches, "dtypes": list(spec.dtypes), "device": device,
                         "threads": torch.get_num_threads()}}


def _measure(ctx, model, batch: int, dtype: str, device: str, p: dict, monitor,  # noqa: ANN001
             share_s: float, position: tuple[int, int]) -> dict[str, Any]:
    """One row: a warm-up repeat, then repeats of prefill + greedy decode within ``share_s``."""
    import numpy as np
    import torch

    from selector.core.probes.memory import current_rss_mib

    prompt_len, gen_len = int(p["prompt_len"]), int(p["gen_len"])
    vocab = int(getattr(model.config, "vocab_size", 0) or 0) or 32000
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(min(3, vocab - 1), vocab, (batch, prompt_len), generator=gen).to(device)
    timer = step_timer(device)
    ctx.phase("warmup", f"{dtype} batch {batch}: warming up", data={"dtype": dtype, "batch": batch})
    rss_before = round(current_rss_mib(), 1)
    monitor.reset()
    start = time.perf_counter()
    with torch.inference_mode():
        first_ttft, first_decode, kv = _repeat(model, ids, gen_len, timer)
        warm_s = time.perf_counter() - start
        ctx.phase("measure", f"{dtype} batch {batch}: generating", data={"dtype": dtype, "batch": batch})
        ttft: list[float] = []
        decode: list[float] = []
        start = time.perf_counter()
        min_iters, min_s, max_iters = int(p["min_iters"]), float(p["min_time_s"]), p["max_iters"]
        limited = False
        while True:
            t, d, kv = _repeat(model, ids, gen_len, timer)
            ttft.append(t)
            if d is not None:
                decode.append(d)
            spent = time.perf_counter() - start
            if len(ttft) >= min_iters and spent >= min_s or max_iters and len(ttft) >= int(max_iters):
                break
            if ctx.stop_requested.is_set() or (spent + warm_s >= share_s and len(ttft) >= 3):
                limited = len(ttft) < min_iters or spent < min_s
                break
            done, total = position
            frac = min(1.0, max(len(ttft) / max(min_iters, 1), spent / max(min_s, 1e-6)))
            ctx.progress(done, total, fraction=(done + frac) / total)
        measure_s = time.perf_counter() - start
    peaks = monitor.peaks()
    t_ms = np.asarray(ttft)
    per_token = np.asarray(decode) if decode else None
    decode_p50 = _r(np.percentile(per_token, 50)) if per_token is not None else None
    return {
        "dtype": dtype, "batch_size": batch, "repeats": len(ttft), "measure_s": round(measure_s, 4),
        "warmup_s": round(warm_s, 4), "first_ttft_ms": _r(first_ttft),
        "first_decode_ms_per_token": None if first_decode is None else _r(first_decode),
        "ttft_p50_ms": _r(np.percentile(t_ms, 50)), "ttft_p90_ms": _r(np.percentile(t_ms, 90)),
        "decode_ms_per_token_p50": decode_p50,
        "decode_ms_per_token_p90": _r(np.percentile(per_token, 90)) if per_token is not None else None,
        "decode_tokens_per_s": round(batch * 1000.0 / decode_p50, 3) if decode_p50 else None,
        "prefill_tokens_per_s": round(batch * prompt_len * 1000.0 / float(np.percentile(t_ms, 50)), 3),
        "kv_cache_mib": kv, "rss_before_mib": rss_before, **peaks, "budget_limited": limited,
        "samples_ttft_ms": [_r(x) for x in ttft], "samples_decode_ms_per_token": [_r(x) for x in decode],
        "note": "" if gen_len > 1 else "gen_len 1: the first token only, no decode steps",
    }


def _repeat(model, ids, gen_len: int, timer) -> tuple[float, float | None, float | None]:  # noqa: ANN001
    """One prefill and ``gen_len - 1`` greedy decode steps with the KV cache:
    ``(TTFT ms, decode ms per token or None, KV cache MiB at the end)``."""
    import inspect

    state: dict[str, Any] = {}
    # transformers 5 renamed past_key_values to cache (the old name still works, with a warning)
    key = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"

    def prefill() -> None:
        out = model(input_ids=ids, use_cache=True)
        state["past"] = getattr(out, key)
        state["next"] = out.logits[:, -1:].argmax(-1)

    def decode() -> None:
        for _ in range(gen_len - 1):
            out = model(input_ids=state["next"], use_cache=True, **{key: state["past"]})
            state["past"] = getattr(out, key)
            state["next"] = out.logits[:, -1:].argmax(-1)

    ttft = timer(prefill)
    per_token = timer(decode) / (gen_len - 1) if gen_len > 1 else None
    kv = kv_cache_mib(state["past"])
    state.clear()
    return ttft, per_token, kv


def kv_cache_mib(cache: Any) -> float | None:
    """Bytes the KV cache's tensors hold, MiB (sliding-window layers hold their window only);
    None for a cache whose tensors cannot be read."""
    import torch

    seen: set[int] = set()
    total = 0
    layers = getattr(cache, "layers", None)
    tensors: list[Any] = []
    if layers is not None:
        for layer in layers:
            tensors += [getattr(layer, "keys", None), getattr(layer, "values", None)]
    elif isinstance(cache, (tuple, list)):
        for item in cache:
            tensors += list(item) if isinstance(item, (tuple, list)) else [item]
    for t in tensors:
        if isinstance(t, torch.Tensor) and id(t) not in seen:
            seen.add(id(t))
            total += t.numel() * t.element_size()
    return round(total / 2**20, 6) if seen else None


def _free(device: str) -> None:
    import gc

    gc.collect()
    empty_cache(device)


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} ms"


def _r(value: float) -> float:
    return round(float(value), 4)
