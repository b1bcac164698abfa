"""The decoder fine-tune (LoRA with peft) on the user's text: held-out loss before and after,
step time, trained tokens/s, only the adapters train; and the CLI's refusal of bad text."""

from __future__ import annotations

import io
import json

import pytest

from selector.core.probes import ProbeSpec
from selector.core.probes.context import ProbeContext
from selector.core.probes.kinds import lora
from selector.core.results.record import FinetuneReport
from tests.test_llm_memory import entry, tiny_config
from tests.test_probe_perplexity import write_text


def run_in_process(spec: ProbeSpec) -> tuple[dict, list[dict]]:
    stream = io.BytesIO()
    report = lora.run(spec, ProbeContext(spec, stream))
    return report, [json.loads(x) for x in stream.getvalue().splitlines() if x.strip()]


def spec_for(family: str, source: str, **params) -> ProbeSpec:
    e = entry(tiny_config(family))
    return ProbeSpec(kind="finetune", model=f"tiny-{family}", entry=e.to_dict(), weights="random",
                     threads=1, budget_s=120, batch_sizes=[2], data={"source": source, "holdout": 0.25},
                     params={"max_steps": 12, "max_length": 64, "lr": 1e-2, **params})


@pytest.mark.parametrize("family", ["llama", "qwen2.5", "gpt2", "gemma2", "mixtral"])
def test_lora_trains_the_adapters_and_lowers_the_heldout_loss(tmp_path, family):
    report, events = run_in_process(spec_for(family, write_text(tmp_path / "t.txt", 16)))
    rep = FinetuneReport.from_dict(report["rows"][0])
    assert rep.train_mode == "lora" and rep.steps == 12 and rep.batch_size_used == 2
    assert 0 < rep.lora["trainable_params"] < rep.lora["total_params"] / 2
    assert rep.lora["rank"] == 8 and rep.lora["target_modules"] == "all-linear"
    # the repetitive text is easy: twelve steps of the adapters already lower the held-out loss
    assert rep.heldout_loss_after < rep.heldout_loss_before
    assert rep.tokens_per_s > 0 and rep.p50_step_ms > 0 and rep.peak_rss_mib > 0
    assert rep.tokenizer.startswith("byte-level fallback") and rep.input_size == [64]
    assert sum(1 for e in events if e["type"] == "progress" and e.get("loss") is not None) == 12
    assert len(report["loss_curve"]) == 12


def test_rank_and_targets_count_as_peft_does(tmp_path):
    from selector.core.catalog.decoders import count_params

    config = tiny_config("llama")
    report, _ = run_in_process(spec_for("llama", write_text(tmp_path / "t.txt"), max_steps=1, lora_rank=4,
                                        target_modules="q_proj,v_proj"))
    got = report["rows"][0]["lora"]
    assert got["target_modules"] == "q_proj,v_proj"
    dims = count_params(config)["lora_dims"]
    assert got["trainable_params"] == 4 * (dims["q_proj"] + dims["v_proj"])


def test_unknown_target_is_one_line(tmp_path):
    from selector.core.errors import SelectorError

    with pytest.raises(SelectorError, match="LoRA cannot target"):
        run_in_process(spec_for("llama", write_text(tmp_path / "t.txt"), target_modules="nope_proj"))


@pytest.mark.slow
@pytest.mark.parametrize("content, message", [
    (b"", "holds no text"),
    (b"\x00\x00binary\x00" * 20, "not a text file"),
])
def test_cli_refuses_bad_text_before_work(tmp_path, content, message, monkeypatch, capsys):
    from selector.cli import main

    monkeypatch.setenv("SELECTOR_HOME", str(tmp_path / "home"))
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    code = main(["bench", "HuggingFaceTB/SmolLM2-135M", "--probe", "finetune", "--data", str(path)])
    assert code == 2 and message in capsys.readouterr().err


@pytest.mark.slow
def test_cli_refuses_a_csv_without_text(tmp_path, monkeypatch, capsys):
    from selector.cli import main

    monkeypatch.setenv("SELECTOR_HOME", str(tmp_path / "home"))
    path = tmp_path / "cols.csv"
    path.write_text("id,label\n1,a\n2,b\n", encoding="utf-8")
    code = main(["bench", "HuggingFaceTB/SmolLM2-135M", "--probe", "perplexity", "--data", str(path)])
    assert code == 2 and "no 'text' column" in capsys.readouterr().err
