"""The About dialog: versions of everything that decides a measurement, and where files live."""

from __future__ import annotations

import html
import importlib.metadata
import os
import platform
import sys
from pathlib import Path

from PySide6 import __version__ as pyside_version
from PySide6.QtWidgets import QMessageBox, QWidget

from selector import APP_DESCRIPTION, APP_NAME, __version__
from selector.core.paths import all_dirs, resources_dir

_PACKAGES = ["torch", "torchvision", "timm", "transformers", "huggingface_hub", "pyqtgraph",
             "psutil", "nvidia-ml-py"]


def versions() -> dict[str, str]:
    found = {"Python": platform.python_version(), "PySide6": pyside_version}
    for name in _PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def program_dirs() -> dict[str, Path]:
    """Where the app itself runs from: the bundle folder when frozen, else the package."""
    if getattr(sys, "frozen", False):
        where = {"bundle": Path(sys.executable).resolve().parent}
    else:
        where = {"package": Path(__file__).resolve().parent.parent}
    where["resources"] = resources_dir()
    return where


def _table(items: dict) -> str:
    return "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(v))}</td></tr>"
                   for k, v in items.items())


def about_html() -> str:
    frozen = " (desktop bundle)" if getattr(sys, "frozen", False) else ""
    home = os.environ.get("SELECTOR_HOME")
    files_note = f" (all under SELECTOR_HOME={html.escape(home)})" if home else ""
    return (
        f"<h3>{APP_NAME} {__version__}{frozen}</h3><p>{html.escape(APP_DESCRIPTION)}.</p>"
        f"<table>{_table(versions())}</table>"
        f"<p><b>Your files</b>{files_note}</p><table>{_table(all_dirs())}</table>"
        f"<p><b>Program</b></p><table>{_table(program_dirs())}</table>"
    )


def show_about(parent: QWidget) -> QMessageBox:
    box = QMessageBox(parent)
    box.setWindowTitle(f"About {APP_NAME}")
    box.setText(about_html())
    box.setIcon(QMessageBox.Icon.Information)
    box.open()
    return box
