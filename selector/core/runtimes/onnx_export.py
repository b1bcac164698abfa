"""The ONNX file ONNX Runtime (and OpenVINO's int8 path) run: torch's ONNX exporter.

One export per model with a dynamic batch axis (text: the sequence length stays the probe's),
so every batch size of the sweep runs the same file. The exporter is torch's own
(``torch.onnx.export(..., dynamo=True)``, which needs ``onnxscript``); an op it cannot
translate or data-dependent control flow raises :class:`RuntimeFailure` with its reason.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path
from typing import Any

from selector.core.runtimes.base import RuntimeFailure, input_names, positional, short_reason, timed, wrap

OPSET = 18


def batch_of_two(example: Any) -> Any:
    """The example at batch 2: the exporter specialises a batch of 1 to a constant."""
    import torch

    def two(t: Any) -> Any:
        return torch.cat([t[:1], t[:1]]) if t.shape[0] != 2 else t

    return {k: two(v) for k, v in example.items()} if isinstance(example, dict) else two(example)


def export_onnx(model: Any, example: Any, path: Path) -> float:
    """Export ``model`` to ``path``; seconds taken. ``RuntimeFailure`` with the exporter's reason."""
    import torch

    example = batch_of_two(example)
    module = wrap(model, isinstance(example, dict))
    args = positional(example)
    batch = torch.export.Dim("batch", min=1, max=4096)
    shapes = tuple({0: batch} for _ in args)
    noise = io.StringIO()

    def export() -> None:
        torch.onnx.export(module, args, str(path), dynamo=True, input_names=input_names(example),
                          output_names=["output"], dynamic_shapes=shapes, opset_version=OPSET,
                          optimize=True, verbose=False, report=False)

    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(noise):
            warnings.simplefilter("ignore")
            _, seconds = timed(export)
    except ImportError as err:
        raise RuntimeFailure(f"the ONNX exporter needs {err.name or 'onnxscript'}: "
                             f"pip install 'selector[runtimes]'") from err
    except Exception as err:  # noqa: BLE001 - any exporter error ends this runtime's row
        raise RuntimeFailure(f"ONNX export failed: {short_reason(err)}") from err
    if not path.exists():
        raise RuntimeFailure("ONNX export wrote no file")
    return seconds
