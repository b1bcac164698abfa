"""Where the app keeps its files: settings, results database, logs, caches, resources.

Every user-facing file lives in the platform's proper directories (platformdirs), also
in a frozen bundle. ``SELECTOR_HOME`` redirects all of them under one folder; tests set
it to a temporary directory so they never touch a real user's files.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from selector import APP_ORG

_HOME_ENV = "SELECTOR_HOME"
_APP_DIR_NAME = "selector"


def _home_override() -> Path | None:
    value = os.environ.get(_HOME_ENV)
    return Path(value).expanduser() if value else None


def _platform_dir(kind: str) -> Path:
    home = _home_override()
    if home is not None:
        return home / kind
    import platformdirs

    getter = {
        "config": platformdirs.user_config_dir,
        "data": platformdirs.user_data_dir,
        "cache": platformdirs.user_cache_dir,
        "log": platformdirs.user_log_dir,
    }[kind]
    return Path(getter(_APP_DIR_NAME, APP_ORG))


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_dir() -> Path:
    """Settings (``settings.ini``) and saved hardware profiles."""
    return _ensure(_platform_dir("config"))


def data_dir() -> Path:
    """The results database and anything the user would not want to lose."""
    return _ensure(_platform_dir("data"))


def cache_dir() -> Path:
    """Things that can be recomputed: feature caches, calibration, refreshed catalog."""
    return _ensure(_platform_dir("cache"))


def log_dir() -> Path:
    """The desktop app's rotating log (``selector.log``, see :mod:`selector.core.logs`)."""
    return _ensure(_platform_dir("log"))


def resources_dir() -> Path:
    """The shipped ``resources/`` folder.

    Three layouts: a frozen bundle (PyInstaller puts it at ``selector/resources`` under
    ``sys._MEIPASS``), an installed wheel (``selector/resources`` beside this package) and
    a source checkout (``resources/`` at the repository root).
    """
    package_dir = Path(__file__).resolve().parent.parent
    candidates = []
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        candidates.append(Path(frozen_root) / "selector" / "resources")
    candidates += [package_dir / "resources", package_dir.parent / "resources"]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        "selector's resources folder is missing; looked in " + ", ".join(map(str, candidates))
    )


def resource(*parts: str) -> Path:
    """Path of one shipped resource file, e.g. ``resource("hardware", "t4.json")``."""
    return resources_dir().joinpath(*parts)


def all_dirs() -> dict[str, Path]:
    """Every directory the app writes to, for the About dialog."""
    return {
        "config": config_dir(),
        "data": data_dir(),
        "cache": cache_dir(),
        "log": log_dir(),
    }
