"""The user's standing choices, shared by the desktop app and the CLI.

Stored as JSON in the config folder. Unknown keys from a newer version are kept out, bad
values fall back to the defaults (with the problem logged), so a damaged file never stops
the app from starting.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from selector.core.fileio import atomic_write_text
from selector.core.paths import config_dir
from selector.core.runtimes import QUANTIZE, RUNTIMES

log = logging.getLogger(__name__)

DTYPES = ("fp32", "fp16", "bf16", "amp")
MAX_RECENT = 8


@dataclass
class Preferences:
    device: str = "auto"
    """``auto`` (first GPU, else CPU), ``cpu`` or ``cuda:N``."""
    threads: int = 0
    """CPU threads for probes; 0 lets torch decide (physical cores)."""
    dtype: str = "fp32"
    batch_size: int = 1
    """Batch size the latency budget is stated at."""
    latency_budget_ms: float | None = None
    memory_budget_gib: float | None = None
    min_accuracy: float | None = None
    """Percent."""
    latency_budget_s: float = 20.0
    """Time each latency probe may take (seconds)."""
    finetune_budget_s: float = 60.0
    transfer_budget_s: float = 60.0
    shortlist_size: int = 6
    """How many models the one-click benchmark picks."""
    finetune_top_k: int = 2
    """How many of the shortlist get the (slow) fine-tune probe."""
    recent_data: list[str] = field(default_factory=list)
    """Data folders and files used lately, most recent first."""
    last_session: str | None = None
    runtimes: list[str] = field(default_factory=lambda: ["eager"])
    """Runtimes the latency probe measures (eager always; see ``selector.core.runtimes``)."""
    quantize: str | None = None
    """``int8``: int8 static rows too."""

    def remember_data(self, path: str) -> None:
        self.recent_data = [path] + [p for p in self.recent_data if p != path]
        del self.recent_data[MAX_RECENT:]


def preferences_path() -> Path:
    return config_dir() / "preferences.json"


def load_preferences(path: Path | None = None) -> Preferences:
    path = path or preferences_path()
    if not path.exists():
        return Preferences()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as err:
        log.warning("ignoring unreadable preferences %s: %s", path, err)
        return Preferences()
    prefs = Preferences()
    for f in dataclasses.fields(Preferences):
        if f.name in data:
            setattr(prefs, f.name, data[f.name])
    return _validated(prefs)


def save_preferences(prefs: Preferences, path: Path | None = None) -> Path:
    return atomic_write_text(path or preferences_path(),
                             json.dumps(dataclasses.asdict(_validated(prefs)), indent=2) + "\n")


def _validated(prefs: Preferences) -> Preferences:
    defaults = Preferences()
    checks = {
        "device": lambda v: isinstance(v, str) and (v in ("auto", "cpu") or v.startswith("cuda")),
        "threads": lambda v: isinstance(v, int) and 0 <= v <= 1024,
        "runtimes": lambda v: isinstance(v, list) and "eager" in v and all(r in RUNTIMES for r in v),
        "quantize": lambda v: v is None or v in QUANTIZE,
        "dtype": lambda v: v in DTYPES,
        "batch_size": lambda v: isinstance(v, int) and v >= 1,
        "latency_budget_ms": lambda v: v is None or (isinstance(v, (int, float)) and v > 0),
        "memory_budget_gib": lambda v: v is None or (isinstance(v, (int, float)) and v > 0),
        "min_accuracy": lambda v: v is None or (isinstance(v, (int, float)) and 0 <= v <= 100),
        "latency_budget_s": lambda v: isinstance(v, (int, float)) and v > 0,
        "finetune_budget_s": lambda v: isinstance(v, (int, float)) and v > 0,
        "transfer_budget_s": lambda v: isinstance(v, (int, float)) and v > 0,
        "shortlist_size": lambda v: isinstance(v, int) and 1 <= v <= 50,
        "finetune_top_k": lambda v: isinstance(v, int) and 0 <= v <= 50,
        "recent_data": lambda v: isinstance(v, list) and all(isinstance(p, str) for p in v),
        "last_session": lambda v: v is None or isinstance(v, str),
    }
    for name, ok in checks.items():
        value = getattr(prefs, name)
        if not ok(value):
            log.warning("preference %s=%r is invalid; using %r", name, value, getattr(defaults, name))
            setattr(prefs, name, getattr(defaults, name))
    return prefs
