"""Building real models from catalog entries, with weights from local files only.

``build_model(entry, weights="auto")`` gives pretrained weights when they are on this machine
(the Hugging Face cache, torch's hub cache for the few URL-only timm weights, or a local
folder) and otherwise a randomly initialised model, and says which in ``weights_note``. It
never downloads and never waits on the network: the hub is switched to offline mode first
unless it answers at once. Checkpoints load through safetensors or
``torch.load(weights_only=True)`` only; ``trust_remote_code`` is never enabled.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from selector.core.catalog.entry import CatalogEntry
from selector.core.errors import SelectorError

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from selector.core.catalog.catalog import Catalog

WEIGHT_CHOICES = ("auto", "pretrained", "random")
_TIMM_HUB_FILES = ("model.safetensors", "pytorch_model.bin", "open_clip_model.safetensors",
                   "open_clip_pytorch_model.bin")


@dataclass
class BuiltModel:
    model: "torch.nn.Module"
    entry: CatalogEntry
    weights: str
    """``pretrained`` (published weights), ``checkpoint`` (a local model's own) or ``random``."""
    weights_note: str
    """Plain words on where the weights came from, or why they are random."""
    preprocess: dict[str, Any]
    """Vision: timm's data config (``input_size``, ``mean``, ``std``, ``interpolation``,
    ``crop_pct``, ``crop_mode``). Text: ``max_length`` (tokens), ``model_max_length``,
    ``tokenizer`` (where it came from, or None) and ``tokenizer_note``."""
    tokenizer: Any | None = None
    """A transformers tokenizer when one is available locally, else None."""


# ----------------------------------------------------------------- resolving a spec
def resolve_model(spec: str, catalog: "Catalog | None" = None) -> CatalogEntry:
    """The entry ``spec`` names: a catalog id, a Hub id of a catalog entry (``timm/resnet50.a1_in1k``),
    a timm architecture (``resnet18``, ``test_vit``: measured on the fly), or a local model
    path. Anything else is a ``SelectorError`` with the closest ids."""
    spec = spec.strip()
    if not spec:
        raise SelectorError("no model given")
    if catalog is None:
        from selector.core.catalog.catalog import load_catalog

        catalog = load_catalog()
    if spec in catalog:
        return catalog.get(spec)
    by_hub = catalog.by_hub_id(spec)
    if by_hub is not None:
        return by_hub
    from selector.core.catalog.local import inspect_local_model, is_local_spec

    if is_local_spec(spec):
        if Path(spec).expanduser().exists():
            return inspect_local_model(spec)
        if spec.startswith(("/", ".", "~")) or "\\" in spec:
            raise SelectorError(f"no such model folder or file: {spec}")
    entry = _timm_architecture_entry(spec, catalog)
    if entry is not None:
        return entry
    catalog.get(spec)  # raises with suggestions
    raise AssertionError("unreachable")


def _timm_architecture_entry(name: str, catalog: "Catalog") -> CatalogEntry | None:
    """An entry for a timm model name (with or without tag) that is not a catalog id.

    Its measurements come from the catalog entry of the same network (a bare architecture
    and its default tag build the same model) or are made now on the meta device.
    """
    import timm

    if not timm.is_model(name.split(".", 1)[0]):
        return None
    from selector.core.catalog.measure import measure_timm
    from selector.core.catalog.vision import measurement_key, vision_entry

    entry = vision_entry(name)
    twin = next((e for e in catalog if e.source == "timm" and e.params is not None
                 and measurement_key(e) == measurement_key(entry)), None)
    if twin is not None:
        entry.params, entry.macs, entry.activation = twin.params, twin.macs, twin.activation
    else:
        measured = measure_timm(name, entry=entry)
        entry.params, entry.macs, entry.activation = measured.params, measured.macs, measured.activation
        if measured.error:
            entry.notes = "; ".join(n for n in (entry.notes, "measurement: " + measured.error) if n)
    from selector.core.catalog.catalog import cached_repo_ids

    entry.weights_cached = bool(entry.hf_hub_id) and entry.hf_hub_id in cached_repo_ids()
    return entry


# ----------------------------------------------------------------- building
def build_model(
    entry: CatalogEntry, *, weights: str = "auto", num_classes: int | None = None, device: str = "cpu"
) -> BuiltModel:
    """The model of ``entry`` on ``device``, in eval mode.

    ``weights``: ``auto`` (pretrained if on this machine, else random, labelled),
    ``pretrained`` (a ``SelectorError`` if not on this machine) or ``random``.
    ``num_classes`` replaces the classification head (text: ``num_labels``, default 2).
    """
    if weights not in WEIGHT_CHOICES:
        raise SelectorError(f"weights must be one of {', '.join(WEIGHT_CHOICES)}, not '{weights}'")
    if num_classes is not None and num_classes < 0:
        raise SelectorError(f"num_classes must be 0 or more, not {num_classes}")
    from selector.core.hub import ensure_offline_unless_reachable

    ensure_offline_unless_reachable()
    if entry.is_decoder:
        from selector.core.catalog.loading import build_decoder

        built = build_decoder(entry, weights=weights)
    elif entry.source == "local":
        from selector.core.catalog.loading import build_local

        built = build_local(entry, weights=weights, num_classes=num_classes)
    elif entry.is_vision:
        built = _build_timm(entry, weights, num_classes)
    elif entry.is_text:
        from selector.core.catalog.loading import build_text

        built = build_text(entry, weights=weights, num_classes=num_classes)
    else:
        raise SelectorError(f"{entry.id}: cannot build a model for task '{entry.task}'")
    built.model.eval()
    if device != "cpu":
        built.model = _to_device(built.model, device)
    return built


def _to_device(model: "torch.nn.Module", device: str) -> "torch.nn.Module":
    import torch

    try:
        target = torch.device(device)
    except RuntimeError as err:
        raise SelectorError(f"unknown device '{device}': {err}") from err
    if target.type == "cuda" and not torch.cuda.is_available():
        raise SelectorError(f"device '{device}' asked for, but torch sees no CUDA GPU on this machine")
    try:
        return model.to(target)
    except torch.OutOfMemoryError as err:
        raise SelectorError(f"the model does not fit in the free memory of {device}: {err}") from err


def timm_cached_weights(entry: CatalogEntry) -> Path | None:
    """The weights file of a timm entry in the local caches, or None. Reads folders only.

    The Hugging Face cache is looked at first (timm's own order), then torch's hub cache for
    the few weights that only have a download URL.
    """
    from huggingface_hub import try_to_load_from_cache

    from selector.core.catalog.vision import timm_config
    from selector.core.hub import cache_dir

    cfg = timm_config(entry.id)
    if cfg.hf_hub_id:
        names = [cfg.hf_hub_filename] if cfg.hf_hub_filename else []
        for name in names + list(_TIMM_HUB_FILES):
            found = try_to_load_from_cache(cfg.hf_hub_id, name, cache_dir=cache_dir())
            if isinstance(found, str) and Path(found).is_file():
                return Path(found)
    if cfg.url:
        import torch.hub

        candidate = Path(torch.hub.get_dir()) / "checkpoints" / cfg.url.rsplit("/", 1)[-1]
        if candidate.is_file():
            return candidate
    return None


def _build_timm(entry: CatalogEntry, weights: str, num_classes: int | None) -> BuiltModel:
    import timm

    kwargs: dict[str, Any] = {} if num_classes is None else {"num_classes": num_classes}
    found = timm_cached_weights(entry) if weights != "random" else None
    if weights == "pretrained" and found is None:
        where = f"Hugging Face repo {entry.hf_hub_id}" if entry.hf_hub_id else "timm's download URL"
        raise SelectorError(
            f"{entry.id}: pretrained weights are not on this machine (from the {where}); "
            "download them first, or use weights='random'"
        )
    if found is not None:
        try:
            overlay: dict[str, Any] = {"file": str(found)}
            if found.suffix in (".safetensors", ".bin"):  # timm's Hub format, never the original npz
                overlay["custom_load"] = False
            model = timm.create_model(entry.id, pretrained=True, pretrained_cfg_overlay=overlay, **kwargs)
        except Exception as err:  # noqa: BLE001 - a corrupt cache file must say so plainly
            raise SelectorError(f"{entry.id}: the cached weights {found} could not be loaded: {err}") from err
        kind, note = "pretrained", f"pretrained weights from the local cache ({entry.hf_hub_id or found.name})"
        if num_classes is not None and num_classes != entry.num_classes:
            note += f"; new {num_classes}-class head, randomly initialised"
    else:
        try:
            model = timm.create_model(entry.id, pretrained=False, **kwargs)
        except RuntimeError as err:
            raise SelectorError(f"{entry.id}: timm cannot build it: {err}") from err
        kind = "random"
        note = (
            "random initialisation, as asked" if weights == "random"
            else "architecture only: weights are not in the local cache; random initialisation"
        )
    model.pretrained_cfg.pop("file", None)
    return BuiltModel(model=model, entry=entry, weights=kind, weights_note=note,
                      preprocess=timm_preprocess(model), tokenizer=None)


def timm_preprocess(model: Any) -> dict[str, Any]:
    """timm's data config for ``model``: input_size, interpolation, mean, std, crop_pct, crop_mode."""
    from timm.data import resolve_model_data_config

    config = resolve_model_data_config(model)
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in config.items()}
