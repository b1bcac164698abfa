"""Latency probe: inference time and memory over a sweep of batch sizes and precisions.

For each precision variant (``spec.dtypes``) and batch size (``spec.batch_sizes``), in one
child process: warm up (at least ``warmup_iters`` iterations and ``warmup_s`` seconds, capped
at ``max_warmup_s``), then time at least ``min_iters`` iterations and ``min_time_s`` seconds.
Each step is timed on its own: ``perf_counter`` on CPU, an event pair plus a sync on a GPU
(CUDA, ROCm, XPU, MPS; :mod:`selector.core.devices.backend`). The timed iterations' energy
comes from the device's counter (:mod:`selector.core.probes.energy`), or null with the reason.
One :class:`LatencyRow` per variant and batch, emitted as soon as it is measured, with every
timed iteration in ``samples_ms``; a row cut to fewer than ``MIN_ITERS_FOR_P99`` iterations has
no p99 and says so in its ``note``.

Variants: ``fp32``; ``bf16`` and ``fp16`` (weights and inputs cast; fp16 on CUDA only);
``int8``: dynamic quantization of the Linear layers (``torch.ao.quantization.quantize_dynamic``,
CPU only), so "the same model, quantized" is a candidate too.

Runtimes (``runtime`` setting; :mod:`selector.core.runtimes`): eager rows as above, then one
row per batch for each other runtime (``compile``, ``onnxruntime``, ``openvino``) and, with
``quantize: int8``, int8 static rows under ONNX Runtime and OpenVINO, each with its parity
record against eager fp32; a runtime that fails ends its own row (``error``).

``spec.params``: :class:`selector.core.probes.settings.LatencySettings` (an unknown key is an
error that names the accepted ones).
"""

from __future__ import annotations

import copy
import time
from typing import Any

from selector.core.devices.backend import empty_cache, step_timer, timing_method
from selector.core.probes.context import is_oom
from selector.core.probes.energy import EnergyMeter
from selector.core.probes.environment import ProbeSettingError
from selector.core.probes.settings import LatencySettings
from selector.core.results.record import LatencyRow
from selector.core.runtimes.probe import RuntimeRows, targets

DEFAULTS: dict[str, Any] = LatencySettings().to_dict()
DTYPES = ("fp32", "bf16", "fp16", "int8")
MIN_ITERS_FOR_P99 = 10
"""Below this many timed iterations a row has no p99 (it would just be the slowest one)."""


def check_dtypes(dtypes: list[str], device: str) -> None:
    """Raise ``ProbeSettingError`` for a precision this device cannot run."""
    for name in dtypes:
        if name not in DTYPES:
            raise ProbeSettingError(f"unknown dtype {name!r}: choose from {', '.join(DTYPES)}")
        if name == "int8" and device != "cpu":
            raise ProbeSettingError("int8 (dynamic quantization) runs on the CPU only")
        if name == "fp16" and device == "cpu":
            raise ProbeSettingError("fp16 is a GPU precision; on the CPU use bf16 or int8")


