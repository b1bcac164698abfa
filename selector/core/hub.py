"""The one place that decides whether the Hugging Face Hub may be contacted.

A bare ``from_pretrained`` on a machine without internet retries for about a minute. The
product never waits like that: ``hub_status()`` honours ``HF_HUB_OFFLINE`` and otherwise
makes a single check bounded by ``timeout`` seconds (DNS included), whose answer is cached
for the session. ``ensure_offline_unless_reachable()`` then switches huggingface_hub (and
so transformers and timm) to offline mode when the hub cannot be reached, so later calls
read the local cache at once instead of retrying.
"""

from __future__ import annotations

import os
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

DEFAULT_ENDPOINT = "https://huggingface.co"
_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class HubStatus:
    reachable: bool
    reason: str
    endpoint: str
    checked_in_s: float = 0.0


_lock = threading.Lock()
_cached: HubStatus | None = None


def offline_requested() -> bool:
    """True when the user (or the tests) set ``HF_HUB_OFFLINE``."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE


def endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", DEFAULT_ENDPOINT).rstrip("/")


def hub_status(timeout: float = 1.0, *, refresh: bool = False) -> HubStatus:
    """Whether the hub can be reached, checked at most once per session."""
    global _cached
    with _lock:
        if _cached is not None and not refresh:
            return _cached
        if offline_requested():
            _cached = HubStatus(False, "offline mode (HF_HUB_OFFLINE is set)", endpoint())
        else:
            _cached = _probe(endpoint(), timeout)
        return _cached


def _probe(url: str, timeout: float) -> HubStatus:
    """One HEAD request in a daemon thread; whatever has not answered by ``timeout`` failed."""
    result: list[HubStatus] = []
    start = time.perf_counter()

    def attempt() -> None:
        request = urllib.request.Request(url + "/api/models?limit=1", method="HEAD")
        try:
            with urllib.request.urlopen(request, timeout=timeout):
                pass
            result.append(HubStatus(True, "reachable", url))
        except urllib.error.HTTPError as err:  # the server answered: it is reachable
            result.append(HubStatus(True, f"reachable (HTTP {err.code})", url))
        except Exception as err:  # noqa: BLE001 - any failure means "not reachable"
            reason = getattr(err, "reason", err)
            result.append(HubStatus(False, f"not reachable ({reason})", url))

    thread = threading.Thread(target=attempt, name="hub-check", daemon=True)
    thread.start()
    thread.join(timeout)
    elapsed = time.perf_counter() - start
    if not result:
        return HubStatus(False, f"not reachable (no answer within {timeout:g} s)", url, elapsed)
    status = result[0]
    return HubStatus(status.reachable, status.reason, url, elapsed)


def ensure_offline_unless_reachable(timeout: float = 1.0) -> HubStatus:
    """Put huggingface_hub in offline mode unless the hub answered; returns the status."""
    status = hub_status(timeout)
    if not status.reachable:
        set_offline()
    return status


def set_offline() -> None:
    """Offline mode for this process and its children, also if huggingface_hub is imported."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    import sys

    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        constants.HF_HUB_OFFLINE = True  # type: ignore[attr-defined]


def reset_for_tests() -> None:
    global _cached
    with _lock:
        _cached = None


# ----------------------------------------------------------------- the cache
def cache_dir() -> Path:
    """The standard Hugging Face hub cache (``HF_HUB_CACHE`` / ``HF_HOME`` respected)."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pth", ".pt", ".ckpt")


def cached_model_repos() -> dict[str, int]:
    """Model repos in the local cache that hold weights, with their size on disk in bytes.

    Reads the cache folder only; never touches the network.
    """
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    try:
        info = scan_cache_dir(cache_dir())
    except CacheNotFound:
        return {}
    repos: dict[str, int] = {}
    for repo in info.repos:
        if repo.repo_type != "model":
            continue
        has_weights = any(
            f.file_name.endswith(_WEIGHT_SUFFIXES) for rev in repo.revisions for f in rev.files
        )
        if has_weights:
            repos[repo.repo_id] = repo.size_on_disk
    return repos


def is_cached(repo_id: str) -> bool:
    """Whether weights of ``repo_id`` are already in the local cache."""
    return repo_id in cached_model_repos()
