"""Memory estimates against measured peaks, reference model by reference model.

Each row runs one model in a FRESH process (random weights, no download) at one batch size,
for inference (3 forwards under no_grad) or training (3 AdamW steps), measures its peak, and
prints it beside the estimate made from the meta-device trace:

``alloc`` is the allocator allowance (glibc malloc on CPU, fitted on these models; library
workspaces on CUDA). ``--rescore FILE`` re-estimates saved measurements with the current code.

- CPU: peak RSS over the process's baseline (torch, timm, transformers imported), read from
  the kernel's high-water mark (VmHWM, reset just before the steps). That is what a user sees,
  glibc's malloc caching and oneDNN's scratch copies included. The estimate compared is the
  total minus the fixed overhead (``MemoryEstimate.dynamic_mib``).
- CUDA (``--device cuda``): ``torch.cuda.max_memory_allocated``, with max reserved and the CUDA
  context (NVML free memory before/after initialisation) shown beside it.

Usage::

    python tests/benchmarks/memory_validation.py                      # CPU, all models
    python tests/benchmarks/memory_validation.py --device cuda --batches 8,64 --json out.json
    python tests/benchmarks/memory_validation.py --models resnet18,bert-base-uncased --modes train
    python tests/benchmarks/memory_validation.py --baseline           # measure the CPU baseline

Target: every row within 15 %.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

VISION = [
    "resnet18", "resnet50", "mobilenetv3_large_100", "efficientnet_b0", "convnext_tiny",
    "vit_small_patch16_224", "vit_base_patch16_224", "deit_tiny_patch16_224",
]
TEXT = ["bert-base-uncased", "distilbert-base-uncased"]


def spec_for(name: str, seq_len: int) -> dict:
    if name in TEXT or (ROOT / "resources" / "text_configs" / f"{name}.json").exists():
        config = json.loads((ROOT / "resources" / "text_configs" / f"{name}.json").read_text())
        return {"hf_config": config, "seq_len": seq_len, "name": name}
    return {"timm": name, "name": name}


def entry_for(spec: dict):
    """A catalog entry for the spec, with the activation profile traced on meta."""
    import torch

    from selector.core.catalog.entry import TEXT as TEXT_TASK
    from selector.core.catalog.entry import VISION as VISION_TASK
    from selector.core.catalog.entry import CatalogEntry
    from selector.core.estimate.measure import build_model
    from selector.core.estimate.trace import profile_entry

    with torch.device("meta"):
        model = build_model(spec)
    if "timm" in spec:
        size = tuple(model.pretrained_cfg.get("input_size", (3, 224, 224)))
        entry = CatalogEntry(spec["name"], "timm", VISION_TASK, "", spec["name"], input_size=size)
    else:
        entry = CatalogEntry(spec["name"], "transformers", TEXT_TASK, "", spec["hf_config"]["model_type"],
                             input_size=(spec["seq_len"],))
    entry.params = sum(p.numel() for p in model.parameters())
    entry.activation = profile_entry(model, entry)
    return entry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    parser.add_argument("--models", default=",".join(VISION + TEXT))
    parser.add_argument("--modes", default="inference,train")
    parser.add_argument("--batches", default="8,32", help="two (or more) batch sizes")
    parser.add_argument("--dtype", default="fp32", choices=["fp32", "fp16", "bf16", "amp"])
    parser.add_argument("--optimizer", default="adamw", choices=["adamw", "sgd"])
    parser.add_argument("--grad-checkpointing", action="store_true")
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--threads", type=int, default=None, help="torch threads in the child")
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    parser.add_argument("--baseline", action="store_true", help="measure and cache the CPU baseline")
    parser.add_argument("--rescore", metavar="FILE",
                        help="no measuring: re-estimate the rows of an earlier --json FILE with the current code")
    args = parser.parse_args(argv)

    from selector.core.estimate.measure import measure_peak
    from selector.core.estimate.memory import Workload, device_kind_of, estimate_memory

    if args.baseline:
        from selector.core.estimate.overheads import measure_cpu_baseline

        print(f"CPU baseline RSS (torch, timm, transformers imported): {measure_cpu_baseline():.0f} MiB")
        return 0
    saved = {}
    if args.rescore:
        for row in json.loads(Path(args.rescore).read_text()):
            saved[(row["model"], row["mode"], row["batch"])] = row["measurement"]
        first = next(iter(saved.values()))
        args.device = first["device"]
        args.models = ",".join(dict.fromkeys(k[0] for k in saved))
        args.batches = ",".join(str(b) for b in sorted({k[2] for k in saved}))
        args.modes = ",".join(dict.fromkeys(k[1] for k in saved))
    kind = device_kind_of(args.device)
    rows = []
    header = (f"{'model':26s} {'mode':9s} {'batch':>5s} {'estimate':>9s} {'measured':>9s} {'error':>7s}"
              f"  {'weights':>7s} {'grads':>6s} {'optim':>6s} {'activ':>7s} {'alloc':>6s}  phase")
    if kind == "cuda":
        header += "  (reserved, context)"
    print(f"device {args.device}, dtype {args.dtype}, optimizer {args.optimizer}, "
          f"checkpointing {'on' if args.grad_checkpointing else 'off'}; MiB")
    print(header)
    for name in args.models.split(","):
        spec = spec_for(name, args.seq_len)
        started = time.perf_counter()
        entry = entry_for(spec)
        trace_s = time.perf_counter() - started
        for mode in args.modes.split(","):
            for batch in [int(b) for b in args.batches.split(",")]:
                wl = Workload(mode=mode, batch_size=batch, dtype=args.dtype, optimizer=args.optimizer,
                              grad_checkpointing=args.grad_checkpointing, seq_len=args.seq_len)
                est = estimate_memory(entry, wl, kind)
                if args.rescore:
                    if (name, mode, batch) not in saved:
                        continue
                    measured = saved[(name, mode, batch)]
                    wl = Workload.from_dict(measured.get("workload") or wl.to_dict())
                    est = estimate_memory(entry, wl, kind)
                try:
                    measured = measured if args.rescore else measure_peak(
                        spec, wl, device=args.device, threads=args.threads)
                except Exception as err:  # noqa: BLE001 - one failed row stays one failed row
                    print(f"{name:26s} {mode:9s} {batch:5d} failed: {err}")
                    continue
                meas = measured["peak_mib"]
                error = 100.0 * (est.dynamic_mib - meas) / meas
                phase = est.method.split("; ")[1] if "; " in est.method else est.method
                line = (f"{name:26s} {mode:9s} {batch:5d} {est.dynamic_mib:9.0f} {meas:9.0f} {error:+6.1f}%"
                        f"  {est.weights_mib:7.0f} {est.gradients_mib:6.0f} {est.optimizer_mib:6.0f}"
                        f" {est.activations_mib:7.0f} {est.allocator_mib:6.0f}  {phase}")
                if kind == "cuda":
                    line += f"  ({measured.get('reserved_mib', 0):.0f}, {measured.get('context_mib') or 0:.0f})"
                print(line, flush=True)
                rows.append({"model": name, "mode": mode, "batch": batch, "estimate_mib": est.dynamic_mib,
                             "measured_mib": meas, "error_pct": error, "estimate": est.to_dict(),
                             "measurement": measured, "trace_seconds": trace_s})
    if rows:
        worst = max(rows, key=lambda r: abs(r["error_pct"]))
        within = sum(abs(r["error_pct"]) <= 15 for r in rows)
        print(f"\n{within}/{len(rows)} rows within 15 %; worst {worst['model']} {worst['mode']} "
              f"batch {worst['batch']}: {worst['error_pct']:+.1f} %")
        baseline = rows[0]["measurement"].get("baseline_mib")
        print(f"process baseline (not in the figures above): {baseline:.0f} MiB RSS")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
