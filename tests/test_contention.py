"""The contention record: its rules on synthetic figures, and where it shows (store, CLI, sheets,
the recommendation's confidence, the GUI queue). Real probes beside a CPU hog are in
test_contention_probe.py."""

from __future__ import annotations

import json

import pytest

from selector.core.probes import contention as cn
from selector.core.probes.contention import Contention, Sampler, Snapshot, judge
from selector.core.recommend import Candidate, Constraints, Figure, recommend
from selector.core.results.record import FINISHED, LatencyRow, ProbeResult

BUSY = "other processes used 1.50 cores of 2 on average while it measured (limit 0.25)"


def quiet(**kw) -> Contention:
    base = dict(wall_s=3.0, cores=2, others_cores=0.05, steal_share=0.0,
                reference_before_gmacs=50.0, reference_after_gmacs=51.0)
    return Contention(**{**base, **kw})


# ---------------------------------------------------------------------------------- rules
def test_a_quiet_window_is_not_noisy():
    rec = judge(quiet(reference_calibration_gmacs=49.0))
    assert rec.noisy is False and rec.reasons == []
    assert rec.limits["others_cores"] == cn.OTHERS_CORES_MAX


@pytest.mark.parametrize("figures, words", [
    ({"others_cores": 0.30}, "other processes used 0.30 cores of 2 on average"),
    ({"steal_share": 0.15}, "the hypervisor took 15% of the CPU time"),
    ({"reference_after_gmacs": 38.0}, "50.00 GMAC/s before and 38.00 after (-24%"),
    ({"reference_calibration_gmacs": 70.0}, "against 70.00 GMAC/s when this CPU was calibrated (-29%"),
    ({"reference_calibration_gmacs": 39.0}, "51.00 after against 39.00 GMAC/s when this CPU was "
                                             "calibrated (+31%; tolerance ±20%)"),
])
def test_each_limit_makes_it_noisy_with_one_line_and_its_numbers(figures, words):
    rec = judge(quiet(**figures))
    assert rec.noisy is True
    assert len(rec.reasons) == 1 and words in rec.reasons[0], rec.reasons


def test_just_under_every_limit_is_quiet():
    rec = judge(quiet(others_cores=0.24, steal_share=0.09, reference_after_gmacs=59.5,
                      reference_calibration_gmacs=55.0))
    assert not rec.noisy, rec.reasons


def test_several_causes_give_several_reasons():
    rec = judge(quiet(others_cores=1.9, steal_share=0.2, reference_after_gmacs=20.0))
    assert rec.noisy and len(rec.reasons) == 3


def test_the_window_figures_come_from_the_counters():
    sampler = Sampler()
    a = Snapshot(t=0.0, busy_s=100.0, steal_s=1.0, total_s=300.0, tree_s=10.0)
    b = Snapshot(t=2.0, busy_s=104.0, steal_s=1.6, total_s=304.0, tree_s=12.0)
    rec = sampler.record(a, b, threads=2, before=50.0, after=50.0)
    # 4 CPU s used by the machine, 2 of them the probe's: 2 s over 2 s of wall = 1 core of others
    assert rec.others_cores == pytest.approx(1.0)
    assert rec.steal_share == pytest.approx(0.15)
    assert rec.probe_cpu_share == pytest.approx(0.5)
    assert rec.noisy and "1.00 cores" in rec.reasons[0]
    assert "steal" in rec.reasons[1]


def test_the_record_is_plain_json_and_round_trips():
    rec = judge(quiet(others_cores=0.9))
    data = json.loads(json.dumps(rec.to_dict()))
    assert Contention.from_dict(data) == rec
    assert Contention.from_dict(None) is None


def test_the_tree_cpu_counts_this_process_and_keeps_growing():
    tree = cn.TreeCpu(__import__("os").getpid())
    first = tree.cpu_s()
    sum(i * i for i in range(300_000))
    assert tree.cpu_s() > first


