"""Entry point of both bundle executables: ``selector`` (console) and ``selector-gui`` (windowed).

Both run ``selector.cli.main``: no command opens the desktop app, a command runs headless,
and the hidden ``--probe-child`` flag runs a probe's child process (a frozen app has no
``python -m``; see ``selector.core.probes.runner.child_command``).

For the build's smoke test, ``SELECTOR_SMOKE_FIRST_WINDOW=1`` makes the app print
``FIRST_WINDOW <seconds>`` once its main window is shown and the event loop turns, then close
the window and quit. The seconds count from ``SELECTOR_SMOKE_T0`` (a ``time.time()`` the
caller took just before starting the process) or else from the process's creation.
``SELECTOR_SMOKE_ABOUT=1`` also prints the About dialog's text (versions, where files live).
``SELECTOR_SMOKE_HOLD_S`` keeps the window open that long first (the catalog loads in a
worker), and ``SELECTOR_SMOKE_SCREENSHOT=FILE.png`` saves what the window shows then.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time

_keep: list = []


def _install_first_window_probe() -> None:
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QMainWindow

    from selector.ui.app import create_application

    app = create_application(sys.argv[:1])
    t0 = os.environ.get("SELECTOR_SMOKE_T0")
    if t0:
        start = float(t0)
    else:
        import psutil

        start = psutil.Process().create_time()
    hold_ms = int(float(os.environ.get("SELECTOR_SMOKE_HOLD_S") or 0) * 1000)
    screenshot = os.environ.get("SELECTOR_SMOKE_SCREENSHOT")

    class FirstWindow(QObject):
        done = False

        def eventFilter(self, obj, event):  # noqa: N802 - Qt override
            if not self.done and event.type() == QEvent.Type.Show and isinstance(obj, QMainWindow):
                self.done = True
                QTimer.singleShot(0, lambda: self.shown(obj))
            return False

        def shown(self, window) -> None:  # noqa: ANN001 - the main window
            print(f"FIRST_WINDOW {time.time() - start:.3f} {window.windowTitle()!r}", flush=True)
            if os.environ.get("SELECTOR_SMOKE_ABOUT"):
                from selector.ui.about import about_html

                print("ABOUT " + about_html(), flush=True)
            QTimer.singleShot(hold_ms, lambda: self.finish(window))

        def finish(self, window) -> None:  # noqa: ANN001
            if screenshot:
                window.grab().save(screenshot)
                print(f"SCREENSHOT {screenshot}", flush=True)
            window.close()
            app.quit()

    probe = FirstWindow()
    app.installEventFilter(probe)
    _keep.append(probe)


def main() -> int:
    multiprocessing.freeze_support()
    if os.environ.get("SELECTOR_SMOKE_FIRST_WINDOW") and "--probe-child" not in sys.argv[1:2]:
        _install_first_window_probe()
    from selector.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
