"""Transferability probe: how well a model's frozen features suit the user's data, in seconds.

It draws a capped, class-balanced sample of the data (``sampling.select_sample``: the same
samples in the same order for every model, so their scores compare), extracts each sample's
penultimate features, and scores them (``score_features``: LogME, leave-one-out k-NN,
k-fold linear probe) and the data need (``learning_curve``: accuracy at 5, 10, 25, 50
labels per class and all).

Features:

- timm models: ``forward_head(forward_features(x), pre_logits=True)``, the pooled features
  the classifier would see (spatial or token maps, from models without pooling, are
  averaged), preprocessed with the model's own eval transform (timm data config).
- text models: the encoder's last hidden state, averaged over the real tokens (attention
  mask) by default (``text_pooling="mean"``); ``"cls"`` takes the first token, ``"pooler"``
  the model's pooled output. Mean pooling works for every encoder (BERT-style poolers are
  trained for next-sentence prediction, sentence-transformers models use the mean).

The features are cached per model (id, weights file, preprocessing, extraction settings)
and sampled data (``transfer.cache``): a rerun loads neither the model nor the images again.
Pretrained weights are used when local, else the architecture with random weights; the
result then says plainly that the scores say nothing of the pretrained model.

``spec.params``: :class:`selector.core.probes.settings.TransferSettings` (an unknown key is an
error that names the accepted ones).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from selector.core.errors import SelectorError
from selector.core.probes.context import is_oom
from selector.core.probes.settings import TransferSettings

DEFAULTS: dict[str, Any] = TransferSettings().to_dict()
POOLINGS = ("mean", "cls", "pooler")
RANDOM_CAVEAT = ("architecture-only (random) weights: these scores measure random features and say "
                 "nothing of the pretrained model; do not rank on them")


def run(spec, ctx) -> dict[str, Any]:  # noqa: ANN001 - ProbeSpec, ProbeContext
    import torch

    from selector.core.data.dataset import DataError, DatasetSpec, load_dataset
    from selector.core.probes import environment as env
    from selector.core.probes.loading import entry_for
    from selector.core.transfer import cache
    from selector.core.transfer.sampling import DEFAULT_MAX_ITEMS, select_sample

    p = TransferSettings.from_spec(spec).to_dict()
    if p["text_pooling"] not in POOLINGS:
        raise SelectorError(f"text_pooling must be one of {', '.join(POOLINGS)}, not {p['text_pooling']!r}")
    device = env.resolve_device(spec.device)
    software = env.software_versions()
    if not spec.data:
        raise DataError("the transfer probe needs data: a folder, a text file, or 'sample'")
    entry = entry_for(spec)
    steps: dict[str, float | None] = {}

    t0 = time.perf_counter()
    ctx.phase("data", f"reading {spec.data.get('source')}")
    data_spec = DatasetSpec.from_dict(spec.data)
    cap = int(p["max_items"] or data_spec.max_items or DEFAULT_MAX_ITEMS)
    data_spec.max_items = None  # the balanced cap below replaces the proportional one
    data = load_dataset(data_spec, task=entry.task)
    for note in data.notes:
        ctx.log(note)
    sample = select_sample(data, cap, int(p["seed"]))
    if sample.dropped_classes:
        ctx.log("classes with fewer than 2 samples left out: " + ", ".join(
            f"{k} ({v})" for k, v in sample.dropped_classes.items()), level="warning")
    sampled = {"source": data.source, "modality": data.modality, "text_column": data.text_column,
               "label_column": data.label_column, "sample_seed": data_spec.seed,
               "sample_per_class": data_spec.sample_per_class, "cap": cap, "seed": int(p["seed"]),
               "ids": sample.ids,
               "items": cache.sample_fingerprint([data.items[i] for i in sample.indices],
                                                 sample.labels, data.modality)}
    sample_digest = cache.digest(sampled, 16)
    steps["data"] = time.perf_counter() - t0
    precision = _precision(device, bool(p["amp"]))
    key = None
    t0 = time.perf_counter()
    if p["cache"]:
        fingerprint = cache.model_fingerprint(entry, spec.weights, {
            "seed": int(p["seed"]), "precision": precision,
            "pooling": p["text_pooling"] if entry.is_text else None,
            "max_length": p["max_length"] if entry.is_text else None,
            "versions": {k: software.get(k) for k in ("torch", "timm", "transformers")}})
        key = cache.feature_key(fingerprint, sampled) if fingerprint is not None else None
        steps["fingerprint"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    hit = cache.load_features(key, sample.ids) if key else None
    steps["cache_read"] = time.perf_counter() - t0 if key else None
    if hit is not None:
        meta = hit.meta
        features, labels = hit.features, hit.labels
        ctx.log(f"features from cache ({hit.path and hit.path.name}, extracted {meta.get('saved_at', '?')} "
                f"in {meta.get('extract_s', 0):.1f} s)")
        ctx.start_budget()
        extraction = dict(meta.get("extraction") or {}, partial=False)
        weights, weights_note = meta.get("weights", ""), meta.get("weights_note", "")
        steps.update(load=None, extract=None)
        peaks: dict[str, Any] = {}
    else:
        torch.manual_seed(int(p["seed"]))  # random-weight features are reproducible
        from selector.core.probes.loading import load_model
        from selector.core.probes.memory import MemoryMonitor

        ctx.phase("load", f"building {spec.model}")
        loaded = load_model(spec, device)
        steps["load"] = loaded.load_s
        weights, weights_note = loaded.weights, loaded.weights_note
        if weights == "random":
            ctx.log(f"{spec.model}: {RANDOM_CAVEAT}", level="warning")
        extractor = _Extractor(ctx, loaded, device, precision, p, batch=_batch(spec, p))
        monitor = MemoryMonitor(device, poll_s=float(p["rss_poll_ms"]) / 1000).start()
        ctx.start_budget()
        try:
            ctx.phase("extract", f"features of {len(sample.indices)} samples "
                                 f"({extractor.precision}, batch {extractor.batch})")
            features, kept = extractor.run(data, sample.indices)
            peaks = monitor.peaks()
        finally:
            monitor.stop()
        steps["extract"] = extractor.wall_s
        labels = [sample.labels[j] for j in kept]
        extraction = extractor.describe(len(sample.indices))
        if key and not extraction["partial"]:
            t0 = time.perf_counter()
            path = cache.save_features(key, features, labels, [sample.ids[j] for j in kept], {
                "model_id": spec.model, "weights": weights, "weights_note": weights_note,
                "extract_s": round(extractor.wall_s, 4), "extraction": extraction})
            steps["cache_write"] = time.perf_counter() - t0
            ctx.log(f"features cached in {path}")
    scores, curve = _score(ctx, spec, p, features, labels, extraction, steps)
    meaningful = weights != "random"
    row = scores.to_dict()
    row.update({
        "model_id": spec.model, "device": device, "weights": weights, "weights_note": weights_note,
        "scores_meaningful": meaningful, "caveat": "" if meaningful else RANDOM_CAVEAT,
        "from_cache": hit is not None,
        "cache_file": str(hit.path) if hit else (str(cache.cache_path(key)) if key else ""),
        "cache_key": key or "", "cached_at": hit.meta.get("saved_at") if hit else None,
        "sample_digest": sample_digest if not extraction["partial"] else sample_digest + "-partial",
        **extraction, "sample": sample.to_dict(), "data": data.summary(),
        "learning_curve": curve.to_dict() if curve is not None else None,
        "step_s": {k: None if v is None else round(v, 4) for k, v in steps.items()},
        "threads": torch.get_num_threads(), "score_threads": p["score_threads"],
        **{k: peaks.get(k) for k in ("peak_rss_mib", "cuda_max_allocated_mib", "nvml_process_mib")},
        "software": software,
    })
    ctx.row(row)
    summary = {**scores.summary(), "label_digest": scores.label_digest, "weights": weights,
               "scores_meaningful": meaningful, "from_cache": hit is not None,
               "partial": extraction["partial"],
               "samples_per_s": None if hit else extraction.get("samples_per_s"),
               **{f"{k}_s": row["step_s"].get(k)
                  for k in ("data", "load", "extract", "scores", "curve")}}
    return {"weights": weights, "weights_note": weights_note, "rows": [row], "summary": summary,
            "settings": {**p, "max_items": cap, "device": device,
                         **{k: extraction[k] for k in ("precision", "batch_size", "feature_method",
                                                       "preprocessing")}},
            "software": software, "message": _message(scores, extraction, hit is not None, meaningful)}


# ----------------------------------------------------------------------------- scoring

def _score(ctx, spec, p, features, labels, extraction, steps):  # noqa: ANN001, ANN202
    from selector.core.transfer import learning_curve, score_features

    counts = {name: labels.count(name) for name in dict.fromkeys(labels)}
    if extraction["partial"]:
        short = {k: v for k, v in extraction["requested_per_class"].items() if counts.get(k, 0) < 2}
        why = ("you stopped it" if ctx.stop_requested.is_set()
               else f"the time budget of {spec.budget_s:g} s ran out")
        done = f"{len(labels)} of {extraction['requested']} samples"
        if short:
            named = ", ".join(f"{k!r} ({counts.get(k, 0)})" for k in list(short)[:5])
            raise SelectorError(
                f"{why} after extracting the features of {done}; the scores need at least 2 "
                f"samples of every class and these have fewer: {named}. Raise the budget "
                f"(--budget) or score fewer samples (--max-items)")
        ctx.log(f"{why}: scoring the {done} extracted (a balanced prefix); these scores do not "
                f"compare with models scored on all samples", level="warning")
    ctx.phase("scores", f"LogME, k-NN and linear probe on {len(labels)} samples")
    t0 = time.perf_counter()
    scores = score_features(features, np.asarray(labels), n_boot=int(p["n_boot"]),
                            seed=int(p["seed"]), threads=p["score_threads"])
    steps["scores"] = time.perf_counter() - t0
    curve = None
    if p["curve"] and not ctx.stop_requested.is_set():
        ctx.phase("curve", "accuracy against labels per class (data need)")
        t0 = time.perf_counter()
        curve = learning_curve(features, np.asarray(labels), shots=tuple(p["shots"]),
                               repeats=int(p["repeats"]), seed=int(p["seed"]),
                               threads=p["score_threads"])
        steps["curve"] = time.perf_counter() - t0
    return scores, curve


def _message(scores, extraction: dict, from_cache: bool, meaningful: bool) -> str:  # noqa: ANN001
    text = (f"LogME {scores.logme:.3f}, k-NN {100 * scores.knn_balanced_accuracy:.1f}%, linear probe "
            f"{100 * scores.linear_balanced_accuracy:.1f}% (balanced) on {scores.n_samples} samples "
            f"in {scores.n_classes} classes, {scores.n_features}-dim features")
    if from_cache:
        text += "; features from cache"
    if extraction["partial"]:
        text += f"; partial: {scores.n_samples} of {extraction['requested']} samples (time budget)"
    if not meaningful:
        text += "; " + RANDOM_CAVEAT
    return text


# ----------------------------------------------------------------------------- the cache key

def _precision(device: str, amp: bool) -> str:
    if not device.startswith("cuda") or not amp:
        return "fp32"
    import torch

    return "bf16-autocast" if torch.cuda.is_bf16_supported() else "fp16-autocast"


def _batch(spec, p) -> int:  # noqa: ANN001
    return max(1, int(p["batch_size"] or max(spec.batch_sizes or [32])))


# ----------------------------------------------------------------------------- extraction

class _Extractor:
    """Batched feature extraction in inference mode (autocast on CUDA), halving the batch
    when the device runs out of memory, stopping when the budget is spent."""

    def __init__(self, ctx, loaded, device: str, precision: str, p: dict, batch: int) -> None:  # noqa: ANN001
        import torch

        from selector.core.probes.kinds.finetune import _preprocessing  # the fine-tune's own

        self.ctx, self.loaded, self.device, self.batch = ctx, loaded, device, batch
        self.model = loaded.model.eval()
        self.text = loaded.entry.is_text
        self.pooling = p["text_pooling"]
        self.prep = _preprocessing(loaded, p["max_length"])
        self.batcher_args: dict[str, Any] = {"transform": self.prep.get("transform"),
                             "tokenizer": self.prep.get("tokenizer_obj"),
                             "max_length": int(self.prep["input_size"][0]) if self.text else 0}
        self.requested_per_class: dict[str, int] = {}
        self.amp_dtype = {"bf16-autocast": torch.bfloat16,
                          "fp16-autocast": torch.float16}.get(precision)
        self.precision = precision
        self.fp32_retries = 0
        self.oom_step_downs: list[int] = []
        self.wall_s = self.forward_s = 0.0
        self.partial = False
        self.done = 0
        if not self.text and hasattr(self.model, "forward_head"):
            self.method = ("timm forward_features + forward_head(pre_logits=True): the pooled "
                           "penultimate features")
        elif not self.text:
            self.model.reset_classifier(0)
            self.method = "timm model with the classifier removed (reset_classifier(0))"
        else:
            self.method = {"mean": "mean of the last hidden state over the real tokens",
                           "cls": "last hidden state of the first ([CLS]) token",
                           "pooler": "the model's pooled output"}[self.pooling]

    def describe(self, requested: int) -> dict[str, Any]:
        counts = self.requested_per_class
        return {"feature_method": self.method, "preprocessing": self.prep["description"],
                "input_size": self.prep["input_size"], "precision": self.precision,
                "batch_size": self.batch, "oom_step_downs": self.oom_step_downs,
                "fp32_retries": self.fp32_retries, "partial": self.partial,
                "requested": requested, "requested_per_class": counts,
                "extract_s": round(self.wall_s, 4), "forward_s": round(self.forward_s, 4),
                "samples_per_s": round(self.done / self.wall_s, 3) if self.wall_s else None,
                "forward_samples_per_s": round(self.done / self.forward_s, 3) if self.forward_s else None}

    def run(self, data, indices: list[int]) -> tuple[np.ndarray, list[int]]:  # noqa: ANN001
        """Features (N, D) float32 of the samples that decoded, and their positions in ``indices``."""
        import torch

        from selector.core.data.batches import Batcher

        batcher = Batcher(data, **self.batcher_args)
        for i in indices:
            name = data.classes[data.labels[i]]
            self.requested_per_class[name] = self.requested_per_class.get(name, 0) + 1
        start = time.perf_counter()
        out: list[np.ndarray] = []
        kept: list[int] = []
        pos = 0
        with torch.inference_mode():
            while pos < len(indices):
                if self.ctx.should_stop():
                    self.partial = True
                    break
                chunk = indices[pos:pos + self.batch]
                got = batcher.batch(chunk)
                if got is None:
                    pos += len(chunk)
                    continue
                try:
                    feats = self._forward(got[0])
                except (RuntimeError, MemoryError) as err:
                    if not is_oom(err) or self.batch <= 1:
                        raise
                    self._step_down(err)
                    continue
                out.append(feats)
                kept.extend(pos + j for j, i in enumerate(chunk) if i not in batcher.bad)
                pos += len(chunk)
                self.done = len(kept)
                elapsed = time.perf_counter() - start
                rate = self.done / max(elapsed, 1e-9)
                self.ctx.progress(pos, len(indices), fraction=pos / len(indices),
                                  eta_s=(len(indices) - pos) / max(rate, 1e-9),
                                  samples_per_s=round(rate, 2))
        self.wall_s = time.perf_counter() - start
        if not out:
            if self.partial:
                return np.zeros((0, 0), dtype=np.float32), []
            raise SelectorError("no sample could be decoded: the features cannot be extracted")
        return np.concatenate(out).astype(np.float32, copy=False), kept

    def _forward(self, inputs) -> np.ndarray:  # noqa: ANN001
        import torch

        if isinstance(inputs, dict):
            inputs = {k: v.to(self.device, non_blocking=True) for k, v in inputs.items()}
        else:
            inputs = inputs.to(self.device, non_blocking=True)
        t0 = time.perf_counter()
        feats = self._features(inputs, self.amp_dtype)
        if self.amp_dtype is not None and not bool(torch.isfinite(feats).all()):
            self.fp32_retries += 1  # overflow in half precision: this batch again in fp32
            feats = self._features(inputs, None)
        result = feats.float().cpu().numpy()
        self.forward_s += time.perf_counter() - t0
        return result

    def _features(self, inputs, amp_dtype):  # noqa: ANN001, ANN202
        import torch

        with torch.autocast("cuda", dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
            if not self.text:
                m = self.model
                f = m.forward_head(m.forward_features(inputs), pre_logits=True) \
                    if hasattr(m, "forward_head") else m(inputs)
                return f.mean(dim=tuple(range(2, f.ndim))) if f.ndim == 4 else (
                    f.mean(dim=1) if f.ndim == 3 else f)
            base = getattr(self.model, "base_model", self.model)
            out = base(**inputs)
            hidden = out.last_hidden_state if hasattr(out, "last_hidden_state") else out[0]
            if self.pooling == "cls":
                return hidden[:, 0]
            if self.pooling == "pooler":
                pooled = getattr(out, "pooler_output", None)
                if pooled is None:
                    raise SelectorError(f"{self.loaded.entry.id} has no pooled output; "
                                        "use text_pooling 'mean' or 'cls'")
                return pooled
            mask = inputs["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)

    def _step_down(self, err: BaseException) -> None:
        import gc

        import torch

        self.oom_step_downs.append(self.batch)
        gc.collect()
        if self.device.startswith("cuda"):
            torch.cuda.empty_cache()
        old, self.batch = self.batch, max(1, self.batch // 2)
        self.ctx.log(f"out of memory at batch {old} ({str(err).splitlines()[0][:120]}); "
                     f"going on with batch {self.batch}", level="warning")
