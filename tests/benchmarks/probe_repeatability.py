"""Repeatability of the latency probe: the same probe N times, the spread of its p50.

    python tests/benchmarks/probe_repeatability.py [--model resnet18] [--batch 8] [--threads 2]
        [--runs 5] [--seconds 3] [--out repeat.json]

Each run is a fresh probe (its own child process, its own model build). Reported: every
run's p50 and CV, then the spread of p50 across runs: (max - min) / median and the
coefficient of variation of the p50s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--out")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from selector.core.models import resolve_model
    from selector.core.probes import ProbeRun, ProbeSpec

    entry = resolve_model(args.model)
    load_before = os.getloadavg()
    p50s, rows = [], []
    for i in range(args.runs):
        spec = ProbeSpec(kind="latency", model=entry.id, entry=entry.to_dict(), batch_sizes=[args.batch],
                         threads=args.threads, budget_s=args.seconds * 3 + 20,
                         params={"min_time_s": args.seconds})
        result = ProbeRun(spec).finish()
        if not result.ok:
            raise SystemExit(f"run {i}: {result.status}: {result.message}")
        row = result.latency_rows()[0]
        p50s.append(row.p50_ms)
        rows.append(row.to_dict())
        print(f"run {i + 1}: p50 {row.p50_ms:.2f} ms, mean {row.mean_ms:.2f} ms, CV {100 * row.cv:.1f} %, "
              f"{row.iters} iterations, {row.samples_per_s:.1f} samples/s", flush=True)
    median = statistics.median(p50s)
    spread = (max(p50s) - min(p50s)) / median
    cv = statistics.stdev(p50s) / statistics.mean(p50s) if len(p50s) > 1 else 0.0
    load_after = os.getloadavg()
    print(f"{args.model} batch {args.batch}, {args.threads} threads: p50 median {median:.2f} ms, "
          f"spread (max-min)/median {100 * spread:.1f} %, CV of p50 {100 * cv:.1f} % over {args.runs} runs")
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f}")
    if args.out:
        with open(args.out, "w") as handle:
            json.dump({"model": args.model, "p50_ms": p50s, "spread": spread, "cv": cv, "rows": rows,
                       "load_before": load_before, "load_after": load_after}, handle, indent=2)


if __name__ == "__main__":
    main()
