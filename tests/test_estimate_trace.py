"""The meta-device tracer: what it records, and that it agrees with live tensors on real CPU."""

from __future__ import annotations

import json

import pytest
import torch

from selector.core.catalog.entry import TEXT, VISION, CatalogEntry
from selector.core.estimate.measure import build_model
from selector.core.estimate.trace import profile_entry
from selector.core.estimate.tracker import SAMPLE, ShapeRules, Tracker
from tests.test_estimate_memory import TINY_BERT, traced_entry


def test_profile_is_json_and_has_every_run():
    profile = traced_entry({"timm": "test_vit"}).activation
    assert json.loads(json.dumps(profile)) == profile
    assert profile["kind"] == "image" and profile["traced"] == {"batch": 11, "image_size": 160}
    for key in ("inference", "train", "train_ckpt"):
        assert profile[key]["peak"] and profile[key]["ops"] > 10
    assert profile["attention"]["calls"] > 0 and profile["macs_per_sample"]["attention"] > 0
    assert profile["errors"] == {}


def test_checkpointing_and_math_attention_are_traced_for_bert():
    profile = traced_entry(TINY_BERT).activation
    assert profile["kind"] == "text" and profile["attention"]["dropout"] is True
    saved = lambda section: sum(profile[section]["saved"][2:])  # noqa: E731 - per-sample bytes
    assert saved("train_ckpt") < 0.5 * saved("train")
    # the math path keeps the (tokens x tokens) attention map: quadratic bytes appear
    assert profile["train_math"]["saved"][4] > 0 and profile["train"]["saved"][4] == 0


def test_meta_trace_matches_live_tensors_on_cpu():
    """The same tracker on real CPU tensors sees the same peak as on meta (the estimate's base)."""
    spec = {"timm": "test_resnet"}
    entry = traced_entry(spec)
    model = build_model(spec).eval()
    x = torch.randn(11, 3, 160, 160)
    tracker = Tracker(ShapeRules("image", 11, None))
    tracker.exclude(model.parameters())
    tracker.exclude(model.buffers())
    tracker.taint_input(x)
    with torch.no_grad(), tracker:
        model(x)
    real = max(sum(t) for _v, t in tracker.best if t)
    meta = max(p[0] + p[1] + 11 * sum(p[2:]) for p in entry.activation["inference"]["peak"])
    assert meta == pytest.approx(real, rel=0.02)


def test_tracer_refuses_a_model_with_real_weights():
    model = build_model({"timm": "test_resnet"})
    entry = CatalogEntry("test_resnet", "timm", VISION, "test", "test_resnet", input_size=(3, 160, 160))
    with pytest.raises(ValueError, match="meta"):
        profile_entry(model, entry)


def test_shape_rules_file_tensors_by_how_they_scale():
    rules = ShapeRules("text", 11, 128)
    assert rules.per_sample_class((11, 2)) == SAMPLE  # logits
    assert rules.per_sample_class((11, 128)) != SAMPLE  # token ids: per token
    assert rules.per_sample_class((11, 12, 128, 128)) == 4  # attention map: quadratic
    assert rules.per_sample_class((11, 128, 128)) == 3  # hidden 128 = seq 128: still linear


def test_text_entry_uses_its_sequence_length():
    with torch.device("meta"):
        model = build_model(TINY_BERT)
    entry = CatalogEntry("tiny", "transformers", TEXT, "bert", "bert", input_size=(64,))
    profile = profile_entry(model, entry)
    assert profile["traced"]["seq_len"] == 64 and profile["input_bytes_per_sample"] == 64 * 8


def test_ensure_profile_traces_an_entry_that_has_none():
    from selector.core.estimate.trace import ensure_profile

    entry = CatalogEntry("test_resnet.r160_in1k", "timm", VISION, "test", "test_resnet", input_size=(3, 160, 160))
    profile = ensure_profile(entry)
    assert profile is entry.activation and profile["inference"]["peak"]
    local = CatalogEntry("local:x", "local", VISION, "resnet", "resnet18")
    assert ensure_profile(local) is None  # nothing to build it from
