"""The whole desktop flow, driven like a user: pick models, run, watch, read the answer."""

from __future__ import annotations

import psutil
import pytest

from selector.core.catalog.catalog import Catalog
from selector.ui.probe_queue import COL_CANCEL, COL_ETA, COL_KIND, COL_MODEL

QUICK = {"latency": {"warmup_iters": 1, "warmup_s": 0.0, "min_iters": 5, "min_time_s": 0.2},
         "transfer": {"max_items": 60}}


@pytest.fixture
def tiny_catalog(monkeypatch):
    from selector.core.models import resolve_model
    from selector.ui import workflow

    entries = []
    for name, top1 in (("test_resnet", 61.0), ("test_vit", 55.0), ("test_efficientnet", 58.0)):
        entry = resolve_model(name)
        entry.published = {"imagenet_top1": top1}
        entries.append(entry)
    broken = resolve_model("test_convnext")
    broken.id, broken.architecture = "broken_model", "no_such_architecture_anywhere"
    entries.append(broken)
    catalog = Catalog({e.id: e for e in entries})
    def steps():  # as load_catalog_quietly yields them
        yield "catalog", catalog
        yield "calibration", None

    monkeypatch.setattr(workflow, "load_catalog_quietly", steps)
    return catalog


def ready_window(qtbot, make_main_window):
    window = make_main_window()
    qtbot.waitUntil(lambda: window.catalog is not None and window.live_profile is not None
                    and window.profile is not None
                    and window.catalog_view.model.rowCount() == len(window.catalog), timeout=60_000)
    window.confirm_shortlist = False
    window.probe_params = QUICK
    window.prefs.latency_budget_s, window.prefs.transfer_budget_s = 2.0, 5.0
    window.prefs.finetune_budget_s, window.prefs.finetune_top_k = 3.0, 1
    window.catalog_view.fits_only.setChecked(False)
    return window


def select(window, ids):
    from PySide6.QtCore import QItemSelectionModel

    view = window.catalog_view
    view.table.clearSelection()
    for model_id in ids:
        row = view.proxy.mapFromSource(view.model.index(view.model.row_of(model_id), 0)).row()
        view.table.selectionModel().select(
            view.proxy.index(row, 0),
            QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows)


def row_of(window, model_id, kind):
    panel = window.queue_panel
    for probe_id in panel.probe_ids():
        row = panel._rows[probe_id]
        if (panel.table.item(row, COL_MODEL).text(), panel.table.item(row, COL_KIND).text()) == (model_id, kind):
            return probe_id
    raise KeyError((model_id, kind))


