"""Probe settings are typed values: an unknown key or a wrong type is refused with the accepted
keys named, before any probe starts (and again in the child, which builds them from the spec)."""

from __future__ import annotations

import json

import pytest

from selector.core.errors import SelectorError
from selector.core.probes.preflight import check_spec
from selector.core.probes.registry import get_kind
from selector.core.probes.settings import (
    SETTINGS,
    FinetuneSettings,
    LatencySettings,
    SettingsError,
    TransferSettings,
)
from selector.core.probes.spec import ProbeSpec


def test_an_unknown_key_is_named_with_the_accepted_ones():
    with pytest.raises(SettingsError) as err:
        FinetuneSettings.from_dict({"lr": 1e-3, "lr_head": 1e-2})
    text = str(err.value)
    assert text.startswith("unknown finetune setting 'lr_head' (accepted: lr, head_lr, weight_decay,")
    assert "\n" not in text and isinstance(err.value, SelectorError)
    with pytest.raises(SettingsError, match="unknown latency settings 'iters', 'warmup'"):
        LatencySettings.from_dict({"warmup": 1, "iters": 3})


@pytest.mark.parametrize("cls, data, words", [
    (LatencySettings, {"min_iters": 2.5}, "'min_iters' must be a whole number"),
    (LatencySettings, {"channels_last": "yes"}, "'channels_last' must be true or false"),
    (FinetuneSettings, {"train_mode": "partial"}, "'train_mode' must be one of full, head"),
    (FinetuneSettings, {"lr": -1}, "'lr' must be a number of 0 or more"),
    (FinetuneSettings, {"max_steps": True}, "'max_steps' must be a whole number"),
    (TransferSettings, {"shots": [5, 0]}, "'shots' must be a list of whole numbers above 0"),
    (TransferSettings, {"text_pooling": "max"}, "must be one of mean, cls, pooler"),
])
def test_a_wrong_type_is_refused_by_name(cls, data, words):
    with pytest.raises(SettingsError, match=words):
        cls.from_dict(data)


def test_defaults_none_and_json_round_trip():
    assert LatencySettings.from_dict(None) == LatencySettings() == LatencySettings.from_dict({"max_iters": None})
    tuned = FinetuneSettings.from_dict({"lr": 3, "train_mode": "head", "max_steps": 20})
    assert tuned.lr == 3.0 and isinstance(tuned.lr, float) and tuned.max_steps == 20
    for value in (tuned, TransferSettings(shots=[1, 2]), LatencySettings(channels_last=True)):
        assert type(value).from_dict(json.loads(json.dumps(value.to_dict()))) == value
    assert set(SETTINGS) == {"latency", "finetune", "transfer", "perplexity"}
    assert get_kind("finetune").settings is FinetuneSettings and get_kind("fault").settings is None


def test_the_spec_gives_its_typed_settings_and_the_parent_refuses_a_typo_before_any_process():
    spec = ProbeSpec(kind="latency", model="m", params={"min_iters": 5})
    assert spec.settings() == LatencySettings(min_iters=5)
    assert ProbeSpec.from_dict(json.loads(json.dumps(spec.to_dict()))).settings() == spec.settings()
    assert ProbeSpec(kind="fault", model="m", params={"mode": "hang"}).settings() == {"mode": "hang"}
    bad = ProbeSpec(kind="latency", model="m", params={"min_iter": 5})
    with pytest.raises(SelectorError, match="unknown latency setting 'min_iter' .accepted: warmup_iters"):
        check_spec(bad)


def test_the_funnel_refuses_unknown_probe_params_before_it_plans(tmp_path):
    from selector.core.funnel import Funnel
    from selector.core.request import Request
    from selector.core.results import ResultStore
    from tests.test_funnel import entry

    with pytest.raises(SettingsError, match="unknown transfer setting 'max_item'"):
        Funnel([entry("a.x", 70.0)], Request(), store=ResultStore(tmp_path / "r.sqlite"),
               probe_params={"transfer": {"max_item": 60}})


def test_the_child_builds_the_settings_from_the_spec_and_fails_on_a_typo():
    from selector.core.probes import ProbeRun
    from selector.core.results import FAILED

    spec = ProbeSpec(kind="latency", model="test_vit", timeout_s=120, params={"warmup_iterations": 1})
    probe = ProbeRun(spec)
    list(probe.events())
    assert probe.result.status == FAILED
    assert probe.result.message.startswith("unknown latency setting 'warmup_iterations' (accepted:")
