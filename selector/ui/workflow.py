"""The main window's longer actions: benchmark, resume, sheets, export, remembered request.

Each function takes the window and uses its panels' public methods and the application
session (``window.session``, the core's :class:`AppSession`, which decides), so the window
class stays a list of wires. Anything slow runs through the window's worker pool.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QDialog, QFileDialog

from selector.core.errors import SelectorError
from selector.core.funnel import FunnelBudgets
from selector.core.preferences import Preferences
from selector.core.request import Request
from selector.ui.settings import last_folder, remember_folder
from selector.ui.shortlist_dialog import ShortlistDialog

if TYPE_CHECKING:  # pragma: no cover
    from selector.ui.main_window import MainWindow

log = logging.getLogger(__name__)
BUSY_CHECK_S = 0.5
"""How long the machine is watched before a run (``contention.machine_busy``), seconds."""
EXPORT_FILTERS = ("PDF (*.pdf);;HTML, self-contained (*.html);;Markdown (*.md);;"
                  "CSV (*.csv);;JSON, opens again in the app (*.json)")


# ------------------------------------------------------------------- start-up
def load_catalog_quietly() -> Iterator[tuple[str, Any]]:
    """Start-up's first step, in a worker: yields ``("catalog", Catalog)``.

    The snapshot loads in a fraction of a second. A snapshot built with other timm/transformers
    versions is used as it is: nothing is rebuilt here; the entries a user looks at are
    re-traced one by one (``catalog.retrace``). The CPU calibration is the second step
    (``calibration_status``, in a child process), started once the table shows.
    """
    from selector.core.catalog.catalog import load_catalog

    yield "catalog", load_catalog()


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
                  threads=prefs.threads or None, runtimes=list(prefs.runtimes), quantize=prefs.quantize)
    if prefs.device != "auto":
        values["device"] = prefs.device
    return Request.from_dict(values)


def remember_request(settings: QSettings, request: Request) -> None:
    settings.setValue("session/request", json.dumps(request.to_dict()))


# ------------------------------------------------------------------ benchmark
def start_benchmark(window: "MainWindow") -> None:
    """Shortlist what fits, watch the machine for half a second (off the GUI thread), let the
    user confirm, with a warning when other work is running, then run the funnel."""
    session = window.session
    session.set_request(window.request_panel.request())
    try:
        session.check_can_run()
    except SelectorError as err:
        level = "warning" if session.catalog is not None and session.live_profile is not None \
            and not session.running else "info"
        window.banner.show_message(f"{err}.", level=level)
        return
    if window.busy_check is not None:  # a click while the last one is checked
        return
    from selector.core.probes.contention import machine_busy

    plan = session.shortlist(window.prefs.shortlist_size)
    selected = [session.catalog.get(m) for m in window.catalog_view.selected_ids()]

    def checked(busy: str | None) -> None:
        window.busy_check = None
        if window.isVisible() and not session.running:
            _confirm_and_run(window, plan, selected, busy)
        if not session.running:
            window.cpu_calibration.release()

    def failed(*_: object) -> None:
        window.busy_check = None
        window.cpu_calibration.release()

    # our own calibration child would read as others' work, and stops for the run anyway
    window.cpu_calibration.hold()
    window.statusBar().showMessage("Checking how busy this machine is…", 5000)
    worker = window.workers.start("Checking how busy this machine is", machine_busy, BUSY_CHECK_S,
                                  on_result=checked)
    worker.errored.connect(failed)
    window.busy_check = worker


def _confirm_and_run(window: "MainWindow", plan: Any, selected: list, busy: str | None) -> None:
    """The shortlist dialog (``busy``: one line shown above the list), or the banner when the
    dialog is switched off; then the run."""
    items = plan.chosen
    if busy:
        busy = busy[0].upper() + busy[1:]
    if window.confirm_shortlist:
        dialog = ShortlistDialog(items, selected, window.prefs.finetune_top_k, window,
                                 left_out=plan.left_out, busy=busy)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        chosen = dialog.chosen()
    else:
        chosen = selected or [i.entry for i in items]
        if busy:
            window.banner.show_message(busy, level="warning")
    if not chosen:
        window.banner.show_message("Nothing to benchmark: no model fits these settings. Loosen the "
                                   "memory budget or pick models in the catalog.", level="warning")
        return
    session = window.session
    if session.request.data not in ("", "sample"):
        window.prefs.remember_data(session.request.data)
    run(window, chosen)


def run(window: "MainWindow", entries: list) -> None:
    prefs = window.prefs
    budgets = FunnelBudgets(prefs.latency_budget_s, prefs.transfer_budget_s, prefs.finetune_budget_s)
    try:
        funnel = window.session.run(entries, budgets=budgets, top_k=prefs.finetune_top_k,
                                    probe_params=window.probe_params)
    except SelectorError as err:
        window.banner.show_message(str(err), level="warning")
        return
    _start(window, funnel)


def _start(window: "MainWindow", funnel: Any) -> None:
    window.queue_panel.clear()
    window.plots.loss.clear_curves()
    _show_rows(window, funnel.session_id, funnel.previous)  # a resumed run: what already ended
    window.run.start(funnel)
    window.tabs.setCurrentWidget(window.queue_panel)
    window.reset_stall_meter()


def resume(window: "MainWindow", session_id: str) -> None:
    """Go on with an interrupted run: only the probes that did not end run."""
    try:
        funnel = window.session.resume(session_id, probe_params=window.probe_params)
    except SelectorError as err:
        window.banner.show_message(f"Cannot resume: {err}", level="warning")
        return
    window.request_panel.set_request(funnel.request)
    _start(window, funnel)


def discard(window: "MainWindow", session_id: str) -> None:
    try:
        count = window.session.discard(session_id)
    except SelectorError as err:
        window.banner.show_message(f"Cannot discard: {err}", level="warning")
        return
    window.statusBar().showMessage(f"Discarded the session ({count} probe results)", 10_000)


def offer_resume(window: "MainWindow", recent: list) -> None:
    """Show the newest session's results; offer to resume or discard it if it was interrupted
    (a run the user cancelled is not offered: File > Open recent reopens it). ``recent``:
    ``session.recent_sessions()``, read in a worker."""
    if not recent or window.session.running:
        return
    summary = recent[0]
    if summary.result_count and window.session.source is None:
        window.session.reopen(summary.id)
    if summary.resumable:
        window.banner.show_message(
            f"The benchmark started {summary.created_at[:16].replace('T', ' ')} did not finish "
            f"({summary.result_count} probe results kept).", level="info",
            actions=[("Resume", lambda: resume(window, summary.id)),
                     ("Discard", lambda: discard(window, summary.id))])


def reopen(window: "MainWindow", session_id: str) -> None:
    """File > Open recent: show a stored session like a live one (probes, plots, answer)."""
    try:
        window.session.reopen(session_id)
    except SelectorError as err:
        window.banner.show_message(f"Cannot reopen the session: {err}")
        return
    window.queue_panel.clear()
    window.plots.loss.clear_curves()
    store = window.session.store
    window.workers.start("Reading the session", store.session_results, session_id,
                         on_result=lambda results: _show_rows(window, session_id, results))
    window.tabs.setCurrentWidget(window.recommendation_panel)


def _show_rows(window: "MainWindow", session_id: str | None, results: list) -> None:
    """Rows of probes that already ended (a reopened session, or a resumed run's first part)."""
    if window.session.shown_session != session_id or window.run.running:
        return
    from selector.core.probes.contention import probe_reasons

    for result in results:
        window.queue_panel.add_probe(result.id, result.model_id, result.kind)
        window.queue_panel.set_done(result.id, result.status, result.message)
        window.queue_panel.set_noisy(result.id, probe_reasons(result))


# -------------------------------------------------------------------- sheets
def open_sheets(window: "MainWindow", paths: list[str]) -> None:
    """One sheet: shown like a live session. Several: also compared machine by machine."""
    from selector.core.export import compare_sheets, open_sheet

    sheets: list[Any] = []
    shown = ""
    for path in paths:
        try:
            sheets.append(window.session.open_sheet(path) if not sheets else open_sheet(path))
        except (SelectorError, OSError) as err:
            window.banner.show_message(f"Cannot open {Path(path).name}: {err}")
            continue
        shown = shown or path
    if not sheets:
        return
    window.statusBar().showMessage(f"Showing the sheet {Path(shown).name} "
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
                                               last_folder("sheet", "recommendation.pdf"), EXPORT_FILTERS)
    if path:
        remember_folder("sheet", path)
        export(window, path, _format_from_filter(path, chosen))


def export(window: "MainWindow", path: str, fmt: str | None = None) -> None:
    """Write the sheet shown in the background; the file dialog already asked to overwrite."""

    def done(written: Any) -> None:
        window.statusBar().showMessage(f"Exported {path}", 10_000)

    window.workers.start(f"Exporting {Path(path).name}", window.session.export, path, fmt,
                         overwrite=True, on_result=done)


def _format_from_filter(path: str, chosen: str) -> str | None:
    if Path(path).suffix:
        return None
    return {"PDF": "pdf", "HTML": "html", "Markdown": "md", "CSV": "csv", "JSON": "json"}.get(
        chosen.split(" ")[0].rstrip(","))
