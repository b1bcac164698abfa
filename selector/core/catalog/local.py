"""Local models: a folder (or checkpoint file) the user adds becomes a catalog entry.

Two layouts are understood:

- **Hugging Face**: ``config.json`` with a ``model_type`` plus ``model.safetensors`` (or
  ``pytorch_model.bin``, sharded variants too). Built as ``AutoModelForSequenceClassification``;
  ``trust_remote_code`` is never enabled, so only architectures transformers ships work.
- **timm**: an architecture name plus a checkpoint. Either a folder in timm's own Hub layout
  (``config.json`` whose ``architecture`` names the model, beside ``model.safetensors``), or
  any folder or weights file with ``architecture=`` given explicitly.

Adding a model checks the checkpoint against the architecture (header-only reads where the
format allows) and measures it on the meta device; the entry is stored in
``config_dir()/local_models.json`` so later loads need no torch import.
"""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path
from typing import Any

from selector.core.catalog.checkpoints import compare_shapes, find_weights, read_shapes
from selector.core.catalog.entry import TEXT, VISION, CatalogEntry
from selector.core.errors import SelectorError
from selector.core.paths import config_dir

LOCAL_FILE = "local_models.json"
ID_PREFIX = "local:"


def local_list_path() -> Path:
    return config_dir() / LOCAL_FILE


def _fingerprint(weights: Path) -> dict[str, Any]:
    stat = weights.stat()
    return {"file": str(weights), "size": stat.st_size, "mtime": stat.st_mtime}


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise SelectorError(f"cannot read {what} {path}: {err}") from err


