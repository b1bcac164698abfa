"""Start the desktop app: QApplication with the app's identity, logging, the main window."""

from __future__ import annotations

import logging
import sys
from typing import cast

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from selector import APP_ID, APP_NAME, APP_ORG, __version__
from selector.core.logs import configure_logging
from selector.core.paths import resource

log = logging.getLogger(__name__)


def create_application(argv: list[str] | None = None) -> QApplication:
    app = cast(QApplication, QApplication.instance() or QApplication(argv if argv is not None else sys.argv))
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(APP_ORG)
    app.setApplicationVersion(__version__)
    app.setDesktopFileName(APP_ID)
    icon = resource("icons", "selector.svg")
    if icon.exists():
        app.setWindowIcon(QIcon(str(icon)))
    collect_garbage_on_the_gui_thread(app)
    return app


def collect_garbage_on_the_gui_thread(app: QApplication) -> None:
    """Python's cyclic garbage collector runs in whichever thread allocates when a threshold
    is crossed; in a worker (badges, probes' event pumps) it may then free a Qt object that
    belongs to the GUI thread, and Qt crashes (seen in CI: a segfault while a worker computed
    catalog badges). pyqtgraph's GarbageCollector turns automatic collection off and collects
    from a timer on the GUI thread instead, once a second."""
    if getattr(app, "_selector_gc", None) is None:
        from pyqtgraph.util.garbage_collector import GarbageCollector

        app._selector_gc = GarbageCollector(interval=1.0)  # type: ignore[attr-defined]


def run_app(argv: list[str], profile: str | None = None) -> int:
    log_path = configure_logging()
    app = create_application(argv)
    log.info("starting %s %s (log: %s)", APP_NAME, __version__, log_path)
    from selector.ui.main_window import MainWindow

    window = MainWindow(profile_source=profile)
    window.show()
    return app.exec()
