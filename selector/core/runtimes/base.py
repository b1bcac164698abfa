"""What every runtime module returns, and the model's calling convention they share.

A runtime is prepared once per model (export, convert, compile, quantise), then called with
its own native inputs: ``feed`` turns the probe's torch inputs (an image batch, or a dict of
``input_ids`` and ``attention_mask``) into them once per batch size, and ``run`` is the call
the latency probe times. Exporters want positional inputs and one output tensor:
:class:`Positional` wraps the model so (the logits, else the last hidden state).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

TEXT_INPUTS = ("input_ids", "attention_mask")
"""The inputs a text model gets under every runtime (token type ids are left to their default)."""


class RuntimeFailure(Exception):
    """This runtime cannot take this model (an export that fails, an unsupported op, a missing
    package): it ends that runtime's row with the reason; the other runtimes go on."""


@dataclass
class Prepared:
    """One model ready under one runtime, and what it took to get there."""

    runtime: str
    """``eager``, ``compile``, ``onnxruntime`` or ``openvino``."""
    precision: str
    """``fp32`` or ``int8-static``."""
    version: str
    """The runtime's own version (torch's for eager and compile)."""
    provider: str
    """Where it runs: ``CPUExecutionProvider``, ``CUDAExecutionProvider``, ``CPU`` (OpenVINO's
    plugin), ``inductor`` (torch.compile's backend), ``torch cpu``."""
    feed: Callable[[Any], Any]
    """Probe inputs (torch) -> the runtime's native inputs (converted once per batch)."""
    run: Callable[[Any], Any]
    """Native inputs -> output (the call that is timed)."""
    export_s: float | None = None
    """Seconds to export / convert / compile (and quantise) before the first call."""
    steps: dict[str, float] = field(default_factory=dict)
    """``export_s`` in parts, seconds: ``export``, ``quantize``, ``compile`` ..."""
    runtime_rss_mib: float | None = None
    """Resident memory the runtime's session added to the probe process, MiB."""
    note: str = ""

    def outputs(self, inputs: Any) -> Any:
        """The output as a float32 numpy array (for the parity check)."""
        return to_numpy(self.run(self.feed(inputs)))


def positional(inputs: Any) -> tuple[Any, ...]:
    """The torch inputs as the positional tuple exporters and compiled models take."""
    if isinstance(inputs, dict):
        return tuple(inputs[k] for k in TEXT_INPUTS)
    return (inputs,)


def input_names(inputs: Any) -> list[str]:
    return list(TEXT_INPUTS) if isinstance(inputs, dict) else ["input"]


def first_tensor(out: Any) -> Any:
    """The output that answers: ``logits``, else ``last_hidden_state``, else the first item."""
    for name in ("logits", "last_hidden_state"):
        value = getattr(out, name, None)
        if value is not None:
            return value
    if isinstance(out, dict):
        return next(iter(out.values()))
    if isinstance(out, (tuple, list)):
        return out[0]
    return out


def to_numpy(out: Any) -> Any:
    import numpy as np

    out = first_tensor(out)
    if hasattr(out, "detach"):
        out = out.detach().float().cpu().numpy()
    return np.asarray(out, dtype=np.float32)


def wrap(model: Any, text: bool) -> Any:
    """The model as a module of named positional inputs (``input``, or ``input_ids`` and
    ``attention_mask``) with one output tensor."""
    import torch

    class Image(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input: Any) -> Any:  # noqa: A002 - the ONNX input's name
            return first_tensor(self.model(input))

    class Text(Image):
        def forward(self, input_ids: Any, attention_mask: Any) -> Any:  # type: ignore[override]
            return first_tensor(self.model(input_ids=input_ids, attention_mask=attention_mask))

    return (Text() if text else Image()).eval()


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def short_reason(err: BaseException, limit: int = 300) -> str:
    """The line of an exporter's error that says what went wrong (they print pages): the one
    after torch's ``## Exception summary`` when there is one, else the first that names an
    error, else the first."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    text = lines[0] if lines else ""
    if "## Exception summary" in lines and lines.index("## Exception summary") + 1 < len(lines):
        text = lines[lines.index("## Exception summary") + 1]
    else:
        keys = (("No conversion rule", "No ONNX function", "Unsupported", "unsupported", "not supported",
                 "data-dependent"), ("Could not", "Error", "error"))
        for group in keys:
            found = [line for line in lines if any(k in line for k in group)]
            if found:
                text = found[0]
                break
    text = text.replace("\x1b[96m", "").replace("\x1b[0m", "")
    text = f"{type(err).__name__}: {text}" if text else type(err).__name__
    return text if len(text) <= limit else text[:limit - 3] + "..."
