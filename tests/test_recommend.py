"""Recommendation cases built by hand, with answers worked out on paper."""

from __future__ import annotations

import json

import pytest

from selector.core.recommend import (
    BALANCED, DOMINATED, FINETUNE, LATENCY, PARETO, RECOMMENDED, REJECTED, UNVERIFIED,
    Candidate, Constraints, Figure, Objective, Recommendation, TransferScore, recommend,
)
from selector.core.recommend.engine import merge_keeping

VISION = "image-classification"


def lat(ms, source="measured", batch=1, dtype="float32", device="cpu"):
    return Figure(ms, source, "ms", batch=batch, dtype=dtype, threads=2, device=device)


def mem(mib, source="estimated", batch=32, device="cpu"):
    return Figure(mib, source, "MiB", batch=batch, device=device)


def cand(name, top1=None, ms=None, *, src="measured", params=None, **kw):
    kw.setdefault("latency", [lat(ms, src)] if ms is not None else [])
    return Candidate(
        name, task=kw.pop("task", VISION), params=params,
        published={"imagenet_top1": top1} if top1 is not None else {}, **kw,
    )


def test_latency_budget_rejects_with_the_numbers_and_picks_the_most_accurate_that_fits():
    cands = [cand("big", 82.0, 31.0), cand("mid", 78.0, 14.0), cand("small", 70.0, 6.0)]
    rec = recommend(cands, Constraints(latency_ms=20, batch=1))
    assert rec.recommended == "mid"
    big = rec.verdict("big")
    assert big.status == REJECTED and big.rank is None
    assert big.reason == "p50 31 ms at batch 1 (measured) exceeds the 20 ms budget"
    # small is faster but less accurate: on the front, not dominated.
    small = rec.verdict("small")
    assert small.status == PARETO and small.rank == 2
    assert small.reason == ("on the Pareto front: less accurate than mid (ImageNet top-1 70.0% "
                            "vs 78.0%, published), faster (p50 6.00 ms vs 14 ms)")
    assert [v.model_id for v in rec.verdicts] == ["mid", "small", "big"]


def test_fastest_objective_respects_the_accuracy_floor():
    cands = [cand("big", 82.0, 31.0), cand("mid", 78.0, 14.0), cand("small", 70.0, 6.0)]
    rec = recommend(cands, Constraints(min_accuracy=75), Objective(LATENCY))
    assert rec.recommended == "mid"
    assert rec.verdict("small").status == REJECTED
    assert rec.verdict("small").reason == "ImageNet top-1 70.0% (published) below the 75% floor"
    assert rec.verdict("big").status == PARETO


def test_estimate_fits_but_the_measurement_does_not():
    # Fine-tune memory: the estimate says 2.9 GiB, the probe measured 9.8 GiB; 7.1 GiB free.
    effnet = cand("effnet", 77.7, 15.0,
                  finetune_memory=[mem(3000), mem(10035, "measured")])
    resnet = cand("resnet", 71.5, 12.0, finetune_memory=[mem(2000)])
    con = Constraints(memory_mode=FINETUNE, free_memory_mib=7270)
    rec = recommend([effnet, resnet], con)
    v = rec.verdict("effnet")
    assert v.status == REJECTED
    assert v.reason.startswith("fine-tuning needs 9.8 GiB at batch 32 (measured), 7.1 GiB free")
    assert "the estimate, 2.9 GiB, would have fit" in v.reason
    assert v.memory.source == "measured"
    assert rec.recommended == "resnet"
    # Without the measurement the same model fits (on an estimate) and wins on accuracy.
    effnet.finetune_memory = [mem(3000)]
    assert recommend([effnet, resnet], con).recommended == "effnet"


def test_latency_estimate_fits_but_measurement_does_not():
    a = cand("a", 80.0, None, latency=[lat(12, "estimated"), lat(26, "measured")])
    b = cand("b", 75.0, 18.0)
    rec = recommend([a, b], Constraints(latency_ms=20))
    assert rec.verdict("a").status == REJECTED
    assert rec.verdict("a").reason == (
        "p50 26 ms at batch 1 (measured) exceeds the 20 ms budget (the estimate, 12 ms, would have fit)")
    assert rec.recommended == "b"


