"""The contention record as measured: a latency probe as the machine is, then beside a busy
Python loop on every core.

    python tests/benchmarks/contention.py [--model test_resnet] [--batch 1,8] [--out c.json]

Each phase runs ``selector bench MODEL --probe latency --json`` in a fresh SELECTOR_HOME and
prints, per row: p50, iterations, and the contention figures (others' cores, steal, the
probe's CPU share, the reference speed before/after, noisy and why). The load average is
printed with each phase: "as the machine is" is only quiet when nothing else runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def bench(model: str, batch: str, home: str) -> dict:
    exe = Path(sys.executable).with_name("selector")
    env = dict(os.environ, SELECTOR_HOME=home, HF_HUB_OFFLINE="1")
    out = subprocess.run([str(exe), "bench", model, "--probe", "latency", "--batch", batch, "--json"],
                         env=env, capture_output=True, text=True, check=False)
    if out.returncode not in (0, 1):
        raise SystemExit(out.stderr)
    warning = [line for line in out.stderr.splitlines() if line.startswith("warning:")]
    return {"warning": warning, **json.loads(out.stdout)}


def summary(data: dict) -> list[dict]:
    rows = []
    for result in data["results"]:
        for row in result["rows"]:
            c = row.get("contention") or {}
            rows.append({"model": row["model_id"], "batch": row["batch_size"], "p50_ms": row["p50_ms"],
                         "iters": row["iters"], **{k: c.get(k) for k in (
                             "others_cores", "steal_share", "probe_cpu_share", "reference_before_gmacs",
                             "reference_after_gmacs", "reference_calibration_gmacs", "noisy", "reasons")}})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="test_resnet")
    parser.add_argument("--batch", default="1,8")
    parser.add_argument("--out")
    args = parser.parse_args()
    report = {}
    with tempfile.TemporaryDirectory() as home:
        for phase, hogs in (("as is", 0), ("hog on every core", os.cpu_count() or 2)):
            procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(hogs)]
            try:
                load = os.getloadavg()
                data = bench(args.model, args.batch, home)
            finally:
                for proc in procs:
                    proc.kill()
                    proc.wait()
            report[phase] = {"loadavg_before": load, "warning": data["warning"], "rows": summary(data)}
            print(f"== {phase} (load average before {load[0]:.2f}, {hogs} hog(s))")
            for line in data["warning"]:
                print(" ", line)
            for row in report[phase]["rows"]:
                print(" ", json.dumps(row))
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
