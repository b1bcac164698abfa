"""``recommend --objective energy``: rank by measured joules per sample (samples per joule)."""

import pytest

from selector.core.recommend.candidate import MEASURED, Candidate, Figure
from selector.core.recommend.engine import recommend
from selector.core.recommend.result import Constraints, Objective


def _candidate(model_id, ms, joules, top1):
    extra = {"samples_per_s": 1000 / ms}
    if joules is not None:
        extra["energy_per_sample_j"] = joules
    fig = Figure(ms, MEASURED, "ms", batch=1, dtype="fp32", device="cuda:0", extra=extra)
    return Candidate(model_id, task="image-classification", params=10**7,
                     published={"imagenet_top1": top1}, latency=[fig])


def test_energy_objective_ranks_by_joules_per_sample_unknown_last():
    cands = [_candidate("fast-hungry", 2.0, 0.9, 80.0), _candidate("slow-frugal", 5.0, 0.2, 78.0),
             _candidate("unmeasured", 1.0, None, 85.0)]
    con = Constraints(device="cuda:0", batch=1)
    rec = recommend(cands, con, Objective("energy"))
    assert [v.model_id for v in rec.verdicts[:3]] == ["slow-frugal", "fast-hungry", "unmeasured"]
    assert rec.verdicts[0].reason.startswith("fewest joules per sample")
    assert "samples per joule" in rec.objective.describe()
    assert recommend(cands, con, Objective("accuracy")).recommended == "unmeasured"


def test_energy_objective_without_any_energy_figure_says_so():
    cands = [_candidate("a", 2.0, None, 80.0), _candidate("b", 1.0, None, 70.0)]
    rec = recommend(cands, Constraints(device="cuda:0", batch=1), Objective("energy"))
    assert rec.recommended == "a"
    assert any("no candidate has a measured energy figure" in n for n in rec.notes)


def test_unknown_objective_is_refused():
    with pytest.raises(ValueError, match="energy"):
        Objective("joules")


def test_a_sheet_ranked_by_energy_carries_samples_per_joule(tmp_path):
    from selector.core.export import build_sheet, csv_rows, export_sheet
    from selector.core.export.table import read_csv

    cands = [_candidate("fast-hungry", 2.0, 0.5, 80.0), _candidate("slow-frugal", 5.0, 0.25, 78.0),
             _candidate("unmeasured", 1.0, None, 85.0)]
    sheet = build_sheet(cands, Constraints(device="cuda:0", batch=1), Objective("energy"))
    rows = csv_rows(sheet)
    assert [r["model_id"] for r in rows] == ["slow-frugal", "fast-hungry", "unmeasured"]
    assert [r["samples_per_joule"] for r in rows] == [4.0, 2.0, None]
    path = export_sheet(sheet, tmp_path / "s.csv")[0]
    assert read_csv(path)[0]["energy_per_sample_j"] == 0.25
