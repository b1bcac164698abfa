"""Real latency probes carry every timed iteration and a contention record; beside a CPU hog
on every core the record says noisy. (A quiet machine is not asserted quiet: CI may be busy.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from selector.core.probes import ProbeRun, ProbeSpec
from selector.core.probes.contention import machine_busy
from selector.core.results import FINISHED

pytestmark = pytest.mark.slow

QUICK = ["--iters", "12", "--min-time", "0.5", "--batch", "1"]


def test_bench_json_rows_carry_samples_and_contention(capsys):
    from selector.cli import main

    code = main(["bench", "test_resnet", "--probe", "latency", "--threads", "1", "--json", *QUICK])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    result = out["results"][0]
    assert result["status"] == FINISHED
    row = result["rows"][0]
    assert len(row["samples_ms"]) == row["iters"] >= 12
    assert row["p99_ms"] is not None and row["note"] == ""
    rec = row["contention"]
    for key in ("others_cores", "steal_share", "probe_cpu_share", "reference_before_gmacs",
                "reference_after_gmacs", "noisy", "reasons"):
        assert key in rec
    assert rec["wall_s"] > 0.4 and rec["threads"] == 1 and rec["reference_before_gmacs"] > 0
    assert isinstance(rec["noisy"], bool) and rec["noisy"] == bool(rec["reasons"])
    assert result["contention"]["wall_s"] >= rec["wall_s"]

    from selector.core.export.session import sheet_from_session
    from selector.core.recommend import Constraints
    from selector.core.results.store import ResultStore
    from selector.ui.results_presenter import present

    sheet = sheet_from_session(out["session"], Constraints(batch=1), store=ResultStore())
    assert present(sheet).latency_samples["test_resnet"] == row["samples_ms"], (
        "the GUI's latency distribution plots every timed iteration")


def _hogs(count: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def test_a_probe_beside_a_cpu_hog_on_every_core_is_noisy(test_resnet_entry):
    hogs = _hogs(os.cpu_count() or 2)
    try:
        warning = machine_busy(seconds=0.5)
        spec = ProbeSpec(kind="latency", model=test_resnet_entry.id, entry=test_resnet_entry.to_dict(),
                         threads=1, batch_sizes=[1], budget_s=30,
                         params={"warmup_iters": 2, "warmup_s": 0.1, "min_iters": 10, "min_time_s": 1.0})
        result = ProbeRun(spec).finish()
    finally:
        for hog in hogs:
            hog.kill()
        for hog in hogs:
            hog.wait()
    assert warning is not None and warning.startswith("the machine is busy: other processes used")
    assert result.status == FINISHED, result.error or result.message
    row = result.latency_rows()[0]
    assert row.noisy and result.contention["noisy"]
    assert any(r.startswith("other processes used") for r in row.contention["reasons"])
    assert row.contention["others_cores"] > 0.25
    assert len(row.samples_ms) == row.iters
    assert not any("samples_ms" in (e.get("data") or {}) for e in result.events), "kept once, in the row"


@pytest.fixture(scope="module")
def test_resnet_entry():
    from selector.core.models import resolve_model

    return resolve_model("test_resnet")
