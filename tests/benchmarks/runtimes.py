"""Which model with which runtime on this CPU: four timm models and two text encoders (random
weights) under each runtime, interleaved, with the contention record.

    python tests/benchmarks/runtimes.py [--runtimes eager,onnxruntime,openvino,compile]
        [--quantize int8] [--rounds 2] [--batch 1] [--budget 20s] [--threads N] [--out runtimes.json]

On a busy 2-core VM, eager PyTorch with 2 threads ran resnet50 at batch 1 5-16x slower than
with 1 thread (its OpenMP threads wait on each other when one is preempted) while ONNX
Runtime and OpenVINO degraded far less: compare runtimes at ``--threads 1`` there.

Each model runs ``selector bench MODEL --probe latency --runtime ... --json`` in one shared
fresh SELECTOR_HOME. Interleaved: models go round-robin, and each round rotates the order of
the non-eager runtimes (and of the models), so a drift in the machine's speed lands on every
runtime rather than on the last one. Printed per model and runtime: p50 (median over rounds),
the speed-up over eager at the same batch, export/convert/compile seconds, parity against
eager (max relative difference, top-1 agreement on random inputs), and whether any row was
noisy (the contention record); the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

MODELS = ["resnet50.a1_in1k", "mobilenetv3_large_100.ra_in1k", "efficientnet_b0.ra_in1k",
          "vit_small_patch16_224.augreg_in21k_ft_in1k", "distilbert-base-uncased",
          "sentence-transformers/all-MiniLM-L6-v2"]


def bench(model: str, runtimes: list[str], args: argparse.Namespace, home: str) -> dict:
    exe = Path(sys.executable).with_name("selector")
    env = dict(os.environ, SELECTOR_HOME=home, HF_HUB_OFFLINE="1")
    cmd = [str(exe), "bench", model, "--probe", "latency", "--runtime", ",".join(runtimes),
           "--batch", args.batch, "--budget", args.budget, "--weights", "random", "--json"]
    if args.quantize:
        cmd += ["--quantize", args.quantize]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if out.returncode not in (0, 1) or "{" not in out.stdout:
        return {"error": out.stderr.strip().splitlines()[-1:] or [f"exit {out.returncode}"], "results": []}
    return json.loads(out.stdout[out.stdout.index("{"):])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--runtimes", default="eager,onnxruntime,openvino,compile")
    parser.add_argument("--quantize", default=None)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch", default="1")
    parser.add_argument("--budget", default="20s")
    parser.add_argument("--threads", type=int, help="torch/ORT/OpenVINO threads (default: torch's)")
    parser.add_argument("--out")
    args = parser.parse_args()
    models = [m for m in args.models.split(",") if m]
    others = [r for r in args.runtimes.split(",") if r and r != "eager"]
    print(f"load average before: {os.getloadavg()}", flush=True)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="selector-runtimes-bench-") as home:
        for rnd in range(args.rounds):
            shift = rnd % max(1, len(others))
            order = ["eager"] + others[shift:] + others[:shift]
            for model in models[rnd % len(models):] + models[:rnd % len(models)]:
                data = bench(model, order, args, home)
                if data.get("error"):
                    print(f"{model}: {data['error']}", flush=True)
                for result in data["results"]:
                    for row in result["rows"]:
                        rows.append(dict(row, round=rnd))
                print(f"round {rnd + 1}: {model} done ({os.getloadavg()[0]:.1f} load)", flush=True)
    print(f"load average after: {os.getloadavg()}")
    table = summarise(rows)
    print_table(table)
    if args.out:
        Path(args.out).write_text(json.dumps({"rows": rows, "table": table}, indent=1))


def summarise(rows: list[dict]) -> list[dict]:
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["model_id"], row["runtime"], row["dtype"], row["batch_size"]), []).append(row)
    eager = {(m, b): statistics.median([r["p50_ms"] for r in g if r.get("p50_ms")] or [0])
             for (m, rt, d, b), g in groups.items() if rt == "eager" and d == "fp32"}
    table = []
    for (model, runtime, dtype, batch), group in groups.items():
        p50s = [r["p50_ms"] for r in group if r.get("p50_ms")]
        p50 = statistics.median(p50s) if p50s else None
        parity = group[0].get("parity") or {}
        base = eager.get((model, batch))
        table.append({
            "model": model, "runtime": runtime, "dtype": dtype, "batch": batch, "p50_ms": p50,
            "rounds": len(p50s), "speedup": round(base / p50, 2) if p50 and base else None,
            "export_s": group[0].get("export_s"), "max_rel_diff": parity.get("max_rel_diff"),
            "top1_random": parity.get("top1_agreement_random"), "parity_ok": parity.get("ok"),
            "noisy": any((r.get("contention") or {}).get("noisy") for r in group),
            "error": next((r["error"] for r in group if r.get("error")), ""),
        })
    return table


def print_table(table: list[dict]) -> None:
    print("| model | runtime | dtype | batch | p50 ms | x eager | export s | max rel diff | top-1 (random) "
          "| parity | noisy |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for t in table:
        if t["error"]:
            print(f"| {t['model']} | {t['runtime']} | {t['dtype']} | {t['batch']} | failed: {t['error'][:90]} "
                  f"| | | | | | |")
            continue
        cells = [t["model"], t["runtime"], t["dtype"], t["batch"], _f(t["p50_ms"]), _f(t["speedup"]),
                 _f(t["export_s"]), _f(t["max_rel_diff"], "{:.2g}"), _f(t["top1_random"]),
                 "ok" if t["parity_ok"] else "FAILED", "noisy" if t["noisy"] else "quiet"]
        print("| " + " | ".join(str(c) for c in cells) + " |")


def _f(value: float | None, fmt: str = "{:.2f}") -> str:
    return "—" if value is None else fmt.format(value)


if __name__ == "__main__":
    main()
