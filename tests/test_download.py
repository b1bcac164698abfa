"""Downloading weights, against a local fake Hub (tests/fake_hub.py): never the network."""

import errno
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from selector.core import download, hub
from selector.core.catalog.entry import TEXT, VISION, CatalogEntry
from selector.core.errors import SelectorError
from tests.fake_hub import FakeHub

TIMM_REPO = "timm/resnet18.a1_in1k"
BERT_REPO = "google-bert/bert-base-uncased"
WEIGHTS = os.urandom(3 * 2**20 + 123)  # several 1-MiB progress steps


def repos() -> dict:
    shard = os.urandom(300_000)
    return {
        TIMM_REPO: {"config.json": b'{"architecture": "resnet18"}', "model.safetensors": WEIGHTS,
                    "pytorch_model.bin": b"old format", "README.md": b"# card"},
        BERT_REPO: {"config.json": b'{"model_type": "bert"}', "model.safetensors.index.json": b"{}",
                    "model-00001-of-00002.safetensors": shard, "model-00002-of-00002.safetensors": shard,
                    "tokenizer.json": b"{}", "vocab.txt": b"[PAD]", "flax_model.msgpack": b"x" * 1000,
                    "onnx/model.onnx": b"x" * 1000},
        "org/gated-model": {"config.json": b"{}", "model.safetensors": b"w"},
    }


def entry(model_id: str, repo: str | None, task: str = VISION) -> CatalogEntry:
    return CatalogEntry(id=model_id, source="timm" if task == VISION else "transformers", task=task,
                        family="test", architecture="test", hf_hub_id=repo)


def online(monkeypatch, url: str, cache: Path) -> None:
    """The hub at ``url`` is reachable; the HF cache is ``cache``."""
    from huggingface_hub import constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    hub.reset_for_tests()


@pytest.fixture
def fake_hub(monkeypatch, tmp_path):
    with FakeHub(repos(), gated=("org/gated-model",)) as fake:
        online(monkeypatch, fake.url, tmp_path / "hub")
        yield fake
    hub.reset_for_tests()


def leftovers(cache: Path) -> list[Path]:
    return [p for p in cache.rglob("*") if p.name.endswith(".incomplete")]


def test_download_lands_in_the_standard_cache_and_reads_as_cached(fake_hub):
    from selector.core.catalog.catalog import load_catalog

    assert not hub.is_cached(TIMM_REPO)
    seen = []
    result = download.download_weights("resnet18.a1_in1k", progress=lambda *a: seen.append(a))
    assert result.repo_id == TIMM_REPO and result.files == ["config.json", "model.safetensors"]
    assert result.total_bytes == result.downloaded_bytes == len(WEIGHTS) + 28
    assert hub.is_cached(TIMM_REPO) and load_catalog().get("resnet18.a1_in1k").weights_cached
    assert (Path(result.snapshot) / "model.safetensors").read_bytes() == WEIGHTS
    done = [d for d, _total, _name in seen]
    assert done == sorted(done) and done[-1] == result.total_bytes and len(done) >= 4
    assert {total for _d, total, _n in seen} == {result.total_bytes}
    assert fake_hub.fetched("pytorch_model.bin") == fake_hub.fetched("README.md") == 0
    # Again: nothing is fetched, and the weights are not asked for.
    again = download.download_weights("resnet18.a1_in1k")
    assert again.already_cached and fake_hub.fetched("model.safetensors") == 1


