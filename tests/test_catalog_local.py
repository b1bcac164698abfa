"""Local models: folders the user adds, their checkpoints checked, stored, built; bad input refused."""

from __future__ import annotations

import json

import pytest

from selector.core.errors import SelectorError
from tests.catalog_helpers import save_timm_folder, save_tiny_bert

torch = pytest.importorskip("torch")


def test_timm_folder_in_hub_layout(tmp_path):
    from selector.core.catalog.local import add_local_model, local_list_path
    from selector.core.models import build_model

    state = save_timm_folder(tmp_path / "my-resnet", "test_resnet", num_classes=7)
    entry = add_local_model(tmp_path / "my-resnet")
    assert (entry.id, entry.source, entry.architecture) == ("local:my-resnet", "local", "test_resnet")
    assert entry.num_classes == 7 and entry.is_vision and entry.weights_cached
    assert entry.params == sum(v.numel() for k, v in state.items() if "running" not in k and "num_batches" not in k)
    assert entry.macs > 0 and entry.input_size == (3, 160, 160)
    assert json.loads(local_list_path().read_text())[0]["entry"]["id"] == "local:my-resnet"

    built = build_model(entry)
    assert built.weights == "checkpoint" and "model.safetensors" in built.weights_note
    assert all(torch.equal(built.model.state_dict()[k], v) for k, v in state.items())
    with torch.no_grad():
        assert built.model(torch.randn(1, 3, 160, 160)).shape == (1, 7)
    retargeted = build_model(entry, num_classes=2)
    assert "new 2-class head" in retargeted.weights_note
    with torch.no_grad():
        assert retargeted.model(torch.randn(1, 3, 160, 160)).shape == (1, 2)


def test_local_models_persist_and_are_removed(tmp_path):
    from selector.core.catalog.catalog import load_catalog
    from selector.core.catalog.local import add_local_model, remove_local_model

    save_timm_folder(tmp_path / "a", "test_resnet", num_classes=3)
    add_local_model(tmp_path / "a")
    add_local_model(tmp_path / "a")  # the same folder again replaces, not duplicates
    catalog = load_catalog()
    local = [e for e in catalog if e.source == "local"]
    assert [e.id for e in local] == ["local:a"] and local[0].weights_cached
    removed = remove_local_model("local:a")
    assert removed.local_path == str((tmp_path / "a").resolve())
    assert not [e for e in load_catalog() if e.source == "local"]
    with pytest.raises(SelectorError, match="not a local model; there are no local models"):
        remove_local_model("local:a")


def test_vanished_folder_is_reported(tmp_path):
    import shutil

    from selector.core.catalog.catalog import load_catalog
    from selector.core.catalog.local import add_local_model
    from selector.core.models import build_model

    save_timm_folder(tmp_path / "gone", "test_resnet")
    add_local_model(tmp_path / "gone")
    shutil.rmtree(tmp_path / "gone")
    catalog = load_catalog()
    entry = catalog.get("local:gone")
    assert not entry.weights_cached
    assert any("local:gone" in p and "no longer exists" in p for p in catalog.problems)
    with pytest.raises(SelectorError, match="no longer exists; remove it with"):
        build_model(entry)


def test_checkpoint_file_with_explicit_architecture(tmp_path):
    """A plain ``torch.save(state_dict)`` file loads through weights_only."""
    import timm

    from selector.core.catalog.local import inspect_local_model
    from selector.core.models import build_model

    model = timm.create_model("test_convnext", num_classes=4)
    torch.save({"state_dict": model.state_dict(), "epoch": 3}, tmp_path / "run.pth")
    entry = inspect_local_model(tmp_path / "run.pth", architecture="test_convnext")
    assert entry.id == "local:run" and entry.num_classes == 4
    built = build_model(entry)
    assert torch.equal(built.model.stem[0].weight, model.stem[0].weight)
    with pytest.raises(SelectorError, match="name its timm architecture"):
        inspect_local_model(tmp_path / "run.pth")