def test_measured_oom_rejects_even_without_a_memory_figure():
    a = cand("a", 80.0, 10.0, probe_status={"finetune": "oom"},
             probe_messages={"finetune": "CUDA out of memory at batch 8"})
    b = cand("b", 70.0, 10.0, finetune_memory=[mem(900)])
    rec = recommend([a, b], Constraints(memory_mode=FINETUNE, memory_budget_mib=4096))
    assert rec.verdict("a").status == REJECTED
    assert "ran out of memory (measured): CUDA out of memory at batch 8" in rec.verdict("a").reason
    assert rec.recommended == "b"


def test_nothing_meets_the_constraints_names_the_closest():
    cands = [cand("a", 80.0, 45.0), cand("b", 75.0, 23.0, src="estimated"),
             cand("c", 60.0, None, task="text-classification")]
    rec = recommend(cands, Constraints(task=VISION, latency_ms=20))
    assert rec.recommended is None
    assert all(v.status == REJECTED for v in rec.verdicts)
    assert rec.confidence == "low"
    assert rec.summary.startswith("No candidate meets the constraints: 3 rejected; closest: b")
    assert rec.verdict("c").reason == "task text-classification, not image-classification"
    mixed = recommend(cands)
    assert mixed.notes[0].startswith("the candidates do different tasks (image-classification, "
                                     "text-classification)")
    # b was rejected on an estimate 15% over: measuring it could let it in.
    assert any(p.kind == "latency" and p.models == ["b"] for p in rec.next_probes)


def test_exact_tie_is_broken_by_fewer_parameters_and_said():
    a = cand("alpha", 78.0, 10.0, params=25_000_000)
    b = cand("beta", 78.0, 10.0, params=11_000_000)
    rec = recommend([a, b], Constraints(latency_ms=20))
    assert rec.recommended == "beta"
    assert rec.verdict("alpha").status == PARETO  # equal on both axes: not dominated
    assert rec.confidence == "low"  # published basis
    assert any("tie on the objective" in n and "fewer parameters (11.0 M vs 25.0 M)" in n
               for n in rec.notes)
    assert any(p.kind in ("finetune", "transfer") and set(p.models) == {"alpha", "beta"}
               for p in rec.next_probes)


def test_accuracy_tie_goes_to_the_faster_and_the_slower_is_dominated():
    rec = recommend([cand("slow", 78.0, 30.0), cand("fast", 78.0, 10.0)])
    assert rec.recommended == "fast"
    slow = rec.verdict("slow")
    assert slow.status == DOMINATED
    assert slow.reason == ("dominated by fast, which is as accurate (ImageNet top-1 78.0% vs "
                           "78.0%, published) and faster (p50 10 ms vs 30 ms)")


def test_finetuned_accuracy_is_never_compared_with_published_accuracy():
    # Transfer scores for all three; fine-tuned accuracy for two of them only.
    a = cand("a", 84.0, 10.0, transfer=TransferScore(0.50, "logme", 1, 0.9),
             finetuned_accuracy=Figure(88.0, "measured", "%"))
    c = cand("c", 90.0, 10.0, transfer=TransferScore(0.45, "logme", 2, 0.9))
    b = cand("b", 70.0, 10.0, transfer=TransferScore(0.40, "logme", 3, 0.9),
             finetuned_accuracy=Figure(91.0, "measured", "%"))
    rec = recommend([a, b, c])
    # Basis: transferability (all three have it; c's ImageNet 90% does not beat fine-tunes).
    # Fine-tuning says b > a; transfer said a > c > b. Fewest broken pairs: b, a, c.
    assert [v.model_id for v in rec.verdicts] == ["b", "a", "c"]
    assert rec.basis_kind == "transfer"
    assert "refined by fine-tuned accuracy" in rec.basis
    assert rec.verdict("a").reason == (
        "dominated by b, which is more accurate (fine-tuned held-out accuracy 91.0% vs 88.0%) "
        "and as fast (p50 10 ms vs 10 ms)")
    # c is dominated by both; the sentence names a, whose own figure shows it.
    assert rec.verdict("c").reason == (
        "dominated by a, which is more accurate (transferability (logme) 0.500 vs 0.450) "
        "and as fast (p50 10 ms vs 10 ms)")
    # With c faster, it is on the front; against b the figures alone disagree, and it says so.
    c.latency = [lat(5.0)]
    rec = recommend([a, b, c])
    assert rec.verdict("c").reason == (
        "on the Pareto front: less accurate than b (by the merged order, though transferability "
        "(logme) 0.450 vs 0.400 alone), faster (p50 5.00 ms vs 10 ms)")


