"""Frozen features on disk, so that scoring the same model on the same samples again is free.

One ``.npz`` file per (model, weights, preprocessing, extraction settings) x (sampled data),
in ``cache_dir()/features/``. Its name is a hash of a JSON description of both (see
``feature_key``): anything that changes the features changes the name, so a stale file is
never read, it is just no longer found. A file holds

- ``features``: (N, D) float32, the model's penultimate features of the N samples, in order;
- ``labels``: (N,) the class names of the samples (strings);
- ``sample_ids``: (N,) the samples' ids (file paths relative to the data, or indices);
- ``meta``: one JSON string: how they were extracted (weights, preprocessing, precision,
  seconds, samples per second), when, and the description the key was made from.

The cache is bounded (``MAX_CACHE_MIB``): after a write, the files used longest ago are
removed (a cache hit refreshes the file's time). A corrupt or unreadable file is a miss.
No torch here: numpy and the standard library.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

FEATURE_DIR = "features"
MAX_CACHE_MIB = 2048.0
"""Total size of the feature cache, MiB (600 samples x 2,048 dims is 4.7 MiB)."""
KEY_VERSION = 1
"""Bumped when the way features are extracted changes, so old files stop matching."""


def feature_dir() -> Path:
    from selector.core.paths import cache_dir

    folder = cache_dir() / FEATURE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def digest(value: Any, length: int = 32) -> str:
    """Hex SHA-256 of ``value`` as canonical JSON, cut to ``length``."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def feature_key(model: dict[str, Any], data: dict[str, Any]) -> str:
    """The cache key of ``model`` (id, weights fingerprint, preprocessing, extraction
    settings, library versions) features of ``data`` (source, sample, item fingerprints)."""
    return digest({"v": KEY_VERSION, "model": model, "data": data})


# ----------------------------------------------------------------------------- fingerprints

def path_fingerprint(path: str | Path) -> str:
    """``size:mtime_ns`` of a file; for a folder, of every file directly in it (sorted)."""
    p = Path(path)
    try:
        if p.is_dir():
            parts = []
            for child in sorted(p.iterdir()):
                if child.is_file():
                    st = child.stat()
                    parts.append(f"{child.name}:{st.st_size}:{st.st_mtime_ns}")
            return digest(parts, 16)
        st = p.stat()
        return f"{st.st_size}:{st.st_mtime_ns}"
    except OSError:
        return "missing"


def item_fingerprint(item: Any, modality: str = "text") -> str:
    """What identifies one sample's content: an image file's size and modification time, a
    text's hash, an in-memory image's pixel hash."""
    if isinstance(item, (str, Path)) and modality == "image":
        return f"file:{path_fingerprint(item)}"
    if isinstance(item, str):
        return "text:" + hashlib.sha256(item.encode("utf-8")).hexdigest()[:16]
    if hasattr(item, "tobytes"):  # a PIL image (the built-in sample)
        head = f"{getattr(item, 'mode', '')}{getattr(item, 'size', '')}".encode()
        return "pixels:" + hashlib.sha256(head + item.tobytes()).hexdigest()[:16]
    return "repr:" + hashlib.sha256(repr(item).encode("utf-8")).hexdigest()[:16]


