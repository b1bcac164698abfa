import psutil

from selector.core import hardware
from selector.core.units import fmt_mib


def wait_for_torch_view(qtbot, window):
    qtbot.waitUntil(
        lambda: window.profile is not None and window.profile.torch is not None, timeout=60_000
    )


def test_window_shows_the_live_profile(qtbot, make_main_window):
    window = make_main_window()
    wait_for_torch_view(qtbot, window)
    panel = window.hardware_panel
    profile = window.profile
    assert profile.cpu.logical_cores == psutil.cpu_count()
    assert panel.field_text("cpu") == profile.cpu.model
    assert panel.field_text("ram") == f"{fmt_mib(profile.memory.available_mib)} of {fmt_mib(profile.memory.total_mib)}"
    assert f"torch uses {profile.cpu.torch_threads} threads" in panel.field_text("cores")
    assert panel.field_text("gpus") == profile.gpu_status
    if not profile.gpus:
        assert panel.gpu_empty.isVisible() and profile.gpu_status in panel.gpu_empty.text()
        assert panel.field_text("accelerators") in ("CPU only", "Apple MPS")


def test_reference_profile_replaces_the_live_one(qtbot, make_main_window):
    window = make_main_window()
    wait_for_torch_view(qtbot, window)
    with qtbot.waitSignal(window.sig_profile_changed, timeout=5000) as blocker:
        window.load_source("ref:a100-80gb")
    assert blocker.args[0].gpus[0].name == "NVIDIA A100-SXM4-80GB"
    panel = window.hardware_panel
    assert panel.gpu_table.isVisible() and panel.gpu_table.rowCount() == 1
    assert panel.gpu_table.item(0, 0).text() == "0: NVIDIA A100-SXM4-80GB"
    assert panel.gpu_table.item(0, 2).text() == "80.0 GiB"


def test_saved_profile_opens_and_bad_file_shows_banner(qtbot, make_main_window, tmp_path):
    window = make_main_window(profile_source="t4")
    assert window.profile.gpus[0].name == "Tesla T4"
    target = tmp_path / "t4.json"
    window.save_profile(str(target))
    assert hardware.load_profile(target).gpus[0].name == "Tesla T4"
    bad = tmp_path / "bad.json"
    bad.write_text("not json")
    window.open_profile(str(bad))
    assert "Cannot use hardware profile" in window.banner.text()
    assert window.profile.gpus[0].name == "Tesla T4"  # nothing lost


def test_geometry_is_remembered(qtbot, make_main_window):
    first = make_main_window(profile_source="l4")
    first.resize(760, 540)
    first.splitter.setSizes([440, 300])
    wanted = first.splitter.sizes()
    first.close()
    second = make_main_window(profile_source="l4")
    assert (second.width(), second.height()) == (760, 540)
    assert second.splitter.sizes() == wanted


def test_about_shows_versions_and_paths(qtbot, make_main_window):
    import torch

    from selector.ui.about import about_html

    make_main_window(profile_source="t4")
    text = about_html()
    assert torch.__version__.split("+")[0] in text and "selector-home" in text


def test_garbage_is_collected_on_the_gui_thread_only(qtbot):
    """Automatic (any-thread) collection is off; a GUI-thread timer collects instead."""
    import gc

    from PySide6.QtWidgets import QApplication

    from selector.ui.app import create_application

    app = create_application()
    assert app is QApplication.instance() and not gc.isenabled()
    timer = app._selector_gc.timer
    assert timer.isActive() and timer.thread() is app.thread()
    for _ in range(gc.get_threshold()[0] + 10):  # cycles, as widgets and closures make
        a: list = []
        a.append(a)
    qtbot.waitUntil(lambda: gc.get_count()[0] < gc.get_threshold()[0], timeout=3000)
