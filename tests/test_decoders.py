"""Decoder catalog: the shipped configs, their meta-device counts against the published ones,
and ``selector list --task text-generation`` with context, quantisation and LoRA."""

from __future__ import annotations

import json

import pytest

from selector import cli
from selector.core.catalog.catalog import Catalog
from selector.core.catalog.decoders import (
    count_params,
    decoder_entries,
    load_config_dict,
    parse_published,
    rows,
)
from selector.core.catalog.entry import GENERATION
from tests.test_filters import machine

FAMILIES = {"gpt2", "smollm2", "qwen2.5", "qwen3", "qwen3-moe", "llama3", "mistral", "mixtral", "phi3",
            "gemma2", "gemma3", "tinyllama", "olmo2"}


def test_at_least_40_decoders_with_counts_licences_and_families():
    entries = decoder_entries()
    assert len(entries) >= 40
    assert {e.family for e in entries} >= FAMILIES
    for entry in entries:
        assert entry.task == GENERATION and entry.is_decoder and not entry.is_text
        assert entry.params and entry.activation["kind"] == "decoder"
        assert entry.license and entry.hf_hub_id == entry.id
        assert entry.config["model_type"] == entry.architecture
    assert all(not e.published for e in entries)  # no score without a source (SOURCES.md)


def test_meta_counts_agree_with_the_published_ones():
    """Every shipped count within half a unit of the last published digit, plus 1 %; a size
    known only from the name ("13B" for 13.7B) within 10 %."""
    for entry in decoder_entries():
        row = next(r for r in rows() if r["hf_id"] == entry.id)
        value, half_unit = parse_published(row["published_params"])
        slack = 0.10 if "name" in row["params_source"] else 0.01
        assert abs(entry.params - value) <= half_unit + slack * value, entry.id


def test_parse_published():
    assert parse_published("0.49B") == (pytest.approx(4.9e8), pytest.approx(5e6))
    assert parse_published("124M") == (1.24e8, 5e5)
    assert parse_published("about 7B") is None


@pytest.mark.parametrize("model_id", ["openai-community/gpt2", "HuggingFaceTB/SmolLM2-135M",
                                      "google/gemma-3-1b-pt", "Qwen/Qwen3-30B-A3B"])
def test_shipped_counts_are_a_meta_device_build(model_id):
    shipped = next(e for e in decoder_entries() if e.id == model_id).activation
    counted = count_params(load_config_dict(model_id))
    assert counted == shipped
    assert counted["total"] == sum(counted[k] for k in ("embed", "lm_head", "linear", "experts", "other"))


def test_moe_counts_experts_in_total_and_top_k_in_active():
    moe = next(e for e in decoder_entries() if e.id == "Qwen/Qwen3-30B-A3B").activation
    assert moe["experts"] > 0.8 * moe["total"]
    assert 3.0e9 < moe["active"] < 3.6e9  # the card: 3.3B activated
    dense = next(e for e in decoder_entries() if e.id == "Qwen/Qwen3-8B").activation
    assert dense["active"] == dense["total"] and dense["experts"] == 0


def test_tied_embeddings_are_counted_once():
    tied = next(e for e in decoder_entries() if e.id == "Qwen/Qwen2.5-0.5B").activation
    untied = next(e for e in decoder_entries() if e.id == "Qwen/Qwen2.5-7B").activation
    assert tied["lm_head"] == 0 and untied["lm_head"] == untied["embed"]


# ------------------------------------------------------------------------ selector list
@pytest.fixture
def decoders(monkeypatch):
    cat = Catalog(entries={e.id: e for e in decoder_entries()})
    monkeypatch.setattr("selector.core.catalog.catalog.load_catalog", lambda **kw: cat)
    monkeypatch.setattr("selector.core.hardware.detect_hardware", lambda include_torch=False: machine(16))
    return cat


def run_json(capsys, *args):
    assert cli.main(["list", "--task", "text-generation", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_list_all_decoders_with_parameters(decoders, capsys):
    out = run_json(capsys, "--limit", "0")
    assert out["count"] >= 40 and all(m["params"] for m in out["models"])


def test_list_fits_at_a_context_shows_the_kv_cache_and_answers(decoders, capsys):
    out = run_json(capsys, "--fits", "cpu", "--context", "4096", "--limit", "0", "--sort", "params")
    ids = [m["id"] for m in out["models"]]
    assert "HuggingFaceTB/SmolLM2-135M" in ids and "Qwen/Qwen2.5-72B" not in ids
    assert "openai-community/gpt2" not in ids  # 1,024 positions: 4,096 tokens do not run at all
    for model in out["models"]:
        parts = model["fit"]["breakdown_mib"]
        assert parts["kv_cache"] > 0
        assert sum(parts.values()) == pytest.approx(model["fit"]["needed_mib"], abs=0.5)
        answers = model["answers"]
        if model["fit"]["status"] == "fits":
            positions = decoders.get(model["id"]).input_size[0]
            assert answers["longest_context"] >= min(4096, positions) and answers["largest_batch"] >= 1
            assert answers["mildest_quant"] == "fp32"
        else:
            assert answers["mildest_quant"] in ("bf16", "int8", "nf4")


def test_list_quantisation_shrinks_the_weights(decoders, capsys):
    def weights(*args):
        out = run_json(capsys, "--fits", "cpu", "--search", "Qwen3-1.7B", *args)
        return out["models"][0]["fit"]["breakdown_mib"]["weights"]

    fp32, bf16, int8, nf4 = weights(), weights("--quant", "bf16"), weights("--quant", "int8"), weights("--quant", "nf4")
    assert fp32 == pytest.approx(2 * bf16, rel=0.01)
    assert nf4 < int8 < bf16  # embeddings stay 16 bit, so not a clean 4x / 2x
    assert 0.3 * bf16 < nf4 < 0.45 * bf16


def test_list_lora_rank_is_a_fine_tune(decoders, capsys):
    out = run_json(capsys, "--fits", "cpu", "--search", "SmolLM2-135M", "--lora-rank", "16")
    fit = out["models"][0]["fit"]
    assert fit["reason"].startswith("fine-tuning needs") and "LoRA r=16" in fit["method"]
    assert 0 < fit["breakdown_mib"]["optimizer"] < 20  # adapters only


@pytest.mark.parametrize("args,needle", [(["--context", "0"], "--context"), (["--lora-rank", "-1"], "LoRA rank")])
def test_list_bad_decoder_options(decoders, capsys, args, needle):
    assert cli.main(["list", "--task", "text-generation", *args]) == 2
    assert needle in capsys.readouterr().err


def test_a_context_beyond_the_positions_is_no_fit_with_the_reason(decoders, capsys):
    out = run_json(capsys, "--fits", "cpu", "--context", "2048", "--search", "distilgpt2")
    assert out["count"] == 0
    out = run_json(capsys, "--fits", "cpu", "--search", "distilgpt2", "--context", "512")
    assert out["models"][0]["answers"]["longest_context"] == 1024