def sample_fingerprint(items: Iterable[Any], labels: Iterable[str], modality: str = "text") -> str:
    """One hash over the samples' contents and labels, in order."""
    h = hashlib.sha256()
    for item, label in zip(items, labels):
        h.update(item_fingerprint(item, modality).encode())
        h.update(b"\0")
        h.update(str(label).encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()[:32]


def model_fingerprint(entry: Any, weights_asked: str, settings: dict[str, Any]) -> dict | None:
    """What a model's features depend on, told without loading the model: the catalog
    entry, where its weights would come from (file, size, time; ``absent`` when ``auto``
    will fall back to random weights) and the extraction ``settings``. None when the
    weights' origin cannot be told (then the cache is not used)."""
    try:
        if weights_asked == "random":
            weights = "random"
        elif entry.source == "local":
            weights = f"local:{entry.local_path}:{path_fingerprint(entry.local_path)}"
        elif entry.is_vision:
            found = _timm_weights_file(entry)
            weights = f"{found}:{path_fingerprint(found)}" if found else "absent"
        else:
            from selector.core.catalog.checkpoints import HF_WEIGHT_FILES
            from selector.core.catalog.loading import cached_snapshot

            folder = cached_snapshot(entry, HF_WEIGHT_FILES)
            weights = f"{folder}:{path_fingerprint(folder)}" if folder else "absent"
    except Exception:  # noqa: BLE001 - no fingerprint, no cache; the probe still runs
        return None
    return {"id": entry.id, "source": entry.source, "architecture": entry.architecture,
            "hub": entry.hf_hub_id, "config": digest(entry.config or {}, 16),
            "input_size": list(entry.input_size), "weights_asked": weights_asked,
            "weights": weights, **settings}


def _timm_weights_file(entry: Any) -> Path | None:
    """The timm weights file ``build_model`` would load. Looked up in the Hugging Face cache
    directly when the entry names its repo (importing timm costs seconds, and a cache hit
    needs no model); through ``timm_cached_weights`` otherwise (URL-only weights)."""
    if entry.hf_hub_id:
        from huggingface_hub import try_to_load_from_cache

        from selector.core.hub import cache_dir
        from selector.core.models import _TIMM_HUB_FILES

        for name in _TIMM_HUB_FILES:
            found = try_to_load_from_cache(entry.hf_hub_id, name, cache_dir=cache_dir())
            if isinstance(found, str) and Path(found).is_file():
                return Path(found)
        return None
    from selector.core.models import timm_cached_weights

    return timm_cached_weights(entry)


# ----------------------------------------------------------------------------- read and write

@dataclass
class CachedFeatures:
    features: np.ndarray
    """(N, D) float32."""
    labels: list[str]
    sample_ids: list[str]
    meta: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None


def cache_path(key: str) -> Path:
    return feature_dir() / f"{key}.npz"


def load_features(key: str, sample_ids: list[str] | None = None) -> CachedFeatures | None:
    """The cached features for ``key``, or None (absent, unreadable, or for other samples)."""
    path = cache_path(key)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            features = np.asarray(npz["features"], dtype=np.float32)
            labels = [str(v) for v in npz["labels"]]
            ids = [str(v) for v in npz["sample_ids"]]
            meta = json.loads(str(npz["meta"]))
    except (OSError, ValueError, KeyError, json.JSONDecodeError):
        return None
    if features.ndim != 2 or features.shape[0] != len(labels) or len(ids) != len(labels):
        return None
    if sample_ids is not None and ids != [str(s) for s in sample_ids]:
        return None
    try:
        os.utime(path)  # used now: the last to be pruned
    except OSError:
        pass
    return CachedFeatures(features, labels, ids, meta, path)


def save_features(key: str, features: np.ndarray, labels: list[str], sample_ids: list[str],
                  meta: dict[str, Any], max_mib: float = MAX_CACHE_MIB) -> Path:
    """Write the features atomically (a reader never sees half a file), then prune."""
    from selector.core.fileio import atomic_write_bytes

    meta = dict(meta, saved_at=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    buffer = io.BytesIO()
    np.savez(buffer, features=np.asarray(features, dtype=np.float32),
             labels=np.asarray([str(v) for v in labels]),
             sample_ids=np.asarray([str(v) for v in sample_ids]),
             meta=np.asarray(json.dumps(meta, default=str)))
    path = atomic_write_bytes(cache_path(key), buffer.getvalue())
    prune(max_mib, keep=path)
    return path


def prune(max_mib: float = MAX_CACHE_MIB, keep: Path | None = None) -> list[Path]:
    """Remove the files used longest ago until the cache is at most ``max_mib``."""
    files = []
    for p in feature_dir().glob("*.npz"):
        try:
            st = p.stat()
        except OSError:
            continue
        files.append((st.st_mtime, st.st_size, p))
    total = sum(size for _, size, _ in files) / 2**20
    removed = []
    for _, size, p in sorted(files):
        if total <= max_mib:
            break
        if keep is not None and p == keep:
            continue
        try:
            p.unlink()
        except OSError:
            continue
        total -= size / 2**20
        removed.append(p)
    return removed


def clear() -> int:
    """Remove every cached feature file; returns how many."""
    count = 0
    for p in feature_dir().glob("*.npz"):
        try:
            p.unlink()
            count += 1
        except OSError:
            pass
    return count
