"""The hardware panel shows every platform's GPU: unified memory said, its rule in a tooltip."""

from selector.core import hardware
from selector.ui.hardware_panel import HardwarePanel


def test_unified_and_non_cuda_gpus_are_named_by_their_device(qtbot):
    panel = HardwarePanel()
    qtbot.addWidget(panel)
    refs = hardware.reference_profiles()
    panel.set_profile(refs["m3-max-36gb"])
    cell = panel.gpu_table.item(0, 0)
    assert cell.text() == "mps: Apple M3 Max GPU (unified memory)"
    assert "what macOS lets Metal wire" in cell.toolTip()
    panel.set_profile(refs["arc-a770"])
    assert panel.gpu_table.item(0, 0).text() == "xpu:0: Intel(R) Arc(TM) A770 Graphics"
    panel.set_profile(refs["ryzen-ai-apu"])
    assert panel.gpu_table.item(0, 0).text() == "0: AMD Radeon 890M Graphics (unified memory)"
