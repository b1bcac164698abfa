"""Memory needed to run a catalog entry: weights, gradients, optimizer state, activations, overhead.

``estimate_memory(entry, workload, device_kind)`` reads the entry's activation profile (traced
once by :mod:`selector.core.estimate.trace`) and scales it to the workload: batch size, image
size or sequence length, dtype, optimizer, gradient checkpointing. No torch, no model: a few
microseconds per entry, so the GUI can refit the whole catalog while the user types.

What each part means (MiB):

- ``weights``: parameters and buffers, in the workload's dtype (AMP keeps fp32 master weights).
- ``gradients``: one gradient per trainable parameter (training only).
- ``optimizer``: AdamW keeps two moments, SGD one momentum buffer, in the parameters' dtype;
  plus the step's temporaries when the peak falls in ``optimizer.step()`` (AdamW's
  ``sqrt(v)``: one parameter's worth per tensor on CPU, all parameters at once with the
  multi-tensor kernels CUDA uses).
- ``activations``: the input batch, what autograd keeps for backward, and op transients, at
  the moment of the peak, beyond the gradients alive then. From the traced profile.
- ``allocator``: what the allocator holds beyond the live tensors: glibc malloc's kept and
  fragmented heap on CPU (an allowance fitted on measured peaks), cuBLAS/cuDNN workspaces on
  CUDA.
- ``overhead``: the framework's fixed cost on the device: the CUDA context on a GPU, the
  torch process's baseline RSS (interpreter, torch, timm, transformers imported) on CPU,
  measured (see ``overheads``); callers can pass their own.

``total`` is the sum; ``dynamic_mib`` (total less overhead) is what ``max_memory_allocated``
or the RSS growth of a process shows.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from selector.core.catalog.entry import CatalogEntry

MIB = 1024 * 1024
DTYPES = ("fp32", "fp16", "bf16", "amp")
OPTIMIZERS = ("adamw", "sgd")
MODES = ("inference", "train")

CPU_BASELINE_MIB = 840.0
"""RSS of a Python process with torch, timm, transformers and one transformers model module
imported and one op run (torch 2.14 on Linux x86-64, measured by
``tests/benchmarks/memory_validation.py --baseline``).
``overheads.measure_cpu_baseline()`` re-measures it on the user's machine."""
CUDA_CONTEXT_MIB = 680.0
"""CUDA context + cuBLAS/cuDNN handles, outside ``torch.cuda.memory_allocated``: 682 MiB by NVML
free memory before and after initialisation on an H100 with CUDA 13, driver 580 and lazy
module loading (``memory_validation.py --device cuda``, 2026-11); CUDA 12 on Ampere was
nearer 520 MiB. The larger figure keeps a "fits" badge on the safe side."""
CUDA_WORKSPACE_MIB = 40.0
"""cuBLAS/cuDNN workspaces and allocator rounding, inside the caching allocator (so inside
``max_memory_allocated``)."""
CPU_MALLOC = {"inference": (10.0, 0.8, 100.0, 0.0), "train": (20.0, 0.25, 1000.0, 0.6)}
"""glibc malloc on CPU holds more than the live tensors: tensors under its (dynamic, up to
32 MiB) mmap threshold come from the heap, which keeps freed memory and fragments; gradients
are freed and reallocated every step. Modelled as ``fixed + a * min(activations + gradients,
cap) + g * gradients`` with (fixed MiB, a, cap MiB, g) per mode, fitted on the reference models
of tests/benchmarks/memory_validation.py (so in-sample there: see its table)."""
CPU_LOW_PRECISION_SCALE = 0.75
"""Activations of bf16/fp16/AMP work on CPU relative to fp32: CPU kernels keep fp32 buffers
(the math attention path upcasts; oneDNN reorders); measured 0.57-0.92 on tiny ViT, ResNet and
BERT training (``tests/test_estimate_memory.py`` models, plain malloc)."""
AMP_ACTIVATION_SCALE = 0.6
"""Activations under autocast relative to fp32, for profiles traced before AMP was tracked."""


