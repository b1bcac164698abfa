"""The main window's longer actions: benchmark, resume, sheets, export, remembered request.

Each function takes the window and uses only its panels' public methods and the core, so the
window class stays a list of wires. Anything slow runs through the window's worker pool.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QDialog, QFileDialog

from selector.core.funnel import Funnel, FunnelBudgets
from selector.core.preferences import Preferences
from selector.core.request import Request
from selector.ui.shortlist_dialog import ShortlistDialog

if TYPE_CHECKING:  # pragma: no cover
    from selector.ui.main_window import MainWindow

log = logging.getLogger(__name__)
EXPORT_FILTERS = ("PDF (*.pdf);;HTML, self-contained (*.html);;Markdown (*.md);;"
                  "CSV (*.csv);;JSON, opens again in the app (*.json)")


# ------------------------------------------------------------------- start-up
def load_catalog_quietly() -> Iterator[tuple[str, Any]]:
    """Start-up, in a worker, in two steps, so the table never waits on the calibration.

    Yields ``("catalog", Catalog)`` first (the snapshot loads in a fraction of a second), then
    ``("calibrating", None)`` when no CPU calibration is cached and one is measured now (tens
    of seconds of torch work on a new machine), then ``("calibration", Calibration | None)``.
    A snapshot built with other timm/transformers versions is used as it is: nothing is
    rebuilt here; the entries a user looks at are re-traced one by one (``catalog.retrace``).
    """
    from selector.core.catalog.catalog import load_catalog
    from selector.core.estimate.calibration import get_calibration, load_calibration

    yield "catalog", load_catalog()
    try:
        calibration = load_calibration()
        if calibration is None:
            yield "calibrating", None
            calibration = get_calibration(run_if_missing=True)
    except Exception:  # noqa: BLE001 - latency estimates are optional
        log.exception("CPU calibration failed; latency estimates are off")
        calibration = None
    yield "calibration", calibration


@lru_cache(maxsize=1)
def _references() -> dict:
    from selector.core.hardware import reference_profiles as read

    return read()


def reference_profiles(banner: Any) -> dict:
    try:
        return _references()
    except (OSError, ValueError) as err:
        banner.show_message(f"Reference hardware profiles could not be read: {err}")
        return {}


def initial_request(settings: QSettings, prefs: Preferences) -> Request:
    """The request the user left the app with, else one made from the preferences."""
    text = settings.value("session/request")
    if text:
        try:
            return Request.from_dict(json.loads(text))
        except (TypeError, ValueError):
            log.warning("ignoring an unreadable remembered request")
    return request_from_preferences(Request(), prefs)


def request_from_preferences(request: Request, prefs: Preferences) -> Request:
    values = request.to_dict()
    values.update(batch_size=prefs.batch_size, dtype=prefs.dtype,
                  latency_budget_ms=prefs.latency_budget_ms,
                  memory_budget_gib=prefs.memory_budget_gib, min_accuracy=prefs.min_accuracy,
                  threads=prefs.threads or None)
    if prefs.device != "auto":
        values["device"] = prefs.device
    return Request.from_dict(values)


def remember_request(settings: QSettings, request: Request) -> None:
    settings.setValue("session/request", json.dumps(request.to_dict()))


# ------------------------------------------------------------------ benchmark
def _store():
    from selector.core.results import ResultStore

    return ResultStore()


def start_benchmark(window: "MainWindow") -> None:
    """Shortlist what fits, let the user confirm, then run the funnel in the background."""
    from selector.core.shortlist import plan_shortlist

    if window.run.running:
        window.banner.show_message("A benchmark is already running.", level="info")
        return
    if window.catalog is None or window.live_profile is None:
        window.banner.show_message("Still loading the catalog and the hardware; try again in a moment.",
                                   level="info")
        return
    if window.profile is not window.live_profile:
        window.banner.show_message(
            "Probes measure this machine: switch Hardware to \"This machine\" to run them "
            "(reference profiles are for estimates only).", level="warning")
        return
    request = window.request_panel.request()
    plan = plan_shortlist(list(window.catalog), request, window.live_profile,
                          window.prefs.shortlist_size, calibration=window.calibration)
    items = plan.chosen
    selected = [window.catalog.get(m) for m in window.catalog_view.selected_ids()]
    if window.confirm_shortlist:
        dialog = ShortlistDialog(items, selected, window.prefs.finetune_top_k, window,
                                 left_out=plan.left_out)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        chosen = dialog.chosen()
    else:
        chosen = selected or [i.entry for i in items]
    if not chosen:
        window.banner.show_message("Nothing to benchmark: no model fits these settings. Loosen the "
                                   "memory budget or pick models in the catalog.", level="warning")
        return
    if request.data not in ("", "sample"):
        window.prefs.remember_data(request.data)
    run(window, chosen, request)


def run(window: "MainWindow", entries: list, request: Request, session: Any = None) -> None:
    prefs = window.prefs
    window.queue_panel.clear()
    window.plots.loss.clear_curves()
    budgets = FunnelBudgets(prefs.latency_budget_s, prefs.transfer_budget_s, prefs.finetune_budget_s)
    funnel = window.run.start(entries, request, store=_store(), hardware=window.live_profile.to_dict(),
                              budgets=budgets, top_k=prefs.finetune_top_k,
                              probe_params=window.probe_params, session=session)
    window.shown_session = funnel.session_id
    window.tabs.setCurrentWidget(window.queue_panel)
    window.reset_stall_meter()


def resume(window: "MainWindow", session_id: str) -> None:
    if window.run.running or window.catalog is None or window.live_profile is None:
        return
    funnel = Funnel.resume(_store(), session_id, window.catalog)
    window.request_panel.set_request(funnel.request)
    run(window, list(funnel.entries.values()), funnel.request,
        session=_store().get_session(session_id))


def offer_resume(window: "MainWindow") -> None:
    """Show the newest session's results; offer to resume or discard it if it was interrupted."""
    store = _store()
    latest = store.list_sessions(limit=1)
    if not latest:
        return
    session = latest[0]
    if session.result_count:
        window.refresh_results(session.id)
    if session.status == "open" and '"funnel": 1' in (session.notes or ""):
        def discard() -> None:
            store.discard_session(session.id)
            window.shown_session = None
            window.recommendation_panel.set_recommendation(None)

        window.banner.show_message(
            f"The benchmark started {session.created_at[:16].replace('T', ' ')} did not finish "
            f"({session.result_count} probe results kept).", level="info",
            actions=[("Resume", lambda: resume(window, session.id)), ("Discard", discard)])


