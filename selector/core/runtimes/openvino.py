"""OpenVINO on the CPU: the PyTorch model converted directly (``openvino.convert_model``), so
an ONNX export failure does not take OpenVINO down with it; int8 reads the QDQ ONNX model
from :mod:`.quantize` (OpenVINO runs its quantize/dequantize pairs as int8 kernels).

``INFERENCE_NUM_THREADS`` is set to the probe's torch threads, for a fair comparison.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path
from typing import Any

from selector.core.runtimes.base import Prepared, RuntimeFailure, positional, short_reason, timed, wrap


def _version(ov: Any) -> str:
    version = getattr(ov, "__version__", "") or ov.get_version()
    return str(version).split("-")[0]


def _import_openvino() -> Any:
    """``openvino``, with its telemetry left out: it sends usage events from a process forked
    off the probe (a fork of a multi-threaded process can deadlock, and the copies then held
    the probe's pipes open), and selector sends nothing anywhere."""
    import sys

    if "openvino" not in sys.modules:
        sys.modules.setdefault("openvino_telemetry", None)  # type: ignore[arg-type]
    import openvino

    return openvino


def prepare(model: Any, example: Any, device: str, threads: int, qdq_path: Path | None = None,
            quantize_s: float = 0.0) -> Prepared:
    ov = _import_openvino()

    from selector.core.probes.memory import current_rss_mib

    if device != "cpu":
        raise RuntimeFailure("OpenVINO is measured on the CPU only")
    core = ov.Core()
    before = current_rss_mib()
    steps: dict[str, float] = {}
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            if qdq_path is None:
                module = wrap(model, isinstance(example, dict))
                converted, steps["convert"] = timed(lambda: ov.convert_model(
                    module, example_input=positional(example)))
            else:
                converted, steps["read"] = timed(lambda: core.read_model(str(qdq_path)))
            compiled, steps["compile"] = timed(lambda: core.compile_model(
                converted, "CPU", {"INFERENCE_NUM_THREADS": max(1, int(threads))}))
    except Exception as err:  # noqa: BLE001 - a conversion error ends this runtime's row
        raise RuntimeFailure(f"OpenVINO conversion failed: {short_reason(err)}") from err
    request = compiled.create_infer_request()

    def feed(inputs: Any) -> list[Any]:
        return [t.detach().cpu().numpy() for t in positional(inputs)]

    def run(native: list[Any]) -> Any:
        return request.infer(native)[0]

    if qdq_path is not None:
        steps["quantize"] = round(quantize_s, 3)
    total = sum(steps.values())
    return Prepared("openvino", "int8-static" if qdq_path else "fp32", _version(ov), "CPU", feed, run,
                    export_s=round(total, 3), steps={k: round(v, 3) for k, v in steps.items()},
                    runtime_rss_mib=round(current_rss_mib() - before, 1))
