"""The window's catalog upkeep: the selected entry re-traced in the background, and a rebuild only
when asked, cancelled with its processes (the start-up calibration: ``test_calibration_status``)."""

from __future__ import annotations


import psutil
import pytest

from selector.core.estimate.trace import PROFILE_VERSION


def _descendants() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)
            if "resource_tracker" not in " ".join(p.cmdline())}


@pytest.mark.slow
def test_selecting_an_old_entry_retraces_it_in_the_background(qtbot, make_main_window):
    window = make_main_window()
    qtbot.waitUntil(lambda: window.catalog is not None and window.catalog_view.model.rowCount() > 1000,
                    timeout=60_000)
    entry = window.catalog.get("resnet18.a1_in1k")
    if entry.activation.get("version", 1) >= PROFILE_VERSION:
        entry.activation = {**entry.activation, "version": PROFILE_VERSION - 1}
    with qtbot.waitSignal(window.retrace.sig_entry_updated, timeout=180_000) as blocker:
        window.select_model(entry.id)
        window.select_model("resnet34.a1_in1k")  # waits for the first, then is traced too
    assert blocker.args == [entry.id]
    assert entry.activation["version"] == PROFILE_VERSION
    qtbot.waitUntil(lambda: not window.retrace.busy, timeout=180_000)
    assert window.catalog.get("resnet34.a1_in1k").activation["version"] == PROFILE_VERSION
    worker = window.retrace.retracer._worker
    assert worker is not None and worker.alive
    window.close()
    worker.process.join(timeout=10)
    assert not worker.alive, "the tracing process outlived the window"


def test_rebuild_asked_for_shows_progress_and_cancel_stops_it(qtbot, make_main_window):
    window = make_main_window()
    qtbot.waitUntil(lambda: window.catalog is not None, timeout=60_000)
    before = _descendants()
    window.catalog_build.extra_args = ["--limit", "3", "--no-text", "--jobs", "2"]
    assert window.catalog_build.start()
    assert not window.catalog_build.start()  # one at a time
    assert window.build_bar.isVisible()
    build = window.catalog_build.build
    started = psutil.Process(build.process.pid)
    qtbot.waitUntil(lambda: len(started.children()) >= 2, timeout=60_000)  # its workers run
    workers = started.children()
    with qtbot.waitSignal(window.catalog_build.sig_finished, timeout=60_000) as blocker:
        window.build_bar.cancel_button.click()
    ok, message = blocker.args
    assert not ok and "cancelled" in message
    assert not window.catalog_build.running and not window.build_bar.isVisible()
    for process in [started, *workers]:
        assert not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    assert _descendants() <= before


def test_quitting_ends_a_running_rebuild(qtbot, make_main_window):
    window = make_main_window()
    qtbot.waitUntil(lambda: window.catalog is not None, timeout=60_000)
    window.catalog_build.extra_args = ["--limit", "3", "--no-text", "--jobs", "1"]
    window.catalog_build.start()
    started = psutil.Process(window.catalog_build.build.process.pid)
    qtbot.waitUntil(lambda: len(started.children()) >= 1, timeout=60_000)
    workers = started.children()
    window.close()
    for process in [started, *workers]:
        process.wait(timeout=20)  # raises if it is still running
