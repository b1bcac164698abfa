"""The store's latest sessions as File > Open recent lists them: when, which models, on what
machine, how each ended, and whether it can be resumed (an interrupted one-click run)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass
class SessionSummary:
    """One line of File > Open recent: when, which models, on what machine, how it ended."""

    id: str
    created_at: str
    """ISO 8601, UTC."""
    status: str
    """``open`` (interrupted: resumable), ``closed`` (ran to its end) or ``cancelled``."""
    models: list[str]
    machine: str
    result_count: int
    resumable: bool

    def label(self) -> str:
        models = ", ".join(self.models[:3]) + (f" +{len(self.models) - 3}" if len(self.models) > 3 else "")
        state = {"open": "interrupted", "cancelled": "cancelled"}.get(self.status, "")
        text = f"{self.created_at[:16].replace('T', ' ')}  {models or 'no models'}  ({self.machine})"
        return f"{text}, {state}" if state else text


def recent_sessions(store: Any, limit: int = 10) -> list[SessionSummary]:
    """The newest sessions of ``store`` that hold results (or a one-click plan), newest first."""
    from selector.core.export.sheet import machine_label

    out = []
    for s in store.list_sessions(limit=limit):
        plan = one_click_plan(s.notes)
        if not s.result_count and not plan:
            continue
        models = list(plan.get("models") or []) or store.session_models(s.id)
        out.append(SessionSummary(s.id, s.created_at, s.status, models, machine_label(s.hardware),
                                  s.result_count, resumable=s.status == "open" and bool(plan)))
    return out


def one_click_plan(notes: str | None) -> dict[str, Any]:
    """The one-click plan a session was started with ({} for a plain ``selector bench``)."""
    try:
        plan = json.loads(notes or "{}")
    except ValueError:
        return {}
    return plan if isinstance(plan, dict) and plan.get("funnel") == 1 else {}
