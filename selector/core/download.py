"""Downloading pretrained weights into the standard Hugging Face cache, with progress and cancel.

``download_weights(entry_or_id, progress=..., cancel=...)`` fetches only the files a model
needs (timm: ``model.safetensors``, else ``pytorch_model.bin``, and ``config.json``;
transformers: ``config.json``, the safetensors weights or their shards, the tokenizer files)
with ``hf_hub_download`` into the default cache, so ``hub.is_cached`` and the catalog's
``weights_cached`` see them at once. Sizes come from one ``model_info`` call, so progress is
over the whole model: ``progress(done_bytes, total_bytes, filename)``, never decreasing.

Cancel (a ``threading.Event`` or a callable) is checked between files and on every MiB
received; it raises ``DownloadCancelled``. huggingface_hub writes each file to a
uniquely named ``.incomplete`` file beside its blob and deletes it when the download fails,
so a cancelled file leaves nothing behind; the weights files this call already finished
are unlinked from the snapshot (their blobs stay and make a retry instant), so a cancelled
model never reads as cached.

The hub is asked only when it may be: ``HF_HUB_OFFLINE`` or no answer to the 1-second check
in ``selector.core.hub`` fails at once with a plain message, never after a minute of retries.
"""

from __future__ import annotations

import contextlib
import errno
import re
import shutil
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from selector.core import hub
from selector.core.catalog.entry import CatalogEntry
from selector.core.errors import SelectorError

if TYPE_CHECKING:  # pragma: no cover
    from selector.core.catalog.catalog import Catalog

ProgressCallback = Callable[[int, int, str], None]
"""``(done_bytes, total_bytes, filename)``: bytes of the whole model, not of one file."""
Cancel = threading.Event | Callable[[], bool] | None

CHUNK_BYTES = 1 << 20
"""Progress and cancel granularity (huggingface_hub's default chunk is 10 MiB)."""
METADATA_TIMEOUT_S = 10.0
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pth", ".pt", ".ckpt")
_TIMM_WEIGHTS = ("model.safetensors", "pytorch_model.bin", "open_clip_model.safetensors",
                 "open_clip_pytorch_model.bin")
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt",
                    "vocab.json", "merges.txt", "added_tokens.json", "spiece.model",
                    "sentencepiece.bpe.model")
_SHARDS = (("model.safetensors", "model.safetensors.index.json", r"model-\d+-of-\d+\.safetensors"),
           ("pytorch_model.bin", "pytorch_model.bin.index.json", r"pytorch_model-\d+-of-\d+\.bin"))


class DownloadCancelled(SelectorError):
    """The download was cancelled; nothing partial is left in the cache's snapshot."""


@dataclass
class DownloadResult:
    model_id: str
    repo_id: str
    files: list[str] = field(default_factory=list)
    """Repo file names, all now in the local cache."""
    snapshot: str = ""
    """The cache's snapshot folder holding them."""
    total_bytes: int = 0
    downloaded_bytes: int = 0
    """Bytes fetched by this call (0 when everything was cached already)."""
    seconds: float = 0.0
    note: str = ""

    @property
    def already_cached(self) -> bool:
        return self.downloaded_bytes == 0

    @property
    def mib_per_s(self) -> float | None:
        return self.downloaded_bytes / 2**20 / self.seconds if self.downloaded_bytes and self.seconds else None

    def to_dict(self) -> dict:
        return {**asdict(self), "already_cached": self.already_cached, "mib_per_s": self.mib_per_s}


# ----------------------------------------------------------------- what to fetch
def hub_repo(entry: CatalogEntry) -> str:
    """The Hub repo holding ``entry``'s weights, or a ``SelectorError`` saying why there is none."""
    if entry.source == "local":
        raise SelectorError(f"{entry.id} is a local model: its weights are the files at {entry.local_path}")
    if entry.hf_hub_id:
        return entry.hf_hub_id
    if entry.source == "timm":
        url = _timm_url(entry.id)
        where = f"at a URL only ({url})" if url else "nowhere: timm has no pretrained weights for it"
        raise SelectorError(
            f"{entry.id}: timm publishes these weights {where}, not on the Hugging Face Hub; selector "
            "downloads from the Hub only (timm.create_model(..., pretrained=True) fetches the URL into "
            "torch's hub cache)")
    from selector.core.catalog.text import HUB_ALIASES

    return HUB_ALIASES.get(entry.id, entry.id)