@pytest.mark.slow
def test_one_click_run_with_a_cancel_and_a_crash(qtbot, make_main_window, tiny_catalog):
    window = ready_window(qtbot, make_main_window)
    select(window, ["test_resnet", "test_vit", "broken_model"])
    cancelled: list[str] = []

    def on_event(event):  # cancel test_vit's latency probe as soon as test_resnet's starts
        if event.type == "started" and not cancelled:
            cancelled.append(row_of(window, "test_vit", "latency"))
            window.queue_panel.table.cellWidget(window.queue_panel._rows[cancelled[0]], COL_CANCEL).click()

    window.run.sig_event.connect(on_event)
    said: list[str] = []  # every banner message (a later one replaces an earlier on screen)
    show = window.banner.show_message
    window.banner.show_message = lambda text, *a, **k: (said.append(text), show(text, *a, **k))
    with qtbot.waitSignal(window.run.sig_run_finished, timeout=600_000):
        window.benchmark_best()
    panel = window.queue_panel
    assert panel.state(cancelled[0]) == "cancelled"
    assert panel.state(row_of(window, "test_resnet", "latency")) == "finished"
    assert panel.state(row_of(window, "broken_model", "latency")) == "failed"
    assert panel.state(row_of(window, "test_vit", "transfer")) == "finished"  # the rest ran on
    assert any("broken_model" in text for text in said)
    assert not any("Recommendation failed" in text for text in said)
    # The answer: rows in the recommendation table and one Pareto point per model that has a
    # measured latency, at the coordinates the store holds.
    qtbot.waitUntil(lambda: window.sheet is not None and window.sheet.session_id == window.shown_session,
                    timeout=60_000)
    qtbot.waitUntil(lambda: window.recommendation_panel.proxy.rowCount() == 3, timeout=60_000)
    drawn = window.plots.pareto.spot_positions()
    sheet = window.sheet
    points = {p.model_id: p for p in window.plots.pareto.points}
    assert set(drawn) == set(points) and "test_resnet" in drawn
    assert points["test_resnet"].latency_kind == "measured"
    assert all(p.latency_kind == "estimated" for m, p in points.items() if m != "test_resnet")
    for model_id, point in points.items():  # every point sits where its verdict says
        verdict = sheet.recommendation.verdict(model_id)
        assert drawn[model_id] == pytest.approx((verdict.latency.value, point.accuracy))
    from selector.core.results import ResultStore

    stored = [r for r in ResultStore().session_results(window.shown_session)
              if r.model_id == "test_resnet" and r.kind == "latency"][0]
    p50 = stored.rows[0]["p50_ms"]
    cand = sheet.candidate("test_resnet")
    # no pretrained weights here: a fine-tune from random weights says nothing of the
    # pretrained model, so every point shows the published figure, marked as such
    assert not cand.has_pretrained_weights
    assert all(p.accuracy_kind == "published" for p in points.values())
    assert drawn["test_resnet"] == pytest.approx((p50, 61.0))


@pytest.mark.slow
def test_closing_the_window_mid_run_leaves_nothing_behind(qtbot, make_main_window, tiny_catalog):
    window = ready_window(qtbot, make_main_window)
    select(window, ["test_resnet", "test_vit"])
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    with qtbot.waitSignal(window.run.sig_event, timeout=120_000,
                          check_params_cb=lambda e: e.type == "started"):
        window.benchmark_best()
    session = window.shown_session
    started = [p for p in psutil.Process().children(recursive=True)
               if p.pid not in before and "resource_tracker" not in " ".join(p.cmdline())]
    assert started, "a probe process was running"
    window.close()

    def gone() -> bool:
        return not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in started)

    qtbot.waitUntil(gone, timeout=10_000)
    from selector.core.results import ResultStore

    assert ResultStore().get_session(session).status == "open"  # resumable


def interrupted_session(catalog, finished=(("test_resnet", "latency"),)):
    """A one-click run left open (the app was killed), with some probes already finished."""
    from selector.core.funnel import Funnel
    from selector.core.hardware import detect_hardware
    from selector.core.request import Request
    from selector.core.results import ResultStore
    from selector.core.results.record import LatencyRow, ProbeResult

    store = ResultStore()
    entries = [catalog.get("test_resnet"), catalog.get("test_vit")]
    funnel = Funnel(entries, Request(), store=store, top_k=1,
                    hardware=detect_hardware(include_torch=False).to_dict())
    for model_id, kind in finished:
        row = LatencyRow(model_id, "cpu", "fp32", 1, [3, 160, 160], weights="random", threads=1,
                         iters=5, p50_ms=5.0, p90_ms=6.0, p99_ms=7.0,
                         samples_ms=[4.8, 5.0, 5.0, 5.2, 6.1]).to_dict()
        store.save_result(ProbeResult(f"done-{model_id}-{kind}", kind, model_id, "cpu", "finished",
                                      session_id=funnel.session_id, weights="random", rows=[row],
                                      spec={"entry": catalog.get(model_id).to_dict()},
                                      ended_at="2026-01-01T00:00:01"))
    return funnel.session_id


