"""The whole desktop flow, driven like a user: pick models, run, watch, read the answer."""

from __future__ import annotations

import psutil
import pytest

from selector.core.catalog.catalog import Catalog

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
        if (panel.table.item(row, 0).text(), panel.table.item(row, 1).text()) == (model_id, kind):
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
            window.queue_panel.table.cellWidget(window.queue_panel._rows[cancelled[0]], 5).click()

    window.run.sig_event.connect(on_event)
    with qtbot.waitSignal(window.run.sig_run_finished, timeout=600_000):
        window.benchmark_best()
    panel = window.queue_panel
    assert panel.state(cancelled[0]) == "cancelled"
    assert panel.state(row_of(window, "test_resnet", "latency")) == "finished"
    assert panel.state(row_of(window, "broken_model", "latency")) == "failed"
    assert panel.state(row_of(window, "test_vit", "transfer")) == "finished"  # the rest ran on
    assert "broken_model" in window.banner.text()
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
