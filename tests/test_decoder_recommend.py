"""Decoders in the recommendation and sheets: decode ms/token as the latency figure (time to
first token beside it), perplexity on the user's text as the data-fit score, random weights apart."""

from __future__ import annotations

from types import SimpleNamespace

from selector.core.export.table import accuracy_cell, latency_cell
from selector.core.recommend import Candidate, recommend
from selector.core.recommend.decoders import add_generation_row, add_perplexity
from selector.core.results.record import GenerationRow


def ppl_result(model: str, bpb: float, weights: str = "pretrained") -> SimpleNamespace:
    row = {"bits_per_byte": bpb, "bits_per_token": bpb * 4, "perplexity": 2 ** (bpb * 4), "tokens": 1000,
           "scores_meaningful": weights != "random", "data": {"source": "/t.txt", "sample_documents": 3,
                                                              "chars": 4000}}
    return SimpleNamespace(kind="perplexity", status="finished", model_id=model, rows=[row])


def test_perplexity_ranks_by_bits_per_byte_and_leaves_random_weights_out():
    cands = [Candidate(m, task="text-generation") for m in ("a", "b", "c")]
    add_perplexity(cands, [ppl_result("a", 1.2), ppl_result("b", 0.9), ppl_result("c", 0.5, "random")])
    a, b, c = cands
    assert b.transfer.rank == 1 and b.transfer.score == 1.0 and a.transfer.score == 0.0
    assert c.transfer is None
    rec = recommend(cands)
    ranked = [v.model_id for v in rec.verdicts if v.rank is not None]
    assert ranked.index("b") < ranked.index("a")
    verdict = next(v for v in rec.verdicts if v.model_id == "b")
    assert "perplexity on your text (0.900 bits/byte)" in accuracy_cell(verdict)


def test_generation_row_is_a_per_token_latency_with_ttft_beside_it():
    cand = Candidate("a", task="text-generation")
    row = GenerationRow(model_id="a", device="cpu", dtype="fp32", batch_size=1, prompt_len=128, gen_len=32,
                        repeats=5, ttft_p50_ms=250.0, decode_ms_per_token_p50=20.0, decode_tokens_per_s=50.0,
                        kv_cache_mib=3.0, peak_rss_mib=900.0)
    add_generation_row(cand, row)
    fig = cand.latency[0]
    assert fig.value == 20.0 and fig.unit == "ms/token" and fig.extra["ttft_ms"] == 250.0
    assert fig.extra["tokens_per_s"] == 50.0 and cand.inference_memory[0].value == 900.0
    assert "/token" in latency_cell(fig) and "first token" in latency_cell(fig)