def queue_rows(window):
    panel = window.queue_panel
    return {(panel.table.item(panel._rows[p], COL_MODEL).text(),
             panel.table.item(panel._rows[p], COL_KIND).text()):
            panel.state(p) for p in panel.probe_ids()}


@pytest.mark.slow
def test_resume_runs_only_what_did_not_finish_and_cancel_all_ends_true(qtbot, make_main_window,
                                                                        tiny_catalog):
    session_id = interrupted_session(tiny_catalog)
    window = ready_window(qtbot, make_main_window)
    qtbot.waitUntil(lambda: "Resume" in window.banner.action_labels(), timeout=30_000)
    with qtbot.waitSignal(window.run.sig_run_started, timeout=30_000):
        window.banner.trigger("Resume")
    assert window.shown_session == session_id
    rows = queue_rows(window)
    assert rows.pop(("test_resnet", "latency")) == "finished"  # it finished before the app was killed
    assert rows == {("test_resnet", "transfer"): "queued", ("test_vit", "latency"): "queued",
                    ("test_vit", "transfer"): "queued"}  # only what did not finish runs
    status: list[str] = []  # the status bar is shared (start-up steps write there too)
    window.statusBar().messageChanged.connect(status.append)
    with qtbot.waitSignal(window.run.sig_run_finished, timeout=120_000):
        window.queue_panel.cancel_all_button.click()
    states = queue_rows(window)
    assert set(states.values()) <= {"cancelled", "finished"} and "cancelled" in states.values()
    panel = window.queue_panel
    assert all(panel.table.item(panel._rows[p], COL_ETA).text() == "" for p in panel.probe_ids())  # no ETA
    assert not panel.cancel_all_button.isEnabled()
    assert "Benchmark cancelled" in status and "Benchmark finished" not in status
    from selector.core.results import ResultStore

    assert ResultStore().get_session(session_id).status == "cancelled"
    window.close()
    again = ready_window(qtbot, make_main_window)  # the next start offers no resume...
    qtbot.waitUntil(lambda: again.sheet is not None, timeout=60_000)
    assert "Resume" not in again.banner.action_labels()
    qtbot.waitUntil(lambda: bool(again.recent), timeout=30_000)
    again._fill_recent_menu()  # ...but the run can be reopened
    labels = [a.text() for a in again.recent_menu.actions()]
    assert any("cancelled" in text and "test_resnet" in text for text in labels), labels


def test_discard_clears_the_plots_and_the_answer(qtbot, make_main_window, tiny_catalog):
    session_id = interrupted_session(tiny_catalog)
    window = ready_window(qtbot, make_main_window)
    qtbot.waitUntil(lambda: window.sheet is not None and bool(window.plots.pareto.points), timeout=60_000)
    assert "Discard" in window.banner.action_labels()
    window.banner.trigger("Discard")
    assert window.sheet is None and window.shown_session is None
    assert window.plots.pareto.points == [] and window.plots.pareto.spot_positions() == {}
    assert window.recommendation_panel.proxy.rowCount() == 0
    from selector.core.results import ResultStore

    assert all(s.id != session_id for s in ResultStore().list_sessions())
    qtbot.wait(300)  # a recommendation still in flight must not bring the points back
    assert window.plots.pareto.points == []


def test_open_recent_reopens_a_session_like_a_live_one(qtbot, make_main_window, tiny_catalog):
    from selector.core.results import ResultStore

    older = interrupted_session(tiny_catalog)
    ResultStore().set_session_status(older, "closed")
    newer = interrupted_session(tiny_catalog, finished=(("test_vit", "latency"),))
    ResultStore().set_session_status(newer, "closed")
    window = ready_window(qtbot, make_main_window)
    qtbot.waitUntil(lambda: len(window.recent) == 2, timeout=30_000)
    window._fill_recent_menu()
    actions = window.recent_menu.actions()
    assert len(actions) == 2 and "test_resnet, test_vit" in actions[0].text()
    actions[1].trigger()  # the older one
    qtbot.waitUntil(lambda: window.sheet is not None and window.sheet.session_id == older, timeout=60_000)
    qtbot.waitUntil(lambda: queue_rows(window) == {("test_resnet", "latency"): "finished"}, timeout=30_000)
    assert [p.model_id for p in window.plots.pareto.points if p.latency_kind == "measured"] == ["test_resnet"]
    # the latency distribution shows the pick's timed iterations (one bar count per sample)
    assert window.sheet.recommendation.recommended == "test_resnet"
    assert sum(window.plots.latency.bars.opts["height"]) == 5


