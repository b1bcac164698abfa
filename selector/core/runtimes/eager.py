"""Eager PyTorch: the reference every other runtime is checked against."""

from __future__ import annotations

from typing import Any

from selector.core.runtimes.base import Prepared, positional, wrap


def prepare(model: Any, example: Any, device: str) -> Prepared:
    """The model as it is (no export), called with positional inputs."""
    import torch

    module = wrap(model, isinstance(example, dict))

    def run(args: tuple) -> Any:
        with torch.inference_mode():
            return module(*args)

    return Prepared("eager", "fp32", torch.__version__, f"torch {device}", positional, run, export_s=0.0)
