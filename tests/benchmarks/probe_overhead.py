"""What process isolation costs per probe: start, imports, model build, and the whole.

    python tests/benchmarks/probe_overhead.py [--models resnet18,vit_small_patch16_224] [--runs 3]
        [--out overhead.json]

For each model a latency probe with the shortest measurement (1 warm-up, 1 iteration) runs
``--runs`` times. From the parent's clock and the child's events:

- ``spawn``: from ``Popen`` until the child's first event (interpreter start, selector's
  light imports, reading the spec);
- ``ready``: until the probe code starts (torch imported, threads set);
- ``load``: building the model (timm/transformers imports it needs, weights, to device);
- ``total``: the whole probe, as the parent saw it; ``measure`` is the time spent measuring,
  so ``total - measure`` is the overhead of running the probe in its own process.

A torch-free probe (the ``fault`` kind) shows the floor: process start and the event pipe.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics


def _probe(spec) -> dict:  # noqa: ANN001
    from selector.core.probes import ProbeRun

    r = ProbeRun(spec).finish()
    if not r.ok:
        raise SystemExit(f"{spec.model}: {r.status}: {r.message}\n{r.error}")
    measure = sum(row.get("warmup_s", 0) + row.get("measure_s", 0) + (row.get("first_call_ms") or 0) / 1000
                  for row in r.rows)
    return {"spawn_s": r.overhead.get("spawn_s"), "ready_s": r.overhead.get("ready_s"),
            "load_s": r.overhead.get("load_s"), "total_s": r.duration_s, "measure_s": measure,
            "overhead_s": r.duration_s - measure}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="resnet18,vit_small_patch16_224")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from selector.core.models import resolve_model
    from selector.core.probes import ProbeSpec

    quick = {"warmup_iters": 1, "warmup_s": 0.0, "min_iters": 1, "min_time_s": 0.0}
    cases = [("(no torch: fault kind)", lambda: ProbeSpec(kind="fault", model="none", params={"mode": "finish"}))]
    for name in args.models.split(","):
        entry = resolve_model(name)
        cases.append((name, lambda entry=entry: ProbeSpec(
            kind="latency", model=entry.id, entry=entry.to_dict(), batch_sizes=[1],
            threads=args.threads, budget_s=60, params=quick)))
    report = {}
    print(f"{'probe':28s} {'spawn':>7s} {'ready':>7s} {'load':>7s} {'measure':>8s} {'total':>7s} "
          f"{'overhead':>8s}  (seconds, median of {args.runs})")
    for name, make in cases:
        runs = [_probe(make()) for _ in range(args.runs)]
        med = {k: statistics.median(r[k] or 0.0 for r in runs) for k in runs[0]}
        report[name] = {"runs": runs, "median": med}
        print(f"{name:28s} {med['spawn_s']:7.2f} {med['ready_s']:7.2f} {med['load_s']:7.2f} "
              f"{med['measure_s']:8.2f} {med['total_s']:7.2f} {med['overhead_s']:8.2f}", flush=True)
    print(f"load average {os.getloadavg()[0]:.2f} ({os.cpu_count()} logical CPUs)")
    if args.out:
        with open(args.out, "w") as handle:
            json.dump(report, handle, indent=2)


if __name__ == "__main__":
    main()
