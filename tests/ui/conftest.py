"""Fixtures for GUI tests: build the real main window, close it, and fail on leaks."""

from __future__ import annotations

import pytest


@pytest.fixture
def make_main_window(qtbot, qapp):
    """Factory for MainWindow; every window is closed after the test and nothing may leak:
    no running worker threads and no stray top-level widgets."""
    from PySide6.QtCore import QThreadPool
    from PySide6.QtWidgets import QApplication

    from selector.ui.app import create_application
    from selector.ui.main_window import MainWindow

    create_application()
    before = set(QApplication.topLevelWidgets())
    windows: list[MainWindow] = []

    def factory(**kwargs) -> MainWindow:
        window = MainWindow(**kwargs)
        windows.append(window)
        window.show()
        qtbot.waitExposed(window)
        return window

    yield factory

    for window in windows:
        window.close()
    assert QThreadPool.globalInstance().waitForDone(30_000), "worker threads still running"
    for window in windows:
        window.deleteLater()
    qapp.processEvents()
    leaked = [
        w for w in QApplication.topLevelWidgets()
        if w not in before and w.isVisible() and w not in windows
    ]
    assert not leaked, f"top-level widgets left open: {leaked}"
