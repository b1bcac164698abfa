"""Runtimes in the request panel and Preferences: ticked runtimes reach the request, the
preferences and the latency probe's spec; one that is not installed is offered greyed out
with the install command."""

from __future__ import annotations

import importlib.util

from selector.core.preferences import Preferences, load_preferences, save_preferences
from selector.core.request import Request
from selector.core.runtimes import INSTALL
from selector.ui.preferences_dialog import PreferencesDialog
from selector.ui.request_panel import RequestPanel
from selector.ui.runtime_picker import RuntimePicker


def test_runtimes_ticked_in_the_panel_reach_the_request_and_the_probe_spec(qtbot):
    from selector.core.catalog.entry import CatalogEntry
    from selector.core.funnel import Funnel

    panel = RequestPanel()
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.sig_request_changed, timeout=1000) as blocker:
        panel.runtimes._actions["openvino"].setChecked(True)
    assert blocker.args[0].runtimes == ["eager", "openvino"]
    panel.runtimes._int8.setChecked(True)
    request = panel.request()
    assert (request.runtimes, request.quantize) == (["eager", "openvino"], "int8")
    assert "OpenVINO + int8" in panel.runtimes.text()
    panel.set_request(Request())
    assert panel.request().runtimes == ["eager"] and panel.request().quantize is None

    entry = CatalogEntry("test_resnet", "timm", "image-classification", "resnet", "test_resnet")
    funnel = Funnel.__new__(Funnel)  # only its spec builder is exercised
    funnel.request, funnel.weights, funnel.params = request, "random", {}
    funnel.budgets = type("B", (), {"latency_s": 20.0})()
    spec = funnel._spec("latency", entry)
    assert spec.params["runtime"] == ["eager", "openvino"] and spec.params["quantize"] == "int8"
    assert spec.data and spec.data["source"] == "sample"  # int8 calibrates on the data


def test_a_runtime_not_installed_is_greyed_out_with_the_install_command(qtbot, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "openvino" else real(name, *a))
    picker = RuntimePicker()
    qtbot.addWidget(picker)
    action = picker._actions["openvino"]
    assert not action.isEnabled() and INSTALL in action.toolTip()
    picker.set_value(["eager", "openvino"], None)
    assert picker.runtimes() == ["eager"]


def test_preferences_keep_the_runtimes(qtbot, tmp_path):
    dialog = PreferencesDialog(Preferences(), ["cpu"])
    qtbot.addWidget(dialog)
    dialog.runtimes._actions["onnxruntime"].setChecked(True)
    prefs = dialog.preferences()
    assert prefs.runtimes == ["eager", "onnxruntime"]
    path = tmp_path / "prefs.json"
    save_preferences(prefs, path)
    assert load_preferences(path).runtimes == ["eager", "onnxruntime"]
