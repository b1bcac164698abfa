"""Reading checkpoint files safely: safetensors, or ``torch.load(weights_only=True)`` only.

A pickle that ``weights_only`` refuses is never retried unsafely: it could run arbitrary
code. Every failure becomes a ``SelectorError`` that names the file and says what to do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from selector.core.errors import SelectorError

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pth", ".pt", ".ckpt")
HF_WEIGHT_FILES = (
    "model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json",
)
_WRAPPER_KEYS = ("state_dict_ema", "model_ema", "state_dict", "model")
"""Training checkpoints keep the weights under one of these keys (timm's order)."""


def find_weights(folder: Path) -> Path | None:
    """The weights file of a model folder: HF names first, else the only weights file there."""
    for name in HF_WEIGHT_FILES:
        if (folder / name).is_file():
            return folder / name
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in WEIGHT_SUFFIXES)
    if len(files) == 1:
        return files[0]
    safetensors = [p for p in files if p.suffix == ".safetensors"]
    return safetensors[0] if len(safetensors) == 1 else None


def _shards(path: Path) -> list[Path]:
    """The files behind ``path``: itself, or every shard an ``*.index.json`` lists."""
    if not path.name.endswith(".index.json"):
        return [path]
    import json

    try:
        index = json.loads(path.read_text(encoding="utf-8"))
        names = sorted(set(index["weight_map"].values()))
    except (OSError, ValueError, KeyError, AttributeError) as err:
        raise SelectorError(f"corrupt checkpoint index {path}: {err}") from err
    missing = [n for n in names if not (path.parent / n).is_file()]
    if missing:
        raise SelectorError(f"checkpoint index {path} lists missing shards: {', '.join(missing[:3])}")
    return [path.parent / n for n in names]


def _unwrap(checkpoint: Any, path: Path) -> dict[str, Any]:
    import torch

    if isinstance(checkpoint, dict):
        for key in _WRAPPER_KEYS:
            inner = checkpoint.get(key)
            if isinstance(inner, dict) and inner:
                checkpoint = inner
                break
    if not isinstance(checkpoint, dict) or not checkpoint:
        raise SelectorError(f"{path} holds no state dict (found {type(checkpoint).__name__})")
    tensors = {k: v for k, v in checkpoint.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise SelectorError(f"{path} holds no tensors")
    if all(k.startswith("module.") for k in tensors):  # saved from DataParallel / DDP
        tensors = {k[len("module."):]: v for k, v in tensors.items()}
    return tensors


def _torch_load(path: Path, mmap: bool) -> Any:
    import pickle

    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise SelectorError(
            f"{path} is a pickle that safe loading (torch.load weights_only=True) refuses: it holds "
            "objects other than tensors, which could run code when loaded. selector never loads such "
            "files; re-save the weights with safetensors (safetensors.torch.save_file(model.state_dict(), "
            f"'model.safetensors')). ({first[:160]})"
        ) from err
    except RuntimeError as err:
        if mmap and "mmap" in str(err).lower():
            return _torch_load(path, mmap=False)  # the legacy (non-zip) format cannot be mapped
        raise SelectorError(f"corrupt checkpoint {path}: {' '.join(str(err).split())[:200]}") from err
    except (EOFError, OSError, ValueError) as err:
        raise SelectorError(f"corrupt checkpoint {path}: {err}") from err


def read_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Tensor names and shapes, reading only headers where the format allows (safetensors, mmap)."""
    shapes: dict[str, tuple[int, ...]] = {}
    for shard in _shards(path):
        if shard.suffix == ".safetensors":
            from safetensors import SafetensorError, safe_open

            try:
                with safe_open(str(shard), framework="pt") as handle:
                    for key in handle.keys():  # noqa: SIM118 (safe_open is not a dict)
                        shapes[key] = tuple(handle.get_slice(key).get_shape())
            except (SafetensorError, OSError) as err:
                raise SelectorError(f"corrupt checkpoint {shard} (safetensors): {err}") from err
        else:
            tensors = _unwrap(_torch_load(shard, mmap=True), shard)
            shapes.update({k: tuple(v.shape) for k, v in tensors.items()})
    if not shapes:
        raise SelectorError(f"{path} holds no tensors")
    return shapes


def read_state_dict(path: Path) -> dict[str, Any]:
    """All tensors of a checkpoint on the CPU (shards merged, training wrappers removed)."""
    state: dict[str, Any] = {}
    for shard in _shards(path):
        if shard.suffix == ".safetensors":
            from safetensors import SafetensorError
            from safetensors.torch import load_file

            try:
                state.update(load_file(str(shard), device="cpu"))
            except (SafetensorError, OSError) as err:
                raise SelectorError(f"corrupt checkpoint {shard} (safetensors): {err}") from err
        else:
            state.update(_unwrap(_torch_load(shard, mmap=False), shard))
    return state


def compare_shapes(
    model_shapes: dict[str, tuple[int, ...]], checkpoint: dict[str, tuple[int, ...]], prefix: str = ""
) -> tuple[list[str], list[str], list[str]]:
    """(mismatched, missing, unexpected) keys, allowing the checkpoint to carry or lack ``prefix.``.

    ``mismatched`` lines read ``name: checkpoint (a, b) vs model (c, d)``.
    """
    def normalise(key: str) -> str:
        if key in model_shapes:
            return key
        if prefix and key.startswith(prefix + ".") and key[len(prefix) + 1:] in model_shapes:
            return key[len(prefix) + 1:]
        if prefix and f"{prefix}.{key}" in model_shapes:
            return f"{prefix}.{key}"
        return key

    seen = set()
    mismatched, unexpected = [], []
    for key, shape in checkpoint.items():
        name = normalise(key)
        if name not in model_shapes:
            unexpected.append(key)
            continue
        seen.add(name)
        if tuple(model_shapes[name]) != tuple(shape):
            mismatched.append(f"{key}: checkpoint {tuple(shape)} vs model {tuple(model_shapes[name])}")
    missing = [k for k in model_shapes if k not in seen]
    return mismatched, missing, unexpected