def test_merge_keeps_the_strong_order_and_breaks_fewest_pairs():
    assert merge_keeping(list("ACB"), list("BA")) == list("BAC")
    assert merge_keeping(list("ACDB"), list("AB")) == list("ACDB")
    assert merge_keeping(list("ABCDE"), list("DB")) == list("ADBCE")


def test_unstable_transfer_top_pick_lowers_confidence_and_suggests_fine_tuning_top_two():
    a = cand("a", None, 10.0, transfer=TransferScore(0.52, "combined", 1, 0.55))
    b = cand("b", None, 12.0, transfer=TransferScore(0.50, "combined", 2, 0.40))
    rec = recommend([a, b], Constraints(latency_ms=20))
    assert rec.recommended == "a" and rec.confidence == "medium"
    assert any("unstable: a ranked first in 55% of bootstrap resamples" in n for n in rec.notes)
    assert any(p.kind == "finetune" and p.models == ["a", "b"] for p in rec.next_probes)


def test_estimated_latency_of_the_pick_is_low_confidence_and_asks_for_the_latency_probe():
    a = cand("a", None, 8.0, src="estimated",
             finetuned_accuracy=Figure(90.0, "measured", "%", extra={"samples": 2000}))
    b = cand("b", None, 9.0, finetuned_accuracy=Figure(80.0, "measured", "%",
                                                       extra={"samples": 2000}))
    rec = recommend([a, b], Constraints(latency_ms=20))
    assert rec.recommended == "a" and rec.confidence == "low"
    assert "latency is estimated, not measured, for a 8.00 ms" in rec.notes
    assert rec.next_probes[0].text() == "run the latency probe on a: measure p50 at batch 1 on cpu"


def test_finetuned_difference_within_noise_is_flagged():
    a = cand("a", None, 8.0, finetuned_accuracy=Figure(81.0, "measured", "%", extra={"samples": 50}))
    b = cand("b", None, 9.0, finetuned_accuracy=Figure(80.0, "measured", "%", extra={"samples": 50}))
    rec = recommend([a, b])
    assert rec.confidence == "medium"
    assert any("sampling noise" in n for n in rec.notes)


def test_architecture_only_figures_do_not_count_as_accuracy():
    rnd = cand("random", 80.0, 5.0, weights="architecture-only",
               finetuned_accuracy=Figure(99.0, "measured", "%"))
    pre = cand("pre", 75.0, 5.0, finetuned_accuracy=Figure(60.0, "measured", "%"))
    rec = recommend([rnd, pre])
    # random's 99% came from random weights: not evidence. The shared basis is ImageNet top-1.
    assert rec.basis_kind == "published"
    assert rec.recommended == "random"
    assert rec.verdict("random").accuracy.kind == "published"
    # what settles it: the weights first (no probe measures accuracy on random ones)
    download = [p for p in rec.next_probes if p.kind == "download"]
    assert [p.models for p in download] == [["random"]]
    assert download[0].text().startswith("download the pretrained weights of random: then score")


def test_missing_figure_leaves_a_candidate_unverified_not_rejected():
    a = cand("a", 80.0, None)
    b = cand("b", 70.0, 10.0)
    rec = recommend([a, b], Constraints(latency_ms=20))
    assert rec.recommended == "b"
    assert rec.verdict("a").status == UNVERIFIED
    assert rec.verdict("a").reason == "not checked: no latency figure at batch 1 on cpu"
    assert any(p.kind == "latency" and p.models == ["a"] for p in rec.next_probes)