def test_the_objective_re_ranks_an_opened_sheet(qtbot, make_main_window, tmp_path):
    from selector.core.export import build_sheet, export_sheet
    from selector.core.recommend import Constraints, Objective
    from selector.core.recommend.candidate import MEASURED, Candidate, Figure

    cands = [Candidate(m, task="image-classification", published={"imagenet_top1": acc},
                       latency=[Figure(ms, MEASURED, "ms", batch=1, dtype="fp32", device="cpu")])
             for m, acc, ms in (("accurate_slow", 85.0, 40.0), ("fast_rough", 70.0, 4.0))]
    path = tmp_path / "sheet.json"
    export_sheet(build_sheet(cands, Constraints(batch=1), Objective("accuracy")), path, "json")
    window = make_main_window(profile_source="t4")
    window.open_sheets([str(path)])
    assert window.sheet.recommendation.recommended == "accurate_slow"
    combo = window.recommendation_panel.objective
    combo.setCurrentIndex(combo.findData("latency"))
    qtbot.waitUntil(lambda: window.sheet.recommendation.recommended == "fast_rough", timeout=30_000)
    assert "fast_rough" in window.recommendation_panel.summary.text()


def test_a_busy_machine_is_said_before_a_run_starts(qtbot, make_main_window, tiny_catalog, monkeypatch):
    import threading

    from PySide6.QtWidgets import QDialog

    from selector.core.probes import contention
    from selector.ui.shortlist_dialog import ShortlistDialog

    busy = ("the machine is busy: other processes used 1.8 of 2 CPUs. "
            "Measurements taken now will be marked noisy.")
    checked_on: list[bool] = []  # whether each check ran on the GUI thread
    calibration_held: list[bool] = []  # our own calibration child must not read as others' work

    def machine_busy(seconds=0.5, answer=busy):
        checked_on.append(threading.current_thread() is threading.main_thread())
        calibration_held.append(not window.cpu_calibration._free.is_set())
        return answer

    shown: list[tuple[str, bool]] = []

    def exec_(dialog):  # what the user sees; then Cancel
        shown.append((dialog.busy.text(), not dialog.busy.isHidden()))
        return QDialog.DialogCode.Rejected

    monkeypatch.setattr(contention, "machine_busy", machine_busy)
    monkeypatch.setattr(ShortlistDialog, "exec", exec_)
    window = ready_window(qtbot, make_main_window)
    window.confirm_shortlist = True
    select(window, ["test_resnet"])
    window.benchmark_best()
    window.benchmark_best()  # a second click while the machine is watched starts nothing more
    qtbot.waitUntil(lambda: bool(shown), timeout=30_000)
    assert shown == [("The machine is busy: other processes used 1.8 of 2 CPUs. Measurements taken "
                      "now will be marked noisy.", True)]
    assert checked_on == [False]  # watched off the GUI thread
    assert calibration_held == [True]
    assert not window.session.running and window.busy_check is None  # cancelled: nothing runs
    assert window.cpu_calibration._free.is_set()  # and the calibration may go on

    monkeypatch.setattr(contention, "machine_busy", lambda seconds=0.5: machine_busy(answer=None))
    window.benchmark_best()
    qtbot.waitUntil(lambda: len(shown) == 2, timeout=30_000)
    assert shown[1] == ("", False)  # a quiet machine: no warning
