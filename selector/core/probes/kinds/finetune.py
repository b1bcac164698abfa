"""Fine-tune probe: a quick, real fine-tune on the user's data within the time budget.

The model gets a new head for the data's classes; preprocessing comes from the model itself
(timm's data config, the model's tokenizer when it is local; otherwise a labelled fallback).
It measures held-out accuracy, trains with AdamW (AMP on CUDA) until the budget is spent
(keeping time for the final evaluation), and measures held-out accuracy again. On out of
memory it halves the batch and goes on, and records the batch that ran. Every step's loss
is streamed as a progress event, for live plots.

``spec.params``: :class:`selector.core.probes.settings.FinetuneSettings` (an unknown key is an
error that names the accepted ones).
"""

from __future__ import annotations

import time
from typing import Any

from selector.core.errors import SelectorError
from selector.core.probes.context import is_oom
from selector.core.probes.settings import FinetuneSettings
from selector.core.devices.backend import empty_cache, synchronize
from selector.core.probes.energy import EnergyMeter
from selector.core.results.record import FinetuneReport

DEFAULTS: dict[str, Any] = FinetuneSettings().to_dict()


def run(spec, ctx) -> dict[str, Any]:  # noqa: ANN001 - ProbeSpec, ProbeContext
    import numpy as np
    import torch

    from selector.core.data.dataset import DataError, DatasetSpec, load_dataset
    from selector.core.probes import environment as env
    from selector.core.probes.loading import entry_for, load_model
    from selector.core.probes.memory import MemoryMonitor

    if entry_for(spec).is_decoder:
        from selector.core.probes.kinds import lora

        return lora.run(spec, ctx)
    p = FinetuneSettings.from_spec(spec).to_dict()
    device = env.resolve_device(spec.device)
    torch.manual_seed(int(p["seed"]))
    software = env.software_versions()
    if not spec.data:
        raise DataError("the fine-tune probe needs data: a folder, a text file, or 'sample'")
    entry = entry_for(spec)
    ctx.phase("data", f"reading {spec.data.get('source')}")
    data = load_dataset(DatasetSpec.from_dict(spec.data), task=entry.task)
    for note in data.notes:
        ctx.log(note)
    ctx.phase("load", f"building {spec.model} with a {data.num_classes}-class head")
    loaded = load_model(spec, device, num_classes=data.num_classes)
    model = loaded.model
    prep = _preprocessing(loaded, p["max_length"])
    monitor = MemoryMonitor(device, poll_s=float(p["rss_poll_ms"]) / 1000).start()
    trainer = _Trainer(ctx, model, data, prep, device, p, batch=int(spec.batch_sizes[0]))
    ctx.start_budget()
    try:
        ctx.phase("eval", "held-out accuracy before fine-tuning")
        acc_before, eval_s = trainer.evaluate()
        ctx.log(f"accuracy before: {_pct(acc_before)} on {trainer.eval_n} held-out samples")
        ctx.phase("train", f"training ({trainer.precision}, batch {trainer.batch})")
        reserve_s = eval_s * 1.2 + 0.2
        energy = EnergyMeter(device)
        try:
            energy.start()
            trainer.train(reserve_s=reserve_s)
            reading = energy.stop()
        finally:
            energy.close()
        no_step = None
        if not trainer.step_ms and not ctx.stop_requested.is_set():
            no_step = no_step_message(spec.budget_s, step_estimate_s(eval_s, trainer.eval_n, trainer.batch),
                                      eval_s + reserve_s)
            acc_after = None
        else:
            ctx.phase("eval", "held-out accuracy after fine-tuning")
            acc_after, _ = trainer.evaluate()
        peaks = monitor.peaks()
    finally:
        monitor.stop()
    steps_ms = np.asarray(trainer.step_ms or [0.0])
    compute_s = float(steps_ms.sum()) / 1000
    losses = [pt["loss"] for pt in trainer.curve]
    report = FinetuneReport(
        model_id=spec.model, device=device, weights=loaded.weights, train_mode=p["train_mode"],
        precision=trainer.precision, lr=p["lr"], head_lr=p["head_lr"], weight_decay=p["weight_decay"],
        batch_size_requested=int(spec.batch_sizes[0]), batch_size_used=trainer.batch,
        oom_step_downs=trainer.oom_step_downs, steps=len(trainer.step_ms),
        samples_seen=trainer.samples, epochs=round(trainer.samples / max(1, len(data.train_idx)), 3),
        train_s=round(trainer.train_wall_s, 4),
        mean_step_ms=_r(steps_ms.mean()) if trainer.step_ms else None,
        p50_step_ms=_r(np.percentile(steps_ms, 50)) if trainer.step_ms else None,
        samples_per_s=round(trainer.samples / compute_s, 3) if compute_s else None,
        loss_first=_r(losses[0]) if losses else None,
        loss_last=_r(float(np.mean(losses[-10:]))) if losses else None,
        acc_before=acc_before, acc_after=acc_after, eval_samples=trainer.eval_n,
        train_samples=len(data.train_idx), num_classes=data.num_classes, classes=list(data.classes),
        input_size=prep["input_size"], preprocessing=prep["description"],
        tokenizer=prep.get("tokenizer", ""), load_s=round(loaded.load_s, 4),
        peak_rss_mib=peaks["peak_rss_mib"], peak_rss_method=peaks["peak_rss_method"],
        cuda_max_allocated_mib=peaks["cuda_max_allocated_mib"],
        cuda_max_reserved_mib=peaks["cuda_max_reserved_mib"], nvml_process_mib=peaks["nvml_process_mib"],
        threads=torch.get_num_threads(), data=data.summary(), budget_limited=trainer.budget_limited,
        software=software, note=f"data decoding took {trainer.data_s:.1f} s (not in step times)",
        **reading.fields(trainer.samples),
    ).to_dict()
    ctx.row(report)
    if no_step is not None:
        raise NoTrainingStep(no_step)
    gain = "" if acc_before is None or acc_after is None else (
        f"; accuracy {_pct(acc_before)} -> {_pct(acc_after)}")
    summary = {k: report[k] for k in ("steps", "batch_size_used", "samples_per_s", "mean_step_ms",
                                      "acc_before", "acc_after", "loss_first", "loss_last",
                                      "peak_rss_mib", "cuda_max_allocated_mib", "precision",
                                      "budget_limited", "load_s")}
    summary["skipped_files"] = sum(data.skipped.values())
    return {"weights": loaded.weights, "weights_note": loaded.weights_note, "summary": summary,
            "settings": {**p, "batch_size": int(spec.batch_sizes[0]), "device": device,
                         "preprocessing": prep["description"], "tokenizer": prep.get("tokenizer", "")},
            "loss_curve": trainer.curve, "software": software,
            "message": f"{len(trainer.step_ms)} steps at batch {trainer.batch}{gain}"}


