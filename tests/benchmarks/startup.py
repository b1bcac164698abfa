"""Start-up figures: CLI answers, hardware detection, time to the first window and catalog.

    python tests/benchmarks/startup.py [--repeat 5] [--calibration]

Each figure is the median of ``--repeat`` fresh processes (wall clock, from spawning the
process to its answer), so Python's own start-up is included, as a user would see it. The
window runs on a fresh SELECTOR_HOME each time (a new user's first start: no cached CPU
calibration): "first catalog" is when the table has its rows; with ``--calibration`` the
run also waits for the CPU calibration to end (tens of seconds each). Give the load average
with the figures: CPU speed on a shared VM is unstable.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

FIRST_WINDOW = r"""
import os, sys, time
start = float(sys.argv[1])
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from PySide6.QtCore import QTimer
from selector.ui.app import create_application
from selector.ui.main_window import MainWindow
wait_calibration = sys.argv[2] == "1"
app = create_application(sys.argv[:1])
window = MainWindow()
window.show()
def shown():
    print(f"FIRST_WINDOW {time.time() - start:.3f}", flush=True)
def poll():
    if window.catalog_view.model.rowCount() and "catalog" not in seen:
        seen.add("catalog")
        print(f"FIRST_CATALOG {time.time() - start:.3f}", flush=True)
    if "catalog" in seen and (not wait_calibration or window.calibration is not None):
        if wait_calibration:
            print(f"CALIBRATED {time.time() - start:.3f}", flush=True)
        os._exit(0)  # the calibration thread is not waited for
seen = set()
QTimer.singleShot(0, shown)
timer = QTimer()
timer.timeout.connect(poll)
timer.start(10)
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
    parser.add_argument("--calibration", action="store_true", help="also time the first CPU calibration")
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
    window, catalog, calibrated = [], [], []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as home:
            env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"),
                       SELECTOR_HOME=home)
            out = subprocess.run([py, "-c", FIRST_WINDOW, repr(time.time()), "1" if args.calibration else "0"],
                                 check=True, capture_output=True, text=True, env=env).stdout
        if "FIRST_CATALOG" not in out:
            raise SystemExit(f"the window run printed no figures:\n{out}")
        window.append(float(out.split("FIRST_WINDOW")[1].split()[0]))
        catalog.append(float(out.split("FIRST_CATALOG")[1].split()[0]))
        if args.calibration:
            calibrated.append(float(out.split("CALIBRATED")[1].split()[0]))
    print(f"{'what':40s} {'median':>8s} {'min':>8s} {'max':>8s}   (seconds, {args.repeat} runs)")
    for name, values in rows.items():
        print(f"{name:40s} {statistics.median(values):8.3f} {min(values):8.3f} {max(values):8.3f}")
    for i, name in enumerate(["detect (psutil + NVML), in process", "torch view, cold import",
                              "torch view, torch already imported"]):
        values = [d[i] for d in detect]
        print(f"{name:40s} {statistics.median(values):8.3f} {min(values):8.3f} {max(values):8.3f}")
    for name, values in (("process start to first window", window), ("process start to first catalog", catalog),
                         ("process start to CPU calibrated", calibrated)):
        if values:
            print(f"{name + ' (' + env['QT_QPA_PLATFORM'] + ')':40s} "
                  f"{statistics.median(values):8.3f} {min(values):8.3f} {max(values):8.3f}")
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
