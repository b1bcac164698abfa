"""Start-up figures: CLI answers, hardware detection, time to the first window.

    python tests/benchmarks/startup.py [--repeat 5]

Each figure is the median of ``--repeat`` fresh processes (wall clock, from spawning the
process to its answer), so Python's own start-up is included, as a user would see it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

FIRST_WINDOW = r"""
import os, sys, time
start = float(sys.argv[1])
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from PySide6.QtCore import QTimer
from selector.ui.app import create_application
from selector.ui.main_window import MainWindow
app = create_application(sys.argv[:1])
window = MainWindow()
window.show()
def shown():
    print(f"FIRST_WINDOW {time.time() - start:.3f}", flush=True)
    window.close()
    app.quit()
QTimer.singleShot(0, shown)
app.exec()
"""

DETECT = r"""
import time
t0 = time.perf_counter()
from selector.core.hardware import detect_hardware, add_torch_view
p = detect_hardware(include_torch=False)
t1 = time.perf_counter()
add_torch_view(p)
t2 = time.perf_counter()
add_torch_view(p)
t3 = time.perf_counter()
print(f"DETECT {t1 - t0:.4f} {t2 - t1:.4f} {t3 - t2:.4f}")
"""


def wall(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    py = sys.executable
    rows = {}
    rows["selector --version"] = [wall([py, "-m", "selector", "--version"]) for _ in range(args.repeat)]
    rows["selector --help"] = [wall([py, "-m", "selector", "--help"]) for _ in range(args.repeat)]
    rows["selector hw --json --no-torch"] = [
        wall([py, "-m", "selector", "hw", "--json", "--no-torch"]) for _ in range(args.repeat)]
    rows["selector hw --json"] = [wall([py, "-m", "selector", "hw", "--json"]) for _ in range(args.repeat)]
    detect = []
    for _ in range(args.repeat):
        out = subprocess.run([py, "-c", DETECT], check=True, capture_output=True, text=True).stdout
        detect.append([float(v) for v in out.split()[1:]])
    window = []
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    for _ in range(args.repeat):
        out = subprocess.run([py, "-c", FIRST_WINDOW, repr(time.time())], check=True,
                             capture_output=True, text=True, env=env).stdout
        window.append(float(out.split("FIRST_WINDOW")[1].split()[0]))
    print(f"{'what':40s} {'median':>8s} {'min':>8s} {'max':>8s}   (seconds, {args.repeat} runs)")
    for name, values in rows.items():
        print(f"{name:40s} {statistics.median(values):8.3f} {min(values):8.3f} {max(values):8.3f}")
    for i, name in enumerate(["detect (psutil + NVML), in process", "torch view, cold import",
                              "torch view, torch already imported"]):
        values = [d[i] for d in detect]
        print(f"{name:40s} {statistics.median(values):8.3f} {min(values):8.3f} {max(values):8.3f}")
    print(f"{'process start to first window (' + env['QT_QPA_PLATFORM'] + ')':40s} "
          f"{statistics.median(window):8.3f} {min(window):8.3f} {max(window):8.3f}")


if __name__ == "__main__":
    main()
