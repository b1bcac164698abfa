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