def test_machine_busy_is_a_line_or_none(monkeypatch):
    snaps = iter([Snapshot(0.0, 0.0, 0.0, 10.0, 0.0), Snapshot(0.5, 0.9, 0.0, 11.0, 0.0)])
    monkeypatch.setattr(Sampler, "snapshot", lambda self: next(snaps))
    line = cn.machine_busy(seconds=0.05)
    assert line.startswith("the machine is busy: other processes used 1.80 cores")
    assert "\n" not in line
    snaps = iter([Snapshot(0.0, 0.0, 0.0, 10.0, 0.0), Snapshot(0.5, 0.01, 0.0, 11.0, 0.0)])
    assert cn.machine_busy(seconds=0.05) is None


def test_the_reference_workload_is_timed():
    speed = cn.reference_speed(rounds=3, round_s=0.01)
    assert speed > 0.01  # GMAC/s; even a slow single core does far more


# ---------------------------------------------------------------------------------- GPU
def test_other_processes_on_the_gpu_and_its_idle_utilisation_are_read(monkeypatch):
    from tests import fake_nvml

    gpu = fake_nvml.FakeGpu("NVIDIA L4", 23034, 20000, util=45, processes=[(4242, 1500), (777, 300)])
    fake_nvml.install(monkeypatch, [gpu])
    sampler = Sampler(device="cuda:0")
    assert sampler.gpu is not None
    monkeypatch.setattr(sampler.tree, "pids", lambda: {777})  # 777 is the probe itself
    sampler.poll(gpu_idle=True)
    a = sampler.snapshot()
    sampler.poll(gpu_idle=False)
    rec = sampler.record(a, sampler.snapshot())
    sampler.close()
    assert rec.gpu_others_mib == pytest.approx(1500) and rec.gpu_idle_util_pct == 45
    assert rec.noisy and any("GPU was 45% busy while the probe was not using it" in r
                             and "1500 MiB" in r for r in rec.reasons)


def test_an_idle_gpu_with_other_memory_alone_is_not_noisy(monkeypatch):
    from tests import fake_nvml

    fake_nvml.install(monkeypatch, [fake_nvml.FakeGpu("T4", 15360, 14000, util=0,
                                                      processes=[(4242, 1000)])])
    sampler = Sampler(device="cuda")
    sampler.poll(gpu_idle=True)
    rec = sampler.record(Snapshot(0, 0, 0, 1, 0), Snapshot(1, 0, 0, 2, 0))
    assert rec.gpu_others_mib == 1000 and not rec.noisy


# ------------------------------------------------------------------------- storage, views
def _result(noisy: bool) -> ProbeResult:
    con = judge(quiet(others_cores=1.5 if noisy else 0.0)).to_dict()
    row = LatencyRow("m", "cpu", "fp32", 1, iters=4, p50_ms=10.0, samples_ms=[9.0, 10.0, 10.5, 11.0],
                     note="only 4 iterations: no p99", threads=2, contention=con).to_dict()
    return ProbeResult(id="r" + str(noisy), kind="latency", model_id="m", device="cpu",
                       status=FINISHED, rows=[row], contention=con)


def test_rows_and_results_keep_their_record_through_the_store(tmp_path):
    from selector.core.results.store import ResultStore

    store = ResultStore(tmp_path / "r.sqlite")
    session = store.create_session("t")
    result = _result(noisy=True)
    result.session_id = session.id
    store.save_result(result)
    back = store.get_result(result.id)
    assert back.contention == result.contention and back.contention["noisy"] is True
    row = back.latency_rows()[0]
    assert row.samples_ms == [9.0, 10.0, 10.5, 11.0] and row.noisy and row.p99_ms is None
    assert cn.probe_reasons(back) == [BUSY]
    assert cn.probe_reasons(_result(noisy=False)) == []


def test_the_cli_table_marks_noisy_rows_and_lists_each_reason(capsys):
    from selector.commands.bench import print_results

    print_results([_result(noisy=True), _result(noisy=False)], "s1", "/tmp/db")
    out = capsys.readouterr().out
    assert "noisy" in out and "quiet" in out
    assert f"noisy: m fp32 batch 1: {BUSY}" in " ".join(out.split())
    assert "note: m fp32 batch 1: only 4 iterations: no p99" in out


