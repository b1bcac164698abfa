from selector.core.preferences import Preferences
from selector.ui.preferences_dialog import PreferencesDialog


def test_dialog_edits_a_copy_and_keeps_unset_limits_unset(qtbot):
    original = Preferences(latency_budget_ms=None, memory_budget_gib=8.0, recent_data=["/d"])
    dialog = PreferencesDialog(original, ["cpu", "cuda:0"])
    qtbot.addWidget(dialog)
    assert dialog.memory_budget.value() == 8.0 and dialog.latency_budget.value() is None
    dialog.device.setCurrentText("cuda:0")
    dialog.latency_budget.enabled.setChecked(True)
    dialog.latency_budget.spin.setValue(25)
    dialog.memory_budget.enabled.setChecked(False)
    dialog.dtype.setCurrentText("bf16")
    edited = dialog.preferences()
    assert (edited.device, edited.latency_budget_ms, edited.memory_budget_gib, edited.dtype) == (
        "cuda:0", 25.0, None, "bf16")
    assert edited.recent_data == ["/d"]
    assert original.memory_budget_gib == 8.0 and original.device == "auto"


def test_thread_and_auto_device_preferences_reach_the_probes_request(qtbot):
    from selector.core.request import Request
    from selector.ui.request_panel import RequestPanel
    from selector.ui.workflow import request_from_preferences

    panel = RequestPanel()
    qtbot.addWidget(panel)
    panel.set_request(request_from_preferences(Request(), Preferences(threads=3)))
    assert panel.request().threads == 3  # no widget shows it, the probes still get it

    devices = [("cpu", "CPU"), ("cuda:0", "cuda:0: Tesla T4")]
    panel.set_devices(devices)
    assert panel.request().device == "cpu"
    panel.set_devices(devices, prefer_gpu=True)  # "auto": the first GPU
    assert panel.request().device == "cuda:0"
    panel.set_devices([("cpu", "CPU")], prefer_gpu=True)  # a profile without a GPU
    assert panel.request().device == "cpu"


def test_unset_limits_show_the_same_values_as_the_main_window(qtbot):
    from selector.ui.request_panel import RequestPanel

    dialog = PreferencesDialog(Preferences(), ["cpu"])
    panel = RequestPanel()
    qtbot.addWidget(dialog)
    qtbot.addWidget(panel)
    for in_dialog, in_panel in ((dialog.latency_budget, panel.latency),
                                (dialog.memory_budget, panel.memory),
                                (dialog.min_accuracy, panel.min_accuracy)):
        assert in_dialog.value() is None and in_panel.value() is None
        assert in_dialog.spin.text() == in_panel.spin.text()  # e.g. "20.0 ms", greyed
        assert not in_dialog.spin.isEnabled() and not in_panel.spin.isEnabled()
    assert dialog.device.currentText() == "auto (cpu here)" and dialog.preferences().device == "auto"
    assert dialog.batch.value() == panel.batch.value()
    assert dialog.dtype.currentText() == panel.dtype.currentText()


def test_the_cores_line_follows_the_thread_preference(qtbot):
    from selector.core.hardware import detect_hardware
    from selector.ui.hardware_panel import HardwarePanel

    panel = HardwarePanel()
    qtbot.addWidget(panel)
    panel.set_profile(detect_hardware(include_torch=False))
    panel.set_probe_threads(1)
    assert panel.field_text("cores").endswith("probes use 1 thread (Preferences)")
    panel.set_probe_threads(3)
    assert panel.field_text("cores").endswith("probes use 3 threads (Preferences)")
    panel.set_probe_threads(None)
    assert "Preferences" not in panel.field_text("cores")
