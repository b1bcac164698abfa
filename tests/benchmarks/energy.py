"""Joules per sample as the latency probe measures them, for a few models on one device.

    python tests/benchmarks/energy.py [--device cuda:0] [--models test_resnet,resnet18.a1_in1k]
                                      [--batch 1,32] [--dtype fp32,bf16] [--out energy.json]

Runs ``selector bench MODELS --probe latency --json`` in a fresh SELECTOR_HOME and prints, per
row: p50, samples/s, energy (J), average power (W), J/sample and samples per joule, with the
counter used (NVML total energy on NVIDIA, amdsmi on AMD, RAPL on the CPU package) or why
there is none. Models whose weights are not cached run with random weights: the energy of a
forward pass does not depend on them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def bench(args: argparse.Namespace, home: str) -> dict:
    exe = Path(sys.executable).with_name("selector")
    env = dict(os.environ, SELECTOR_HOME=home, HF_HUB_OFFLINE="1")
    cmd = [str(exe), "bench", *args.models.split(","), "--probe", "latency", "--device", args.device,
           "--batch", args.batch, "--dtype", args.dtype, "--json", "--force"]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if out.returncode not in (0, 1):
        raise SystemExit(out.stderr)
    return json.loads(out.stdout)


def rows(data: dict) -> list[dict]:
    out = []
    for result in data["results"]:
        for row in result["rows"]:
            joules = row.get("energy_per_sample_j")
            out.append({
                "model": row["model_id"], "dtype": row["dtype"], "batch": row["batch_size"],
                "p50_ms": row["p50_ms"], "samples_per_s": row["samples_per_s"],
                "energy_j": row.get("energy_j"), "avg_power_w": row.get("avg_power_w"),
                "j_per_sample": joules, "samples_per_j": round(1 / joules, 2) if joules else None,
                "method": row.get("energy_method"), "note": row.get("energy_note"),
                "noisy": bool((row.get("contention") or {}).get("noisy")),
            })
        if result["status"] != "finished":
            out.append({"model": result["model_id"], "status": result["status"],
                        "message": result["message"]})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda:0")
    parser.add_argument("--models", default="resnet18.a1_in1k,resnet50.a1_in1k,"
                                            "vit_small_patch16_224.augreg_in21k_ft_in1k")
    parser.add_argument("--batch", default="1,32")
    parser.add_argument("--dtype", default="fp32")
    parser.add_argument("--out")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        table = rows(bench(args, home))
    for line in table:
        print(json.dumps(line))
    if args.out:
        Path(args.out).write_text(json.dumps(table, indent=1))


if __name__ == "__main__":
    main()
