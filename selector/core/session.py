"""AppSession: the application's state in one plain object, with change events (no Qt).

What the desktop app shows and what ``selector recommend`` / ``selector export`` answer come
from here, so the same question gets the same answer from the same code. It owns:

- the **request** (what the user wants), the **hardware profile** shown (the live one, a
  reference or a file) and the live one, the **catalog** and the CPU calibration;
- the **current run** (a :class:`Funnel`) and the **session shown**: a results-store session
  (live or reopened), a sheet opened from a file, or unprobed catalog models; and the **sheet**
  (recommendation and everything around it) computed for it.

Slow work is never done behind the caller's back: :meth:`sheet_job` returns a plain function
to run wherever the caller likes (the GUI's worker pool, or inline in the CLI) and
:meth:`set_sheet` takes its answer; :meth:`run` and :meth:`resume` return the Funnel whose
``events()`` generator the caller iterates. State changes happen on the caller's thread and
are announced to every subscriber as ``callback(event, payload)``:

``request``, ``profile``, ``catalog``, ``objective``, ``run_started`` (session id),
``run_finished`` (:class:`RunEnd`), ``shown`` (the source shown changed), ``stale`` (the sheet
must be computed again: run :meth:`sheet_job`), ``sheet`` (a new sheet to show), ``cleared``
(what was shown was discarded: show nothing), ``sessions`` (the store's session list changed).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from selector.core.errors import SelectorError
from selector.core.funnel import SESSION_CANCELLED, Funnel, FunnelBudgets
from selector.core.recent import SessionSummary, recent_sessions
from selector.core.request import Request

if TYPE_CHECKING:  # pragma: no cover
    from selector.core.export.sheet import Sheet
    from selector.core.hardware import HardwareProfile
    from selector.core.recommend.result import Constraints, Objective
    from selector.core.shortlist import Shortlist

log = logging.getLogger(__name__)
Listener = Callable[[str, Any], None]

SOURCE_SESSION, SOURCE_SHEET, SOURCE_MODELS = "session", "sheet", "models"


@dataclass
class RunEnd:
    """How a run ended: its session, and whether the user cancelled it (vs. it ran out)."""

    session_id: str
    cancelled: bool


@dataclass
class SheetJob:
    """The sheet of what is shown, to compute in any thread; ``generation`` tells
    :meth:`AppSession.set_sheet` whether the answer is still wanted."""

    compute: Callable[[], Sheet | None]
    generation: int

    def __call__(self) -> Sheet | None:
        return self.compute()


class AppSession:
    """The state behind the window and the CLI's recommendation commands."""

    def __init__(self, *, store: Any = None, request: Request | None = None) -> None:
        from selector.core.recommend.result import Objective

        self._store = store
        self.request = request or Request()
        self.profile: HardwareProfile | None = None
        self.live_profile: HardwareProfile | None = None
        self.catalog: Any = None
        self.calibration: Any = None
        self.funnel: Funnel | None = None
        """The run in progress (None when none runs)."""
        self.cluster: Any = None
        """A ``cluster.runner.ClusterTarget``: runs go to that Ray cluster; None: here."""
        self.last_run: Funnel | None = None
        self.source: str | None = None
        """What is shown: ``session``, ``sheet`` or ``models`` (None: nothing)."""
        self.shown_session: str | None = None
        self.opened_sheet: Sheet | None = None
        """The sheet as read from its file (its candidates are re-ranked, never re-read)."""
        self.models: list[str] = []
        self.sheet: Sheet | None = None
        """The sheet computed for what is shown, under the current request and objective."""
        self.objective: Objective = Objective()
        self._listeners: list[Listener] = []
        self._generation = 0

    # ----------------------------------------------------------------- events
    def subscribe(self, callback: Listener) -> Callable[[], None]:
        """Call ``callback(event, payload)`` on every change; returns the unsubscribe function."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    def _emit(self, event: str, payload: Any = None) -> None:
        for callback in list(self._listeners):
            callback(event, payload)

    @property
    def store(self) -> Any:
        """The results store (opened on first use: reading it is a few ms of SQLite)."""
        if self._store is None:
            from selector.core.results import ResultStore

            self._store = ResultStore()
        return self._store

    # ------------------------------------------------------------------ state
    def set_request(self, request: Request) -> None:
        if request == self.request:
            return
        self.request = request
        self._emit("request", request)
        if self.source in (SOURCE_SESSION, SOURCE_MODELS):
            self.refresh()

    def set_profile(self, profile: HardwareProfile, *, live: bool = False) -> None:
        if live:
            self.live_profile = profile
        self.profile = profile
        self._emit("profile", profile)

    def set_live_profile(self, profile: HardwareProfile) -> None:
        """The live machine was (re)detected; shown too if the live machine is the one shown."""
        showing_live = self.profile is None or self.profile is self.live_profile
        self.live_profile = profile
        if showing_live:
            self.set_profile(profile)

    @property
    def probes_allowed(self) -> bool:
        """Probes measure this machine: only while the live profile is the one shown."""
        return self.live_profile is not None and self.profile is self.live_profile

    def set_catalog(self, catalog: Any, calibration: Any = None) -> None:
        self.catalog, self.calibration = catalog, calibration
        self._emit("catalog", catalog)

    def set_objective(self, kind: str, accuracy_weight: float | None = None) -> None:
        """Re-rank what is shown (a session or an opened sheet) for another objective."""
        from selector.core.recommend.result import Objective

        weight = self.objective.accuracy_weight if accuracy_weight is None else accuracy_weight
        objective = Objective(kind, weight)
        if objective == self.objective:
            return
        self.objective = objective
        self._emit("objective", objective)
        self.refresh()

    # ------------------------------------------------------------- one click
    def shortlist(self, n: int = 6) -> Shortlist:
        """What the one-click benchmark would measure for the request on the live machine
        (``chosen``), and the models left out as far too slow here (``left_out``)."""
        from selector.core.shortlist import plan_shortlist

        if self.catalog is None or self.live_profile is None:
            raise SelectorError("the catalog and the hardware are still loading")
        return plan_shortlist(list(self.catalog), self.request, self.live_profile, n,
                              calibration=self.calibration)

    @property
    def running(self) -> bool:
        return self.funnel is not None

    def run(self, entries: list[Any], *, budgets: FunnelBudgets | None = None, top_k: int = 2,
            probe_params: dict[str, dict[str, Any]] | None = None) -> Funnel:
        """Plan the one-click run of ``entries`` for the request; iterate its ``events()``."""
        self.check_can_run()
        assert self.live_profile is not None
        funnel = Funnel(entries, self.request, store=self.store, hardware=self.live_profile.to_dict(),
                        budgets=budgets, top_k=top_k, probe_params=probe_params,
                        session_name=f"{self.request.task} on {self.request.device}"
                        + (f" on cluster {self.cluster.address}" if self.cluster else ""),
                        runner=self.cluster.runner() if self.cluster else None)
        return self._started(funnel)

    def resume(self, session_id: str, *,
               probe_params: dict[str, dict[str, Any]] | None = None) -> Funnel:
        """Go on with an interrupted run: only the probes that did not end are planned."""
        self.check_can_run()
        funnel = Funnel.resume(self.store, session_id, self.catalog, probe_params=probe_params)
        self.request = funnel.request
        self._emit("request", funnel.request)
        return self._started(funnel)

    def check_can_run(self) -> None:
        """``SelectorError`` saying why a run cannot start now (one running, still loading,
        a reference profile shown)."""
        if self.running:
            raise SelectorError("a benchmark is already running")
        if self.catalog is None or self.live_profile is None:
            raise SelectorError("the catalog and the hardware are still loading; try again in a moment")
        if not self.probes_allowed:
            raise SelectorError("probes measure this machine: switch Hardware to \"This machine\" to "
                                "run them (reference profiles are for estimates only)")

    def _started(self, funnel: Funnel) -> Funnel:
        self.funnel = funnel
        self._show(SOURCE_SESSION, session_id=funnel.session_id, stale=False)  # nothing ran yet
        self._emit("run_started", funnel.session_id)
        self._emit("sessions", None)
        return funnel

    def cancel(self, probe_id: str | None = None) -> None:
        """Cancel one probe (the rest carry on), or all of them ("Cancel all"). Any thread."""
        funnel = self.funnel
        if funnel is None:
            return
        if probe_id is None:
            funnel.cancel()
        else:
            funnel.cancel_probe(probe_id)

    def interrupt(self) -> None:
        """The app is closing: stop the run and leave it resumable."""
        if self.funnel is not None:
            self.funnel.interrupt()

    def run_ended(self) -> RunEnd:
        """Call when the run's ``events()`` generator is done (on the caller's thread)."""
        funnel, self.funnel = self.funnel, None
        self.last_run = funnel
        end = RunEnd(funnel.session_id or "" if funnel else "", bool(funnel and funnel.cancelled))
        self._emit("run_finished", end)
        self._emit("sessions", None)
        if self.source == SOURCE_SESSION and self.shown_session == end.session_id:
            self.refresh()
        return end

    # ------------------------------------------------------- what is shown
    def reopen(self, session_id: str | None = None) -> None:
        """Show a session of the results store (an id or a unique prefix; None: the newest)
        like a live one."""
        if session_id is None:
            newest = self.store.list_sessions(limit=1)
            if not newest:
                raise SelectorError("no probe sessions yet: run `selector bench MODEL ...` first, "
                                    "or name catalog models with --models")
            session_id = newest[0].id
        session = self.store.get_session(session_id)
        self._show(SOURCE_SESSION, session_id=session.id)

    def open_sheet(self, path: str) -> Sheet:
        """Show a JSON sheet (from this or another machine); the objective re-ranks it."""
        from selector.core.export import open_sheet

        sheet = open_sheet(path)
        self.opened_sheet = sheet
        self._show(SOURCE_SHEET, stale=False)
        if sheet.recommendation.objective != self.objective:
            self.objective = sheet.recommendation.objective
            self._emit("objective", self.objective)
        self.set_sheet(sheet)
        return sheet

    def show_models(self, model_ids: list[str]) -> None:
        """Show unprobed catalog models: published figures and estimates only."""
        if not model_ids:
            raise SelectorError("name at least one catalog model")
        self.models = list(model_ids)
        self._show(SOURCE_MODELS)

    def discard(self, session_id: str | None = None) -> int:
        """Delete a session and its results (default: the one shown); returns how many went.
        If it was shown, what was shown is cleared."""
        session_id = session_id or self.shown_session
        if not session_id:
            raise SelectorError("no session to discard")
        if self.funnel is not None and self.funnel.session_id == session_id:
            raise SelectorError("cancel the run before discarding its session")
        count = self.store.discard_session(session_id)
        if self.source == SOURCE_SESSION and self.shown_session == session_id:
            self.source, self.shown_session, self.sheet = None, None, None
            self._generation += 1
            self._emit("cleared", session_id)
        self._emit("sessions", None)
        return count

    def _show(self, source: str, *, session_id: str | None = None, stale: bool = True) -> None:
        self.source = source
        self.shown_session = session_id
        if source != SOURCE_SHEET:
            self.opened_sheet = None
        self._emit("shown", source)
        if stale:
            self.refresh()

    def refresh(self) -> None:
        """The sheet of what is shown must be computed again (new results, request, objective)."""
        self._generation += 1
        self._emit("stale", self._generation)

    # -------------------------------------------------------------- sessions
    def recent_sessions(self, limit: int = 10) -> list[SessionSummary]:
        """The store's newest sessions that hold results, newest first."""
        return recent_sessions(self.store, limit)

    def resumable(self) -> SessionSummary | None:
        """The newest session if it is a one-click run that was interrupted (not cancelled)."""
        recent = self.recent_sessions(limit=1)
        if recent and recent[0].resumable and not (self.funnel and
                                                   self.funnel.session_id == recent[0].id):
            return recent[0]
        return None

    # -------------------------------------------------------- recommendation
    def constraints(self) -> Constraints:
        """The request's constraints. Free memory is left to the source: a session's verdicts
        use what was free when its probes ran (recorded with it), a sheet its own machine's,
        unprobed models the live machine's now."""
        from selector.core.estimate.fit import free_for_verdicts

        free = None
        if self.source == SOURCE_MODELS:
            free = free_for_verdicts(self.request.device, live=self.live_profile)
        return self.request.constraints(free)

    def sheet_job(self, constraints: Constraints | None = None, objective: Objective | None = None,
                  *, title: str | None = None, notes: list[str] | None = None
                  ) -> SheetJob | None:
        """A function computing the sheet of what is shown (None when nothing is), from a
        snapshot of the state now: safe to run in any thread. Its answer goes to
        ``set_sheet(sheet, job.generation)``."""
        source, objective = self.source, objective or self.objective
        constraints = constraints or (self.opened_sheet.constraints if source == SOURCE_SHEET
                                      and self.opened_sheet else self.constraints())
        generation, store, catalog = self._generation, self._store, self.catalog
        if source == SOURCE_SESSION and self.shown_session:
            session_id = self.shown_session

            def job() -> Sheet | None:
                from selector.core.export import sheet_from_session

                source_store = store or self.store
                if not source_store.get_session(session_id).result_count:
                    return None  # a run that has not ended a probe yet: nothing to show
                return sheet_from_session(session_id, constraints, objective, store=source_store,
                                          catalog=catalog, title=title)
        elif source == SOURCE_SHEET and self.opened_sheet is not None:
            opened = self.opened_sheet

            def job() -> Sheet | None:
                return _rerank(opened, constraints, objective, title, notes)
        elif source == SOURCE_MODELS:
            ids = list(self.models)
            live = self.live_profile.to_dict() if self.live_profile is not None else None

            def job() -> Sheet | None:
                from selector.core.export import build_sheet
                from selector.core.recommend.from_store import candidates_from_catalog

                cands = candidates_from_catalog(ids, constraints, hardware=live, calibrate=True)
                return build_sheet(cands, constraints, objective, hardware=live, title=title,
                                   notes=notes)
        else:
            return None

        def with_notes() -> Sheet | None:
            sheet = job()
            if sheet is not None and notes and source == SOURCE_SESSION:
                sheet.notes = list(sheet.notes) + list(notes)
            return sheet

        return SheetJob(with_notes, generation)

    def set_sheet(self, sheet: Sheet | None, generation: int | None = None) -> bool:
        """Show a sheet; with the ``generation`` of the :class:`SheetJob` that made it, a sheet
        the state has moved on from (another session shown, another objective) is dropped, and
        so is no sheet (a session without results yet)."""
        if sheet is None or (generation is not None and generation != self._generation):
            return False
        self.sheet = sheet
        self._emit("sheet", sheet)
        return True

    def recommendation_sheet(self, constraints: Constraints | None = None,
                             objective: Objective | None = None, **kwargs: Any) -> Sheet:
        """Compute and show the sheet now, on this thread (the CLI)."""
        job = self.sheet_job(constraints, objective, **kwargs)
        if job is None:
            raise SelectorError("nothing to recommend from: no session, sheet or models shown")
        sheet = job()
        if sheet is None:
            raise SelectorError(f"session {self.shown_session} has no probe results")
        self.set_sheet(sheet, job.generation)
        return sheet

    def export(self, path: str, fmt: str | None = None, *, overwrite: bool = False) -> list[Any]:
        """Write the sheet shown (PDF, HTML, Markdown, CSV or JSON); the files written."""
        from selector.core.export import export_sheet

        if self.sheet is None:
            raise SelectorError("nothing to export yet: run a benchmark or open a sheet")
        return export_sheet(self.sheet, path, fmt, overwrite=overwrite)


def _rerank(sheet: Sheet, constraints: Constraints, objective: Objective, title: str | None,
            notes: list[str] | None) -> Sheet:
    """An opened sheet ranked again: same candidates, machine and data; new objective."""
    from selector.core.export import build_sheet

    return build_sheet(sheet.candidates, constraints, objective, hardware=sheet.hardware,
                       data=sheet.data, software=sheet.software, session_id=sheet.session_id,
                       title=title or sheet.title, notes=list(sheet.notes) + list(notes or []),
                       results=sheet.results)


__all__ = ["SESSION_CANCELLED", "AppSession", "RunEnd", "SessionSummary", "SheetJob"]
