"""The CPU calibration at start-up runs in a child process: the table shows first, the status bar
says what runs and how it ended, and the child dies with the window."""

from __future__ import annotations

import json
import sys

import psutil

from selector.core.estimate.calibration import Calibration


def _fake_child(monkeypatch, tmp_path, calibration: Calibration | None, wait_for=None) -> None:
    """The calibration child replaced by a small Python that prints ``calibration`` as the real
    one does (after ``wait_for`` exists, when given), or sleeps until killed when None."""
    from selector.core.estimate import calibration as cal_mod

    script = tmp_path / "child.py"
    if calibration is None:
        script.write_text("import time\ntime.sleep(600)\n")
    else:
        out = tmp_path / "calibration.json"
        out.write_text(json.dumps(calibration.to_dict()))
        script.write_text(
            "import pathlib, sys, time\n"
            f"gate = {str(wait_for) if wait_for else ''!r}\n"
            "while gate and not pathlib.Path(gate).exists():\n    time.sleep(0.05)\n"
            f"print(pathlib.Path({str(out)!r}).read_text(), flush=True)\n")
    monkeypatch.setattr(cal_mod, "load_calibration", lambda threads=None: None)  # a new machine
    monkeypatch.setattr(cal_mod, "child_command", lambda threads=None: [sys.executable, str(script)])


def _calibration(noisy: bool) -> Calibration:
    contention = {"noisy": True, "reasons": ["other processes used 1.6 of 2 CPUs while it measured"]} \
        if noisy else {"noisy": False, "reasons": []}
    return Calibration(key="test", macs_per_s={"conv": 1e10, "depthwise": 3e8, "matmul": 4e10,
                                               "attention": 1.5e10}, threads=2, contention=contention)


def test_catalog_shows_while_the_cpu_is_calibrated_and_the_label_hides_after(qtbot, make_main_window,
                                                                              monkeypatch, tmp_path):
    from selector.ui.calibration_status import CALIBRATING_TEXT, calibration_label

    gate = tmp_path / "go"
    _fake_child(monkeypatch, tmp_path, _calibration(noisy=False), wait_for=gate)
    window = make_main_window()
    said: list[str] = []
    window.statusBar().messageChanged.connect(said.append)
    qtbot.waitUntil(lambda: window.catalog is not None and window.catalog_view.model.rowCount() > 1000,
                    timeout=60_000)
    label = calibration_label(window)
    qtbot.waitUntil(lambda: label.isVisible() and label.text() == CALIBRATING_TEXT, timeout=10_000)
    assert window.calibration is None
    assert window.cpu_calibration.process is not None  # measured in a child, not in this process
    gate.touch()
    qtbot.waitUntil(lambda: window.calibration is not None, timeout=30_000)
    assert window.calibration.macs_per_s["matmul"] == 4e10
    assert not label.isVisible()
    assert "Latency estimates ready" in said
    assert not any("refreshed" in problem for problem in window.catalog.problems)


def test_a_provisional_calibration_is_said_in_the_status_bar_and_used(qtbot, make_main_window,
                                                                      monkeypatch, tmp_path):
    from selector.core.estimate import calibration as cal_mod
    from selector.ui.calibration_status import PROVISIONAL_MESSAGE, PROVISIONAL_TEXT, calibration_label

    monkeypatch.setattr(cal_mod, "_PROVISIONAL", {})
    _fake_child(monkeypatch, tmp_path, _calibration(noisy=True))
    window = make_main_window()
    said: list[str] = []  # the status bar is shared (hardware updates write there too)
    window.statusBar().messageChanged.connect(said.append)
    qtbot.waitUntil(lambda: window.calibration is not None, timeout=60_000)
    note = cal_mod.provisional_note(window.calibration)
    assert note and "other processes used 1.6 of 2 CPUs" in note
    assert PROVISIONAL_MESSAGE in said  # the whole note with its figures is the mark's tooltip
    label = calibration_label(window)
    assert label.isVisible() and label.text() == PROVISIONAL_TEXT and label.toolTip() == note
    assert cal_mod.get_calibration(run_if_missing=False) is not None  # this process uses it, uncached


def test_the_calibration_child_is_gone_after_the_window_closes(qtbot, make_main_window, monkeypatch,
                                                               tmp_path):
    _fake_child(monkeypatch, tmp_path, None)
    window = make_main_window()
    qtbot.waitUntil(lambda: window.cpu_calibration.process is not None, timeout=60_000)
    child = psutil.Process(window.cpu_calibration.process.pid)
    window.close()
    child.wait(timeout=10)  # raises if it is still running
    qtbot.waitUntil(lambda: window.workers.running == 0, timeout=10_000)
    assert window.calibration is None


def test_a_benchmark_stops_the_calibration_which_measures_again_after_it(qtbot, make_main_window,
                                                                        monkeypatch, tmp_path):
    """Nothing of ours runs beside a probe: a run that starts mid-calibration kills its child;
    the calibration measures again once the run has ended."""
    gate = tmp_path / "go"
    _fake_child(monkeypatch, tmp_path, _calibration(noisy=False), wait_for=gate)
    window = make_main_window()
    qtbot.waitUntil(lambda: window.cpu_calibration.process is not None, timeout=60_000)
    first = psutil.Process(window.cpu_calibration.process.pid)
    window.run.sig_run_started.emit("a-session")
    first.wait(timeout=10)  # raises if it is still running
    qtbot.waitUntil(lambda: window.cpu_calibration.process is None, timeout=10_000)  # reaped
    assert window.calibration is None
    gate.touch()  # a second child would answer at once; none may start while the run goes on
    qtbot.wait(300)
    assert window.cpu_calibration.process is None and window.calibration is None
    window.run.sig_run_finished.emit("a-session")
    qtbot.waitUntil(lambda: window.calibration is not None, timeout=30_000)
    assert window.calibration.macs_per_s["matmul"] == 4e10
