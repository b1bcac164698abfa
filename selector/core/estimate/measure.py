"""Measure the real peak memory of a workload, each in a fresh process, to check the estimates.

``measure_peak(spec, workload, device)`` starts ``python -m selector.core.estimate.measure``
with the model spec and workload as JSON, and returns what the child measured (MiB):

- ``baseline_mib``: the child's RSS with torch, timm, transformers and the model's code imported
  and one op run;
- ``weights_mib``: RSS growth from building the model (random weights, no download), moving it
  to the device and making the input batch (and, for training, the optimizer);
- ``peak_mib``: the peak over the baseline during the measured steps. On CPU: the kernel's
  high-water mark of RSS (``VmHWM``, reset through ``/proc/self/clear_refs`` just before the
  steps; a 5 ms polling thread where that is not possible), minus the baseline; that is what a
  user sees, glibc caching and oneDNN scratch included. On CUDA: ``max_memory_allocated``,
  with ``max_memory_reserved`` and the context size (``mem_get_info`` before and after CUDA
  initialisation) reported beside it.

Steps: inference runs 3 forwards under ``torch.no_grad``; training runs 3 steps of
zero_grad / forward / cross-entropy / backward / optimizer step (the optimizer's state exists
from the first step on, so the steps after the first are the steady state a user sees).

A spec is ``{"timm": "resnet18", "image_size": 224}`` or ``{"hf_config": {...}, "seq_len": 128}``
(a transformers config dict with ``model_type``; built as a sequence classifier, 2 labels).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from typing import Any

from selector.core.estimate.memory import Workload

MIB = 1024 * 1024


def measure_peak(
    spec: dict[str, Any],
    workload: Workload,
    device: str = "cpu",
    threads: int | None = None,
    steps: int = 3,
    timeout: float = 900,
    plain_malloc: bool = False,
) -> dict[str, Any]:
    """Run ``workload`` on a model built from ``spec`` in a fresh process; the child's figures.

    ``plain_malloc`` fixes glibc's mmap threshold at 64 KiB in the child, so every tensor is
    mapped and unmapped on its own and RSS follows the live tensors (no malloc caching): what
    the traced estimate without the allocator allowance predicts.
    """
    request = {"spec": spec, "workload": workload.to_dict(), "device": device,
               "threads": threads, "steps": steps}
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    if plain_malloc:
        env["MALLOC_MMAP_THRESHOLD_"] = "65536"
    else:
        env.pop("MALLOC_MMAP_THRESHOLD_", None)
    proc = subprocess.run(
        [sys.executable, "-m", "selector.core.estimate.measure", json.dumps(request)],
        capture_output=True, text=True, timeout=timeout, env=env,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise RuntimeError(f"measurement failed (exit {proc.returncode}): " + " | ".join(tail))
    return json.loads(lines[-1])


# ------------------------------------------------------------------------------ the child
def _rss_mib() -> float:
    import psutil

    return psutil.Process().memory_info().rss / MIB


def _hwm_mib() -> float | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class _PeakRss:
    """Peak RSS of this process from now on: VmHWM after a reset, or a 5 ms polling thread."""

    def __init__(self) -> None:
        self.method = "VmHWM"
        try:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")
        except OSError:
            self.method = "polling 5 ms"
        self._peak = _rss_mib()
        self._stop = threading.Event()
        self._thread = None
        if self.method != "VmHWM":
            self._thread = threading.Thread(target=self._poll, daemon=True)
            self._thread.start()

    def _poll(self) -> None:
        while not self._stop.wait(0.005):
            self._peak = max(self._peak, _rss_mib())

    def stop(self) -> float:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            return max(self._peak, _rss_mib())
        return _hwm_mib() or self._peak


def build_model(spec: dict[str, Any]) -> Any:
    """A model with random weights from a spec (also used on the meta device by callers)."""
    if "timm" in spec:
        import timm

        kwargs = {}
        if spec.get("image_size"):
            kwargs["img_size"] = spec["image_size"]
        try:
            return timm.create_model(spec["timm"], pretrained=False, **kwargs)
        except TypeError:
            return timm.create_model(spec["timm"], pretrained=False)
    import transformers

    config = dict(spec["hf_config"])
    model_type = config.pop("model_type")
    cfg = transformers.AutoConfig.for_model(model_type, **config)
    cfg.num_labels = spec.get("num_labels", 2)
    return transformers.AutoModelForSequenceClassification.from_config(cfg)


def _import_model_code(spec: dict[str, Any]) -> None:
    """Import the model's module before the baseline: code is not part of the workload.

    timm imports every architecture with ``import timm``; transformers imports a model's
    module (tens of MiB for BERT) only when first used, so that is done here.
    """
    if "hf_config" in spec:
        import transformers
        from transformers.models.auto import modeling_auto

        cfg = transformers.AutoConfig.for_model(spec["hf_config"]["model_type"])
        modeling_auto.MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING[type(cfg)]


def _cuda_context_mib(device: str) -> float | None:
    """Device memory CUDA initialisation takes outside the caching allocator (NVML before/after)."""
    import torch

    index = int(device.split(":")[1]) if ":" in device else 0
    try:
        import pynvml

        pynvml.nvmlInit()
        handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        free_before = pynvml.nvmlDeviceGetMemoryInfo(handle).free / MIB
    except Exception:  # noqa: BLE001 - NVML is optional; without it the context is not reported
        free_before = None
    torch.ones(1, device=device)
    (torch.ones(64, 64, device=device) @ torch.ones(64, 64, device=device)).sum().item()
    free_after = torch.cuda.mem_get_info(index)[0] / MIB
    if free_before is None:
        return None
    return free_before - free_after - torch.cuda.memory_reserved(index) / MIB


def _child(request: dict[str, Any]) -> dict[str, Any]:
    import torch

    import timm  # noqa: F401 - part of the baseline a selector process has
    import transformers  # noqa: F401

    spec, device = request["spec"], request["device"]
    wl = Workload.from_dict(request["workload"])
    if request.get("threads"):
        torch.set_num_threads(int(request["threads"]))
    torch.manual_seed(0)
    (torch.ones(8, 8) @ torch.ones(8, 8)).sum().item()
    context_mib = None
    if device.startswith("cuda"):
        context_mib = _cuda_context_mib(device)
    _import_model_code(spec)
    baseline = _rss_mib()

    model = build_model(spec)
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(wl.dtype)
    if dtype is not None:
        model = model.to(dtype)
    model = model.to(device)
    if wl.grad_checkpointing:
        from selector.core.estimate.trace import _set_checkpointing

        _set_checkpointing(model, True)
    b = wl.batch_size
    if "timm" in spec:
        size = spec.get("image_size") or model.pretrained_cfg.get("input_size", (3, 224, 224))[-1]
        x = torch.randn(b, 3, size, size, device=device, dtype=dtype or torch.float32)
        inputs: dict[str, Any] = {}
    else:
        vocab = model.config.vocab_size
        ids = torch.randint(0, vocab, (b, spec.get("seq_len", 128)), device=device)
        inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
        x = None
    target = torch.zeros(b, dtype=torch.long, device=device)
    amp_dtype = torch.float16 if device.startswith("cuda") else torch.bfloat16
    autocast = torch.autocast(device.split(":")[0], dtype=amp_dtype, enabled=wl.dtype == "amp")
    if wl.training:
        model.train()
        if wl.optimizer == "adamw":
            opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
        else:
            opt = torch.optim.SGD(model.parameters(), lr=1e-5, momentum=0.9)
    else:
        model.eval()
    after_build = _rss_mib()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    peak = _PeakRss()
    started = time.perf_counter()

    def forward() -> Any:
        out = model(x) if x is not None else model(**inputs).logits
        return out

    for _ in range(request.get("steps", 3)):
        if wl.training:
            opt.zero_grad(set_to_none=True)
            with autocast:
                loss = torch.nn.functional.cross_entropy(forward().float(), target)
            loss.backward()
            opt.step()
            del loss
        else:
            with torch.no_grad(), autocast:
                out = forward()
            del out
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    peak_rss = peak.stop()
    result = {
        "device": device, "threads": torch.get_num_threads(), "torch": torch.__version__,
        "workload": wl.to_dict(), "spec": {k: v for k, v in spec.items() if k != "hf_config"},
        "baseline_mib": baseline, "weights_mib": after_build - baseline,
        "peak_mib": peak_rss - baseline, "rss_method": peak.method, "seconds": seconds,
    }
    if device.startswith("cuda"):
        result.update(
            peak_mib=torch.cuda.max_memory_allocated() / MIB,
            reserved_mib=torch.cuda.max_memory_reserved() / MIB,
            context_mib=context_mib, cpu_peak_rss_mib=peak_rss - baseline,
            gpu=torch.cuda.get_device_name(),
        )
    return result


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    result = _child(json.loads(argv[0]))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