def _timm_url(model_id: str) -> str:
    try:
        from selector.core.catalog.vision import timm_config

        return timm_config(model_id).url or ""
    except Exception:  # noqa: BLE001 - only for the message
        return ""


def pick_files(entry: CatalogEntry, sizes: dict[str, int]) -> list[str]:
    """The files of the repo (``sizes``: name -> bytes) the model needs, weights last."""
    top = [name for name in sizes if "/" not in name]
    config = [n for n in ("config.json",) if n in sizes]
    if entry.is_vision:
        weights = next(([n] for n in _TIMM_WEIGHTS if n in sizes), [])
        extra: list[str] = []
    else:
        weights = []
        for single, index, shard in _SHARDS:
            if single in sizes:
                weights = [single]
            elif index in sizes:
                weights = [index] + sorted(n for n in top if re.fullmatch(shard, n))
            if weights:
                break
        extra = [n for n in _TOKENIZER_FILES if n in sizes]
        if entry.is_decoder and "generation_config.json" in sizes:
            extra.append("generation_config.json")  # eos / pad ids and sampling defaults
    if not weights:
        shown = ", ".join(sorted(top)[:12]) or "no files"
        raise SelectorError(f"{entry.id}: the Hub repo has no weights selector can load ({shown})")
    return config + extra + weights


