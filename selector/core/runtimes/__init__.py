"""Which runtime runs the model: eager PyTorch, ``torch.compile``, ONNX Runtime, OpenVINO.

The latency probe measures a model under each runtime the user asks for (``runtime``
setting, ``--runtime`` in the CLI), and optionally int8 static quantisation (``quantize``)
under the runtimes that deploy it. Every runtime but eager is checked against eager on the
same inputs first (:mod:`.parity`); one that changes the answers beyond the stated tolerance
is marked and never recommended. A runtime that cannot take a model (export fails, an op is
not supported) ends its own row with the reason; the others go on.

This module is light (no torch, no runtime import): the parent uses it to check a request
before any probe starts. The runtime modules themselves are imported in the probe child.
"""

from __future__ import annotations

import importlib.util

from selector.core.errors import SelectorError

RUNTIMES = ("eager", "compile", "onnxruntime", "openvino")
"""Every runtime the latency probe knows, in the order rows are measured."""
QUANTIZE = ("int8",)
"""Quantisation modes: ``int8`` is static post-training quantisation, calibrated on a sample
of the user's data (random inputs without data)."""
QUANTIZABLE = ("onnxruntime", "openvino")
"""Runtimes that run the int8 static model (both run the same QDQ ONNX model)."""
INSTALL = "pip install 'selector[runtimes]'"
"""The command that installs every optional runtime."""
LABELS = {"eager": "eager PyTorch", "compile": "torch.compile", "onnxruntime": "ONNX Runtime",
          "openvino": "OpenVINO"}
"""What the sheets and the recommendation call each runtime."""

_PACKAGES = {"compile": (), "eager": (), "onnxruntime": ("onnx", "onnxruntime", "onnxscript"),
             "openvino": ("openvino",)}
_QUANTIZE_PACKAGES = ("onnx", "onnxruntime", "onnxscript")
"""int8 static: ONNX Runtime's quantiser writes the QDQ model both runtimes run."""


def missing_packages(runtime: str, quantize: str | None = None) -> list[str]:
    """The packages ``runtime`` (with ``quantize``) needs that are not installed."""
    needed = list(_PACKAGES.get(runtime, ()))
    if quantize and runtime in QUANTIZABLE:
        needed += [p for p in _QUANTIZE_PACKAGES if p not in needed]
    return [p for p in needed if importlib.util.find_spec(p) is None]


def install_message(runtime: str, missing: list[str]) -> str:
    """``openvino is not installed (needs openvino): pip install 'selector[runtimes]'``."""
    return (f"{LABELS.get(runtime, runtime)} is not installed (needs {', '.join(missing)}): "
            f"install it with {INSTALL}")


def available_runtimes() -> dict[str, str]:
    """Runtime -> ``""`` when it can run here, else the message with the install command
    (what the GUI shows beside a runtime it cannot offer)."""
    return {name: ("" if not (gone := missing_packages(name)) else install_message(name, gone))
            for name in RUNTIMES}


def parse_runtimes(value: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """A list of runtime names (a comma-separated string or a list), checked and de-duplicated;
    ``SelectorError`` names an unknown one and the known ones."""
    names = [p.strip() for p in value.split(",")] if isinstance(value, str) else list(value or [])
    names = [n for n in names if n]
    for name in names:
        if name not in RUNTIMES:
            raise SelectorError(f"unknown runtime {name!r}: choose from {', '.join(RUNTIMES)}")
    if not names:
        raise SelectorError(f"no runtime given: choose from {', '.join(RUNTIMES)}")
    return list(dict.fromkeys(names))


def check_runtimes(runtimes: list[str], quantize: str | None, device: str) -> None:
    """``SelectorError`` (one line, before any probe starts) for a runtime that is unknown, not
    installed (with the install command), or cannot run on ``device``; for a quantisation
    that no requested runtime runs."""
    parse_runtimes(runtimes)
    if quantize is not None and quantize not in QUANTIZE:
        raise SelectorError(f"unknown quantisation {quantize!r}: choose from {', '.join(QUANTIZE)}")
    if quantize and not any(r in QUANTIZABLE for r in runtimes):
        raise SelectorError(f"--quantize {quantize} runs under {' or '.join(QUANTIZABLE)}: add one "
                            f"to --runtime")
    if quantize and device != "cpu":
        raise SelectorError("int8 static quantisation is measured on the CPU only")
    if "openvino" in runtimes and device != "cpu":
        raise SelectorError("OpenVINO is measured on the CPU only (its GPU plugin is for Intel GPUs)")
    for name in runtimes:
        gone = missing_packages(name, quantize)
        if gone:
            raise SelectorError(install_message(name, gone))