def run(spec, ctx) -> dict[str, Any]:  # noqa: ANN001 - ProbeSpec, ProbeContext
    import torch

    from selector.core.probes import environment as env
    from selector.core.probes.loading import load_model
    from selector.core.probes.memory import MemoryMonitor

    from selector.core.probes.loading import entry_for

    if entry_for(spec).is_decoder:
        from selector.core.probes.kinds import generate

        return generate.run(spec, ctx)
    params = LatencySettings.from_spec(spec).to_dict()
    device = env.resolve_device(spec.device)
    check_dtypes(spec.dtypes, device)
    software = env.software_versions()
    batches = sorted({int(b) for b in spec.batch_sizes})
    runtimes = list(params["runtime"])
    eager_dtypes = list(spec.dtypes) if "eager" in runtimes else []
    plan = [(d, b) for d in eager_dtypes for b in batches]
    plan += [(f"{r} {p}", b) for r, p in targets(runtimes, params["quantize"]) for b in batches]
    extra: RuntimeRows | None = None
    monitor = MemoryMonitor(device, poll_s=float(params["rss_poll_ms"]) / 1000).start()
    energy = EnergyMeter(device)
    try:
        ctx.phase("load", f"building {spec.model}")
        loaded = load_model(spec, device)
        model = loaded.model.eval()
        if params["channels_last"] and not loaded.entry.is_text:
            model = model.to(memory_format=torch.channels_last)
        load_peaks = monitor.peaks()
        ctx.start_budget()
        ctx.log(f"{spec.model}: {loaded.weights} weights, loaded in {loaded.load_s:.1f} s")
        common = {
            "model_id": spec.model, "device": device, "weights": loaded.weights,
            "device_name": env.device_name(device), "threads": torch.get_num_threads(),
            "channels_last": bool(params["channels_last"]) and not loaded.entry.is_text,
            "timing": timing_method(device),
            "load_s": round(loaded.load_s, 4), "software": software,
        }
        rows: list[dict] = []
        skipped: list[str] = []
        oom: list[str] = []
        done = 0
        eager_fields: dict[str, Any] = {}
        if runtimes != ["eager"] or params["quantize"]:
            extra = RuntimeRows(ctx, spec, loaded, model, device, params, torch.get_num_threads())
            eager_fields = extra.reference()
        eager = {"runtime": "eager", "runtime_version": torch.__version__, "provider": f"torch {device}"}
        for dtype in eager_dtypes:
            if ctx.should_stop():
                skipped += [f"{dtype} batch {b}" for b in batches]
                done += len(batches)
                continue
            variant, convert_s, quantized = _variant(model, dtype)
            for batch in batches:
                if ctx.should_stop() or any(o.startswith(dtype + " ") for o in oom):
                    skipped.append(f"{dtype} batch {batch}")
                    done += 1
                    continue
                try:
                    row = _Meter(ctx, params, plan, done).measure(variant, loaded, dtype, batch,
                                                                  device, monitor, energy=energy)
                except (RuntimeError, MemoryError) as err:
                    if not is_oom(err):
                        raise
                    last_oom = err
                    oom.append(f"{dtype} batch {batch}")
                    ctx.log(f"out of memory at {oom[-1]}: larger batches of {dtype} skipped",
                            level="warning")
                    _free(device)
                else:
                    row.update(common, convert_s=convert_s, quantized_fraction=quantized, **eager,
                               **(eager_fields if dtype == "fp32" else {}))
                    row = LatencyRow.from_dict(row).to_dict()
                    rows.append(row)
                    ctx.row(row)
                done += 1
            if variant is not model:
                del variant
                _free(device)
        if oom and not rows:
            raise last_oom
        if extra is not None:
            def measure_row(prepared, precision: str, batch: int) -> dict:  # noqa: ANN001 - Prepared
                return _Meter(ctx, params, plan, done).measure(model, loaded, precision, batch, device,
                                                               monitor, runner=prepared, energy=energy)

            def on_row(row: dict) -> None:
                nonlocal done
                row = LatencyRow.from_dict({**common, **row}).to_dict()
                rows.append(row)
                ctx.row(row)
                done += 1

            skipped += extra.measure(batches, measure_row, on_row, ctx.should_stop)
    finally:
        monitor.stop()
        energy.close()
        if extra is not None:
            extra.close()
    usable = [r for r in rows if not r.get("error") and (r.get("parity") or {}).get("ok", True)]
    best = max(usable, key=lambda r: r["samples_per_s"] or 0, default=None)
    summary = {
        "rows": len(rows), "skipped": skipped, "out_of_memory": oom, "budget_limited": bool(skipped) or any(
            r["budget_limited"] for r in rows),
        "load_s": round(loaded.load_s, 4), "load_peak_rss_mib": load_peaks["peak_rss_mib"],
        "best_samples_per_s": best and best["samples_per_s"],
        "best_setting": best and f"{_runtime_label(best)}{best['dtype']} batch {best['batch_size']}",
        "p50_ms_batch1_fp32": next((r["p50_ms"] for r in rows if r["batch_size"] == 1
                                   and r["dtype"] == "fp32" and r["runtime"] == "eager"), None),
        "runtime_failures": [f"{r['runtime']} {r['dtype']} batch {r['batch_size']}: {r['error']}"
                             for r in rows if r.get("error")],
        "parity_failures": sorted({f"{r['runtime']} {r['dtype']}: {r['parity']['reason']}" for r in rows
                                   if r.get("parity") and not r["parity"].get("ok", True)}),
    }
    failed = [r for r in rows if r.get("error")]
    message = f"measured {len(rows) - len(failed)} row(s)"
    if failed:
        message += "; failed: " + ", ".join(sorted({f"{r['runtime']} {r['dtype']}" for r in failed}))
    if summary["parity_failures"]:
        message += "; answers differ from eager (never recommended): " + ", ".join(
            sorted({p.split(":")[0] for p in summary["parity_failures"]}))
    if oom:
        message += f"; out of memory at {', '.join(oom)}"
    budget_skipped = [s for s in skipped if not any(s.startswith(o.split(" batch")[0]) for o in oom)]
    if budget_skipped:
        message += f"; the budget ran out before {', '.join(budget_skipped)}"
    return {"weights": loaded.weights, "weights_note": loaded.weights_note, "summary": summary,
            "rows": rows, "settings": {**params, "batch_sizes": batches, "dtypes": list(spec.dtypes),
                         "device": device, "threads": torch.get_num_threads()},
            "software": software, "message": message}


