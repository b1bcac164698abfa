"""Logging to a file in the app's log folder, so every worker error keeps its traceback."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from selector.core.paths import log_dir

_FORMAT = "%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s"
QUIET_LOGGERS = ("fontTools",)
"""Libraries whose INFO lines are noise in our log: matplotlib's PDF and SVG backends make
fontTools log every font subsetting step (dozens of lines per exported sheet)."""


def log_file() -> Path:
    return log_dir() / "selector.log"


def configure_logging(level: int = logging.INFO) -> Path:
    """Add a rotating file handler to the root logger (once); returns the log file."""
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    path = log_file()
    root = logging.getLogger()
    for handler in root.handlers:
        if isinstance(handler, logging.handlers.RotatingFileHandler) and Path(
            handler.baseFilename
        ) == path:
            return path
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=2_000_000, backupCount=3, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter(_FORMAT))
    root.addHandler(handler)
    root.setLevel(min(root.level or level, level))
    return path
