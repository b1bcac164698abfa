"""Before a probe starts: is the spec sane, and will it fit in the memory that is free now?

``check_spec`` catches what would only fail later in the child (an unknown kind, int8 on a
GPU, a GPU that is not there, a fine-tune without data, a setting the kind does not know). ``preflight`` compares the
estimator's prediction for the probe's heaviest workload with the memory free on the device
right now (the fit rule of :mod:`selector.core.estimate.fit`); a probe that would not fit is
refused, with both numbers, unless forced.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

from selector.core.catalog.entry import CatalogEntry
from selector.core.errors import SelectorError
from selector.core.estimate.fit import MARGIN, NO, TIGHT, fit_status
from selector.core.probes.settings import check_params
from selector.core.probes.spec import ProbeSpec
from selector.core.units import fmt_mib


@dataclass
class Preflight:
    """The verdict of the pre-flight check. ``fits`` is None when there was no estimate."""

    device: str
    estimate_mib: float | None
    """Predicted peak memory of the probe's heaviest workload, MiB."""
    free_mib: float | None
    """Memory free on the device just before the probe, MiB (RAM available / GPU free)."""
    fits: bool | None
    forced: bool
    message: str
    workload: str = ""
    """What was estimated, in words: ``inference (fp32), batch 32``."""
    method: str = ""
    """How the estimate was made (traced profile or rule of thumb)."""
    estimate: dict[str, Any] | None = None
    """The full ``MemoryEstimate.to_dict()`` of the heaviest workload."""

    @property
    def refused(self) -> bool:
        return self.fits is False and not self.forced

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def check_spec(spec: ProbeSpec, gpu_count: int | None = None) -> None:
    """``SelectorError`` for a spec that cannot run (checked before any process starts)."""
    from selector.core.probes.environment import ProbeSettingError
    from selector.core.probes.kinds.latency import check_dtypes
    from selector.core.probes.registry import get_kind

    try:
        kind = get_kind(spec.kind)
    except KeyError as err:
        raise SelectorError(str(err.args[0])) from None
    device = spec.device
    head, _, index_text = device.partition(":")
    if not (device in ("cpu", "mps") or (head in ("cuda", "xpu") and (not index_text or index_text.isdigit()))):
        raise SelectorError(f"unknown device {device!r}: use cpu, cuda or cuda:N (xpu[:N], mps)")
    if device.startswith("cuda") and gpu_count is not None:
        index = int(device[5:]) if ":" in device else 0
        if index >= gpu_count:
            raise SelectorError(f"{device} asked for, but this machine has {gpu_count} NVIDIA GPU(s)")
    if not spec.batch_sizes or any(int(b) < 1 for b in spec.batch_sizes):
        raise SelectorError(f"batch sizes must be 1 or more, got {spec.batch_sizes}")
    if spec.kind == "latency":
        try:
            check_dtypes(spec.dtypes, "cpu" if device == "cpu" else "cuda")
        except ProbeSettingError as err:
            raise SelectorError(str(err)) from None
    if kind.needs_data and not spec.data:
        raise SelectorError(f"the {spec.kind} probe needs data: --data FOLDER|FILE|sample")
    if spec.budget_s <= 0:
        raise SelectorError(f"the time budget must be positive, got {spec.budget_s:g} s")
    check_params(spec.kind, spec.params)
    if spec.kind == "latency":
        from selector.core.runtimes import check_runtimes

        check_runtimes(spec.params.get("runtime") or ["eager"], spec.params.get("quantize"), device)


def workloads(spec: ProbeSpec, entry: CatalogEntry) -> list[Any]:
    """The estimator's ``Workload`` for each thing the probe will run (its peak is the max)."""
    from selector.core.estimate.memory import Workload

    if entry.is_decoder:
        return _decoder_workloads(spec)
    seq_len = int(spec.params.get("seq_len") or spec.params.get("max_length") or
                  (entry.input_size[0] if entry.is_text and entry.input_size else 128))
    if spec.kind == "finetune":
        dtype = "amp" if spec.cuda and spec.params.get("amp", True) else "fp32"
        return [Workload(mode="train", batch_size=int(spec.batch_sizes[0]), seq_len=seq_len,
                         dtype=dtype, optimizer="adamw")]
    dtypes = [{"int8": "fp32"}.get(d, d) for d in (spec.dtypes or ["fp32"])]
    return [Workload(mode="inference", batch_size=int(b), seq_len=seq_len, dtype=d)
            for d in dict.fromkeys(dtypes) for b in spec.batch_sizes]


