"""Decoder memory: exact parameter, NF4/int8 and KV bytes, GQA / sliding-window / MoE rules,
LoRA counts against peft's own, the answers (longest context, largest batch, mildest
quantisation), and one estimate against a measured peak."""

from __future__ import annotations

import dataclasses
import math

import pytest

from selector.core.catalog.decoders import count_params, load_config_dict
from selector.core.catalog.entry import GENERATION, CatalogEntry
from selector.core.estimate import llm_memory as lm
from selector.core.estimate.fit import fit
from selector.core.estimate.memory import MIB, Workload, estimate_memory
from selector.core.hardware import MemoryDevice

TINY = {
    "llama": ("meta-llama/Llama-3.2-1B", {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
                                         "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
                                         "vocab_size": 512}),
    "gpt2": ("openai-community/gpt2", {"n_embd": 64, "n_layer": 2, "n_head": 4, "vocab_size": 512}),
    "qwen2.5": ("Qwen/Qwen2.5-0.5B", {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
                                      "num_attention_heads": 4, "num_key_value_heads": 1, "vocab_size": 512,
                                      "max_window_layers": 2}),
    "qwen3-moe": ("Qwen/Qwen3-30B-A3B", {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
                                         "num_key_value_heads": 2, "head_dim": 16, "num_experts": 8,
                                         "num_experts_per_tok": 2, "moe_intermediate_size": 32, "vocab_size": 512}),
    "mixtral": ("mistralai/Mixtral-8x7B-v0.1", {"hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2,
                                                "num_attention_heads": 4, "num_key_value_heads": 2,
                                                "vocab_size": 512}),
    "phi3": ("microsoft/Phi-3.5-mini-instruct", {"hidden_size": 64, "intermediate_size": 128,
                                                 "num_hidden_layers": 2, "num_attention_heads": 4,
                                                 "num_key_value_heads": 4, "vocab_size": 512, "pad_token_id": 0}),
    "gemma2": ("google/gemma-2-2b", {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 4,
                                     "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
                                     "vocab_size": 512, "sliding_window": 32,
                                     "layer_types": ["sliding_attention", "full_attention"] * 2}),
    "gemma3": ("google/gemma-3-1b-pt", {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 6,
                                        "num_attention_heads": 4, "num_key_value_heads": 1, "head_dim": 16,
                                        "vocab_size": 512, "sliding_window": 32,
                                        "layer_types": ["sliding_attention"] * 5 + ["full_attention"]}),
    "olmo2": ("allenai/OLMo-2-1124-7B", {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
                                         "num_attention_heads": 4, "num_key_value_heads": 4, "vocab_size": 512,
                                         "pad_token_id": 0}),
}


def tiny_config(family: str) -> dict:
    base, override = TINY[family]
    return {**load_config_dict(base), **override}


def entry(config: dict, params: dict | None = None) -> CatalogEntry:
    params = params or count_params(config)
    return CatalogEntry("tiny", "transformers", GENERATION, "tiny", config["model_type"], params=params["total"],
                        input_size=(int(config.get("max_position_embeddings") or config.get("n_positions")),),
                        activation=params, config=config)


def real_model(config: dict):
    import transformers

    from selector.core.catalog.text import config_from_dict

    return transformers.AutoModelForCausalLM.from_config(config_from_dict(config))


@pytest.mark.parametrize("family", sorted(TINY))
def test_meta_counts_match_a_real_build(family):
    config = tiny_config(family)
    counted = count_params(config)
    model = real_model(config)
    assert counted["total"] == sum(p.numel() for p in model.parameters())
    fp32 = lm.weight_bytes(counted, "fp32")
    assert fp32 == sum(p.numel() * p.element_size() for p in model.parameters())
    assert lm.weight_bytes(counted, "bf16") == fp32 / 2


@pytest.mark.parametrize("family", sorted(TINY))
def test_lora_count_is_peft_s(family):
    from peft import LoraConfig, get_peft_model

    config = tiny_config(family)
    counted = count_params(config)
    targets = list(lm.lora_targets(config))
    model = get_peft_model(real_model(config), LoraConfig(r=8, lora_alpha=16, target_modules=targets))
    trainable, _total = model.get_nb_trainable_parameters()
    assert lm.lora_params(counted, config, 8) == trainable


def test_lora_targets_are_peft_s_defaults():
    from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as defaults

    for family in TINY:
        config = tiny_config(family)
        if config["model_type"] in defaults:
            assert list(lm.lora_targets(config)) == defaults[config["model_type"]], family


def test_nf4_and_int8_bytes_as_bitsandbytes_packs_them():
    params = {"total": 1_000_000 + 6400 + 320, "linear": 640_000, "experts": 360_000, "linear_rows": 2_000,
              "expert_rows": 1_000, "embed": 6400, "lm_head": 0, "other": 320}
    packed, kept = 1_000_000, 6720
    blocks = packed // 64
    assert lm.weight_bytes(params, quant="nf4", double_quant=False) == packed / 2 + 4 * blocks + 2 * kept
    double = packed / 2 + blocks + 4 * math.ceil(blocks / 256) + 2 * kept
    assert lm.weight_bytes(params, quant="nf4") == double
    assert lm.weight_bytes(params, quant="int8") == packed + 4 * 3_000 + 2 * kept


def test_kv_cache_gqa_and_mqa():
    config = tiny_config("llama")  # 2 layers, 2 KV heads of 16
    d = lm.dims(config)
    assert lm.kv_cache_bytes(d, batch=3, tokens=100, cache_bytes=2) == 2 * 2 * 2 * 16 * 100 * 3 * 2
    mha = lm.dims({**config, "num_key_value_heads": 4})
    assert lm.kv_cache_bytes(mha, 1, 100) == 2 * lm.kv_cache_bytes(d, 1, 100)
    mqa = lm.dims(tiny_config("gemma3"))
    assert mqa.kv_heads == 1


