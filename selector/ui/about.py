"""The About dialog: versions of everything that decides a measurement, and where files live."""

from __future__ import annotations

import html
import importlib.metadata
import platform

from PySide6 import __version__ as pyside_version
from PySide6.QtWidgets import QMessageBox, QWidget

from selector import APP_DESCRIPTION, APP_NAME, __version__
from selector.core.paths import all_dirs

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


def about_html() -> str:
    rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in versions().items()
    )
    dirs = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(v))}</td></tr>"
        for k, v in all_dirs().items()
    )
    return (
        f"<h3>{APP_NAME} {__version__}</h3><p>{html.escape(APP_DESCRIPTION)}.</p>"
        f"<table>{rows}</table><p><b>Files</b></p><table>{dirs}</table>"
    )


def show_about(parent: QWidget) -> QMessageBox:
    box = QMessageBox(parent)
    box.setWindowTitle(f"About {APP_NAME}")
    box.setText(about_html())
    box.setIcon(QMessageBox.Icon.Information)
    box.open()
    return box