def _decoder_workloads(spec: ProbeSpec) -> list[Any]:
    """A decoder's probe as the LLM estimator sees it: the context is prompt plus generated
    tokens (latency), the training block and LoRA rank (fine-tune), the scored block (perplexity)."""
    from selector.core.estimate.memory import Workload
    from selector.core.probes.settings import SETTINGS

    cls = SETTINGS.get(spec.kind)
    p = cls.from_dict(spec.params).to_dict() if cls is not None else {}
    if spec.kind == "finetune":
        return [Workload(mode="train", batch_size=int(spec.batch_sizes[0]), seq_len=int(p.get("max_length") or 128),
                         dtype="fp32", lora_rank=int(p.get("lora_rank") or 0))]
    if spec.kind == "perplexity":
        return [Workload(mode="inference", batch_size=int(p["batch_size"]), seq_len=int(p["max_length"]))]
    tokens = int(p.get("prompt_len") or 128) + int(p.get("gen_len") or 32)
    return [Workload(mode="inference", batch_size=int(b), seq_len=tokens, dtype=d)
            for d in dict.fromkeys(spec.dtypes or ["fp32"]) for b in spec.batch_sizes]


def estimate_probe(spec: ProbeSpec, entry: CatalogEntry) -> tuple[float, Any]:
    """``(peak MiB, MemoryEstimate of the heaviest workload)``. A sweep with a non-fp32
    variant also holds the fp32 model while the variant runs: its weights are added."""
    from selector.core.estimate.memory import estimate_memory

    estimates = [estimate_memory(entry, w, spec.device) for w in workloads(spec, entry)]
    worst = max(estimates, key=lambda e: e.total_mib)
    total = worst.total_mib
    if spec.kind == "latency" and any(d != "fp32" for d in spec.dtypes) and "fp32" in spec.dtypes:
        fp32 = [e for e in estimates if e.workload.dtype == "fp32"]
        total += fp32[0].weights_mib if fp32 else 0.0
    return total, worst


def free_memory_mib(device: str) -> float | None:
    """Memory free on ``device`` now: RAM available (psutil), GPU free (NVML), or as the
    device's own platform reports it (AMD, Intel, Apple: ``selector.core.devices``)."""
    if device == "cpu":
        import psutil

        return psutil.virtual_memory().available / 2**20
    from selector.core.hardware import detect_hardware, detect_nvidia_gpus

    index = int(device.split(":")[1]) if ":" in device else 0
    if device.startswith("cuda"):
        for gpu in detect_nvidia_gpus()[0]:
            if gpu.index == index:
                return gpu.memory_free_mib
    try:
        return detect_hardware(include_torch=False).device(device).free_mib
    except KeyError:
        return None


def preflight(spec: ProbeSpec, entry: CatalogEntry,
              free_mib: Callable[[str], float | None] = free_memory_mib) -> Preflight:
    """The verdict for ``spec`` now. A caller-supplied ``spec.estimate["total_mib"]`` wins over
    the estimator; no estimate at all means the probe runs (``fits`` None)."""
    free = free_mib(spec.device)
    worst = None
    if spec.estimate and spec.estimate.get("total_mib") is not None:
        total = float(spec.estimate["total_mib"])
    else:
        try:
            total, worst = estimate_probe(spec, entry)
        except Exception as err:  # noqa: BLE001 - no estimate must not block a measurement
            return Preflight(spec.device, None, free, None, spec.force, f"no memory estimate ({err})")
    what = worst.workload.describe() if worst is not None else ""
    method = worst.method if worst is not None else "given by the caller"
    if free is None:
        return Preflight(spec.device, total, None, None, spec.force,
                         f"estimated {fmt_mib(total)}; free memory on {spec.device} unknown",
                         what, method, worst.to_dict() if worst else None)
    status = fit_status(total, free)
    fits = status != NO
    if fits:
        message = f"estimated {fmt_mib(total)} of {fmt_mib(free)} free on {spec.device}"
        if status == TIGHT:
            message += f" (tight: within the {MARGIN:.0%} safety margin)"
    else:
        message = (f"{spec.model} {what or spec.kind} needs about {fmt_mib(total)} on {spec.device} "
                   f"(estimate), but only {fmt_mib(free)} is free")
        message += ("; running it anyway (forced)" if spec.force else
                    "; free some memory, lower the batch size, or force it (--force)")
    return Preflight(spec.device, round(total, 1), round(free, 1), fits, spec.force, message, what,
                     method, worst.to_dict() if worst else None)