def test_sliding_window_layers_are_capped():
    gemma2, gemma3 = lm.dims(tiny_config("gemma2")), lm.dims(tiny_config("gemma3"))
    assert gemma2.windows == [32, None, 32, None]
    assert gemma3.windows == [32] * 5 + [None]
    per_token = 2 * 2 * 16 * 2  # K and V, 2 KV heads of 16, 2 bytes
    assert lm.kv_cache_bytes(gemma2, 1, 1000) == per_token * (2 * 32 + 2 * 1000)
    assert lm.kv_cache_bytes(gemma2, 1, 20) == per_token * 4 * 20  # below the window: all layers grow
    shipped = lm.dims(load_config_dict("google/gemma-3-27b-pt"))
    assert shipped.windows.count(None) == 10 and shipped.windows.count(1024) == 52
    assert lm.dims(load_config_dict("mistralai/Mistral-7B-v0.1")).windows == [4096] * 32
    assert set(lm.dims(load_config_dict("Qwen/Qwen2.5-7B")).windows) == {None}  # use_sliding_window false


def test_moe_experts_in_weights_not_in_activations():
    moe_config = {**tiny_config("qwen3-moe"), "moe_intermediate_size": 512}
    moe = entry(moe_config)
    params = moe.activation
    assert params["experts"] > 0 and params["active"] < params["total"]
    wl = Workload(seq_len=512)
    est = estimate_memory(moe, wl, "cpu")
    assert est.weights_mib * MIB == params["total"] * 4
    all_experts = entry({**moe_config, "num_experts_per_tok": 8})
    assert estimate_memory(all_experts, wl, "cpu").weights_mib == est.weights_mib
    assert estimate_memory(all_experts, wl, "cpu").activations_mib > est.activations_mib


def test_lora_and_qlora_train_only_the_adapters():
    e = entry(load_config_dict("Qwen/Qwen2.5-0.5B"), None)
    full = estimate_memory(e, Workload(mode="train", seq_len=512, dtype="bf16"), "cuda")
    lora = estimate_memory(e, dataclasses.replace(full.workload, lora_rank=16), "cuda")
    qlora = estimate_memory(e, dataclasses.replace(full.workload, lora_rank=16, quant="nf4"), "cuda")
    adapters = lm.lora_params(e.activation, e.config, 16)
    assert lora.gradients_mib * MIB == adapters * 4 and lora.optimizer_mib * MIB == adapters * 8
    assert full.optimizer_mib > 100 * lora.optimizer_mib
    assert qlora.weights_mib < 0.6 * lora.weights_mib and "QLoRA" in qlora.method
    ckpt = estimate_memory(e, dataclasses.replace(lora.workload, grad_checkpointing=True), "cuda")
    assert ckpt.activations_mib < lora.activations_mib


def test_kv_cache_grows_with_context_and_batch():
    e = entry(load_config_dict("meta-llama/Llama-3.1-8B"), None)
    one = estimate_memory(e, Workload(seq_len=8192, dtype="bf16"), "cuda")
    assert one.kv_cache_mib == pytest.approx(1024.0)  # 32 layers x 8 KV heads x 128 x 2 x 2 B x 8192
    four = estimate_memory(e, Workload(seq_len=8192, batch_size=4, dtype="bf16"), "cuda")
    assert four.kv_cache_mib == pytest.approx(4 * one.kv_cache_mib)
    assert one.total_mib == pytest.approx(one.weights_mib + one.activations_mib + one.kv_cache_mib
                                          + one.allocator_mib + one.overhead_mib)


def test_answers_are_the_edges_of_the_fit():
    e = entry(load_config_dict("meta-llama/Llama-3.1-8B"), None)
    device = MemoryDevice(id="cuda:0", kind="cuda", name="24 GB", total_mib=24 * 1024, free_mib=24 * 1024)
    wl = Workload(seq_len=4096, dtype="bf16")
    longest = lm.longest_context(e, wl, device)
    assert 4096 < longest < 131072
    assert fit(e, dataclasses.replace(wl, seq_len=longest), device).status == "fits"
    assert fit(e, dataclasses.replace(wl, seq_len=longest + 1), device).status != "fits"
    batch = lm.largest_batch(e, wl, device)
    assert fit(e, dataclasses.replace(wl, batch_size=batch), device).status == "fits"
    assert fit(e, dataclasses.replace(wl, batch_size=batch + 1), device).status != "fits"
    assert lm.mildest_quant(e, wl, device) == "bf16"  # fp32 (32 GB of weights) does not fit
    small = dataclasses.replace(device, free_mib=8 * 1024)
    assert lm.mildest_quant(e, wl, small) == "nf4"
    assert lm.mildest_quant(e, wl, dataclasses.replace(device, free_mib=1024)) is None


@pytest.mark.slow
def test_estimate_within_15_percent_of_a_measured_peak():
    """tiny Llama, prefill of 1,024 tokens and 4 decode steps, in a fresh process (VmHWM)."""
    from tests.benchmarks.llm_memory_validation import entry_for, measure

    e = entry_for("tiny-llama")
    wl = Workload(seq_len=1024)
    measured = measure(e.config, wl, "cpu", threads=1)["peak_mib"]
    assert estimate_memory(e, wl, "cpu").dynamic_mib == pytest.approx(measured, rel=0.15)
