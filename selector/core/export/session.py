"""A sheet straight from a probe session: what the GUI's Export and ``selector export`` call."""

from __future__ import annotations

from typing import Any

from selector.core.export.sheet import DataSummary, Sheet, build_sheet
from selector.core.recommend import Constraints, Objective


def sheet_from_session(
    session_id: str | None = None,
    constraints: Constraints | None = None,
    objective: Objective | None = None,
    *,
    store: Any = None,
    catalog: Any = None,
    title: str | None = None,
) -> Sheet:
    """Recommend from one session (default: the newest) and wrap it as a :class:`Sheet`.

    When the constraints carry no free memory, the free memory of ``constraints.device`` on
    the machine the session ran on is used (as recorded with the session).
    """
    from selector.core.estimate.fit import free_for_verdicts
    from selector.core.recommend.from_store import load_session

    constraints = constraints or Constraints()
    loaded = load_session(session_id, constraints=constraints, store=store, catalog=catalog)
    if constraints.free_memory_mib is None:
        constraints.free_memory_mib = free_for_verdicts(constraints.device, recorded=loaded.hardware)
    return build_sheet(
        loaded.candidates, constraints, objective, hardware=loaded.hardware,
        data=DataSummary.from_dict(loaded.data), software=loaded.software or None,
        session_id=loaded.session_id, title=title, notes=loaded.notes, results=loaded.results,
    )
