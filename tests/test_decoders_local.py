"""A local decoder folder (sharded safetensors) added like any model, and a decoder's sharded
weights downloaded from a fake Hub (tests/fake_hub.py): no network."""

from __future__ import annotations

import dataclasses
import os
import threading

import pytest

from selector.core import download, hub
from selector.core.catalog import local
from selector.core.catalog.decoders import decoder_entries
from selector.core.errors import SelectorError
from selector.core.estimate.memory import Workload, estimate_memory
from tests.fake_hub import FakeHub
from tests.test_download import online
from tests.test_llm_memory import real_model, tiny_config


@pytest.fixture
def sharded_folder(tmp_path):
    model = real_model(tiny_config("llama"))
    folder = tmp_path / "my-tiny-llama"
    model.save_pretrained(folder, max_shard_size="100KB")
    assert (folder / "model.safetensors.index.json").is_file()
    assert len(list(folder.glob("model-*-of-*.safetensors"))) > 1
    return folder, sum(p.numel() for p in model.parameters())


def test_local_sharded_decoder_is_added_as_text_generation(sharded_folder):
    folder, params = sharded_folder
    entry = local.add_local_model(folder)
    assert entry.id == "local:my-tiny-llama" and entry.is_decoder and entry.params == params
    assert "no tokenizer files" in entry.notes
    stored, problems = local.load_local_entries()
    assert not problems and stored[0].activation == entry.activation
    est = estimate_memory(stored[0], Workload(seq_len=512), "cpu")
    assert est.kv_cache_mib > 0 and est.weights_mib > 0


def test_local_decoder_whose_config_does_not_match_its_weights(sharded_folder):
    folder, _ = sharded_folder
    config = (folder / "config.json").read_text().replace('"intermediate_size": 128', '"intermediate_size": 256')
    (folder / "config.json").write_text(config)
    with pytest.raises(SelectorError, match="does not match its config.json"):
        local.inspect_local_model(folder)


DECODER_REPO = "mistralai/Mistral-7B-v0.3"


@pytest.fixture
def decoder_hub(monkeypatch, tmp_path):
    shard = os.urandom(200_000)
    files = {"config.json": b'{"model_type": "mistral"}', "generation_config.json": b"{}",
             "model.safetensors.index.json": b"{}", "model-00001-of-00003.safetensors": shard,
             "model-00002-of-00003.safetensors": shard, "model-00003-of-00003.safetensors": shard,
             "consolidated.safetensors": os.urandom(600_000), "tokenizer.json": b"{}", "README.md": b"# card"}
    with FakeHub({DECODER_REPO: files}) as fake:
        online(monkeypatch, fake.url, tmp_path / "hub")
        yield fake
    hub.reset_for_tests()


def test_decoder_download_fetches_the_shards_not_the_consolidated_copy(decoder_hub):
    entry = next(e for e in decoder_entries() if e.id == DECODER_REPO)
    seen = []
    result = download.download_weights(entry, progress=lambda done, total, name: seen.append(name))
    assert result.files == ["config.json", "tokenizer.json", "generation_config.json",
                            "model.safetensors.index.json", "model-00001-of-00003.safetensors",
                            "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors"]
    assert decoder_hub.fetched("consolidated.safetensors") == 0 and hub.is_cached(DECODER_REPO)
    assert "model-00003-of-00003.safetensors" in seen


def test_decoder_download_cancelled_between_shards(decoder_hub):
    entry = dataclasses.replace(next(e for e in decoder_entries() if e.id == DECODER_REPO))
    stop = threading.Event()

    def progress(done, total, name):
        if name == "model-00002-of-00003.safetensors":
            stop.set()

    with pytest.raises(download.DownloadCancelled):
        download.download_weights(entry, progress=progress, cancel=stop)
    assert not hub.is_cached(DECODER_REPO)
    assert decoder_hub.fetched("model-00003-of-00003.safetensors") == 0
