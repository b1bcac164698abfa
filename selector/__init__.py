"""selector: which pretrained model should I use, on this machine, for my data?

This module is the one source of the application's identity. It imports nothing
heavy, so ``selector --version`` answers without loading torch or Qt.
"""

__version__ = "0.1.0"

APP_NAME = "Selector"
"""Name shown to users (window title, About, desktop entry)."""

APP_ORG = "selector"
"""Organisation name used for Qt settings and platform directories."""

APP_ID = "io.github.selector.Selector"
"""Reverse-DNS application id (desktop entry, AppStream, Qt desktop file name)."""

APP_DESCRIPTION = "Pick the pretrained model that fits your machine and your data"

__all__ = ["__version__", "APP_NAME", "APP_ORG", "APP_ID", "APP_DESCRIPTION"]
