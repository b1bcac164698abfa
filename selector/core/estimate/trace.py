"""Activation profiles: what a model keeps in memory, traced on the ``meta`` device.

``profile_entry(model, entry) -> dict`` runs the model three times on meta tensors (no real
memory is touched, no weights are needed): an inference forward, a training step (forward,
cross-entropy, backward) and the same step with gradient checkpointing on. A
``TorchDispatchMode`` sees every tensor an op creates and follows the *storage* behind it with
a weak reference, so it knows at every moment which bytes are alive: what autograd saved for
backward, the transients of each op, the gradients as they accumulate. Views and in-place ops
cost nothing, as on a real device.

Each live byte is filed in one of five classes, so a profile traced at one batch size and
input size scales to any other without the model:

- ``grads``: parameter gradients (identified by a post-accumulate-grad hook);
- ``fixed``: does not depend on the batch (derived from parameters only, or a weight-sized
  transient of the backward);
- ``sample``: per sample, independent of input size (pooled features, logits);
- ``lin``: per sample, proportional to pixels (images) or tokens (text);
- ``quad``: per sample, proportional to tokens squared (attention maps, masks; text only).

Per-sample means "depends on the input" (taint from the input tensors) and its size is a
multiple of the traced batch, 11, a prime no layer width is likely to share.

The peak of a run is not one number but an envelope: at batch 1 the peak may come at the end
of the backward (all gradients alive), at batch 256 at the end of the forward (all
activations alive). The profile keeps, for a grid of batch sizes and input-size ratios, the
moment that was highest; ``estimate_memory`` takes the maximum over those points for the
workload at hand, which is exact for any workload on the grid and close between them.

Attention: on meta, ``scaled_dot_product_attention`` falls back to the math path, which
materialises the (tokens x tokens) attention map, while real CPUs and GPUs run a fused kernel
(flash / memory-efficient) that keeps only a log-sum-exp. The tracer replaces SDPA by a
stand-in that allocates and saves exactly what the fused kernels do. PyTorch's CPU kernel has
no dropout, so a model with attention dropout (BERT's 0.1) falls back to the math path when it
trains on CPU: for such models the training step is also traced with the math path
(``train_math``, ``train_ckpt_math``).

The profile format (sizes are bytes at the traced dtype, float32; per-sample figures are
already divided by the traced batch)::

    {"version": 2, "torch": "2.x", "kind": "image" | "text",
     "traced": {"batch": 11, "image_size": 224} | {"batch": 11, "seq_len": 128},
     "param_bytes", "trainable_param_bytes", "buffer_bytes", "largest_param_bytes",
     "param_tensors", "input_bytes_per_sample",
     "inference": {"peak": [[grads, fixed, sample, lin, quad], ...],   # the envelope
                   "peak_cpu": [...],     # the same with oneDNN's convolution copies (CPU)
                   "written": [fixed, per_sample],   # bytes written by non-MAC ops
                   "ops": n},
     "train": {"peak": [...], "peak_cpu": [...],
               "saved": [5 numbers at the end of the forward], "ops": n} | None,
     "train_ckpt": {...} | None,         # None: no gradient checkpointing in this model
     "train_math": {...} | None, "train_ckpt_math": {...} | None,
     "attention": {"calls": n, "dropout": bool},
     "macs_per_sample": {"conv": x, "depthwise": x, "matmul": x, "attention": x},
     "errors": {"train": "...", ...},    # runs that failed (the others are kept)
     "data_dependent_ops": n,            # .item() calls answered with a stand-in (1/False)
     "seconds": t, "cpu_seconds": t}     # wall-clock and CPU time of the trace

On CPU, each convolution also holds oneDNN's blocked-format copies of its input, weights
and output while it runs (``ONEDNN_VERBOSE`` shows the reorders); ``peak_cpu`` counts them.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from typing import TYPE_CHECKING, Any, Iterator

from selector.core.estimate.tracker import ShapeRules, SdpaRecorder, Tracker

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from selector.core.catalog.entry import CatalogEntry

PROFILE_VERSION = 2
"""2 added ``peak_cpu``, ``peak_amp``, ``written``, ``param_tensors`` and ``errors``;
``estimate_memory`` still reads version 1 (and says what it lacks)."""
TRACE_BATCH = 11

def profile_entry(model: "torch.nn.Module", entry: "CatalogEntry") -> dict[str, Any]:
    """Trace ``model`` (built on the meta device) with inputs shaped like ``entry`` expects.

    Images: ``(11, *entry.input_size)``, default ``(3, 224, 224)``. Text: ``input_ids`` of
    ``(11, entry.input_size[0])``, default sequence length 128, no padding (an all-ones
    attention mask is dropped by transformers anyway). Returns the JSON-able profile described
    in the module docstring. Raises ``ValueError`` if the model has real (non-meta) parameters.
    """
    if entry.is_text:
        seq_len = int(entry.input_size[0]) if entry.input_size else 128
        return profile_model(model, "text", seq_len=seq_len)
    size = tuple(entry.input_size) if entry.input_size else (3, 224, 224)
    return profile_model(model, "image", image_shape=size)


def ensure_profile(entry: "CatalogEntry", model: "torch.nn.Module | None" = None) -> dict[str, Any] | None:
    """``entry.activation``, traced now (and stored on the entry) when it is missing.

    ``model`` is the entry's model on the meta device; without one, timm entries are built
    from their architecture and text entries from their config, on meta. None when the
    entry cannot be built that way (a local model without a model given) or the trace fails.
    """
    if entry.activation:
        return entry.activation
    import torch

    try:
        if model is None:
            with torch.device("meta"):
                if entry.source == "timm":
                    import timm

                    model = timm.create_model(entry.architecture, pretrained=False)
                elif entry.is_text and entry.config:
                    import transformers

                    config = dict(entry.config)
                    cfg = transformers.AutoConfig.for_model(config.pop("model_type"), **config)
                    cfg.num_labels = entry.num_classes or 2
                    model = transformers.AutoModelForSequenceClassification.from_config(cfg)
                else:
                    return None
        entry.activation = profile_entry(model, entry)
    except Exception:  # noqa: BLE001 - no profile: the estimate falls back to a rule of thumb
        return None
    return entry.activation


def profile_model(
    model: "torch.nn.Module",
    kind: str,
    image_shape: tuple[int, ...] = (3, 224, 224),
    seq_len: int = 128,
) -> dict[str, Any]:
    """Trace a meta-device ``model`` for images (``image_shape`` = C, H, W) or text."""
    import torch

    params = list(model.parameters())
    if any(p.device.type != "meta" for p in params):
        raise ValueError("profile_model needs a model built on the meta device")
    start, cpu_start = time.perf_counter(), time.process_time()
    batch = TRACE_BATCH
    if kind == "text":
        size_key, size = "seq_len", seq_len

        def make_input() -> Any:
            return {"input_ids": torch.zeros(batch, seq_len, dtype=torch.long, device="meta")}

        input_bytes = seq_len * 8
    else:
        size_key, size = "image_size", int(image_shape[-1])

        def make_input() -> Any:
            return torch.empty(batch, *image_shape, device="meta")

        input_bytes = 4
        for d in image_shape:
            input_bytes *= int(d)
    shape_info = ShapeRules(kind, batch, seq_len if kind == "text" else None)
    was_training = model.training
    profile: dict[str, Any] = {
        "version": PROFILE_VERSION,
        "torch": torch.__version__.split("+")[0],
        "kind": kind,
        "traced": {"batch": batch, size_key: size},
        "param_bytes": sum(p.numel() * p.element_size() for p in params),
        "trainable_param_bytes": sum(p.numel() * p.element_size() for p in params if p.requires_grad),
        "buffer_bytes": sum(b.numel() * b.element_size() for b in model.buffers()),
        "largest_param_bytes": max((p.numel() * p.element_size() for p in params), default=0),
        "param_tensors": len(params),
        "input_bytes_per_sample": input_bytes,
    }
    sdpa = SdpaRecorder()
    runs: list[_Run] = []

    def trace(train: bool, fused: bool = True) -> dict[str, Any]:
        with sdpa.fused() if fused else contextlib.nullcontext():
            run = _run(model, make_input, shape_info, train=train)
        runs.append(run)
        return run.result()

    errors: dict[str, str] = {}
    try:
        with _quiet():
            model.eval()
            with torch.no_grad():
                profile["inference"] = trace(train=False)
            profile["macs_per_sample"] = {k: v / batch for k, v in runs[0].macs.items()}
            profile["macs_per_sample"]["attention"] = sdpa.macs / batch
            sdpa.reset()
            model.train()
            for key in ("train", "train_math", "train_ckpt", "train_ckpt_math"):
                profile[key] = None
            try:
                profile["train"] = trace(train=True)
                if sdpa.dropout:
                    profile["train_math"] = trace(train=True, fused=False)
            except Exception as err:  # noqa: BLE001 - inference alone is still worth keeping
                errors["train"] = _short(err)
            profile["attention"] = {"calls": sdpa.calls, "dropout": sdpa.dropout}
            if profile["train"] is not None and _set_checkpointing(model, True):
                try:
                    profile["train_ckpt"] = trace(train=True)
                    if sdpa.dropout:
                        profile["train_ckpt_math"] = trace(train=True, fused=False)
                except Exception as err:  # noqa: BLE001
                    errors["train_ckpt"] = _short(err)
                finally:
                    _set_checkpointing(model, False)
    finally:
        model.train(was_training)
        for p in params:
            p.grad = None
    profile["errors"] = errors
    profile["data_dependent_ops"] = sum(r.tracker.data_dependent for r in runs)
    profile["seconds"] = round(time.perf_counter() - start, 3)
    profile["cpu_seconds"] = round(time.process_time() - cpu_start, 3)
    return profile


def _short(err: BaseException) -> str:
    text = f"{type(err).__name__}: {err}".splitlines()[0]
    return text[:200]


# ------------------------------------------------------------------------------ the tracer
class _Run:
    def __init__(self, tracker: "Tracker", ops: int) -> None:
        self.tracker, self.ops = tracker, ops
        self.macs = tracker.macs

    def result(self) -> dict[str, Any]:
        t = self.tracker
        out: dict[str, Any] = {"peak": t.envelope(), "peak_cpu": t.envelope("cpu"),
                               "peak_amp": t.envelope("amp"), "ops": self.ops}
        if t.saved is not None:
            out["saved"] = t.per_sample(t.saved)
        else:
            out["written"] = [float(t.written[0]), t.written[1] / t.rules.batch]
        return out


def _run(model: Any, make_input: Any, rules: ShapeRules, train: bool) -> _Run:
    import torch
    import torch.nn.functional as F

    inputs = make_input()
    tracker = Tracker(rules)
    tracker.exclude(model.parameters())
    tracker.exclude(model.buffers())
    for t in inputs.values() if isinstance(inputs, dict) else [inputs]:
        tracker.taint_input(t)
    hooks = []
    if train:
        for p in model.parameters():
            if p.requires_grad:
                hooks.append(p.register_post_accumulate_grad_hook(tracker.on_grad))
    try:
        with tracker:
            out = model(**inputs) if isinstance(inputs, dict) else model(inputs)
            logits = _logits(out)
            if train:
                if logits.ndim == 2:
                    target = torch.zeros(logits.shape[0], dtype=torch.long, device="meta")
                    loss = F.cross_entropy(logits, target)
                else:
                    loss = logits.float().mean()
                del out, logits
                tracker.mark_saved()
                loss.backward()
                del loss
            else:
                del out, logits
    finally:
        for h in hooks:
            h.remove()
        for p in model.parameters():
            p.grad = None
    return _Run(tracker, tracker.ops)


def _logits(out: Any) -> "torch.Tensor":
    import torch

    if isinstance(out, torch.Tensor):
        return out
    logits = getattr(out, "logits", None)
    if isinstance(logits, torch.Tensor):
        return logits
    items = out.values() if isinstance(out, dict) else out if isinstance(out, (tuple, list)) else []
    for item in items:
        if isinstance(item, torch.Tensor):
            return item
    raise TypeError(f"cannot find the logits in a {type(out).__name__} output")


# ------------------------------------------------------------------------------ helpers
def _set_checkpointing(model: Any, enable: bool) -> bool:
    """Turn gradient checkpointing on or off (timm or transformers); False if unsupported."""
    try:
        if hasattr(model, "set_grad_checkpointing"):
            model.set_grad_checkpointing(enable)
            return True
        if getattr(model, "supports_gradient_checkpointing", False):
            if enable:
                fn = getattr(model, "activation_checkpointing_enable", None)
                if fn is None:
                    model.gradient_checkpointing_enable({"use_reentrant": False})
                else:
                    fn({"use_reentrant": False})
            else:
                fn = getattr(model, "activation_checkpointing_disable", None)
                (fn or model.gradient_checkpointing_disable)()
            return True
    except (AssertionError, ValueError, NotImplementedError, AttributeError):
        return False
    return False


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the warnings models print when traced (use_cache, deprecations)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            from transformers.utils import logging as hf_logging
        except ImportError:  # pragma: no cover
            yield
            return
        level = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()
        try:
            yield
        finally:
            hf_logging.set_verbosity(level)
