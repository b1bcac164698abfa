"""Persistent settings: one INI file in the app's config folder.

An INI file (not the registry or a plist) keeps the location the same on every platform
and lets tests redirect it by pointing ``SELECTOR_HOME`` at a temporary folder.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

from selector.core.paths import config_dir


def app_settings() -> QSettings:
    return QSettings(str(config_dir() / "settings.ini"), QSettings.Format.IniFormat)


def last_folder(kind: str, name: str = "") -> str:
    """Where a file dialog of this kind (``profile``, ``sheet``, ``plot``, ``data``) starts: the
    folder of the user's last choice, else the home folder; ``name`` is a suggested file name."""
    saved = app_settings().value(f"dialogs/{kind}")
    folder = Path(str(saved)) if saved else Path.home()
    if not folder.is_dir():
        folder = Path.home()
    return str(folder / name) if name else str(folder)


def remember_folder(kind: str, chosen: str) -> None:
    """Remember the folder that holds ``chosen`` (a file, or a folder picked as a whole)."""
    settings = app_settings()
    settings.setValue(f"dialogs/{kind}", str(Path(chosen).parent))
    settings.sync()