def test_figures_at_another_batch_or_device_are_not_used():
    a = cand("a", 80.0, None, latency=[lat(5, batch=8), lat(3, device="cuda:0")])
    rec = recommend([a], Constraints(latency_ms=20, batch=1, device="cpu"))
    assert rec.verdict("a").status == UNVERIFIED


def test_balanced_objective_weights_accuracy_against_speed():
    cands = [cand("acc", 85.0, 100.0), cand("mid", 80.0, 3.0), cand("fast", 60.0, 1.0)]
    assert recommend(cands, objective=Objective(BALANCED, 1.0)).recommended == "acc"
    assert recommend(cands, objective=Objective(BALANCED, 0.0)).recommended == "fast"
    rec = recommend(cands, objective=Objective(BALANCED, 0.5))
    # accuracy 1 / 0.5 / 0; speed (log scale) 0 / 0.761 / 1.
    scores = {v.model_id: v.score for v in rec.verdicts}
    assert scores["acc"] == pytest.approx(0.5) and scores["fast"] == pytest.approx(0.5)
    assert scores["mid"] == pytest.approx(0.5 * 0.5 + 0.5 * (1 - 1.0986 / 4.6052), abs=1e-3)
    assert rec.recommended == "mid"
    # acc and fast tie on score: the accuracy rank orders them.
    assert [v.model_id for v in rec.verdicts] == ["mid", "acc", "fast"]


def test_recommendation_round_trips_through_json():
    cands = [cand("a", 80.0, 15.0, finetune_memory=[mem(5000)]), cand("b", 70.0, 25.0)]
    rec = recommend(cands, Constraints(latency_ms=20, memory_mode=FINETUNE, free_memory_mib=8000))
    again = Recommendation.from_dict(json.loads(json.dumps(rec.to_dict())))
    assert again.to_dict() == rec.to_dict()
    assert again.verdict("b").status == REJECTED


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="listed twice"):
        recommend([cand("a", 1.0, 1.0), cand("a", 2.0, 2.0)])
    with pytest.raises(ValueError, match="objective"):
        Objective("cheapest")
    with pytest.raises(ValueError, match="between 0 and 1"):
        Objective(BALANCED, 1.5)
    assert recommend([]).recommended is None
    assert RECOMMENDED == "recommended"


def test_noisy_latency_measurement_is_flagged():
    noisy = lat(12.0)
    noisy.extra["cv"] = 0.68
    a = cand("a", 80.0, None, latency=[noisy])
    rec = recommend([a, cand("b", 70.0, 15.0)], Constraints(latency_ms=20))
    assert rec.recommended == "a" and rec.confidence == "low"  # published basis
    assert any("a varied by 68% between runs" in n for n in rec.notes)
    assert any(p.kind == "latency" and p.models == ["a"] and "quiet" in p.why
               for p in rec.next_probes)


@pytest.mark.parametrize("code", ["timeout", "timed_out"])
def test_a_failed_probe_reads_as_the_one_status_vocabulary_in_old_and_new_codes(code):
    from selector.core.recommend.checks import assess
    from selector.core.results.record import ProbeStatus

    a = cand("a", 80.0, None, probe_status={"latency": code, "finetune": "out_of_memory"},
             probe_messages={"latency": "killed at the hard timeout of 240 s"})
    assert a.probe_end("latency") == ProbeStatus.TIMED_OUT and a.probe_end("transfer") is None
    assert a.probe_end("finetune") == ProbeStatus.OUT_OF_MEMORY
    checked = assess(a, Constraints(latency_ms=20, memory_mode=FINETUNE, memory_budget_mib=4096), None)
    assert checked.unknowns == ["latency probe failed (timed out: killed at the hard timeout of 240 s)"]
    assert checked.failures[0].startswith("fine-tuning ran out of memory (measured)")
    assert cand("b", probe_status={"latency": "exploded"}).probe_end("latency") is None
