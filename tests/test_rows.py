"""The typed rows of a probe result (``results/rows.py``, re-exported by ``record.py``): they
round-trip through JSON, load rows written with keys they no longer know, and say when the
machine was busy; callers that import them from ``record`` get the same classes."""

from __future__ import annotations

import json

import pytest

from selector.core.results import record, rows
from selector.core.results.record import FinetuneReport, GenerationRow, LatencyRow, ProbeResult


def test_record_re_exports_the_row_classes():
    assert (record.LatencyRow, record.GenerationRow, record.FinetuneReport) == (
        rows.LatencyRow, rows.GenerationRow, rows.FinetuneReport)


@pytest.mark.parametrize("row", [
    LatencyRow(model_id="m", device="cpu", dtype="fp32", batch_size=4, input_size=[3, 224, 224],
               p50_ms=9.5, samples_ms=[9.4, 9.5, 9.7], contention={"noisy": True, "reasons": ["x"]}),
    GenerationRow(model_id="m", device="cpu", dtype="bf16", batch_size=1, prompt_len=128,
                  ttft_p50_ms=40.0, samples_ttft_ms=[41.0, 40.0]),
    FinetuneReport(model_id="m", device="cpu", steps=3, classes=["a", "b"], lora={"rank": 8}),
])
def test_rows_round_trip_through_json_and_ignore_unknown_keys(row):
    data = json.loads(json.dumps(row.to_dict()))
    assert type(row).from_dict(data) == row
    data["a_key_from_another_version"] = 1
    assert type(row).from_dict(data) == row


def test_noisy_follows_the_contention_record():
    base = dict(model_id="m", device="cpu", dtype="fp32", batch_size=1)
    assert LatencyRow(**base, contention={"noisy": True}).noisy
    assert not LatencyRow(**base, contention={"noisy": False}).noisy
    assert not LatencyRow(**base).noisy  # measured before contention was recorded
    assert FinetuneReport(model_id="m", device="cpu", contention={"noisy": True}).noisy
    assert not GenerationRow(**base, contention=None).noisy


def test_a_result_reads_its_rows_by_kind():
    lat = LatencyRow(model_id="m", device="cpu", dtype="fp32", batch_size=1).to_dict()
    gen = GenerationRow(model_id="d", device="cpu", dtype="fp32", batch_size=1, ttft_p50_ms=5.0).to_dict()
    result = ProbeResult(id="p", kind="latency", model_id="m", device="cpu", status="finished",
                         rows=[lat, gen])
    assert [type(r) for r in result.latency_rows()] == [LatencyRow]
    assert [type(r) for r in result.generation_rows()] == [GenerationRow]
    assert result.finetune_report() is None
