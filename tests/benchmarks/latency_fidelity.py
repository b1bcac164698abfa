"""Fidelity of the latency probe against ``torch.utils.benchmark.Timer``, side by side.

    python tests/benchmarks/latency_fidelity.py [--models resnet18,mobilenetv3_large_100,vit_small_patch16_224]
        [--batch 8] [--threads 2] [--seconds 5] [--rounds 2] [--device cpu] [--out fidelity.json]

For each model, in one run: the latency probe (its own child process, fp32, ``--threads``)
and an independent measurement of the same model, batch, dtype and threads with
``torch.utils.benchmark.Timer.blocked_autorange`` in a fresh Python process of its own (timm
and torch only, none of selector's code), started like the probe's child in a session of its
own: Linux schedules CPU time fairly between sessions (autogroups), so on a busy machine a
process left in the caller's session would get a different share than the probe. Each round runs probe then Timer, the next round
Timer then probe, to cancel slow drifts of the machine. Weights are random (the same as the
probe's when none are cached): they do not change the arithmetic.

Reported: throughput (samples/s) from the probe's p50 and mean and from the Timer's median
and mean, the difference in percent (target: within 5 %), and the median over rounds of the
back-to-back ratio (probe p50 vs Timer median of the same round), the figure least disturbed
by a machine whose load changes from minute to minute. Load average before and after
is printed: on a shared machine, a busy neighbour shows up there first.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

TIMER_SCRIPT = r"""
import json, sys, time
import torch, timm
from torch.utils.benchmark import Timer
name, batch, threads, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
device = sys.argv[5]
torch.set_num_threads(threads)
model = timm.create_model(name, pretrained=False).eval().to(device)
size = model.pretrained_cfg["input_size"]
x = torch.randn(batch, *size, device=device)
with torch.inference_mode():
    end = time.perf_counter() + 1.0
    while time.perf_counter() < end:
        model(x)
    timer = Timer("model(x)", globals={"model": model, "x": x}, num_threads=threads)
    with torch.inference_mode():
        m = timer.blocked_autorange(min_run_time=seconds)
print(json.dumps({"median_s": m.median, "mean_s": m.mean, "iqr_s": m.iqr, "runs": len(m.times),
                  "per_run": m.number_per_run, "threads": torch.get_num_threads()}))
"""


def probe(name: str, batch: int, threads: int, seconds: float, device: str) -> dict:
    from selector.core.models import resolve_model
    from selector.core.probes import ProbeRun, ProbeSpec

    entry = resolve_model(name)
    spec = ProbeSpec(kind="latency", model=entry.id, entry=entry.to_dict(), batch_sizes=[batch], device=device,
                     dtypes=["fp32"], threads=threads, budget_s=seconds * 4 + 30,
                     params={"min_time_s": seconds, "min_iters": 30})
    result = ProbeRun(spec).finish()
    if not result.ok:
        raise SystemExit(f"{name}: probe {result.status}: {result.message}\n{result.error}")
    return result.latency_rows()[0].to_dict()


def timer(name: str, batch: int, threads: int, seconds: float, device: str) -> dict:
    out = subprocess.run([sys.executable, "-c", TIMER_SCRIPT, name, str(batch), str(threads), str(seconds),
                          device],
                         capture_output=True, text=True, check=True, start_new_session=True,
                         env={**os.environ, "OMP_NUM_THREADS": str(threads)})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="resnet18,mobilenetv3_large_100,vit_small_patch16_224")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=5.0, help="measuring time per side and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (Timer synchronizes CUDA itself)")
    parser.add_argument("--out", help="also write the figures as JSON here")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    load_before = os.getloadavg()
    rows = []
    for name in args.models.split(","):
        probes, timers = [], []
        for round_ in range(args.rounds):
            order = (probe, timer) if round_ % 2 == 0 else (timer, probe)
            for measure in order:
                got = measure(name, args.batch, args.threads, args.seconds, args.device)
                (probes if measure is probe else timers).append(got)
        # each round's probe and Timer ran back to back: their ratio cancels slow drifts
        paired = [(args.batch * 1000 / p["p50_ms"]) / (args.batch / t["median_s"])
                  for p, t in zip(probes, timers)]
        p50 = statistics.median(args.batch * 1000 / p["p50_ms"] for p in probes)
        mean = statistics.median(p["samples_per_s"] for p in probes)
        t_med = statistics.median(args.batch / t["median_s"] for t in timers)
        t_mean = statistics.median(args.batch / t["mean_s"] for t in timers)
        row = {"model": name, "batch": args.batch, "threads": args.threads, "dtype": "fp32",
               "device": args.device,
               "probe_p50_sps": round(p50, 2), "probe_mean_sps": round(mean, 2),
               "timer_median_sps": round(t_med, 2), "timer_mean_sps": round(t_mean, 2),
               "diff_median_pct": round(100 * (p50 / t_med - 1), 2),
               "diff_mean_pct": round(100 * (mean / t_mean - 1), 2),
               "diff_paired_median_pct": round(100 * (statistics.median(paired) - 1), 2),
               "paired_ratios": [round(r, 4) for r in paired],
               "probe_cv": [p["cv"] for p in probes], "probe_iters": [p["iters"] for p in probes],
               "probe_threads": probes[0]["threads"], "timer_threads": timers[0]["threads"],
               "weights": probes[0]["weights"]}
        rows.append(row)
        print(f"{name:28s} probe p50 {p50:8.2f} mean {mean:8.2f} | Timer median {t_med:8.2f} "
              f"mean {t_mean:8.2f} samples/s | diff {row['diff_median_pct']:+.1f} % (median), "
              f"{row['diff_mean_pct']:+.1f} % (mean), {row['diff_paired_median_pct']:+.1f} % "
              f"(median of {len(paired)} back-to-back pairs)", flush=True)
    load_after = os.getloadavg()
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} "
          f"({os.cpu_count()} logical CPUs)")
    if args.out:
        with open(args.out, "w") as handle:
            json.dump({"rows": rows, "load_before": load_before, "load_after": load_after,
                       "when": time.strftime("%Y-%m-%d %H:%M:%S")}, handle, indent=2)


if __name__ == "__main__":
    main()