def _cand(name: str, acc: float, ms: float, noisy: list[str]) -> Candidate:
    return Candidate(
        name, task="image-classification", params=1000, weights="pretrained",
        latency=[Figure(ms, "measured", "ms", batch=1, dtype="float32", threads=2, device="cpu",
                        noisy=noisy)],
        finetuned_accuracy=Figure(acc, "measured", "%", batch=16, device="cpu", extra={"samples": 5000}),
        inference_memory=[Figure(100, "measured", "MiB", batch=1, device="cpu")])


def test_a_deciding_latency_measured_on_a_busy_machine_lowers_confidence_and_says_why():
    con = Constraints(latency_ms=20, batch=1, task="image-classification")
    calm = recommend([_cand("a", 90.0, 10.0, []), _cand("b", 80.0, 12.0, [])], con)
    assert calm.confidence == "high"
    busy = recommend([_cand("a", 90.0, 10.0, [BUSY]), _cand("b", 80.0, 12.0, [])], con)
    assert busy.recommended == "a" and busy.confidence == "medium"
    assert f"the latency of a was measured on a busy machine: {BUSY}" in busy.notes
    assert any(p.kind == "latency" and p.models == ["a"] and "quiet" in p.why for p in busy.next_probes)


def test_sheets_mark_the_noisy_latency_and_list_the_reasons(tmp_path):
    from selector.core.export import build_sheet, csv_rows, export_sheet
    from selector.core.export.table import display_rows

    sheet = build_sheet([_cand("a", 90.0, 10.0, [BUSY]), _cand("b", 80.0, 12.0, [])],
                        Constraints(latency_ms=20, batch=1, task="image-classification"))
    cells = {r["model_id"]: r["p50 latency"] for r in display_rows(sheet)}
    assert cells["a"].endswith("(M, noisy)") and cells["b"].endswith("(M)")
    csv = {r["model_id"]: r["latency_noisy_reasons"] for r in csv_rows(sheet)}
    assert csv == {"a": BUSY, "b": None}
    for fmt in ("md", "html", "pdf"):
        path = export_sheet(sheet, tmp_path / f"s.{fmt}")[0]
        if fmt == "pdf":
            from pypdf import PdfReader

            text = " ".join(" ".join((p.extract_text() or "").split()) for p in PdfReader(path).pages)
        else:
            text = path.read_text()
        assert "Noisy: measured while the machine was busy" in text
        assert "other processes used 1.50 cores of 2" in text


def test_the_probe_queue_marks_a_noisy_row_with_the_reasons(qtbot):
    from selector.ui.probe_queue import COL_STATE, ProbeQueuePanel

    panel = ProbeQueuePanel()
    qtbot.addWidget(panel)
    for pid in ("p1", "p2"):
        panel.add_probe(pid, "m", "latency")
        panel.set_done(pid, "finished", "measured 1 row(s)")
    panel.set_noisy("p1", [BUSY])
    panel.set_noisy("p2", [])
    noisy, calm = (panel.table.item(r, COL_STATE) for r in (0, 1))
    assert noisy.text() == "finished, noisy" and BUSY in noisy.toolTip()
    assert calm.text() == "finished" and calm.toolTip() == ""


def test_a_noisy_stored_row_reaches_the_candidate_figure_and_the_sheet(tmp_path):
    from selector.core.export import build_sheet
    from selector.core.export.table import display_rows
    from selector.core.recommend.from_store import load_session
    from selector.core.results.store import ResultStore

    store = ResultStore(tmp_path / "r.sqlite")
    session = store.create_session("t")
    for noisy in (True, False):
        result = _result(noisy)
        result.model_id = result.rows[0]["model_id"] = "busy" if noisy else "calm"
        result.session_id = session.id
        store.save_result(result)
    loaded = load_session(session.id, constraints=Constraints(batch=1), store=store)
    figs = {c.model_id: c.latency[0] for c in loaded.candidates}
    assert figs["busy"].noisy == [BUSY] and figs["calm"].noisy == []
    assert "only 4 iterations: no p99" in figs["busy"].method and "p99" not in figs["busy"].extra
    sheet = build_sheet(loaded.candidates, Constraints(batch=1))
    cells = {r["model_id"]: r["p50 latency"] for r in display_rows(sheet)}
    assert cells["busy"].endswith("(M, noisy)") and cells["calm"].endswith("(M)")
