"""SessionMirror: the main window's half that mirrors the application session.

The window holds an :class:`~selector.core.session.AppSession` (``self.session``); its state
(catalog, hardware, the session shown, its sheet) is read through the properties here, and its
change events are turned into what the panels and plots show: a stale sheet is computed in a
worker, a new one shown, a discarded one cleared from every panel and plot; File > Open recent
lists the store's latest sessions (read in a worker). A mixin of ``MainWindow``, kept apart so
the window file stays a list of wires.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from selector.core.hardware import HardwareProfile
from selector.core.recommend.decoders import generation_points
from selector.ui import workflow
from selector.ui.results_presenter import present

if TYPE_CHECKING:  # pragma: no cover
    from selector.core.session import AppSession, SessionSummary


class SessionMirror:
    """Mixin: needs ``session``, ``workers``, ``run``, the panels and ``plots``, ``recent_menu``
    and ``sig_results_shown`` on the window."""

    session: AppSession
    recent: list[SessionSummary]
    workers: Any
    run: Any
    plots: Any
    queue_panel: Any
    recommendation_panel: Any
    recent_menu: Any
    sig_results_shown: Any
    selected_model: str

    @property
    def catalog(self):  # noqa: ANN201 - Catalog | None
        return self.session.catalog

    @catalog.setter
    def catalog(self, catalog) -> None:  # noqa: ANN001
        self.session.catalog = catalog

    @property
    def calibration(self):  # noqa: ANN201 - Calibration | None
        return self.session.calibration

    @calibration.setter
    def calibration(self, calibration) -> None:  # noqa: ANN001
        self.session.calibration = calibration

    @property
    def profile(self) -> HardwareProfile | None:
        """The hardware shown (live, reference or file): the session's."""
        return self.session.profile

    @property
    def live_profile(self) -> HardwareProfile | None:
        return self.session.live_profile

    @property
    def sheet(self):  # noqa: ANN201 - Sheet | None
        """The sheet shown (the session's)."""
        return self.session.sheet

    @property
    def shown_session(self) -> str | None:
        return self.session.shown_session

    def refresh_results(self, session_id: str | None = None) -> None:
        """Show ``session_id`` (default: the one shown) with its recommendation, recomputed."""
        if session_id and session_id != self.session.shown_session:
            self.session.reopen(session_id)
        else:
            self.session.refresh()

    def _on_session_event(self, event: str, payload) -> None:  # noqa: ANN001
        """Mirror the session: compute a stale sheet in a worker, show a new one, clear."""
        if event == "stale":
            job = self.session.sheet_job()
            if job is not None:
                self.workers.start("Recommendation", job,
                                   on_result=lambda sheet, g=job.generation: self.session.set_sheet(sheet, g))
        elif event == "sheet":
            self.show_sheet(payload)
        elif event == "cleared":
            self._clear_results(payload)
        elif event == "objective":
            self.recommendation_panel.set_objective(payload.kind)
        elif event == "sessions":
            self._load_recent()

    def show_sheet(self, sheet) -> None:  # noqa: ANN001 - Sheet
        """Show the session's sheet: recommendation, Pareto, memory, loss curves, latency."""
        view = present(sheet)
        self.recommendation_panel.set_recommendation(sheet.recommendation)
        self.plots.pareto.set_points(view.points)
        self.plots.memory.set_rows(view.memory)
        self.plots.generation.set_points(generation_points(sheet.candidates))
        if not self.run.running:
            for model_id, losses in view.losses.items():
                self.plots.loss.set_curve(model_id, losses)
        model = self.selected_model or sheet.recommendation.recommended  # the pick until one is chosen
        if model:
            self.plots.latency.set_samples(model, view.latency_samples.get(model, []))
        self.sig_results_shown.emit(sheet)

    def _clear_results(self, session_id: str) -> None:
        """What was shown was discarded: nothing of it stays on screen."""
        self.recommendation_panel.set_recommendation(None)
        self.plots.pareto.set_points([])
        self.plots.memory.set_rows({})
        self.plots.generation.set_points({})
        self.plots.loss.clear_curves()
        self.plots.latency.set_samples("", [])
        if not self.run.running:
            self.queue_panel.clear()
        self.sig_results_shown.emit(None)

    def _load_recent(self, *, offer_resume: bool = False) -> None:
        """Read the store's latest sessions in a worker (the first read creates the database);
        at start-up, then show the newest and offer to resume it if it was interrupted."""

        def done(recent: list[SessionSummary]) -> None:
            self.recent = recent
            if offer_resume:
                workflow.offer_resume(self, recent)  # type: ignore[arg-type]

        self.workers.start("Reading recent sessions", self.session.recent_sessions, on_result=done)

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        if not self.recent:
            self.recent_menu.addAction("No sessions yet").setEnabled(False)
        for summary in self.recent:
            action = self.recent_menu.addAction(summary.label())
            action.setToolTip(f"{summary.result_count} probe results; session {summary.id}")
            action.triggered.connect(
                lambda _=False, sid=summary.id: workflow.reopen(self, sid))  # type: ignore[arg-type]
