"""``selector list``: JSON shape, sort order, fit columns, clear errors for bad input."""

from __future__ import annotations

import json

import pytest

from selector import cli
from selector.core.catalog.catalog import Catalog
from tests.test_filters import machine, vision


@pytest.fixture
def catalog(monkeypatch):
    entries = [
        vision("resnet18.a1_in1k", "resnet", 11_700_000, 71.5, 45, 20, cached=True),
        vision("resnet50.a1_in1k", "resnet", 25_600_000, 80.4, 98, 80),
        vision("vit_base_patch16_224.augreg_in21k_ft_in1k", "vit", 86_600_000, 81.1, 330, 120),
        vision("vit_huge_patch14_224.orig_in21k", "vit", 632_000_000, 88.0, 2400, 900),
    ]
    cat = Catalog(entries={e.id: e for e in entries})
    monkeypatch.setattr("selector.core.catalog.catalog.load_catalog", lambda **kw: cat)
    monkeypatch.setattr("selector.core.hardware.detect_hardware", lambda include_torch=False: machine(6))
    return cat


def run_json(capsys, *args):
    assert cli.main(["list", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_lists_models_sorted_by_accuracy(catalog, capsys):
    out = run_json(capsys, "--task", "image")
    assert out["count"] == 4
    accuracies = [m["accuracy"] for m in out["models"]]
    assert accuracies == sorted(accuracies, reverse=True)
    first = out["models"][0]
    assert {"id", "family", "params", "macs", "accuracy", "weights_cached"} <= set(first)
    assert "fit" not in first


def test_fits_on_cpu_for_training_drops_what_does_not_fit(catalog, capsys):
    out = run_json(capsys, "--fits", "cpu", "--train", "--batch", "32", "--sort", "params")
    ids = [m["id"] for m in out["models"]]
    assert "vit_huge_patch14_224.orig_in21k" not in ids and "resnet18.a1_in1k" in ids
    params = [m["params"] for m in out["models"]]
    assert params == sorted(params)
    for model in out["models"]:
        fit = model["fit"]
        assert fit["status"] in ("fits", "tight") and fit["device"] == "cpu"
        assert fit["needed_mib"] <= fit["free_mib"] == pytest.approx(6 * 1024)
        parts = fit["breakdown_mib"]
        assert parts["gradients"] > 0 and parts["optimizer"] > 0 and parts["overhead"] > 0
        assert sum(parts.values()) == pytest.approx(fit["needed_mib"], abs=0.5)  # nothing left out
        assert fit["reason"].startswith("fine-tuning needs")


def test_reference_profile_and_memory_sort(catalog, capsys):
    out = run_json(capsys, "--profile", "a100-80gb", "--fits", "cuda:0", "--train", "--batch", "64",
                   "--sort", "memory")
    needed = [m["fit"]["needed_mib"] for m in out["models"]]
    assert needed == sorted(needed) and len(needed) == 4
    assert out["profile"].startswith("Server with A100")


def test_table_output_shows_fit_and_needed_memory(catalog, capsys):
    assert cli.main(["list", "--fits", "cpu", "--family", "resnet", "--limit", "1"]) == 0
    text = capsys.readouterr().out
    assert "resnet" in text and "fits" in text and "MiB" in text
    assert "1 model (of 4)" in text


@pytest.mark.parametrize(
    "args, message",
    [
        (["--max-params", "lots"], "not a count"),
        (["--fits", "cuda:7"], "cuda:7"),
        (["--profile", "no-such-box", "--fits", "cpu"], "unknown hardware profile"),
        (["--batch", "0"], "batch size"),
    ],
)
def test_bad_input_gives_a_clear_error(catalog, capsys, args, message):
    assert cli.main(["list", *args]) == 2
    assert message in capsys.readouterr().err


def test_sort_by_latency_on_a_reference_gpu(catalog, capsys):
    for entry in catalog:
        entry.reference_throughput = {"rtx4090-amp-infer": 1e11 / (entry.params or 1)}
    out = run_json(capsys, "--profile", "t4", "--fits", "cuda:0", "--batch", "64", "--sort", "latency")
    ms = [m["latency"]["ms_per_batch"] for m in out["models"]]
    assert ms == sorted(ms) and len(ms) == 4
    assert "Tesla T4" in out["models"][0]["latency"]["method"]
