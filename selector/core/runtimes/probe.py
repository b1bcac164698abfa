"""The latency probe's runtime rows: prepare each runtime, check its parity, time it.

``RuntimeRows.reference()`` runs eager fp32 once on the parity inputs (and the user's sample),
before any row; ``measure()`` then goes through the requested runtimes (int8 static ones
last), each: prepare (export, convert, compile, quantise), check against eager, and time
every batch size with the latency probe's own meter. A runtime that fails ends its own row
(``error`` says why) and the next one goes on; the ONNX export is made once and shared.
Preparing a runtime does not eat the probe's time budget (like loading the model, it is
reported apart: ``export_s``); the hard timeout allows for it (``ProbeSpec.hard_timeout_s``).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from selector.core.runtimes import QUANTIZABLE
from selector.core.runtimes.base import Prepared, RuntimeFailure, short_reason

PARITY_SAMPLES = 8
"""Random inputs (seeded) every runtime is compared with eager on."""


def targets(runtimes: list[str], quantize: str | None) -> list[tuple[str, str]]:
    """``(runtime, precision)`` pairs after eager, in the order measured."""
    pairs = [(r, "fp32") for r in runtimes if r != "eager"]
    if quantize == "int8":
        pairs += [(r, "int8-static") for r in runtimes if r in QUANTIZABLE]
    return pairs


class RuntimeRows:
    def __init__(self, ctx: Any, spec: Any, loaded: Any, model: Any, device: str, params: dict,
                 threads: int) -> None:
        self.ctx, self.spec, self.loaded, self.model = ctx, spec, loaded, model
        self.device, self.params, self.threads = device, params, threads
        self.runtimes: list[str] = list(params.get("runtime") or ["eager"])
        self.quantize: str | None = params.get("quantize")
        self.workdir = Path(tempfile.mkdtemp(prefix="selector-runtimes-"))
        self.example: Any = None
        self.ref: Any = None
        self.user: Any = None
        self.user_ref: Any = None
        self.user_train: Any = None
        self.fp32_accuracy: float | None = None
        self._onnx: Path | RuntimeFailure | None = None
        self._export_s = 0.0
        self._qdq: Path | RuntimeFailure | None = None
        self._quantize_s = 0.0

    @property
    def pairs(self) -> list[tuple[str, str]]:
        return targets(self.runtimes, self.quantize)

    def close(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)

    # ------------------------------------------------------------------ reference
    def reference(self) -> dict[str, Any]:
        """Eager fp32 on the parity inputs (and the user's sample): the fields of eager's fp32 rows."""
        self.ctx.phase("parity", "eager reference outputs")
        start = time.perf_counter()
        try:
            return self._reference()
        finally:  # like preparing a runtime, the reference does not eat the measuring budget
            self.ctx.budget_t0 += time.perf_counter() - start

    def _reference(self) -> dict[str, Any]:
        import numpy as np

        from selector.core.probes.loading import dummy_inputs
        from selector.core.runtimes import eager, parity

        self.example, _ = dummy_inputs(self.model, self.loaded.entry, PARITY_SAMPLES, self.device,
                                       seq_len=self.params.get("seq_len"), preprocess=self.loaded.preprocess,
                                       seed=1)
        prepared = eager.prepare(self.model, self.example, self.device)
        self.ref = prepared.outputs(self.example)
        fields: dict[str, Any] = {"parity": parity.reference_record()}
        if self.spec.data:
            from selector.core.runtimes.userdata import load_sample

            self.user = load_sample(self.spec.data, self.loaded, self.example)
            self.ctx.log(f"runtimes: {self.user.calibration_count} calibration and "
                         f"{len(self.user.heldout_labels)} held-out samples of {self.user.source}")
            self.user_ref = _outputs(prepared, self.user.heldout)
            self.user_train = _outputs(prepared, self.user.calibration)
            self.fp32_accuracy = parity.centroid_accuracy(
                self.user_train, np.asarray(self.user.calibration_labels), self.user_ref,
                np.asarray(self.user.heldout_labels))
            fields.update(heldout_accuracy=self.fp32_accuracy, heldout_accuracy_fp32=self.fp32_accuracy)
            fields["parity"].update(heldout_method=parity.ACCURACY_METHOD,
                                    data_samples=len(self.user.heldout_labels))
        return fields

    # ------------------------------------------------------------------ rows
    def measure(self, batches: list[int], measure_row: Callable[[Prepared, str, int], dict],
                on_row: Callable[[dict], None], should_stop: Callable[[], bool]) -> list[str]:
        """Every runtime row (through ``on_row``); returns the skipped ``runtime precision batch``."""
        skipped: list[str] = []
        for runtime, precision in self.pairs:
            label = f"{runtime} {precision}"
            if should_stop():
                skipped += [f"{label} batch {b}" for b in batches]
                continue
            self.ctx.phase("export", f"{label}: preparing")
            start = time.perf_counter()
            try:
                prepared = self._prepare(runtime, precision)
                self.ctx.phase("parity", f"{label}: checking against eager")
                record = self._parity(prepared, precision)
            except RuntimeFailure as err:
                self.ctx.log(f"{label}: {err}", level="warning")
                on_row(self._failed(runtime, precision, batches[0], str(err)))
                continue
            except Exception as err:  # noqa: BLE001 - a runtime's own error ends its row only
                self.ctx.log(f"{label}: {short_reason(err)}", level="warning")
                on_row(self._failed(runtime, precision, batches[0], short_reason(err)))
                continue
            finally:  # preparing is like loading: the budget buys measuring time
                self.ctx.budget_t0 += time.perf_counter() - start
            if not record["ok"]:
                self.ctx.log(f"{label}: parity failed: {record['reason']}: never recommended", level="warning")
            for batch in batches:
                if should_stop():
                    skipped.append(f"{label} batch {batch}")
                    continue
                try:
                    row = measure_row(prepared, precision, batch)
                except Exception as err:  # noqa: BLE001 - e.g. a batch size the runtime refuses
                    on_row(self._failed(runtime, precision, batch, short_reason(err), prepared))
                    continue
                row.update(self._fields(prepared, record))
                on_row(row)
            del prepared
        return skipped

    def _fields(self, prepared: Prepared, record: dict[str, Any]) -> dict[str, Any]:
        return {"runtime": prepared.runtime, "runtime_version": prepared.version,
                "provider": prepared.provider, "export_s": prepared.export_s,
                "export_steps": prepared.steps, "runtime_rss_mib": prepared.runtime_rss_mib,
                "parity": record, "heldout_accuracy": record.get("heldout_accuracy"),
                "heldout_accuracy_fp32": self.fp32_accuracy if self.user else None,
                "note": prepared.note}

    def _failed(self, runtime: str, precision: str, batch: int, reason: str,
                prepared: Prepared | None = None) -> dict[str, Any]:
        row = {"runtime": runtime, "dtype": precision, "batch_size": batch, "error": reason,
               "note": f"{runtime} {precision}: {reason}"}
        if prepared is not None:
            row.update(runtime_version=prepared.version, provider=prepared.provider, export_s=prepared.export_s)
        return row

    # ------------------------------------------------------------------ preparing
    def _prepare(self, runtime: str, precision: str) -> Prepared:
        from selector.core.runtimes import compile as compiled
        from selector.core.runtimes import onnxruntime, openvino

        if runtime == "compile":
            return compiled.prepare(self.model, self.example, self.device)
        if precision == "int8-static":
            qdq = self._quantized()
            if runtime == "onnxruntime":
                return onnxruntime.prepare(qdq, self.example, self.device, self.threads, "int8-static",
                                           self._export_s + self._quantize_s,
                                           {"export": round(self._export_s, 3),
                                            "quantize": round(self._quantize_s, 3)})
            return openvino.prepare(self.model, self.example, self.device, self.threads, qdq_path=qdq,
                                    quantize_s=self._export_s + self._quantize_s)
        if runtime == "onnxruntime":
            return onnxruntime.prepare(self._exported(), self.example, self.device, self.threads,
                                       export_s=self._export_s, steps={"export": round(self._export_s, 3)})
        if runtime == "openvino":
            return openvino.prepare(self.model, self.example, self.device, self.threads)
        raise RuntimeFailure(f"unknown runtime {runtime!r}")

    def _exported(self) -> Path:
        from selector.core.runtimes.onnx_export import export_onnx

        if self._onnx is None:
            path = self.workdir / "model.onnx"
            try:
                self._export_s = export_onnx(self.model, self.example, path)
                self._onnx = path
            except RuntimeFailure as err:
                self._onnx = err
        if isinstance(self._onnx, RuntimeFailure):
            raise self._onnx
        return self._onnx

    def _quantized(self) -> Path:
        from selector.core.runtimes.quantize import quantize_static

        if self._qdq is None:
            fp32 = self._exported()
            calibration = self.user.calibration if self.user and self.user.calibration else [self.example]
            path = self.workdir / "model-int8.onnx"
            try:
                self._quantize_s = quantize_static(fp32, path, calibration)
                self._qdq = path
            except RuntimeFailure as err:
                self._qdq = err
        if isinstance(self._qdq, RuntimeFailure):
            raise self._qdq
        return self._qdq

    # ------------------------------------------------------------------ parity
    def _parity(self, prepared: Prepared, precision: str) -> dict[str, Any]:
        import numpy as np

        from selector.core.runtimes import parity
        from selector.core.runtimes.quantize import method

        outputs = prepared.outputs(self.example)
        data_out = _outputs(prepared, self.user.heldout) if self.user else None
        record = parity.check(self.ref, outputs, precision, self.user_ref, data_out)
        if self.user and data_out is not None and self.user_train is not None:
            record["heldout_accuracy"] = parity.centroid_accuracy(
                self.user_train, np.asarray(self.user.calibration_labels), data_out,
                np.asarray(self.user.heldout_labels))
            record["heldout_accuracy_fp32"] = self.fp32_accuracy
            record["heldout_method"] = parity.ACCURACY_METHOD
        if precision.startswith("int8"):
            count = self.user.calibration_count if self.user and self.user.calibration else PARITY_SAMPLES
            record["quantization"] = method(count, bool(self.user and self.user.calibration))
        return record


def _outputs(prepared: Prepared, batches: list[Any]) -> Any:
    import numpy as np

    if not batches:
        return np.zeros((0,), dtype=np.float32)
    return np.concatenate([prepared.outputs(b) for b in batches])
