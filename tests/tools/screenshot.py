"""Screenshots of the real main window (run under ``xvfb-run -a``).

    xvfb-run -a -s "-screen 0 1600x1000x24" python tests/tools/screenshot.py OUT_PREFIX \
        [--profile t4] [--models resnet18.a1_in1k,...] [--wait 8]

Writes ``OUT_PREFIX-empty.png`` once the window has settled; with ``--models`` it then starts
the one-click benchmark on those models and writes ``OUT_PREFIX-running.png`` while probes
run and ``OUT_PREFIX-finished.png`` when the run is over. Grabs use ``QScreen.grabWindow(0)``.
Not a test: a tool for looking at the app as a user sees it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out_prefix")
    parser.add_argument("--profile")
    parser.add_argument("--models", default="")
    parser.add_argument("--wait", type=float, default=8.0)
    parser.add_argument("--running-after", type=float, default=40.0,
                        help="seconds after the start to take the mid-run shot")
    parser.add_argument("--size", default="1500x940")
    parser.add_argument("--budget", type=float, default=8.0, help="seconds per probe")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from PySide6.QtWidgets import QApplication

    from selector.ui.app import create_application
    from selector.ui.main_window import MainWindow

    app = create_application(sys.argv[:1])
    window = MainWindow(profile_source=args.profile)
    width, height = (int(v) for v in args.size.split("x"))
    window.resize(width, height)
    window.move(0, 0)
    window.show()

    def pump(seconds: float, until=None) -> None:  # noqa: ANN001
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not (until and until()):
            app.processEvents()
            time.sleep(0.03)

    def grab(name: str) -> None:
        path = f"{args.out_prefix}-{name}.png"
        QApplication.primaryScreen().grabWindow(0).copy(0, 0, width, height).save(path)
        print("saved", path, flush=True)

    pump(args.wait, until=lambda: window.catalog is not None and window.catalog_view.model.rowCount() > 0
         and window.profile is not None and window.profile.torch is not None)
    pump(1.0)
    grab("empty")
    if args.models:
        models = args.models.split(",")
        window.catalog_view.fits_only.setChecked(False)
        window.catalog_view.search.setText("")
        for model_id in models:
            window.catalog_view.select_model(model_id)
        from PySide6.QtCore import QItemSelectionModel

        view = window.catalog_view
        view.table.clearSelection()
        for model_id in models:
            index = view.proxy.mapFromSource(view.model.index(view.model.row_of(model_id), 0))
            view.table.selectionModel().select(
                index, QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows)
        window.confirm_shortlist = False
        prefs = window.prefs
        prefs.latency_budget_s = prefs.transfer_budget_s = prefs.finetune_budget_s = args.budget
        done: list[bool] = []
        window.run.sig_run_finished.connect(lambda _sid: done.append(True))
        window.benchmark_best()
        pump(args.running_after, until=lambda: bool(done))
        window.tabs.setCurrentWidget(window.queue_panel)
        window.plots.tabs.setCurrentWidget(window.plots.loss)
        pump(0.5)
        grab("running")
        pump(3600, until=lambda: bool(done))
        pump(5)
        window.tabs.setCurrentWidget(window.recommendation_panel)
        window.plots.tabs.setCurrentWidget(window.plots.pareto)
        pump(1)
        grab("finished")
    print(f"longest GUI-thread stall: {window.max_stall_ms:.0f} ms", flush=True)
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