# ----------------------------------------------------------------- progress and cancel
class _Tracker:
    """Sums the bytes of every file; hands huggingface_hub a ``tqdm_class`` that reports here."""

    def __init__(self, total: int, progress: ProgressCallback | None, cancelled: Callable[[], bool]):
        self.total, self.progress, self.cancelled = total, progress, cancelled
        self.finished = 0  # bytes of files already complete
        self.current = 0  # bytes of the file in flight
        self.fetched = 0  # bytes received over the network by this call
        self.reported = -1
        self.name = ""

    def start(self, name: str) -> None:
        self.check()
        self.name, self.current = name, 0

    def finish(self, size: int) -> None:
        self.finished += size
        self.current = 0
        self.report()

    def advance(self, n: float) -> None:
        self.current += int(n or 0)
        self.fetched += max(0, int(n or 0))
        self.check()
        self.report()

    def check(self) -> None:
        if self.cancelled():
            raise DownloadCancelled("download cancelled")

    def report(self) -> None:
        done = min(self.total, self.finished + max(0, self.current)) if self.total else self.finished
        if done > self.reported:  # a retry that restarts a file never moves the bar back
            self.reported = done
            if self.progress is not None:
                self.progress(done, self.total, self.name)

    def bar_class(self) -> type:
        tracker = self

        class Bar:  # what huggingface_hub calls on a tqdm bar, nothing drawn
            def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
                tracker.current = int(kwargs.get("initial") or 0)

            def __enter__(self) -> "Bar":
                return self

            def __exit__(self, *exc) -> None:  # noqa: ANN002
                return None

            def update(self, n: float | None = 1) -> None:
                tracker.advance(n or 0)

            def update_transfer(self, n: float | None = 1) -> None:
                pass

            def set_postfix_str(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
                pass

            set_transfer_postfix_str = set_postfix_str
            set_description = set_postfix_str
            refresh = close = set_postfix_str

        return Bar


def _cancel_check(cancel: Cancel) -> Callable[[], bool]:
    if cancel is None:
        return lambda: False
    if isinstance(cancel, threading.Event):
        return cancel.is_set
    return lambda: bool(cancel())


_settings_lock = threading.Lock()
_settings_users = 0
_saved: tuple = ()


@contextlib.contextmanager
def _plain_http() -> Iterator[None]:
    """1-MiB chunks and plain HTTP instead of Xet while any download of ours runs.

    hf_xet reports progress from its own threads and swallows exceptions raised there, so a
    Xet transfer could not be cancelled before its file ends; the Hub serves the same files
    over HTTP. Both settings are process-wide in huggingface_hub: restored after the last one.
    """
    global _settings_users, _saved
    from huggingface_hub import constants

    with _settings_lock:
        if _settings_users == 0:
            _saved = (constants.DOWNLOAD_CHUNK_SIZE, constants.HF_HUB_DISABLE_XET)
            constants.DOWNLOAD_CHUNK_SIZE = min(constants.DOWNLOAD_CHUNK_SIZE, CHUNK_BYTES)
            constants.HF_HUB_DISABLE_XET = True
        _settings_users += 1
    try:
        yield
    finally:
        with _settings_lock:
            _settings_users -= 1
            if _settings_users == 0:
                constants.DOWNLOAD_CHUNK_SIZE, constants.HF_HUB_DISABLE_XET = _saved


# ----------------------------------------------------------------- the download
def download_weights(
    target: CatalogEntry | str,
    *,
    progress: ProgressCallback | None = None,
    cancel: Cancel = None,
    catalog: "Catalog | None" = None,
) -> DownloadResult:
    """Download the weights of ``target`` (an entry, or anything ``resolve_model`` accepts).

    Raises ``DownloadCancelled`` when cancelled and ``SelectorError`` with a plain message
    when the hub cannot be reached, the id or repo is unknown, the repo is gated, or the disk
    is full. On success the entry's ``weights_cached`` is True.
    """
    entry = target if isinstance(target, CatalogEntry) else _resolve(target, catalog)
    if entry.local_path and Path(entry.local_path).exists():
        return DownloadResult(entry.id, entry.hf_hub_id or "", snapshot=entry.local_path,
                              note=f"already on this machine at {entry.local_path}")
    repo = hub_repo(entry)
    cancelled = _cancel_check(cancel)
    try:
        _require_hub(entry.id)
    except SelectorError:
        from selector.core.catalog.catalog import cached_repo_ids

        if repo not in cached_repo_ids():
            raise
        entry.weights_cached = True
        return DownloadResult(entry.id, repo, snapshot=_snapshot_folder(repo),
                              total_bytes=hub.cached_model_repos().get(repo, 0),
                              note="already in the local cache (the Hub was not asked)")
    start = time.perf_counter()
    sizes = _repo_sizes(repo, entry.id)
    files = pick_files(entry, sizes)
    tracker = _Tracker(sum(sizes[n] for n in files), progress, cancelled)
    missing = [n for n in files if _cached_file(repo, n) is None]
    _check_disk_space(sum(sizes[n] for n in missing), entry.id)
    made: list[Path] = []  # weights pointers created by this call, undone on failure
    paths: list[Path] = []
    try:
        with _plain_http():
            for name in files:
                tracker.start(name)
                path = _cached_file(repo, name)
                if path is None:
                    path = _fetch(repo, name, tracker)
                    if name.endswith(_WEIGHT_SUFFIXES):
                        made.append(path)
                paths.append(path)
                tracker.finish(sizes[name])
    except BaseException as err:
        for pointer in made:
            pointer.unlink(missing_ok=True)
        if isinstance(err, (DownloadCancelled, KeyboardInterrupt)):
            raise DownloadCancelled(f"download of {entry.id} cancelled") from None
        explained = _explain(err, repo, entry.id)
        if explained is err:
            raise
        raise explained from err
    entry.weights_cached = True
    return DownloadResult(entry.id, repo, files, str(paths[-1].parent), tracker.total, tracker.fetched,
                          time.perf_counter() - start)


def _resolve(spec: str, catalog: "Catalog | None") -> CatalogEntry:
    from selector.core.models import resolve_model

    return resolve_model(spec, catalog)


def _require_hub(model_id: str) -> None:
    from huggingface_hub import constants

    if hub.offline_requested() or constants.HF_HUB_OFFLINE:
        raise SelectorError(f"the Hugging Face Hub cannot be reached from this machine (HF_HUB_OFFLINE=1): "
                            f"{model_id} was not downloaded; unset HF_HUB_OFFLINE to allow downloads")
    status = hub.hub_status(timeout=1.0)
    if not status.reachable:
        raise SelectorError(f"the Hugging Face Hub cannot be reached from this machine ({status.endpoint} "
                            f"{status.reason}): {model_id} was not downloaded")


def _repo_sizes(repo: str, model_id: str) -> dict[str, int]:
    from huggingface_hub import HfApi

    try:
        info = HfApi(endpoint=hub.endpoint()).model_info(repo, files_metadata=True, timeout=METADATA_TIMEOUT_S)
    except Exception as err:  # noqa: BLE001 - every failure gets a plain message
        explained = _explain(err, repo, model_id)
        if explained is err:
            raise
        raise explained from err
    return {s.rfilename: int(s.size if s.size is not None else (s.lfs.size if s.lfs else 0))
            for s in info.siblings or []}


def _cached_file(repo: str, name: str) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo, name, cache_dir=hub.cache_dir())
    return Path(found) if isinstance(found, str) and Path(found).is_file() else None