def _check_timm_architecture(name: str) -> str:
    import timm

    if timm.is_model(name):
        return name
    close = difflib.get_close_matches(name, timm.list_models(), n=5, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else "; `timm.list_models()` lists them"
    raise SelectorError(f"unknown timm architecture '{name}'{hint}")


def _raise_on_mismatch(weights: Path, what: str, mismatched: list[str], missing: list[str]) -> None:
    if mismatched:
        shown = "; ".join(mismatched[:3]) + (f"; and {len(mismatched) - 3} more" if len(mismatched) > 3 else "")
        raise SelectorError(f"checkpoint {weights} does not fit {what}: shape mismatch in {shown}")
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise SelectorError(f"checkpoint {weights} does not fit {what}: it lacks {shown}")


def _timm_num_classes(arch: str, shapes: dict[str, tuple[int, ...]], stated: int | None) -> int | None:
    """Head size from the checkpoint's classifier weight (timm names it in ``pretrained_cfg``)."""
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(arch)
    classifier = (cfg.classifier if cfg else None) or "head"
    names = classifier if isinstance(classifier, (list, tuple)) else [classifier]
    for name in names:
        shape = shapes.get(f"{name}.weight")
        if shape:
            return int(shape[0])
    if any(k.startswith(tuple(f"{n}." for n in names)) for k in shapes):
        return stated
    return stated if stated is not None else 0


def _inspect_timm(path: Path, arch: str, stated_classes: int | None) -> CatalogEntry:
    import torch
    import timm

    from selector.core.catalog.measure import measure_timm
    from selector.core.catalog.vision import family_of

    arch = _check_timm_architecture(arch)
    weights = path if path.is_file() else find_weights(path)
    if weights is None:
        raise SelectorError(
            f"no checkpoint in {path}: expected model.safetensors, pytorch_model.bin or a single .pth/.pt file"
        )
    shapes = read_shapes(weights)
    num_classes = _timm_num_classes(arch, shapes, stated_classes)
    kwargs: dict[str, Any] = {} if num_classes is None else {"num_classes": num_classes}
    with torch.device("meta"):
        model = timm.create_model(arch, pretrained=False, **kwargs)
    model_shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    mismatched, missing, _ = compare_shapes(model_shapes, shapes)
    _raise_on_mismatch(weights, f"timm '{arch}'", mismatched, missing)
    folder = path if path.is_dir() else path.parent
    entry = CatalogEntry(
        id=ID_PREFIX + (folder.name if path.is_dir() else path.stem), source="local", task=VISION,
        family=family_of(arch), architecture=arch,
        input_size=tuple(int(v) for v in model.pretrained_cfg.get("input_size", (3, 224, 224))),
        num_classes=num_classes, local_path=str(path),
        config={"format": "timm", "architecture": arch, "checkpoint": weights.name, "num_classes": num_classes},
    )
    measured = measure_timm(arch, entry=entry, **kwargs)
    entry.params, entry.macs, entry.activation = measured.params, measured.macs, measured.activation
    entry.notes = f"timm checkpoint {weights.name}" + (f"; measurement: {measured.error}" if measured.error else "")
    return entry


def _inspect_hf(folder: Path, config_dict: dict[str, Any]) -> CatalogEntry:
    import torch
    from transformers import AutoModelForSequenceClassification
    from transformers.models.auto.modeling_auto import MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES

    from selector.core.catalog.measure import measure_text
    from selector.core.catalog.text import SEQ_LEN, config_from_dict, family_of

    from selector.core.catalog.decoders import inspect_decoder_folder, is_decoder_config

    if is_decoder_config(config_dict):
        return inspect_decoder_folder(folder, config_dict, ID_PREFIX + folder.name)
    model_type = str(config_dict.get("model_type"))
    config = config_from_dict(config_dict)
    if model_type not in MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES:
        raise SelectorError(
            f"{folder}: model_type '{model_type}' has no sequence-classification model in transformers; "
            "selector takes Hugging Face folders of text encoders, and timm checkpoints for images"
        )
    weights = find_weights(folder)
    if weights is None or weights.name not in (
        "model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json"
    ):
        raise SelectorError(
            f"no weights in {folder}: expected model.safetensors or pytorch_model.bin beside config.json")
    shapes = read_shapes(weights)
    with torch.device("meta"):
        model = AutoModelForSequenceClassification.from_config(config)
    prefix = model.base_model_prefix
    body = {k: tuple(v.shape) for k, v in model.state_dict().items() if k.startswith(prefix + ".")}
    mismatched, missing, _ = compare_shapes(body, shapes, prefix)
    if len(missing) > len(body) // 2:
        raise SelectorError(
            f"checkpoint {weights} does not match its config.json ({model_type}): only "
            f"{len(body) - len(missing)} of the {len(body)} encoder tensors are in it"
        )
    _raise_on_mismatch(weights, f"its config.json ({model_type})", mismatched, [])
    has_head = any(a.endswith("ForSequenceClassification") for a in config_dict.get("architectures") or [])
    entry = CatalogEntry(
        id=ID_PREFIX + folder.name, source="local", task=TEXT, family=family_of(folder.name, model_type),
        architecture=model_type, input_size=(SEQ_LEN,),
        num_classes=int(config.num_labels) if has_head else None,
        local_path=str(folder), config=config_dict,
    )
    measured = measure_text(config, num_labels=config.num_labels, entry=entry)
    entry.params, entry.macs, entry.activation = measured.params, measured.macs, measured.activation
    tokenizer = any((folder / n).is_file() for n in ("tokenizer.json", "vocab.txt", "spiece.model", "vocab.json"))
    entry.notes = f"Hugging Face folder, weights {weights.name}" + (
        "" if tokenizer else "; no tokenizer files in the folder"
    ) + (f"; measurement: {measured.error}" if measured.error else "")
    return entry


def inspect_local_model(path: str | Path, architecture: str | None = None) -> CatalogEntry:
    """A catalog entry for a model folder or checkpoint file (not stored; see ``add_local_model``)."""
    path = Path(path).expanduser().resolve()
    if not path.exists():
        raise SelectorError(f"no such file or folder: {path}")
    if path.is_file():
        if architecture is None:
            raise SelectorError(
                f"{path} is a single checkpoint file: name its timm architecture (--architecture NAME)"
            )
        return _inspect_timm(path, architecture, None)
    config_file = path / "config.json"
    config = _read_json(config_file, "the model config") if config_file.is_file() else None
    if config is not None and not isinstance(config, dict):
        raise SelectorError(f"{config_file} is not a JSON object")
    if architecture is not None:
        return _inspect_timm(path, architecture, (config or {}).get("num_classes"))
    if config is None:
        raise SelectorError(
            f"{path} has no config.json. A Hugging Face model folder needs config.json beside "
            "model.safetensors (or pytorch_model.bin); for a timm checkpoint, name the architecture "
            "(selector catalog add PATH --architecture resnet18)"
        )
    if "model_type" not in config and isinstance(config.get("architecture"), str):
        return _inspect_timm(path, config["architecture"], config.get("num_classes"))
    return _inspect_hf(path, config)


# ----------------------------------------------------------------- the stored list
def _load_records() -> list[dict[str, Any]]:
    path = local_list_path()
    if not path.is_file():
        return []
    data = _read_json(path, "the list of local models")
    if not isinstance(data, list):
        raise SelectorError(f"{path} should hold a JSON list of local models")
    return [r for r in data if isinstance(r, dict) and isinstance(r.get("entry"), dict)]


def _save_records(records: list[dict[str, Any]]) -> None:
    from selector.core.fileio import atomic_write_text

    atomic_write_text(local_list_path(), json.dumps(records, indent=1) + "\n")


def load_local_entries() -> tuple[list[CatalogEntry], list[str]]:
    """Stored local entries and problems (folder gone, checkpoint changed, unreadable list)."""
    try:
        records = _load_records()
    except SelectorError as err:
        return [], [str(err)]
    entries, problems = [], []
    for record in records:
        entry = CatalogEntry.from_dict(record["entry"])
        fingerprint = record.get("fingerprint") or {}
        weights = Path(fingerprint.get("file", entry.local_path or ""))
        if not Path(entry.local_path or "").exists():
            problems.append(f"{entry.id}: {entry.local_path} no longer exists")
        elif weights.is_file() and (
            weights.stat().st_size != fingerprint.get("size") or weights.stat().st_mtime != fingerprint.get("mtime")
        ):
            problems.append(f"{entry.id}: {weights} changed since it was added; add it again to re-measure")
        entries.append(entry)
    return entries, problems


def add_local_model(path: str | Path, architecture: str | None = None) -> CatalogEntry:
    """Inspect, measure and remember a local model; re-adding the same path replaces it."""
    entry = inspect_local_model(path, architecture)
    records = _load_records()
    records = [r for r in records if r["entry"].get("local_path") != entry.local_path]
    taken = {r["entry"]["id"] for r in records}
    base, n = entry.id, 2
    while entry.id in taken:
        entry.id, n = f"{base}-{n}", n + 1
    local = Path(entry.local_path or "")
    weights = local if local.is_file() else local / (entry.config or {}).get("checkpoint", "")
    if not weights.is_file():
        weights = find_weights(local) or local
    entry.weights_cached = True
    records.append({"path": entry.local_path, "architecture": architecture,
                    "fingerprint": _fingerprint(weights) if weights.is_file() else {},
                    "entry": entry.to_dict()})
    _save_records(records)
    return entry


def remove_local_model(model_id: str) -> CatalogEntry:
    """Forget a local model (its files stay where they are)."""
    records = _load_records()
    keep = [r for r in records if r["entry"].get("id") != model_id]
    if len(keep) == len(records):
        known = [r["entry"]["id"] for r in records]
        hint = f"; local models: {', '.join(known)}" if known else "; there are no local models"
        raise SelectorError(f"'{model_id}' is not a local model{hint}")
    _save_records(keep)
    removed = next(r for r in records if r["entry"].get("id") == model_id)
    return CatalogEntry.from_dict(removed["entry"])


def is_local_spec(spec: str) -> bool:
    """Whether ``spec`` names a path on disk (used by ``resolve_model``)."""
    return os.sep in spec or spec.startswith((".", "~")) or Path(spec).expanduser().exists()
