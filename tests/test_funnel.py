"""The one-click funnel: latency and transferability for all, fine-tune for the best few."""

from __future__ import annotations

import pytest

from selector.core.catalog.entry import VISION, CatalogEntry
from selector.core.funnel import QUEUED, Funnel, FunnelBudgets
from selector.core.request import Request
from selector.core.results import ResultStore
from selector.core.results.record import ProbeResult


def entry(model_id, top1):
    return CatalogEntry(model_id, "timm", VISION, "test", model_id.split(".")[0], params=500_000,
                        macs=1e7, input_size=(3, 160, 160), published={"imagenet_top1": top1})


def result(model_id, kind, status="finished", weights="pretrained", rows=None):
    return ProbeResult(id=f"{model_id}-{kind}", kind=kind, model_id=model_id, device="cpu",
                       status=status, weights=weights, rows=rows or [])


def test_finetune_goes_to_the_best_by_prior_when_no_pretrained_scores():
    funnel = Funnel([entry("a", 70), entry("b", 80), entry("c", 75)], Request(), top_k=2)
    results = [result("a", "latency"), result("b", "latency", status="out_of_memory"),
               result("c", "latency"), result("a", "transfer", weights="random"),
               result("c", "transfer", weights="random")]
    assert funnel.choose_finetune(results) == ["c", "a"]  # b ran out of memory: passed over
    assert "published accuracy" in funnel.ranking_note


def test_finetune_follows_the_transfer_ranking_with_pretrained_weights():
    import numpy as np

    from selector.core.transfer import score_features

    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 20)
    good = rng.normal(size=(60, 16)) + 4.0 * np.eye(3, 16)[labels]
    poor = rng.normal(size=(60, 16))
    funnel = Funnel([entry("poor", 90), entry("good", 60)], Request(), top_k=1)
    results = [result("poor", "transfer", rows=[score_features(poor, labels, n_boot=5).to_dict()]),
               result("good", "transfer", rows=[score_features(good, labels, n_boot=5).to_dict()])]
    assert funnel.choose_finetune(results) == ["good"]  # the data beats the prior
    assert "transferability" in funnel.ranking_note


@pytest.mark.slow
def test_a_real_funnel_on_tiny_models_interrupted_then_resumed(tmp_path):
    from selector.core.catalog.catalog import Catalog
    from selector.core.models import resolve_model

    entries = [resolve_model("test_resnet"), resolve_model("test_vit")]
    catalog = Catalog({e.id: e for e in entries})
    store = ResultStore(tmp_path / "r.sqlite")
    quick = {"warmup_iters": 1, "warmup_s": 0.0, "min_iters": 3, "min_time_s": 0.1}
    params = {"latency": quick, "transfer": {"max_items": 60}}
    funnel = Funnel(entries, Request(batch_size=2, train_batch_size=4), store=store, top_k=1,
                    budgets=FunnelBudgets(latency_s=2, transfer_s=5, finetune_s=3),
                    probe_params=params)
    first = []
    for event in funnel.events():  # the app is "closed" after the first probe
        if event.type == "end":
            first.append(event.result)
            break
    assert first[0].status == "finished"
    assert store.get_session(funnel.session_id).status == "open"

    resumed = Funnel.resume(store, funnel.session_id, catalog, probe_params=params)
    assert first[0].id not in {s.id for s in resumed.specs}
    assert (first[0].model_id, first[0].kind) not in {(s.model, s.kind) for s in resumed.specs}
    ends, queued = [], []
    assert resumed.planned_later == 1  # the fine-tune, counted before its model is chosen
    for event in resumed.events():
        if event.type == "end":
            ends.append((event.result.model_id, event.result.kind, event.result.status))
        elif event.type == QUEUED:
            queued.extend(s["model"] for s in event.data["specs"])
            assert resumed.planned_later == 0
    # the funnel's part: every probe it planned ran; whether a 3 s fine-tune manages one step
    # depends on the machine's speed (a 0-step fine-tune fails, with the budget that would do)
    assert all(status == "finished" for _, kind, status in ends if kind != "finetune"), ends
    assert len(queued) == 1 and ends[-1][:2] == (queued[0], "finetune")
    stored = store.session_results(funnel.session_id)
    kinds = sorted(r.kind for r in stored)
    assert kinds.count("latency") == 2 and kinds.count("finetune") == 1
    assert len(stored) == 1 + len(ends)
    assert store.get_session(funnel.session_id).status == "closed"
