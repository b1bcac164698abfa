"""One sheet per hardware kind: results of a cluster run as the store holds them (no Ray
needed), two T4 nodes and one A100 node, two models."""

from __future__ import annotations

import statistics

import pytest

from selector.core.catalog.entry import VISION, CatalogEntry
from selector.core.cluster.sheets import group_by_kind, kind_sheets, pool_latency
from selector.core.export.compare import compare_kinds
from selector.core.results import ResultStore
from selector.core.results.record import ProbeResult

NODES = {"t4-a": ("T4", "n1aaaaaa"), "t4-b": ("T4", "n2bbbbbb"), "a100": ("A100", "n3cccccc")}


def entry(model: str, params: int) -> dict:
    return CatalogEntry(id=model, source="timm", task=VISION, family="x", architecture=model, params=params,
                        macs=params * 100.0, input_size=(3, 224, 224)).to_dict()


def latency(model: str, node: str, samples: list[float], params: int = 5_000_000) -> ProbeResult:
    kind, node_id = NODES[node]
    ordered = sorted(samples)
    row = {"model_id": model, "device": "cpu", "dtype": "fp32", "batch_size": 1, "threads": 1,
           "iters": len(samples), "samples_ms": samples, "p50_ms": statistics.median(ordered),
           "p90_ms": ordered[-1], "p99_ms": ordered[-1], "mean_ms": statistics.fmean(samples),
           "weights": "random"}
    return ProbeResult(id=f"{model}-{node}", kind="latency", model_id=model, device="cpu", status="finished",
                       task=VISION, rows=[row], spec={"entry": entry(model, params)},
                       hardware={"name": node, "cpu": {"model": "Xeon", "logical_cores": 4}, "gpus": [],
                                 "memory": {"total_mib": 32_000.0, "available_mib": 20_000.0}},
                       placement={"node_id": node_id + "0" * 20, "host": node, "kind": kind})


@pytest.fixture
def cluster_session():
    store = ResultStore()
    session = store.create_session("bench on a cluster", {"name": "Ray cluster", "source": "cluster"})
    results = [
        latency("fast-net", "t4-a", [10.0, 11.0, 12.0]), latency("fast-net", "t4-b", [20.0, 21.0, 22.0]),
        latency("slow-net", "t4-a", [40.0, 41.0, 42.0], params=9_000_000),
        latency("fast-net", "a100", [2.0, 2.1, 2.2]), latency("slow-net", "a100", [1.0, 1.1, 1.2], 9_000_000),
    ]
    for result in results:
        result.session_id = session.id
        store.save_result(result)
    return store, session


def test_results_are_grouped_by_kind_and_same_kind_repeats_pooled():
    t4 = [latency("fast-net", "t4-a", [10.0, 11.0, 12.0]), latency("fast-net", "t4-b", [20.0, 21.0, 22.0])]
    groups = group_by_kind(t4 + [latency("fast-net", "a100", [2.0])])
    assert sorted(groups) == ["A100", "T4"] and len(groups["T4"]) == 2
    pooled, notes = pool_latency(groups["T4"])
    assert len(pooled) == 1
    row = pooled[0].rows[0]
    assert row["samples_ms"] == [10.0, 11.0, 12.0, 20.0, 21.0, 22.0] and row["iters"] == 6
    assert row["p50_ms"] == pytest.approx(16.0)  # median of both nodes' iterations, not of their medians' max
    assert row["pooled_from"] == ["t4-a/n1aaaa", "t4-b/n2bbbb"]
    assert "pooled" in pooled[0].message and "2 nodes" in notes[0]


def test_each_kind_gets_its_own_sheet_and_kinds_never_mix(cluster_session):
    store, session = cluster_session
    sheets = kind_sheets(session.id, store=store)
    assert [s.hardware["name"] for s in sheets] == ["T4", "A100"]
    t4, a100 = sheets
    t4_p50 = {c.model_id: [f.value for f in c.latency] for c in t4.candidates}
    a100_p50 = {c.model_id: [f.value for f in c.latency] for c in a100.candidates}
    assert t4_p50 == {"fast-net": [pytest.approx(16.0)], "slow-net": [41.0]}  # pooled over t4-a and t4-b
    assert a100_p50 == {"fast-net": [2.1], "slow-net": [1.1]}  # nothing from the T4 nodes
    assert any("pooled over 2 nodes" in n for n in t4.notes) and not any("pooled" in n for n in a100.notes)
    assert t4.session_id == a100.session_id == session.id
    comparison = compare_kinds(sheets)
    assert comparison.machines == ["T4", "A100"]
    assert comparison.cell("slow-net", "A100").latency_p50_ms == pytest.approx(1.1)
    assert comparison.cell("slow-net", "T4").latency_p50_ms == pytest.approx(41.0)
    answers = [n for n in comparison.notes if n.startswith("on ")]
    assert answers == ["on T4: fast-net (p50 16.0 ms, measured)", "on A100: slow-net (p50 1.1 ms, measured)"]


def test_export_per_kind_writes_the_kinds_side_by_side(cluster_session, tmp_path, capsys):
    import json

    from selector.cli import main

    _store, session = cluster_session
    out = tmp_path / "kinds.json"
    assert main(["export", "--per-kind", "--session", session.id, "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "on 2 hardware kind(s)" in said and "on T4: " in said and "on A100: " in said
    written = json.loads(out.read_text())
    assert written["machines"] == ["T4", "A100"]