@dataclass
class Workload:
    """What the user wants to run: inference or one fine-tuning step, and at what size."""

    mode: str = "inference"
    """``inference`` or ``train`` (one fine-tuning step: forward, backward, optimizer step)."""
    batch_size: int = 1
    image_size: int | None = None
    """Square input side in pixels; None: the entry's default resolution."""
    seq_len: int = 128
    """Tokens per sample (text models)."""
    dtype: str = "fp32"
    """``fp32``, ``fp16``, ``bf16`` (the whole model cast) or ``amp`` (fp32 master weights,
    autocast activations: fp16 on CUDA, bf16 on CPU)."""
    optimizer: str = "adamw"
    """``adamw`` or ``sgd`` (with momentum)."""
    grad_checkpointing: bool = False
    quant: str | None = None
    """Decoders: weights packed as ``int8`` (LLM.int8) or ``nf4`` (bitsandbytes 4-bit), computing
    in ``dtype``; None: weights in ``dtype``. ``seq_len`` is then the context in tokens."""
    lora_rank: int = 0
    """Decoders, training: rank of LoRA adapters (0: full fine-tuning; with ``nf4``: QLoRA)."""

    def __post_init__(self) -> None:
        if self.quant not in (None, "int8", "nf4"):
            raise ValueError(f"quantisation must be int8 or nf4, not {self.quant!r}")
        if self.lora_rank < 0:
            raise ValueError(f"LoRA rank must be at least 1 (or 0 for none), not {self.lora_rank}")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, not {self.dtype!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, not {self.optimizer!r}")
        if self.batch_size < 1:
            raise ValueError(f"batch size must be at least 1, not {self.batch_size}")
        if self.image_size is not None and self.image_size < 8:
            raise ValueError(f"image size must be at least 8 pixels, not {self.image_size}")
        if self.seq_len < 1:
            raise ValueError(f"sequence length must be at least 1, not {self.seq_len}")

    @property
    def training(self) -> bool:
        return self.mode == "train"

    def describe(self) -> str:
        """``fine-tuning (AdamW, fp32), batch 32``: for reasons and tables."""
        if self.training:
            what = f"fine-tuning ({'AdamW' if self.optimizer == 'adamw' else 'SGD'}, {self.dtype}"
            what += ", checkpointing)" if self.grad_checkpointing else ")"
        else:
            what = f"inference ({self.dtype})"
        return f"{what}, batch {self.batch_size}"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Workload":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class MemoryEstimate:
    """Peak memory of a workload, in MiB, split by what holds it; ``total_mib`` is the sum."""

    weights_mib: float
    gradients_mib: float
    optimizer_mib: float
    activations_mib: float
    overhead_mib: float
    total_mib: float
    device_kind: str
    """``cpu``, ``cuda``, ``rocm``, ``xpu`` or ``mps``."""
    method: str
    """How the figure was made, in plain words (traced profile or rule of thumb, peak phase)."""
    workload: Workload = field(default_factory=Workload)
    allocator_mib: float = 0.0
    """What the allocator holds beyond live tensors at the peak: glibc malloc's cached and
    fragmented heap on CPU, cuBLAS/cuDNN workspaces on CUDA. Part of ``total_mib``."""
    kv_cache_mib: float = 0.0
    """Decoders: the key/value cache at the workload's batch and context. Part of ``total_mib``."""

    @property
    def dynamic_mib(self) -> float:
        """Everything but the fixed overhead: what ``max_memory_allocated`` / RSS growth show."""
        return self.total_mib - self.overhead_mib

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["workload"] = self.workload.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "MemoryEstimate":
        values = dict(data)
        values["workload"] = Workload.from_dict(values.get("workload") or {})
        return cls(**values)


GPU_KINDS = ("cuda", "rocm", "xpu", "mps")


def device_kind_of(device_id: str) -> str:
    """``cuda:0`` -> ``cuda``; ``xpu:0`` -> ``xpu``; ``mps`` -> ``mps``; else ``cpu``. (An AMD
    GPU is ``cuda:N`` to ROCm torch: its ``MemoryDevice.kind`` says ``rocm``.)"""
    head = device_id.split(":")[0]
    return head if head in GPU_KINDS else "cpu"


def default_overhead_mib(device_kind: str) -> float:
    """The backend's context (plus the process's RAM where memory is unified, see
    ``overheads.backend_overhead_mib``), or this machine's torch process baseline RSS."""
    if device_kind == "cuda":
        return CUDA_CONTEXT_MIB
    from selector.core.estimate import overheads

    return overheads.backend_overhead_mib(device_kind)


def estimate_memory(
    entry: CatalogEntry,
    workload: Workload,
    device_kind: str = "cpu",
    overhead_mib: float | None = None,
) -> MemoryEstimate:
    """Peak memory of ``workload`` for ``entry`` on a device of ``device_kind`` (``cpu``,
    ``cuda``, ``rocm``, ``xpu``, ``mps``; a device id such as ``cuda:0`` works too).

    Uses ``entry.activation`` (a traced profile) when present; otherwise a rule of thumb from
    the parameter count and MACs, said so in ``method``. ``overhead_mib`` overrides the
    device's fixed cost (``default_overhead_mib``).
    """
    device_kind = device_kind if device_kind in GPU_KINDS else device_kind_of(device_kind)
    if overhead_mib is None:
        overhead_mib = default_overhead_mib(device_kind)
    if entry.is_decoder:
        from selector.core.estimate.llm_memory import estimate_decoder_memory

        return estimate_decoder_memory(entry, workload, device_kind, overhead_mib)
    model_kind = "cpu" if device_kind == "cpu" else "cuda"  # GPU allocators behave like CUDA's
    profile = entry.activation
    usable = profile and profile.get("version") in (1, 2) and profile.get("inference")
    if profile and usable and (not workload.training or profile.get("train")):
        parts, method = _from_profile(entry, profile, workload, model_kind)
    else:
        parts, method = _rule_of_thumb(entry, workload)
    weights, grads, optim, acts = (b / MIB for b in parts)
    allocator = _allocator_mib(model_kind, weights, grads, optim, acts, workload)
    total = weights + grads + optim + acts + allocator + overhead_mib
    return MemoryEstimate(
        weights_mib=weights, gradients_mib=grads, optimizer_mib=optim, activations_mib=acts,
        overhead_mib=overhead_mib, total_mib=total, device_kind=device_kind, method=method,
        workload=workload, allocator_mib=allocator,
    )


def _allocator_mib(
    device_kind: str, weights: float, grads: float, optim: float, acts: float, workload: Workload
) -> float:
    """Memory the allocator holds beyond the live tensors (see ``CPU_MALLOC`` / ``CUDA_WORKSPACE_MIB``)."""
    if device_kind == "cuda":
        return CUDA_WORKSPACE_MIB
    fixed, fraction, cap, per_grad = CPU_MALLOC["train" if workload.training else "inference"]
    return fixed + fraction * min(acts + grads, cap) + per_grad * grads


def _dtype_scales(dtype: str) -> tuple[float, float]:
    """(parameter/gradient scale, activation scale) relative to fp32."""
    if dtype in ("fp16", "bf16"):
        return 0.5, 0.5
    return 1.0, 1.0


def _size_ratio(entry: CatalogEntry, profile: dict[str, Any], workload: Workload) -> float:
    """Pixels or tokens of the workload over those traced."""
    traced = profile.get("traced", {})
    if profile.get("kind") == "text":
        return workload.seq_len / max(1, traced.get("seq_len", 128))
    if workload.image_size is None:
        return 1.0
    return (workload.image_size / max(1, traced.get("image_size", 224))) ** 2


def _from_profile(
    entry: CatalogEntry, profile: dict[str, Any], workload: Workload, device_kind: str
) -> tuple[tuple[float, float, float, float], str]:
    p_scale, a_scale = _dtype_scales(workload.dtype)
    b = workload.batch_size
    r = _size_ratio(entry, profile, workload)
    weights = (profile["param_bytes"] + profile["buffer_bytes"]) * p_scale
    input_bytes = b * r * profile["input_bytes_per_sample"]
    if profile.get("kind") != "text":
        input_bytes *= p_scale
    trainable = profile["trainable_param_bytes"] * p_scale
    notes: list[str] = []
    # a version-1 profile (no oneDNN copies) is used as it is; the catalog re-traces the
    # entries a user looks at or probes (catalog.retrace)
    if not workload.training:
        points, a_scale = _points(profile["inference"], device_kind, workload, a_scale, notes)
        acts = _envelope(points, b, r, a_scale, 0.0) + input_bytes
        return (weights, 0.0, 0.0, acts), _method(profile, "inference forward", notes)

    section, label = _train_section(profile, workload, device_kind, notes)
    grads = trainable
    points, a_scale = _points(profile[section], device_kind, workload, a_scale, notes)
    peak_bwd = _envelope(points, b, r, a_scale, p_scale)
    state = trainable * (2.0 if workload.optimizer == "adamw" else 1.0)
    if workload.optimizer == "adamw":
        temp = trainable if device_kind == "cuda" else 2.0 * profile["largest_param_bytes"] * p_scale
    else:
        temp = 0.0
    if peak_bwd - grads >= temp:
        acts, optim = peak_bwd - grads + input_bytes, state
        phase = f"peak in the backward ({label})"
    else:
        acts, optim = input_bytes, state + temp
        phase = "peak in optimizer.step()"
    return (weights, grads, optim, acts), _method(profile, phase, notes)


def _train_section(
    profile: dict[str, Any], workload: Workload, device_kind: str, notes: list[str]
) -> tuple[str, str]:
    """Which traced training run matches: checkpointing, and math attention on CPU."""
    math = (
        device_kind == "cpu"
        and workload.dtype != "fp16"
        and profile.get("attention", {}).get("dropout", False)
    )
    section = "train"
    if workload.grad_checkpointing:
        if profile.get("train_ckpt"):
            section = "train_ckpt"
        else:
            notes.append("no gradient checkpointing in this model: estimated without it")
    if math:
        candidate = section + "_math" if section == "train_ckpt" else "train_math"
        if profile.get(candidate):
            section = candidate
            notes.append("attention dropout runs the math attention path on CPU")
    return section, _SECTION_LABELS[section]


_SECTION_LABELS = {
    "train": "saved activations", "train_ckpt": "checkpointed activations",
    "train_math": "saved activations, math attention",
    "train_ckpt_math": "checkpointed activations, math attention",
}


def _points(
    section: dict[str, Any], device_kind: str, workload: Workload, a_scale: float, notes: list[str]
) -> tuple[list[list[float]], float]:
    """The envelope to use and the scale to apply to it.

    AMP uses the envelope traced with autocast's precisions (already in AMP bytes); the CPU
    envelope includes oneDNN's blocked copies around convolutions.
    """
    if device_kind == "cpu" and workload.dtype != "fp32":
        notes.append(f"{workload.dtype} on CPU: activations at {CPU_LOW_PRECISION_SCALE} of fp32")
        return section.get("peak_cpu") or section["peak"], CPU_LOW_PRECISION_SCALE
    if workload.dtype == "amp":
        if section.get("peak_amp"):
            notes.append("AMP precisions traced per tensor")
            return section["peak_amp"], 1.0
        notes.append("AMP approximated from the fp32 trace")
        return section["peak"], AMP_ACTIVATION_SCALE
    if device_kind == "cpu" and section.get("peak_cpu"):
        return section["peak_cpu"], a_scale
    return section["peak"], a_scale


def _envelope(points: list[list[float]], b: int, r: float, a_scale: float, g_scale: float) -> float:
    """Max over the traced peak moments of grads + fixed + b * (sample + r*lin + r^2*quad)."""
    best = 0.0
    for g, f, s, lin, quad in points:
        value = g * g_scale + (f + b * (s + r * lin + r * r * quad)) * a_scale
        if value > best:
            best = value
    return best


def _method(profile: dict[str, Any], phase: str, notes: list[str]) -> str:
    traced = profile.get("traced", {})
    key = (traced.get("batch"), traced.get("seq_len") or traced.get("image_size"), phase, *notes)
    text = _METHODS.get(key)
    if text is None:
        text = f"traced activations (meta-device trace at batch {key[0]}, size {key[1]}); {phase}"
        text = _METHODS[key] = "; ".join([text, *notes])
    return text


_METHODS: dict[tuple, str] = {}


def _rule_of_thumb(
    entry: CatalogEntry, workload: Workload
) -> tuple[tuple[float, float, float, float], str]:
    """No profile: weights from the parameter count, activations from MACs (rough, labelled)."""
    p_scale, a_scale = _dtype_scales(workload.dtype)
    params = entry.params or entry.published_params or 0
    weights = params * 4.0 * p_scale
    macs = entry.macs or entry.published_macs or 0.0
    if entry.is_vision and workload.image_size and entry.input_size:
        macs *= (workload.image_size / entry.input_size[-1]) ** 2
    if entry.is_text and entry.input_size:
        macs *= workload.seq_len / max(1, entry.input_size[0])
    per_sample = 0.03 * macs if workload.training else 0.004 * macs
    acts = workload.batch_size * per_sample * a_scale
    method = "rule of thumb (no traced profile): activations ~ MACs x "
    method += "0.03 B/MAC for training" if workload.training else "0.004 B/MAC for inference"
    if not workload.training:
        return (weights, 0.0, 0.0, acts), method
    grads = weights
    optim = weights * (2.0 if workload.optimizer == "adamw" else 1.0)
    return (weights, grads, optim, acts), method
