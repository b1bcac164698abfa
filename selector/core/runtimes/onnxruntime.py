"""ONNX Runtime: the exported model in an ``InferenceSession``.

Providers: on a GPU, TensorRT then CUDA where the installed onnxruntime offers them (the
GPU build); on the CPU, ``CPUExecutionProvider``. ``intra_op_num_threads`` is set to the
probe's torch threads so the comparison with eager is fair. int8: the QDQ model from
:mod:`.quantize`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from selector.core.runtimes.base import Prepared, RuntimeFailure, input_names, short_reason, timed


def providers_for(device: str, available: list[str]) -> list[str]:
    """The providers to ask for, best first (CPU always last, as ORT's fallback)."""
    wanted = ["TensorrtExecutionProvider", "CUDAExecutionProvider"] if device.startswith("cuda") else []
    return [p for p in wanted if p in available] + ["CPUExecutionProvider"]


def prepare(onnx_path: Path, example: Any, device: str, threads: int, precision: str = "fp32",
            export_s: float = 0.0, steps: dict[str, float] | None = None) -> Prepared:
    import onnxruntime as ort

    from selector.core.probes.memory import current_rss_mib

    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, int(threads))
    options.log_severity_level = 3
    providers = providers_for(device, list(ort.get_available_providers()))
    if device.startswith("cuda") and providers == ["CPUExecutionProvider"]:
        raise RuntimeFailure(f"this onnxruntime ({ort.__version__}) has no CUDA provider: "
                             f"install onnxruntime-gpu to measure it on {device}")
    before = current_rss_mib()
    try:
        session, seconds = timed(lambda: ort.InferenceSession(str(onnx_path), options, providers=providers))
    except Exception as err:  # noqa: BLE001 - an op ORT cannot run ends this runtime's row
        raise RuntimeFailure(f"ONNX Runtime could not load the model: {short_reason(err)}") from err
    names = [i.name for i in session.get_inputs()]
    if names != input_names(example)[:len(names)]:
        raise RuntimeFailure(f"the exported model takes {names}, not {input_names(example)}")

    def feed(inputs: Any) -> dict[str, Any]:
        values = [inputs[k] for k in names] if isinstance(inputs, dict) else [inputs]
        return {n: v.detach().cpu().numpy() for n, v in zip(names, values)}

    def run(native: dict[str, Any]) -> Any:
        return session.run(None, native)[0]

    parts = dict(steps or {}, session=round(seconds, 3))
    return Prepared("onnxruntime", precision, ort.__version__, session.get_providers()[0], feed, run,
                    export_s=round(export_s + seconds, 3), steps=parts,
                    runtime_rss_mib=round(current_rss_mib() - before, 1))