def _snapshot_folder(repo: str) -> str:
    """The cache's snapshot folder of the repo's ``main``, or "" (reads the cache only)."""
    folder = hub.cache_dir() / ("models--" + repo.replace("/", "--"))
    try:
        commit = (folder / "refs" / "main").read_text().strip()
    except OSError:
        return ""
    return str(folder / "snapshots" / commit) if (folder / "snapshots" / commit).is_dir() else ""


def _fetch(repo: str, name: str, tracker: _Tracker) -> Path:
    from huggingface_hub import hf_hub_download

    return Path(hf_hub_download(repo, name, revision="main", endpoint=hub.endpoint(),
                                etag_timeout=METADATA_TIMEOUT_S, tqdm_class=tracker.bar_class()))


def _check_disk_space(needed: int, model_id: str) -> None:
    folder = hub.cache_dir()
    probe = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if probe is None or not needed:
        return
    free = shutil.disk_usage(probe).free
    if free < needed:
        raise SelectorError(f"not enough disk space to download {model_id}: {needed / 2**20:,.1f} MiB "
                            f"needed, {free / 2**20:,.1f} MiB free in {folder}")


def _explain(err: BaseException, repo: str, model_id: str) -> BaseException:
    """A ``SelectorError`` in plain words for what huggingface_hub or the system raised."""
    from huggingface_hub import errors

    page = f"{hub.endpoint()}/{repo}"
    if isinstance(err, SelectorError):
        return err
    if isinstance(err, errors.GatedRepoError):
        return SelectorError(f"{repo} is a gated repository: accept its conditions at {page} and log in "
                             f"(`hf auth login`, or set HF_TOKEN) to download {model_id}")
    if isinstance(err, errors.RepositoryNotFoundError):
        return SelectorError(f"{repo} was not found on the Hugging Face Hub (or it is private: log in with a "
                             f"token that can read it); {model_id} was not downloaded")
    if isinstance(err, (errors.RemoteEntryNotFoundError, errors.RevisionNotFoundError)):
        return SelectorError(f"{repo}: a file selector needs is missing on the Hub: {_first_line(err)}")
    if isinstance(err, errors.HfHubHTTPError):
        code = getattr(err.response, "status_code", "?")
        if code in (401, 403):
            return SelectorError(f"{repo}: access denied (HTTP {code}); log in with a token that can read it")
        return SelectorError(f"{repo}: the Hub answered HTTP {code}: {_first_line(err)}")
    if isinstance(err, errors.OfflineModeIsEnabled):
        return SelectorError(f"the Hugging Face Hub cannot be reached from this machine (offline mode): "
                             f"{model_id} was not downloaded")
    if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
        return SelectorError(f"the disk is full: {model_id} could not be written to {hub.cache_dir()} ({err})")
    if type(err).__module__.split(".")[0] in ("httpx", "httpx2") or isinstance(
            err, (ConnectionError, errors.LocalEntryNotFoundError)):
        return SelectorError(f"the connection to the Hugging Face Hub failed while downloading {model_id}: "
                             f"{_first_line(err)}")
    return err


def _first_line(err: BaseException) -> str:
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    return " ".join(lines[:2]) or type(err).__name__
