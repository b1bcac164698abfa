"""Persistent settings: one INI file in the app's config folder.

An INI file (not the registry or a plist) keeps the location the same on every platform
and lets tests redirect it by pointing ``SELECTOR_HOME`` at a temporary folder.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings

from selector.core.paths import config_dir


def app_settings() -> QSettings:
    return QSettings(str(config_dir() / "settings.ini"), QSettings.Format.IniFormat)
