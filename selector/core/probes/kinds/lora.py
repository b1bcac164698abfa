"""LoRA fine-tune of a decoder on the user's text: does it fit, how fast, does it help.

Run by the ``finetune`` kind for an entry of task ``text-generation``. The base model is
frozen; rank-``lora_rank`` adapters (peft, ``lora_alpha``) go on ``target_modules`` (empty:
every projection, peft's ``all-linear``) and only they train, with AdamW. The user's text
(:mod:`selector.core.data.lm_text`) is packed into blocks of ``max_length`` tokens (default
128); the held-out documents' mean next-token loss (nats) is measured before and after.
Step time, trained tokens/s (tokens of the batch's blocks over step time) and peak memory are
recorded; out of memory halves the batch and goes on, as the classification fine-tune does.

``spec.params``: :class:`selector.core.probes.settings.FinetuneSettings` (``lora_rank``,
``lora_alpha``, ``target_modules``, ``lr``, ``max_steps``, ``max_length``, ``seed``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from selector.core.devices.backend import empty_cache, synchronize
from selector.core.errors import SelectorError
from selector.core.probes.context import is_oom
from selector.core.probes.settings import FinetuneSettings
from selector.core.results.record import FinetuneReport

if TYPE_CHECKING:
    from selector.core.data.lm_text import LMText

DEFAULT_LENGTH = 128
LORA_LR = 2e-4
"""LoRA's usual learning rate, used unless ``lr`` is set (the encoder default of 1e-4 is for
whole-model fine-tunes)."""
MAX_EVAL_BLOCKS = 8
INSTALL = 'LoRA needs peft: pip install "selector[llm]" (or pip install peft)'


def read_user_text(spec, ctx, probe: str) -> LMText:  # noqa: ANN001 - ProbeSpec, ProbeContext
    """The user's text for a decoder probe (this one and perplexity), its notes logged; a
    ``SelectorError`` naming ``probe`` when no ``--data`` was given."""
    from selector.core.data.lm_text import from_spec

    if not spec.data:
        raise SelectorError(f"{probe} needs your text: --data FILE (.txt, .jsonl, .csv)")
    ctx.phase("data", f"reading {spec.data.get('source')}")
    text = from_spec(spec.data)
    for note in text.notes:
        ctx.log(note)
    return text


def run(spec, ctx) -> dict[str, Any]:  # noqa: ANN001 - ProbeSpec, ProbeContext
    import numpy as np
    import torch

    try:
        import peft
    except ImportError:
        raise SelectorError(INSTALL) from None
    from selector.core.data.lm_text import blocks, tokenizer_for
    from selector.core.probes import environment as env
    from selector.core.probes.loading import load_model
    from selector.core.probes.memory import MemoryMonitor

    p = FinetuneSettings.from_spec(spec).to_dict()
    lr = float(spec.params["lr"]) if spec.params.get("lr") is not None else LORA_LR
    device = env.resolve_device(spec.device)
    torch.manual_seed(int(p["seed"]))
    software = env.software_versions()
    text = read_user_text(spec, ctx, "a decoder's fine-tune")
    ctx.phase("load", f"building {spec.model}")
    loaded = load_model(spec, device)
    vocab = int(getattr(loaded.model.config, "vocab_size", 0) or 0)
    tokenizer, tok_name = tokenizer_for(loaded.tokenizer, vocab)
    positions = int(loaded.preprocess.get("model_max_length") or 10**9)
    length = min(int(p["max_length"] or DEFAULT_LENGTH), positions)
    train = blocks(text.train, tokenizer, length)
    test = blocks(text.test, tokenizer, length, max_blocks=min(MAX_EVAL_BLOCKS, int(p["max_eval"])))
    if not train or not test:
        raise SelectorError(f"{text.source}: too little text for a fine-tune ({len(train)} training and "
                            f"{len(test)} held-out blocks of {length} tokens)")
    targets = [t.strip() for t in str(p["target_modules"]).split(",") if t.strip()] or "all-linear"
    config = peft.LoraConfig(r=int(p["lora_rank"]), lora_alpha=int(p["lora_alpha"]), lora_dropout=0.0,
                             target_modules=targets, task_type="CAUSAL_LM")
    try:
        model = peft.get_peft_model(loaded.model, config)
    except ValueError as err:
        raise SelectorError(f"LoRA cannot target {targets!r} in {spec.model}: {err}") from None
    trainable = sum(t.numel() for t in model.parameters() if t.requires_grad)
    total = sum(t.numel() for t in model.parameters())
    optimizer = torch.optim.AdamW([t for t in model.parameters() if t.requires_grad], lr=lr,
                                  weight_decay=float(p["weight_decay"]))
    monitor = MemoryMonitor(device, poll_s=float(p["rss_poll_ms"]) / 1000).start()
    batch = int(spec.batch_sizes[0])
    requested = batch
    step_downs: list[int] = []
    step_ms: list[float] = []
    curve: list[dict[str, Any]] = []
    tokens_trained = 0
    ctx.start_budget()
    try:
        ctx.phase("eval", "held-out loss before training")
        start = time.perf_counter()
        before = _heldout_loss(model, test, device)
        eval_s = time.perf_counter() - start
        ctx.log(f"held-out loss before: {before:.4f} nats/token on {len(test)} blocks")
        ctx.phase("train", f"LoRA rank {p['lora_rank']}, batch {batch}")
        model.train()
        rng = np.random.default_rng(int(p["seed"]))
        order: list[int] = []
        train_start = time.perf_counter()
        limited = True
        while True:
            if p["max_steps"] and len(step_ms) >= int(p["max_steps"]):
                limited = False
                break
            if ctx.stop_requested.is_set() or step_ms and (
                    ctx.should_stop() or ctx.time_left() < eval_s * 1.2 + 0.2):
                break  # one step at least, so a slow first evaluation still measures a step
            if len(order) < batch:
                order += list(rng.permutation(len(train)))
            picked = [train[i] for i in order[:batch]]
            try:
                ms, loss = _step(model, optimizer, picked, device)
            except (RuntimeError, MemoryError) as err:
                if not is_oom(err) or batch == 1:
                    raise
                step_downs.append(batch)
                batch = max(1, batch // 2)
                optimizer.zero_grad(set_to_none=True)
                empty_cache(device)
                ctx.log(f"out of memory: batch stepped down to {batch}", level="warning")
                continue
            del order[:batch]
            step_ms.append(ms)
            tokens_trained += sum(map(len, picked))
            curve.append({"step": len(step_ms), "loss": round(loss, 5),
                          "t_s": round(time.perf_counter() - train_start, 4), "batch_size": batch})
            ctx.progress(len(step_ms), p["max_steps"], loss=loss, batch_size=batch,
                         fraction=1.0 - max(0.0, ctx.time_left()) / max(spec.budget_s, 1e-6))
        train_s = time.perf_counter() - train_start
        model.eval()
        after = None
        if step_ms:
            ctx.phase("eval", "held-out loss after training")
            after = _heldout_loss(model, test, device)
        peaks = monitor.peaks()
    finally:
        monitor.stop()
    steps = np.asarray(step_ms or [0.0])
    compute_s = float(steps.sum()) / 1000
    losses = [c["loss"] for c in curve]
    report = FinetuneReport(
        model_id=spec.model, device=device, weights=loaded.weights, train_mode="lora", precision="fp32",
        lr=lr, weight_decay=float(p["weight_decay"]), batch_size_requested=requested,
        batch_size_used=batch, oom_step_downs=step_downs, steps=len(step_ms),
        samples_seen=int(sum(c["batch_size"] for c in curve)),
        epochs=round(sum(c["batch_size"] for c in curve) / max(1, len(train)), 3), train_s=round(train_s, 4),
        mean_step_ms=_r(steps.mean()) if step_ms else None,
        p50_step_ms=_r(np.percentile(steps, 50)) if step_ms else None,
        samples_per_s=round(sum(c["batch_size"] for c in curve) / compute_s, 3) if compute_s else None,
        tokens_per_s=round(tokens_trained / compute_s, 2) if compute_s else None,
        loss_first=_r(losses[0]) if losses else None,
        loss_last=_r(float(np.mean(losses[-10:]))) if losses else None,
        heldout_loss_before=_r(before), heldout_loss_after=None if after is None else _r(after),
        eval_samples=len(test), train_samples=len(train), input_size=[length],
        preprocessing=f"blocks of {length} tokens", tokenizer=tok_name,
        load_s=round(loaded.load_s, 4), peak_rss_mib=peaks["peak_rss_mib"],
        peak_rss_method=peaks["peak_rss_method"], cuda_max_allocated_mib=peaks["cuda_max_allocated_mib"],
        cuda_max_reserved_mib=peaks["cuda_max_reserved_mib"], nvml_process_mib=peaks["nvml_process_mib"],
        threads=torch.get_num_threads(), data=text.summary(), budget_limited=limited, software=software,
        lora={"rank": int(p["lora_rank"]), "alpha": int(p["lora_alpha"]),
              "target_modules": targets if isinstance(targets, str) else ",".join(targets),
              "trainable_params": trainable, "total_params": total},
        note="" if loaded.weights != "random" else "architecture-only (random) base weights",
    ).to_dict()
    ctx.row(report)
    if not step_ms:
        raise SelectorError("stopped before the first training step")
    gain = f"; held-out loss {before:.3f} -> {after:.3f}" if after is not None else ""
    summary = {k: report[k] for k in ("steps", "batch_size_used", "tokens_per_s", "mean_step_ms",
                                      "heldout_loss_before", "heldout_loss_after", "peak_rss_mib",
                                      "cuda_max_allocated_mib", "budget_limited", "load_s")}
    return {"weights": loaded.weights, "weights_note": loaded.weights_note, "summary": summary,
            "rows": [report],
            "settings": {**p, "lr": lr, "batch_size": requested, "device": device, "tokenizer": tok_name},
            "loss_curve": curve, "software": software,
            "message": f"LoRA rank {p['lora_rank']}: {len(step_ms)} steps at batch {batch}{gain}"}


def pad_blocks(chunk: list[list[int]], device: str) -> tuple[Any, Any, Any]:
    """Token blocks of unequal length as one batch on ``device``: ids (zero-padded), the
    attention mask, and labels with the padding set to -100 (ignored by the loss)."""
    import torch

    width = max(map(len, chunk))
    ids = torch.zeros(len(chunk), width, dtype=torch.long)
    mask = torch.zeros(len(chunk), width, dtype=torch.long)
    for j, b in enumerate(chunk):
        ids[j, :len(b)] = torch.tensor(b)
        mask[j, :len(b)] = 1
    labels = ids.masked_fill(mask == 0, -100)
    return ids.to(device), mask.to(device), labels.to(device)


def _step(model, optimizer, chunk: list[list[int]], device: str) -> tuple[float, float]:  # noqa: ANN001
    """One optimizer step: ``(ms, loss)``."""
    synchronize(device)
    start = time.perf_counter()
    ids, mask, labels = pad_blocks(chunk, device)
    loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    value = float(loss.detach())
    synchronize(device)
    return (time.perf_counter() - start) * 1000.0, value


def _heldout_loss(model, test: list[list[int]], device: str, batch: int = 4) -> float:  # noqa: ANN001
    """Token-weighted mean next-token loss over ``test``, nats."""
    import torch

    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(test), batch):
            ids, mask, labels = pad_blocks(test[i:i + batch], device)
            n = int((labels[:, 1:] != -100).sum())
            total += float(model(input_ids=ids, attention_mask=mask, labels=labels).loss) * n
            count += n
    return total / max(count, 1)


def _r(value: float) -> float:
    return round(float(value), 5)