@pytest.mark.slow
def test_hugging_face_folder(tmp_path):
    from selector.core.catalog.local import add_local_model
    from selector.core.models import build_model

    folder = save_tiny_bert(tmp_path / "tiny-bert")
    entry = add_local_model(folder)
    assert (entry.task, entry.architecture, entry.num_classes) == ("text-classification", "bert", 3)
    from safetensors.torch import load_file

    saved = load_file(folder / "model.safetensors")
    assert entry.params == sum(t.numel() for t in saved.values()) and entry.macs > 0
    built = build_model(entry)
    assert built.weights == "checkpoint" and built.tokenizer is not None
    assert built.preprocess["tokenizer"] == str(folder.resolve())
    assert torch.equal(built.model.classifier.weight, saved["classifier.weight"])
    batch = built.tokenizer(["hello"], return_tensors="pt")
    with torch.no_grad():
        assert built.model(**batch).logits.shape == (1, 3)


# ----------------------------------------------------------------- bad input
def test_folder_without_config(tmp_path):
    from selector.core.catalog.local import add_local_model

    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "model.safetensors").write_bytes(b"")
    with pytest.raises(SelectorError, match="has no config.json.*--architecture"):
        add_local_model(tmp_path / "weights")
    with pytest.raises(SelectorError, match="no such file or folder"):
        add_local_model(tmp_path / "missing")


def test_unknown_architecture_suggests(tmp_path):
    from selector.core.catalog.local import inspect_local_model

    save_timm_folder(tmp_path / "m", "test_resnet", config=False)
    with pytest.raises(SelectorError, match="unknown timm architecture 'test_resnte'; did you mean test_resnet"):
        inspect_local_model(tmp_path / "m", architecture="test_resnte")


def test_truncated_safetensors(tmp_path):
    from selector.core.catalog.local import inspect_local_model

    save_timm_folder(tmp_path / "m", "test_resnet")
    weights = tmp_path / "m" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(SelectorError, match="corrupt checkpoint .*model.safetensors"):
        inspect_local_model(tmp_path / "m")


def test_pickle_that_weights_only_refuses(tmp_path):
    from selector.core.catalog.local import inspect_local_model

    class Payload:
        def __reduce__(self):
            return (print, ("this must never run",))

    torch.save({"fc.weight": torch.zeros(2, 2), "hook": Payload()}, tmp_path / "evil.pth")
    with pytest.raises(SelectorError, match="safe loading .*refuses.*never loads such files"):
        inspect_local_model(tmp_path / "evil.pth", architecture="test_resnet")


def test_shape_mismatch(tmp_path):
    from selector.core.catalog.local import inspect_local_model

    save_timm_folder(tmp_path / "m", "test_resnet", config=False)
    with pytest.raises(SelectorError, match="does not fit timm 'test_byobnet'"):
        inspect_local_model(tmp_path / "m", architecture="test_byobnet")


def test_hf_folder_whose_weights_do_not_match_its_config(tmp_path):
    from selector.core.catalog.local import inspect_local_model

    folder = save_tiny_bert(tmp_path / "bert", with_tokenizer=False)
    config = json.loads((folder / "config.json").read_text())
    config["hidden_size"], config["intermediate_size"] = 64, 128
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(SelectorError, match="does not fit its config.json \\(bert\\): shape mismatch"):
        inspect_local_model(folder)
    config["model_type"] = "not-a-model"
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(SelectorError, match="does not know model_type 'not-a-model'"):
        inspect_local_model(folder)


def test_cli_add_and_remove(tmp_path, capsys):
    from selector.cli import main

    save_timm_folder(tmp_path / "cli-model", "test_resnet", config=False)
    assert main(["catalog", "add", str(tmp_path / "cli-model"), "--architecture", "test_resnet"]) == 0
    assert "added local:cli-model: test_resnet" in capsys.readouterr().out
    assert main(["catalog", "remove", "local:cli-model"]) == 0
    assert main(["catalog", "remove", "local:cli-model"]) == 2
    assert "is not a local model" in capsys.readouterr().err
    assert main(["catalog", "add", str(tmp_path / "nothing-here")]) == 2


def test_cli_show_measures_a_bare_architecture(capsys):
    from selector.cli import main

    assert main(["catalog", "show", "test_vit", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["id"] == "test_vit" and shown["params"] == 371_240 and shown["family"] == "test"
    assert main(["catalog", "show", "tset_vit"]) == 2
    assert "unknown model id 'tset_vit'" in capsys.readouterr().err
