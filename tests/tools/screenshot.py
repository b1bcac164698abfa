"""Take a screenshot of the real main window (run under ``xvfb-run -a``).

    xvfb-run -a python tests/tools/screenshot.py out.png [--profile t4] [--wait 8]

Shows the window, waits for background work to settle, grabs the screen with
``QScreen.grabWindow(0)`` and writes a PNG. Not a test: a tool for looking at the app.
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--profile")
    parser.add_argument("--wait", type=float, default=8.0)
    parser.add_argument("--size", default="1400x860")
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
    deadline = time.monotonic() + args.wait
    while time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.05)
    QApplication.primaryScreen().grabWindow(0).copy(0, 0, width, height).save(args.out)
    print("saved", args.out)
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