def test_text_model_fetches_config_tokenizer_and_shards_only(fake_hub):
    result = download.download_weights("bert-base-uncased")
    assert result.repo_id == BERT_REPO
    assert result.files == ["config.json", "tokenizer.json", "vocab.txt", "model.safetensors.index.json",
                            "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    assert hub.is_cached(BERT_REPO)
    assert fake_hub.fetched("flax_model.msgpack") == fake_hub.fetched("model.onnx") == 0


@pytest.mark.parametrize("as_callable", [False, True])
def test_cancel_mid_download_leaves_the_model_not_cached(fake_hub, tmp_path, as_callable):
    stop = threading.Event()

    def progress(done, total, name):
        if name == "model.safetensors" and done > 2**20:
            stop.set()

    with pytest.raises(download.DownloadCancelled, match="cancelled"):
        download.download_weights(entry("resnet18.a1_in1k", TIMM_REPO), progress=progress,
                                  cancel=stop.is_set if as_callable else stop)
    cache = tmp_path / "hub"
    assert not hub.is_cached(TIMM_REPO) and not leftovers(cache)
    assert not list(cache.rglob("snapshots/*/model.safetensors"))
    # A later download starts clean and completes.
    assert download.download_weights(entry("resnet18.a1_in1k", TIMM_REPO)).files[-1] == "model.safetensors"
    assert hub.is_cached(TIMM_REPO)


def test_cancel_between_shards_unlinks_the_finished_shard(fake_hub, tmp_path):
    stop = threading.Event()
    progress = lambda d, t, name: name == "model-00001-of-00002.safetensors" and stop.set()  # noqa: E731
    with pytest.raises(download.DownloadCancelled):
        download.download_weights("bert-base-uncased", progress=progress, cancel=stop)
    cache = tmp_path / "hub"
    assert fake_hub.fetched("model-00001-of-00002.safetensors") == 1
    assert not hub.is_cached(BERT_REPO) and not leftovers(cache)
    assert not list(cache.rglob("snapshots/*/*.safetensors"))


def test_offline_fails_fast_with_a_clear_message():
    target = entry("resnet18.a1_in1k", TIMM_REPO)
    with pytest.raises(SelectorError, match=r"cannot be reached from this machine \(HF_HUB_OFFLINE=1\)"):
        download.download_weights(target)


def test_silent_hub_fails_at_the_timeout(monkeypatch, tmp_path):
    silent = socket.socket()  # listens, never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(0)
    try:
        online(monkeypatch, f"http://127.0.0.1:{silent.getsockname()[1]}", tmp_path / "hub")
        with pytest.raises(SelectorError, match=r"cannot be reached .*no answer within 1 s"):
            download.download_weights(entry("resnet18.a1_in1k", TIMM_REPO))
    finally:
        silent.close()
        hub.reset_for_tests()


def test_unknown_id_missing_repo_and_gated_repo_say_so(fake_hub):
    with pytest.raises(SelectorError, match="unknown model id 'resnet18_nope.a1'"):
        download.download_weights("resnet18_nope.a1")
    with pytest.raises(SelectorError, match="org/absent was not found on the Hugging Face Hub"):
        download.download_weights(entry("absent", "org/absent"))
    with pytest.raises(SelectorError, match="org/gated-model is a gated repository: accept its conditions"):
        download.download_weights(entry("gated", "org/gated-model"))
    assert not hub.is_cached("org/gated-model")


def test_url_only_timm_weights_and_local_models_are_explained():
    with pytest.raises(SelectorError, match=r"at a URL only \(https://.*\), not on the Hugging Face Hub"):
        download.hub_repo(entry("gcvit_base.in1k", None))
    local = CatalogEntry(id="local:a", source="local", task=VISION, family="x", architecture="x",
                         local_path="/data/a")
    with pytest.raises(SelectorError, match="local model"):
        download.hub_repo(local)


def test_disk_full_is_a_clear_error(fake_hub, monkeypatch):
    monkeypatch.setattr(download.shutil, "disk_usage", lambda path: SimpleNamespace(free=1000))
    with pytest.raises(SelectorError, match=r"not enough disk space to download resnet18.a1_in1k: 3.0 MiB needed"):
        download.download_weights(entry("resnet18.a1_in1k", TIMM_REPO))
    full = download._explain(OSError(errno.ENOSPC, "No space left on device"), TIMM_REPO, "resnet18.a1_in1k")
    assert "the disk is full" in str(full)


def test_cli_downloads_and_reports_json(fake_hub, capsys):
    from selector.cli import main

    assert main(["download", "resnet18.a1_in1k", "bert-base-uncased", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [d["repo_id"] for d in out["downloaded"]] == [TIMM_REPO, BERT_REPO]
    assert out["errors"] == [] and not out["cancelled"]
    assert main(["download", "no_such_model_at_all"]) == 2
    assert "unknown model id" in capsys.readouterr().err


def test_cli_offline_exits_2_with_the_message(capsys):
    from selector.cli import main

    assert main(["download", "resnet18.a1_in1k"]) == 2
    assert "cannot be reached from this machine" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process")
def test_cli_ctrl_c_cancels_cleanly_with_status_130(tmp_path):
    cache = tmp_path / "hub"
    with FakeHub(repos(), delay_s=0.2) as fake:  # ~1.3 MiB/s: seconds for the weights
        env = {**os.environ, "HF_ENDPOINT": fake.url, "HF_HUB_CACHE": str(cache)}
        env.pop("HF_HUB_OFFLINE", None)
        child = subprocess.Popen([sys.executable, "-m", "selector", "download", "resnet18.a1_in1k"],
                                 env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while fake.fetched("model.safetensors") == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=30)
    assert child.returncode == 130, err
    assert "cancelled" in err and "Traceback" not in err
    assert not list(cache.rglob("snapshots/*/model.safetensors")) and not leftovers(cache)