# -------------------------------------------------------------------- sheets
def sheet_for_session(session_id: str, constraints: Any, objective: str, catalog: Any) -> Any:
    """Worker: the session's recommendation wrapped as a Sheet (what the window shows)."""
    from selector.core.export import sheet_from_session
    from selector.core.recommend.result import Objective

    return sheet_from_session(session_id, constraints, Objective(objective), store=_store(),
                              catalog=catalog)


def open_sheets(window: "MainWindow", paths: list[str]) -> None:
    """One sheet: shown like a live session. Several: also compared machine by machine."""
    from selector.core.errors import SelectorError
    from selector.core.export import compare_sheets, open_sheet

    sheets = []
    for path in paths:
        try:
            sheets.append(open_sheet(path))
        except (SelectorError, OSError) as err:
            window.banner.show_message(f"Cannot open {Path(path).name}: {err}")
    if not sheets:
        return
    window.shown_session = None
    window.show_sheet(sheets[0])
    window.statusBar().showMessage(f"Showing the sheet {Path(paths[0]).name} "
                                   f"({sheets[0].machine})", 10_000)
    if len(sheets) > 1:
        window.compare_view.set_comparison(compare_sheets(sheets))
        window.tabs.setCurrentWidget(window.compare_view)
    else:
        window.tabs.setCurrentWidget(window.recommendation_panel)


def export_dialog(window: "MainWindow") -> None:
    if window.sheet is None:
        window.banner.show_message("Nothing to export yet: run a benchmark or open a sheet.",
                                   level="info")
        return
    path, chosen = QFileDialog.getSaveFileName(window, "Export recommendation sheet",
                                               str(Path.home() / "recommendation.pdf"), EXPORT_FILTERS)
    if path:
        export(window, path, _format_from_filter(path, chosen))


def export(window: "MainWindow", path: str, fmt: str | None = None) -> None:
    """Write the sheet shown in the background; the file dialog already asked to overwrite."""
    from selector.core.export import export_sheet

    def done(written: Any) -> None:
        window.statusBar().showMessage(f"Exported {path}", 10_000)

    window.workers.start(f"Exporting {Path(path).name}", export_sheet, window.sheet, path, fmt,
                         overwrite=True, on_result=done)


def _format_from_filter(path: str, chosen: str) -> str | None:
    if Path(path).suffix:
        return None
    return {"PDF": "pdf", "HTML": "html", "Markdown": "md", "CSV": "csv", "JSON": "json"}.get(
        chosen.split(" ")[0].rstrip(","))
