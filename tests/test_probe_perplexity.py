"""The perplexity probe (held-out bits per token / per byte of a frozen decoder on the user's
text) and the text files a decoder reads: good ones split by document, bad ones refused."""

from __future__ import annotations

import io
import json
import math

import pytest

from selector.core.data.dataset import DataError
from selector.core.data.lm_text import ByteTokenizer, blocks, load_lm_text
from selector.core.probes import ProbeSpec
from selector.core.probes.context import ProbeContext
from selector.core.probes.kinds import perplexity
from tests.test_llm_memory import entry, tiny_config

WORDS = ["the", "model", "reads", "a", "long", "text", "about", "memory", "and", "tokens", "while", "the",
         "cache", "grows"]


def write_text(path, paragraphs: int = 12) -> str:
    paras = [" ".join(WORDS[(i + j) % len(WORDS)] for j in range(40)) + "." for i in range(paragraphs)]
    path.write_text("\n\n".join(paras), encoding="utf-8")
    return str(path)


def run_in_process(spec: ProbeSpec) -> dict:
    return perplexity.run(spec, ProbeContext(spec, io.BytesIO()))


def spec_for(family: str, source: str, **params) -> ProbeSpec:
    e = entry(tiny_config(family))
    return ProbeSpec(kind="perplexity", model=f"tiny-{family}", entry=e.to_dict(), weights="random",
                     threads=1, budget_s=60, data={"source": source, "holdout": 0.25},
                     params={"max_length": 64, **params})


def test_txt_jsonl_csv_layouts(tmp_path):
    text = load_lm_text(write_text(tmp_path / "a.txt"), holdout=0.25)
    assert text.layout == "paragraphs" and len(text.documents) == 12
    assert len(text.test_idx) == 3 and not set(text.test_idx) & set(text.train_idx)
    assert load_lm_text(write_text(tmp_path / "a.txt"), holdout=0.25).test_idx == text.test_idx
    (tmp_path / "b.jsonl").write_text("\n".join(json.dumps({"prompt": f"q{i} what", "response": f"a{i} this"})
                                                for i in range(5)), encoding="utf-8")
    pairs = load_lm_text(tmp_path / "b.jsonl")
    assert pairs.layout == "prompt/response pairs" and pairs.documents[0] == "q0 what\na0 this"
    (tmp_path / "c.csv").write_text("id,text\n1,first document here\n2,\n3,second document there\n",
                                    encoding="utf-8")
    table = load_lm_text(tmp_path / "c.csv")
    assert table.layout == "text column 'text'" and len(table.documents) == 2 and table.skipped == 1


@pytest.mark.parametrize("name, content, message", [
    ("empty.txt", b"", "holds no text"),
    ("blank.txt", b"\n\n   \n", "holds no text"),
    ("binary.txt", b"\x00\x01\x02 some bytes" * 10, "not a text file"),
    ("cols.csv", b"id,label\n1,a\n2,b\n", "no 'text' column and no 'prompt'/'response' pairs"),
    ("data.parquet", b"PAR1", "unsupported file type"),
])
def test_bad_text_files_are_refused(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError, match=message):
        load_lm_text(path)


def test_byte_fallback_and_packing():
    tok = ByteTokenizer(vocab_size=512)
    assert tok.encode("ab") == [ord("a") + 3, ord("b") + 3]
    packed = blocks(["abc", "de"], tok, length=4)
    assert packed == [[100, 101, 102, 0], [103, 104, 0]]


@pytest.mark.parametrize("family", ["llama", "gpt2", "qwen3-moe"])
def test_random_weights_score_near_uniform_and_are_marked(tmp_path, family, monkeypatch):
    monkeypatch.setenv("SELECTOR_CACHE_DIR", str(tmp_path / "cache"))
    report = run_in_process(spec_for(family, write_text(tmp_path / "t.txt")))
    row = report["rows"][0]
    vocab = tiny_config(family)["vocab_size"]
    assert row["tokenizer"].startswith("byte-level fallback")
    # a random model spreads its guesses: about log2(vocab) bits per token
    assert abs(row["bits_per_token"] - math.log2(vocab)) < 1.5
    # one token per byte, plus one EOS per document
    assert row["tokens"] == row["bytes"] + row["documents"]
    assert row["bits_per_byte"] == pytest.approx(row["bits_per_token"] * row["tokens"] / row["bytes"], rel=1e-3)
    assert row["perplexity"] == pytest.approx(2 ** row["bits_per_token"], rel=1e-3)
    assert row["scores_meaningful"] is False and "do not rank on it" in report["message"]
    assert row["predicted_tokens"] < row["tokens"] and row["documents"] == 3


def test_a_rerun_comes_from_the_cache(tmp_path, monkeypatch):
    from selector.core.transfer import cache

    monkeypatch.setattr(cache, "feature_dir", lambda: tmp_path / "features")
    source = write_text(tmp_path / "t.txt")
    first = run_in_process(spec_for("llama", source))
    again = run_in_process(spec_for("llama", source))
    assert not first["rows"][0]["from_cache"] and again["rows"][0]["from_cache"]
    assert again["rows"][0]["bits_per_token"] == first["rows"][0]["bits_per_token"]
    other = run_in_process(spec_for("llama", source, max_length=32))
    assert not other["rows"][0]["from_cache"]