class NoTrainingStep(SelectorError):
    """The budget ended before the first optimizer step: nothing was fine-tuned, so the probe
    fails (its row, with the accuracy before training, is kept)."""


TRAIN_TO_FORWARD = 3.0
"""A training step costs about three forward passes (forward, backward, optimizer)."""
USEFUL_STEPS = 10
"""The suggested budget buys this many steps: enough for a first loss trend."""


def step_estimate_s(eval_s: float, eval_n: int, batch: int) -> float | None:
    """Seconds one training step of ``batch`` samples takes here, from the held-out evaluation
    just measured (``eval_s`` seconds for ``eval_n`` samples, forward only); None without it."""
    if eval_n <= 0 or eval_s <= 0:
        return None
    return TRAIN_TO_FORWARD * eval_s / eval_n * batch


def suggest_budget_s(step_s: float | None, overhead_s: float, budget_s: float) -> float:
    """A budget (seconds) that leaves room for :data:`USEFUL_STEPS` steps after the
    evaluations (``overhead_s``), rounded up to 10 s (under 2 min) or to a minute."""
    need = overhead_s + USEFUL_STEPS * step_s if step_s else 2 * max(budget_s, overhead_s)
    need = max(need, budget_s + 10.0)
    step = 10.0 if need <= 120 else 60.0
    return step * -(-need // step)


def fmt_budget(seconds: float) -> str:
    """``30s``, ``3m``: as ``--budget`` takes it."""
    return f"{seconds / 60:g}m" if seconds >= 120 and seconds % 60 == 0 else f"{seconds:g}s"


def no_step_message(budget_s: float, step_s: float | None, overhead_s: float) -> str:
    """Why a fine-tune made no step, with the step time measured here and a budget that would
    do: ``the budget of 5 s was too short for one training step (one step takes ~12 s here
    and the held-out evaluations ~3 s; give --budget 2m)``."""
    if step_s is None:
        took = "its step time could not be measured"
    else:
        took = f"one step takes ~{_secs(step_s)} s here"
    if overhead_s >= 0.05:
        took += f" and the held-out evaluations ~{_secs(overhead_s)} s"
    suggested = fmt_budget(suggest_budget_s(step_s, overhead_s, budget_s))
    return f"the budget of {budget_s:g} s was too short for one training step ({took}; give --budget {suggested})"


def _secs(seconds: float) -> str:
    """``12``, ``0.21``: whole seconds from 10 s, two significant digits below."""
    return f"{seconds:.0f}" if seconds >= 10 else f"{seconds:.2g}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def _r(value: float) -> float:
    return round(float(value), 4)


def _preprocessing(loaded, max_length: int | None) -> dict[str, Any]:  # noqa: ANN001 - LoadedModel
    """The transform or tokenizer, and how the result should describe it."""
    from selector.core.probes.loading import vision_transform, vocab_size

    pre = loaded.preprocess
    if loaded.entry.is_text:
        length = int(max_length or pre.get("max_length") or 128)
        if loaded.tokenizer is not None:
            where = pre.get("tokenizer_note") or pre.get("tokenizer") or "local files"
            return {"tokenizer_obj": loaded.tokenizer, "tokenizer": where,
                    "description": f"{where}; max {length} tokens", "input_size": [length]}
        from selector.core.data.tokenize import HashingTokenizer

        config = getattr(loaded.model, "config", None)
        tok = HashingTokenizer(vocab_size(loaded.model), length,
                               pad_id=getattr(config, "pad_token_id", None) or 0)
        return {"tokenizer_obj": tok, "tokenizer": HashingTokenizer.description,
                "description": f"{HashingTokenizer.description}; max {length} tokens",
                "input_size": [length]}
    transform, config = vision_transform(pre, loaded.model)
    shown = ", ".join(f"{k}={v}" for k, v in config.items())
    return {"transform": transform, "input_size": list(config["input_size"]),
            "description": f"the model's timm data config, eval transform ({shown})"}


def _head_parameters(model) -> set[int]:  # noqa: ANN001
    import torch

    head = None
    if hasattr(model, "get_classifier"):
        head = model.get_classifier()
    for name in ("classifier", "score", "head"):
        if head is None and isinstance(getattr(model, name, None), torch.nn.Module):
            head = getattr(model, name)
    if head is None:
        linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
        head = linears[-1] if linears else None
    return {id(q) for q in head.parameters()} if head is not None else set()


class _Trainer:
    def __init__(self, ctx, model, data, prep, device: str, p: dict, batch: int) -> None:  # noqa: ANN001
        import torch

        from selector.core.data.batches import Batcher

        self.ctx, self.model, self.data, self.device, self.p = ctx, model, data, device, p
        self.batch = batch
        kwargs = {"transform": prep.get("transform"), "tokenizer": prep.get("tokenizer_obj"),
                  "max_length": int(prep["input_size"][0]) if data.modality == "text" else 0}
        self.train_batcher = Batcher(data, **kwargs)
        self.eval_batcher = Batcher(data, cache=True, **kwargs)
        self.eval_idx = data.test_idx[: int(p["max_eval"])]
        self.eval_n = 0
        self.cuda = device.startswith("cuda")
        self.backend = device.split(":")[0]
        self.amp_dtype = None
        if self.cuda and p["amp"]:
            self.amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        elif self.backend in ("xpu", "mps") and p["amp"]:
            self.amp_dtype = torch.bfloat16 if self.backend == "xpu" else torch.float16
        self.precision = {None: "fp32", torch.bfloat16: "bf16-autocast",
                          torch.float16: "fp16-autocast"}[self.amp_dtype]
        self.scaler = (torch.amp.GradScaler(self.backend)
                       if self.amp_dtype == torch.float16 and self.backend != "mps" else None)
        head = _head_parameters(model)
        backbone = [q for q in model.parameters() if id(q) not in head]
        if p["train_mode"] == "head":
            for q in backbone:
                q.requires_grad_(False)
            backbone = []
        groups = [{"params": [q for q in model.parameters() if id(q) in head], "lr": float(p["head_lr"])}]
        if backbone:
            groups.append({"params": backbone, "lr": float(p["lr"])})
        self.optimizer = torch.optim.AdamW(groups, weight_decay=float(p["weight_decay"]))
        self.loss_fn = torch.nn.CrossEntropyLoss()
        self.step_ms: list[float] = []
        self.curve: list[dict] = []
        self.samples = 0
        self.oom_step_downs: list[int] = []
        self.train_wall_s = 0.0
        self.data_s = 0.0
        self.budget_limited = True

    def _to_device(self, inputs):  # noqa: ANN001, ANN202
        if isinstance(inputs, dict):
            return {k: v.to(self.device, non_blocking=True) for k, v in inputs.items()}
        return inputs.to(self.device, non_blocking=True)

    def _logits(self, inputs):  # noqa: ANN001, ANN202
        import torch

        from selector.core.probes.loading import forward

        with torch.autocast(self.backend if self.backend != "cpu" else "cuda", dtype=self.amp_dtype,
                            enabled=self.amp_dtype is not None):
            return forward(self.model, inputs)

    def evaluate(self) -> tuple[float | None, float]:
        """``(accuracy, seconds)`` on the held-out samples; None when none are held out."""
        import torch

        from selector.core.data.batches import chunks

        start = time.perf_counter()
        if not self.eval_idx:
            return None, 0.0
        self.model.eval()
        correct = total = 0
        with torch.inference_mode():
            for idx in chunks(self.eval_idx, max(1, self.batch * 2)):
                got = self.eval_batcher.batch(idx)
                if got is None:
                    continue
                inputs, labels = got
                logits = self._logits(self._to_device(inputs))
                correct += int((logits.argmax(-1).cpu() == labels).sum())
                total += len(labels)
        self.eval_n = total
        return (round(correct / total, 5) if total else None), time.perf_counter() - start

    def train(self, reserve_s: float) -> None:
        from selector.core.data.batches import epoch_batches

        ctx, p = self.ctx, self.p
        self.model.train()
        start = time.perf_counter()
        batches = epoch_batches(self.data.train_idx, self.batch, int(p["seed"]))
        while True:
            if p["max_steps"] and len(self.step_ms) >= int(p["max_steps"]):
                self.budget_limited = False
                break
            if ctx.time_left() <= reserve_s or ctx.stop_requested.is_set():
                break
            t_data = time.perf_counter()
            idx = next(batches, None)
            got = self.train_batcher.batch(idx) if idx is not None else None
            self.data_s += time.perf_counter() - t_data
            if got is None:
                if not self.train_batcher.usable(self.data.train_idx):
                    raise RuntimeError("no training sample could be decoded")
                continue
            try:
                loss, ms = self._step(*got)
            except (RuntimeError, MemoryError) as err:
                if not is_oom(err) or self.batch <= 1:
                    raise
                self._step_down(err)
                batches = epoch_batches(self.data.train_idx, self.batch, int(p["seed"]) + len(self.step_ms))
                continue
            self.step_ms.append(ms)
            self.samples += len(got[1])
            elapsed = time.perf_counter() - start
            point = {"step": len(self.step_ms), "loss": loss, "t_s": round(ctx.elapsed(), 4),
                     "batch_size": len(got[1])}
            self.curve.append(point)
            spent = max(0.0, self.ctx.spec.budget_s - ctx.time_left())
            ctx.progress(len(self.step_ms), p["max_steps"], loss=loss,
                         fraction=spent / max(self.ctx.spec.budget_s, 1e-6), eta_s=ctx.time_left(),
                         batch_size=len(got[1]), step_ms=round(ms, 3),
                         samples_per_s=round(self.samples / max(elapsed, 1e-9), 2))
        self.train_wall_s = time.perf_counter() - start
        self.model.eval()

    def _step(self, inputs, labels) -> tuple[float, float]:  # noqa: ANN001
        start = time.perf_counter()
        inputs, labels = self._to_device(inputs), labels.to(self.device, non_blocking=True)
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.loss_fn(self._logits(inputs).float(), labels)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            self.optimizer.step()
        value = float(loss.detach())  # syncs the device: the step is done
        synchronize(self.device)
        return value, (time.perf_counter() - start) * 1000.0

    def _step_down(self, err: BaseException) -> None:
        import gc

        self.oom_step_downs.append(self.batch)
        self.optimizer.zero_grad(set_to_none=True)
        gc.collect()
        empty_cache(self.device)
        old, self.batch = self.batch, max(1, self.batch // 2)
        self.ctx.log(f"out of memory at batch {old} ({str(err).splitlines()[0][:120]}); "
                     f"going on with batch {self.batch}", level="warning")
