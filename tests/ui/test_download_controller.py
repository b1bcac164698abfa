"""The GUI's "Download weights" action, with the core's download faked (no hub, no files)."""

import threading

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QMenu

from selector.core.download import DownloadCancelled, DownloadResult
from selector.core.errors import SelectorError
from selector.ui.banner import MessageBanner
from selector.ui.catalog_view import COL_WEIGHTS, CatalogView
from selector.ui.download_controller import DownloadBar, DownloadController
from selector.ui.workers import WorkerPool
from tests.test_filters import vision

MIB = 2**20


class FakeDownload:
    """Reports 4 MiB in steps; ``gate`` holds it half-way so the test can look (or cancel)."""

    def __init__(self, fail: str = ""):
        self.gate = threading.Event()
        self.halfway = threading.Event()
        self.fail = fail
        self.threads: list[str] = []

    def __call__(self, entry, *, progress, cancel):
        self.threads.append(threading.current_thread().name)
        if self.fail:
            raise SelectorError(self.fail)
        progress(2 * MIB, 4 * MIB, "model.safetensors")
        self.halfway.set()
        while not self.gate.wait(0.01):
            if cancel.is_set():
                raise DownloadCancelled(f"download of {entry.id} cancelled")
        progress(4 * MIB, 4 * MIB, "model.safetensors")
        entry.weights_cached = True
        return DownloadResult(entry.id, "timm/" + entry.id, ["model.safetensors"], total_bytes=4 * MIB,
                              downloaded_bytes=4 * MIB)


@pytest.fixture
def setup(qtbot):
    view = CatalogView()
    banner = MessageBanner()
    bar = DownloadBar()
    for widget in (view, banner, bar):
        qtbot.addWidget(widget)
    view.fits_only.setChecked(False)
    view.set_entries([vision("resnet18.a1_in1k", "resnet", 11_700_000, 71.5, 45, 20, cached=True),
                      vision("resnet50.a1_in1k", "resnet", 25_600_000, 80.4, 98, 80)])
    view.show()
    workers = WorkerPool()
    fake = FakeDownload()
    controller = DownloadController(workers, bar, view, banner, download=fake)
    notes: list[str] = []
    controller.sig_note.connect(notes.append)
    yield view, banner, bar, controller, fake, notes
    controller.cancel()
    fake.gate.set()
    assert workers.shutdown(10_000)


def weights_cell(view, model_id):
    row = view.model.row_of(model_id)
    return view.model.index(row, COL_WEIGHTS).data()


def test_download_action_runs_in_the_background_and_marks_the_row_local(qtbot, setup):
    view, banner, bar, controller, fake, notes = setup
    assert weights_cell(view, "resnet50.a1_in1k") == "not downloaded"
    view.select_model("resnet50.a1_in1k")
    view.download_action.trigger()
    # Half-way: the GUI thread is free (the fake waits in a worker), the bar shows progress.
    qtbot.waitUntil(lambda: fake.halfway.is_set() and bar.bar.value() == 500, timeout=5000)
    assert bar.isVisible() and bar.cancel_button.isEnabled()
    assert "resnet50.a1_in1k" in bar.label.text() and "2.0 of 4.0 MiB" in bar.label.text()
    assert fake.threads[0] != threading.main_thread().name
    with qtbot.waitSignal(controller.sig_finished, timeout=5000):
        fake.gate.set()
    assert weights_cell(view, "resnet50.a1_in1k") == "local"
    assert not bar.isVisible() and not banner.isVisible()
    assert notes[-1] == "Weights download finished: 1 downloaded"


def test_cancel_button_stops_the_download_and_the_row_stays_remote(qtbot, setup):
    view, banner, bar, controller, fake, notes = setup
    view.select_model("resnet50.a1_in1k")
    view.request_download()
    qtbot.waitUntil(fake.halfway.is_set, timeout=5000)
    with qtbot.waitSignal(controller.sig_finished, timeout=5000):
        bar.cancel_button.click()
    assert weights_cell(view, "resnet50.a1_in1k") == "not downloaded"
    assert not banner.isVisible() and "1 cancelled" in notes[-1]


def test_a_failure_is_a_readable_banner(qtbot, setup):
    view, banner, bar, controller, fake, notes = setup
    fake.fail = "the Hugging Face Hub cannot be reached from this machine (HF_HUB_OFFLINE=1)"
    view.select_model("resnet50.a1_in1k")
    with qtbot.waitSignal(controller.sig_finished, timeout=5000):
        view.request_download()
    assert banner.isVisible()
    assert banner.text() == ("Downloading the weights of resnet50.a1_in1k failed: the Hugging Face Hub "
                             "cannot be reached from this machine (HF_HUB_OFFLINE=1)")
    assert weights_cell(view, "resnet50.a1_in1k") == "not downloaded"


def test_context_menu_offers_the_action(qtbot, setup):
    view = setup[0]
    view.select_model("resnet50.a1_in1k")
    view._context_menu(QPoint(5, 5))
    menu = view.findChildren(QMenu)[-1]
    assert menu.isVisible() and view.download_action in menu.actions()
    menu.close()


def test_local_weights_and_empty_selection_only_say_so(qtbot, setup):
    view, banner, bar, controller, fake, notes = setup
    view.request_download()
    assert "Select one or more models" in notes[-1]
    view.select_model("resnet18.a1_in1k")
    assert not controller.start(view.selected_entries())
    assert "already on this machine" in notes[-1] and not fake.threads


def test_main_window_offers_the_action_in_the_run_menu(qtbot, make_main_window, monkeypatch):
    window = make_main_window(profile_source="t4")
    fake = FakeDownload()
    fake.gate.set()
    window.downloads.download = fake
    qtbot.waitUntil(lambda: window.catalog is not None and window.catalog_view.select_model("resnet50.a1_in1k"),
                    timeout=30_000)
    entry = window.catalog.get("resnet50.a1_in1k")
    entry.weights_cached = False
    with qtbot.waitSignal(window.downloads.sig_finished, timeout=10_000):
        window.menu_actions.download.trigger()
    assert entry.weights_cached and weights_cell(window.catalog_view, "resnet50.a1_in1k") == "local"