def _runtime_label(row: dict) -> str:
    return "" if row.get("runtime", "eager") == "eager" else f"{row['runtime']} "


def _variant(model: Any, dtype: str) -> tuple[Any, float | None, float | None]:
    """The model in ``dtype``: ``(variant, seconds to convert, quantized share of params)``."""
    import torch

    start = time.perf_counter()
    if dtype == "fp32":
        return model, None, None
    if dtype in ("bf16", "fp16"):
        variant = copy.deepcopy(model).to(torch.bfloat16 if dtype == "bf16" else torch.float16)
        return variant, round(time.perf_counter() - start, 4), None
    linear = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))
    total = sum(p.numel() for p in model.parameters()) or 1
    variant = torch.ao.quantization.quantize_dynamic(copy.deepcopy(model), {torch.nn.Linear},
                                                     dtype=torch.qint8)
    return variant, round(time.perf_counter() - start, 4), round(linear / total, 4)


class _Meter:
    """Warm-up and timed iterations for one row, within the row's share of the budget."""

    def __init__(self, ctx, params: dict, plan: list, done: int) -> None:  # noqa: ANN001
        self.ctx, self.p, self.plan, self.done = ctx, params, plan, done
        rows_left = max(1, len(plan) - done)
        self.row_budget = max(0.0, ctx.time_left()) / rows_left

    def _progress(self, phase_fraction: float, row_eta: float) -> None:
        total = len(self.plan)
        rows_after = total - self.done - 1
        eta = min(max(0.0, self.ctx.time_left()), row_eta + rows_after * self.row_budget)
        self.ctx.progress(self.done, total, fraction=(self.done + phase_fraction) / total, eta_s=eta)

    def measure(self, model, loaded, dtype: str, batch: int, device: str, monitor,  # noqa: ANN001
                runner=None, energy: EnergyMeter | None = None) -> dict:  # noqa: ANN001 - runtimes.base.Prepared: time it instead
        import numpy as np
        import torch

        from selector.core.probes.loading import dummy_inputs, forward
        from selector.core.probes.memory import current_rss_mib

        cast = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(dtype)
        inputs, input_size = dummy_inputs(model, loaded.entry, batch, device, dtype=cast,
                                          seq_len=self.p["seq_len"], preprocess=loaded.preprocess,
                                          channels_last=bool(self.p["channels_last"]))
        step = _backend_step(device)
        if runner is not None:
            model, inputs, forward = runner.run, runner.feed(inputs), _call  # noqa: PLW2901
        ctx = self.ctx
        ctx.phase("warmup", f"{dtype} batch {batch}: warming up", data={"dtype": dtype, "batch": batch})
        rss_before = round(current_rss_mib(), 1)
        monitor.reset()
        with torch.inference_mode():
            first_ms = step(model, inputs, forward)
            warm_start, warm_iters = time.perf_counter(), 1
            warm_cap = min(float(self.p["max_warmup_s"]), max(0.3 * self.row_budget, 0.0))
            while True:
                spent = time.perf_counter() - warm_start
                enough = warm_iters >= self.p["warmup_iters"] and spent >= self.p["warmup_s"]
                if enough or spent >= warm_cap or ctx.stop_requested.is_set():
                    break
                step(model, inputs, forward)
                warm_iters += 1
                self._progress(0.3 * min(1.0, spent / max(self.p["warmup_s"], 1e-6)), self.row_budget)
            warmup_s = time.perf_counter() - warm_start
            ctx.phase("measure", f"{dtype} batch {batch}: measuring", data={"dtype": dtype, "batch": batch})
            times: list[float] = []
            if energy is not None:
                energy.start()
            start = time.perf_counter()
            min_iters, min_s = int(self.p["min_iters"]), float(self.p["min_time_s"])
            max_iters = self.p["max_iters"]
            measure_cap = max(self.row_budget - warmup_s, 0.0)
            limited = False
            while True:
                times.append(step(model, inputs, forward))
                spent = time.perf_counter() - start
                if len(times) >= min_iters and spent >= min_s:
                    break
                if max_iters and len(times) >= int(max_iters):
                    break
                if ctx.stop_requested.is_set() or (spent >= measure_cap and len(times) >= 3):
                    limited = True
                    break
                progress = min(1.0, max(len(times) / min_iters, spent / max(min_s, 1e-6)))
                per = spent / len(times)
                row_eta = max(min_s - spent, (min_iters - len(times)) * per, 0.0)
                self._progress(0.3 + 0.7 * progress, min(row_eta, max(measure_cap - spent, 0.0)))
            measure_s = time.perf_counter() - start
            reading = energy.stop() if energy is not None else None
        peaks = monitor.peaks()
        ms = np.asarray(times, dtype=np.float64)
        mean = float(ms.mean())
        std = float(ms.std(ddof=1)) if len(ms) > 1 else 0.0
        few = len(ms) < MIN_ITERS_FOR_P99
        return {
            "dtype": dtype, "batch_size": batch, "input_size": input_size,
            "warmup_iters": warm_iters, "warmup_s": round(warmup_s, 4), "iters": len(ms),
            "measure_s": round(measure_s, 4), "first_call_ms": round(first_ms, 4),
            "p50_ms": _r(np.percentile(ms, 50)), "p90_ms": _r(np.percentile(ms, 90)),
            "p99_ms": None if few else _r(np.percentile(ms, 99)), "mean_ms": _r(mean), "std_ms": _r(std),
            "min_ms": _r(ms.min()), "max_ms": _r(ms.max()), "cv": round(std / mean, 5) if mean else None,
            "samples_per_s": round(batch * 1000.0 / mean, 3) if mean else None,
            "rss_before_mib": rss_before, **peaks, "budget_limited": limited,
            "samples_ms": [_r(t) for t in times],
            "note": f"only {len(ms)} iterations: no p99" if few else "",
            **(reading.fields(batch * len(ms)) if reading is not None else {}),
        }


def _free(device: str) -> None:
    import gc

    gc.collect()
    empty_cache(device)


def _r(value: float) -> float:
    return round(float(value), 4)


def _call(run, native):  # noqa: ANN001, ANN202 - a runtime's own call
    return run(native)


def _backend_step(device: str):  # noqa: ANN202
    """One timed forward pass, ms: an event pair on a GPU (CUDA, ROCm, XPU, MPS), else
    ``perf_counter`` (see ``devices.backend.step_timer``)."""
    timer = step_timer(device)

    def step(model, inputs, forward) -> float:  # noqa: ANN001
        return timer(lambda: forward(model, inputs))
    return step
