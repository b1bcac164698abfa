"""Fixtures for GUI tests: build the real main window, close it, and fail on leaks."""

from __future__ import annotations

import json

import pytest


@pytest.fixture(scope="session")
def _calibration_file(tmp_path_factory):
    """One CPU latency calibration for the whole test run (it takes a few seconds of torch work)."""
    import os

    home = tmp_path_factory.mktemp("calibration-home")
    old = os.environ.get("SELECTOR_HOME")
    os.environ["SELECTOR_HOME"] = str(home)
    try:
        from selector.core.estimate.calibration import _cache_file, calibrate, save_calibration

        save_calibration(calibrate())  # saved even when provisional (a busy test machine)
        return _cache_file().read_text()
    finally:
        if old is None:
            os.environ.pop("SELECTOR_HOME", None)
        else:
            os.environ["SELECTOR_HOME"] = old


@pytest.fixture(scope="session", autouse=True)
def _gui_thread_garbage_collection(qapp):
    """As in the app: cyclic garbage is collected on the GUI thread only, never in a worker
    that happens to allocate while a widget of an earlier test waits in a cycle."""
    from selector.ui.app import create_application

    create_application()


@pytest.fixture(autouse=True)
def _cached_calibration(_calibration_file, isolated_home):
    """Every GUI test starts with this machine's calibration cached, as a user's app would."""
    from selector.core.estimate.calibration import _cache_file

    _cache_file().write_text(_calibration_file)
    json.loads(_calibration_file)


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
