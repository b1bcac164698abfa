"""The one-click benchmark: latency for every candidate, transferability for every candidate,
then the quick fine-tune for the best few, as one session.

``Funnel(entries, request).events()`` is the generator the desktop app runs in a worker
thread (and any script can iterate): the probes' own events from :class:`BenchRun`, plus a
``queued`` event whenever probes join the queue (the fine-tunes, once the transferability
scores say which models deserve them). Finished probes are in the results store the moment
they end. Three ways to stop:

- ``cancel()``: the user's "Cancel all". Every probe not yet ended ends ``cancelled`` (an
  ``end`` event each, so a queue shows the truth), no fine-tune is planned, and the session is
  marked ``cancelled``: it can be reopened, it is not offered for resume.
- ``interrupt()``: the app closes mid-run. The probe in flight is stopped, the rest never
  starts, and the session stays ``open``: the next start offers to resume it.
- ``cancel_probe(id)``: one probe; the others carry on.

``Funnel.resume(store, session_id, catalog)`` goes on with an open session: every probe that
ended (any status but ``cancelled``) is kept and not run again; the rest is planned anew.

Which models get fine-tuned: the ``top_k`` best by the transferability ranking of this
session (LogME, k-NN and linear probe combined) when at least two models were scored with
pretrained weights; otherwise by published accuracy (scores of random-weight features say
nothing of the pretrained model). Models whose earlier probes ran out of memory or crashed
are passed over.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Iterator

from selector.core.catalog import filters
from selector.core.catalog.entry import CatalogEntry
from selector.core.data.dataset import DatasetSpec
from selector.core.probes import events as ev
from selector.core.probes.bench import BenchRun
from selector.core.probes.events import ProbeEvent
from selector.core.probes.registry import kinds
from selector.core.probes.settings import check_params
from selector.core.probes.spec import ProbeSpec
from selector.core.request import Request
from selector.core.results.record import CANCELLED

QUEUED = "queued"
"""Event type: probes joined the queue (``data["specs"]``: their ``ProbeSpec.to_dict()``)."""
SESSION_CANCELLED = "cancelled"
"""Session status after "Cancel all": kept and reopenable, never offered for resume."""


@dataclass
class FunnelBudgets:
    """Seconds each probe may measure (its soft budget)."""

    latency_s: float = 20.0
    transfer_s: float = 60.0
    finetune_s: float = 60.0


def available_kinds() -> set[str]:
    return {k.name for k in kinds()}


class Funnel:
    def __init__(
        self,
        entries: list[CatalogEntry],
        request: Request,
        *,
        store: Any = None,
        hardware: dict[str, Any] | None = None,
        budgets: FunnelBudgets | None = None,
        top_k: int = 2,
        session_name: str = "",
        session: Any = None,
        weights: str = "auto",
        probe_params: dict[str, dict[str, Any]] | None = None,
        previous: list[Any] | None = None,
        runner: Any = None,
    ) -> None:
        """``runner``: makes the ``BenchRun`` (default); a cluster's runs come from
        ``ClusterTarget.runner()``, same face, probes on the cluster's nodes."""
        self.entries = {e.id: e for e in entries}
        self.request = request
        self.budgets = budgets or FunnelBudgets()
        self.top_k = top_k
        self.weights = weights
        self.params = probe_params or {}
        for kind, params in self.params.items():
            check_params(kind, params)  # a typo fails here, before any probe runs
        self.previous = list(previous or [])
        """Results of an earlier, interrupted run of this session (resume)."""
        offered = available_kinds()
        self.stages = [k for k in ("latency", "transfer") if k in offered]
        self.finetune_offered = "finetune" in offered and top_k > 0
        done = {(r.model_id, r.kind) for r in self.previous if _ended(r)}
        first = [self._spec(kind, e) for kind in self.stages for e in entries
                 if (e.id, kind) not in done]
        if store is not None and session is None:
            session = store.create_session(session_name or "one-click benchmark", hardware,
                                           notes=json.dumps(self.plan()))
        self.bench = (runner or BenchRun)(first, store=store, hardware=hardware, session=session)
        self.finetune_planned = False
        self.ranking_note = ""
        self.cancelled = False
        """True after ``cancel()`` (the user's "Cancel all"), not after ``interrupt()``."""
        self._ended: set[str] = set()

    @property
    def planned_later(self) -> int:
        """Fine-tunes still to be chosen once the first stages end (their models are not known
        yet), so a progress bar and its ETA can count them from the start."""
        if not self.finetune_offered or self.finetune_planned or self.bench.cancelled or self.cancelled:
            return 0
        return max(0, min(self.top_k, len(self.entries)) - len(self._tuned()))

    def _tuned(self) -> set[str]:
        """Models whose fine-tune ended in an earlier run of this session (resume)."""
        return {r.model_id for r in self.previous if r.kind == "finetune" and _ended(r)}

    def plan(self) -> dict[str, Any]:
        """What this run set out to do, kept with the session so it can be resumed (the entries
        too: a model the catalog does not list, a local folder say, resumes as it started)."""
        return {"funnel": 1, "request": self.request.to_dict(), "models": list(self.entries),
                "entries": {m: e.to_dict() for m, e in self.entries.items()},
                "top_k": self.top_k, "budgets": asdict(self.budgets)}

    @classmethod
    def resume(cls, store: Any, session_id: str, catalog: Any, **kwargs: Any) -> "Funnel":
        """Go on with an interrupted session: what finished is kept, the rest runs."""
        from selector.core.errors import SelectorError

        session = store.get_session(session_id)
        try:
            plan = json.loads(session.notes or "{}")
        except ValueError:
            plan = {}
        if plan.get("funnel") != 1:
            raise SelectorError(f"session {session.id} was not started by the one-click benchmark")
        stored = plan.get("entries") or {}
        entries = [catalog.get(m) if m in catalog else CatalogEntry.from_dict(stored[m])
                   for m in plan["models"] if m in catalog or m in stored]
        missing = [m for m in plan["models"] if m not in catalog and m not in stored]
        if missing:
            raise SelectorError(f"cannot resume session {session.id}: the catalog no longer lists "
                                + ", ".join(missing))
        previous = store.session_results(session.id)
        return cls(entries, Request.from_dict(plan["request"]), store=store, session=session,
                   hardware=session.hardware, top_k=plan.get("top_k", 2),
                   budgets=FunnelBudgets(**plan.get("budgets", {})), previous=previous, **kwargs)

    # ----------------------------------------------------------------- specs
    def _data(self) -> dict[str, Any]:
        return DatasetSpec(source=self.request.data).to_dict()

    def _spec(self, kind: str, entry: CatalogEntry) -> ProbeSpec:
        req = self.request
        common: dict[str, Any] = dict(model=entry.id, entry=entry.to_dict(), device=req.device, weights=self.weights,
                      threads=req.threads, params=dict(self.params.get(kind, {})))
        if kind == "latency":
            if req.runtimes and req.runtimes != ["eager"] or req.quantize:
                common["params"].update(runtime=list(req.runtimes or ["eager"]), quantize=req.quantize)
            return ProbeSpec(kind, batch_sizes=[req.batch_size], dtypes=[req.dtype],
                             budget_s=self.budgets.latency_s,
                             data=self._data() if req.quantize else None, **common)
        if kind == "transfer":
            return ProbeSpec(kind, batch_sizes=[min(32, max(8, req.train_batch_size))],
                             budget_s=self.budgets.transfer_s, data=self._data(), **common)
        return ProbeSpec(kind, batch_sizes=[req.train_batch_size], budget_s=self.budgets.finetune_s,
                         data=self._data(), **common)

    @property
    def specs(self) -> list[ProbeSpec]:
        return self.bench.specs

    @property
    def session_id(self) -> str | None:
        return self.bench.session_id

    # --------------------------------------------------------------- control
    def cancel(self) -> None:
        """The user's "Cancel all": every probe not ended ends ``cancelled``. Thread-safe."""
        self.cancelled = True
        for spec in list(self.bench.specs):
            if spec.id not in self._ended:
                self.bench.cancel_probe(spec.id)

    def interrupt(self) -> None:
        """Stop now and leave the session open for resume (the app is closing)."""
        self.bench.cancel()

    def cancel_probe(self, probe_id: str) -> None:
        self.bench.cancel_probe(probe_id)

    # ------------------------------------------------------------------- run
    def events(self) -> Iterator[ProbeEvent]:
        if not self.bench.specs:
            yield from self._plan_finetune()
        first_count = len(self.bench.specs)
        ended = 0
        for event in self.bench.events():
            if self.cancelled and event.type == ev.STARTED and event.probe_id not in self._ended:
                self.bench.cancel_probe(event.probe_id)  # started as "Cancel all" came
            yield event
            if event.type != ev.END:
                continue
            self._ended.add(event.probe_id)
            ended += 1
            if ended == first_count:
                yield from self._plan_finetune()
        if self.cancelled and self.bench.store is not None and self.session_id:
            self.bench.store.set_session_status(self.session_id, SESSION_CANCELLED)

    def _plan_finetune(self) -> Iterator[ProbeEvent]:
        if (not self.finetune_offered or self.bench.cancelled or self.cancelled
                or self.finetune_planned):
            return
        self.finetune_planned = True
        results = self.previous + self.bench.results
        tuned = self._tuned()
        wanted = max(0, self.top_k - len(tuned))
        chosen = [m for m in self.choose_finetune(results) if m not in tuned][:wanted]
        specs = [self._spec("finetune", self.entries[m]) for m in chosen]
        for spec in specs:
            self.bench.add(spec)
        if specs:
            yield ProbeEvent(QUEUED, message=self.ranking_note,
                             data={"specs": [s.to_dict() for s in specs]})

    def choose_finetune(self, results: list[Any]) -> list[str]:
        """The ``top_k`` models to fine-tune, from this session's results so far."""
        bad = {r.model_id for r in results if r.bad_end}
        candidates = [m for m in self.entries if m not in bad]
        scored = {
            r.model_id: r for r in results
            if r.kind == "transfer" and r.status == "finished" and r.model_id in candidates
            and r.weights == "pretrained"
        }
        order: list[str] = []
        if len(scored) >= 2:
            order = _transfer_order(scored)
            if order:
                self.ranking_note = ("fine-tuning the best by transferability on your data: "
                                     + ", ".join(order[: self.top_k]))
        if not order:
            order = sorted(candidates, key=lambda m: -(filters.accuracy(self.entries[m]) or -1.0))
            self.ranking_note = ("fine-tuning the best by published accuracy (no transferability "
                                 "scores from pretrained weights): " + ", ".join(order[: self.top_k]))
        order += [m for m in candidates if m not in order]
        return order[: self.top_k]


def _ended(result: Any) -> bool:
    """A probe that ran to an end of its own (finished or not): resume does not run it again.
    A cancelled one (the app closed, or the user stopped it) is run again."""
    return result.status != CANCELLED and bool(result.status)


def _transfer_order(scored: dict[str, Any]) -> list[str]:
    from selector.core.transfer import rank_candidates

    rows = {}
    for model_id, result in scored.items():
        row = next(iter(result.rows or []), None)
        if isinstance(row, dict) and "logme" in row:
            rows[model_id] = row
    if len(rows) < 2:
        return []
    try:
        ranking = rank_candidates(rows)
    except Exception:  # noqa: BLE001 - a ranking that cannot be made falls back to the prior
        return []
    return [c.model for c in sorted(ranking.candidates, key=lambda c: c.position)]
