"""The decoder latency probe (time to first token, decode tokens/s with the KV cache) on tiny
random configs of each family, in process, and once through the isolated child and the CLI."""

from __future__ import annotations

import io
import json

import pytest

from selector.core.probes import ProbeRun, ProbeSpec
from selector.core.probes.context import ProbeContext
from selector.core.probes.kinds import generate
from selector.core.results import FINISHED
from selector.core.results.record import GenerationRow, ProbeResult
from tests.test_llm_memory import entry, tiny_config

QUICK = {"min_iters": 3, "min_time_s": 0.0, "prompt_len": 12, "gen_len": 5}
FAMILIES = ("llama", "qwen2.5", "gpt2", "gemma2", "qwen3-moe", "mixtral")


def run_in_process(spec: ProbeSpec) -> tuple[dict, list[dict]]:
    stream = io.BytesIO()
    report = generate.run(spec, ProbeContext(spec, stream))
    events = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    return report, events


def spec_for(family: str, **kw) -> ProbeSpec:
    e = entry(tiny_config(family))
    return ProbeSpec(kind="latency", model=f"tiny-{family}", entry=e.to_dict(), weights="random",
                     threads=1, budget_s=60, **{"batch_sizes": [1, 2], "params": QUICK, **kw})


@pytest.mark.parametrize("family", FAMILIES)
def test_ttft_and_decode_per_batch(family):
    report, events = run_in_process(spec_for(family))
    rows = [GenerationRow.from_dict(r) for r in report["rows"]]
    assert [(r.dtype, r.batch_size) for r in rows] == [("fp32", 1), ("fp32", 2)]
    for row in rows:
        assert row.prompt_len == 12 and row.gen_len == 5 and row.weights == "random"
        assert row.repeats >= 3 and len(row.samples_ttft_ms) == row.repeats
        assert len(row.samples_decode_ms_per_token) == row.repeats
        assert min(row.samples_ttft_ms) <= row.ttft_p50_ms <= row.ttft_p90_ms <= max(row.samples_ttft_ms)
        assert row.decode_tokens_per_s == pytest.approx(row.batch_size * 1000 / row.decode_ms_per_token_p50,
                                                        rel=1e-3)
        assert row.kv_cache_mib > 0 and row.peak_rss_mib > 0
    # the KV cache of batch 2 holds twice batch 1's tokens
    assert rows[1].kv_cache_mib == pytest.approx(2 * rows[0].kv_cache_mib, rel=1e-3)
    assert sum(e["type"] == "row" for e in events) == 2
    assert report["summary"]["ttft_p50_ms"] == rows[0].ttft_p50_ms


def test_kv_cache_is_layers_x_kv_heads_x_tokens():
    config = tiny_config("llama")  # 2 layers, 2 KV heads of 16: K and V, fp32
    report, _ = run_in_process(spec_for("llama", batch_sizes=[1]))
    tokens = 12 + 5 - 1  # the last generated token is never fed back
    expected = 2 * config["num_hidden_layers"] * config["num_key_value_heads"] * config["head_dim"] * tokens * 4
    assert report["rows"][0]["kv_cache_mib"] == pytest.approx(expected / 2**20, rel=1e-3)


def test_sliding_window_layers_hold_their_window_only():
    config = tiny_config("gemma2")  # window 32, layers alternate sliding / full
    long = {**QUICK, "prompt_len": 60, "gen_len": 2}
    e = entry(config)
    spec = ProbeSpec(kind="latency", model="tiny-gemma2", entry=e.to_dict(), weights="random", threads=1,
                     batch_sizes=[1], params=long, budget_s=60)
    report, _ = run_in_process(spec)
    per_token_layer = 2 * config["num_key_value_heads"] * config["head_dim"] * 4 / 2**20
    full = per_token_layer * 61 * config["num_hidden_layers"]
    assert report["rows"][0]["kv_cache_mib"] < full


def test_bf16_rows_and_refusals():
    report, _ = run_in_process(spec_for("qwen2.5", batch_sizes=[1], dtypes=["fp32", "bf16"]))
    assert [r["dtype"] for r in report["rows"]] == ["fp32", "bf16"]
    from selector.core.probes.environment import ProbeSettingError

    with pytest.raises(ProbeSettingError, match="fp16 is a GPU precision"):
        run_in_process(spec_for("llama", dtypes=["fp16"]))
    with pytest.raises(ProbeSettingError, match="past the model's"):
        run_in_process(spec_for("gpt2", params={**QUICK, "prompt_len": 10**6}))


@pytest.mark.slow
def test_in_the_child_every_row_has_its_contention_record():
    spec = spec_for("llama", batch_sizes=[1])
    probe = ProbeRun(spec)
    list(probe.events())
    result = probe.result
    assert result.status == FINISHED, result.error or result.message
    rows = ProbeResult.from_dict(result.to_dict()).generation_rows()
    assert len(rows) == 1 and result.latency_rows() == []
    assert rows[0].contention["wall_s"] > 0 and "time to first token" in result.message
