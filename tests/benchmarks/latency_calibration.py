"""Predicted vs measured CPU latency, model by model.

Calibrates this CPU (``selector.core.estimate.calibration.calibrate``: single layers plus two
reference models, cached), then times each model (random weights, eager PyTorch, fp32,
``torch.inference_mode`` for inference; forward + backward + AdamW step for training) and
prints the prediction beside the median of the timed runs.

Usage::

    python tests/benchmarks/latency_calibration.py                  # recalibrate, all models
    python tests/benchmarks/latency_calibration.py --cached          # reuse the cached calibration
    python tests/benchmarks/latency_calibration.py --models resnet50 --batches 1,16 --train
    python tests/benchmarks/latency_calibration.py --threads 1 --cpu-time   # on a busy machine

Timings on a shared machine are disturbed by other work: run it twice and say so.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.benchmarks.memory_validation import entry_for, spec_for  # noqa: E402

MODELS = ["resnet18", "resnet50", "mobilenetv3_large_100", "efficientnet_b0", "convnext_tiny",
          "vit_small_patch16_224", "deit_tiny_patch16_224", "bert-base-uncased", "distilbert-base-uncased"]


def time_model(spec: dict, batch: int, train: bool, seconds: float = 2.0, clock=time.perf_counter) -> float:  # noqa: ANN001
    """Median ms per batch after one warm-up run."""
    import torch

    from selector.core.estimate.measure import build_model

    model = build_model(spec)
    if "timm" in spec:
        size = model.pretrained_cfg.get("input_size", (3, 224, 224))[-1]
        inputs = {"x": torch.randn(batch, 3, size, size)}

        def forward():  # noqa: ANN202
            return model(inputs["x"])
    else:
        ids = torch.randint(0, model.config.vocab_size, (batch, spec.get("seq_len", 128)))

        def forward():  # noqa: ANN202
            return model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits
    target = torch.zeros(batch, dtype=torch.long)
    if train:
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-5)

        def run():  # noqa: ANN202
            opt.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(forward(), target).backward()
            opt.step()
    else:
        model.eval()

        def run():  # noqa: ANN202
            with torch.inference_mode():
                forward()
    run()
    samples = []
    deadline = time.perf_counter() + seconds
    while len(samples) < 3 or (time.perf_counter() < deadline and len(samples) < 50):
        start = clock()
        run()
        samples.append((clock() - start) * 1000)
    return statistics.median(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--train", action="store_true", help="time a training step too")
    parser.add_argument("--cached", action="store_true", help="reuse the cached calibration")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time with CPU seconds (use with --threads 1 on a machine busy with other work)")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    clock = time.process_time if args.cpu_time else time.perf_counter

    from selector.core.estimate.calibration import calibrate, load_calibration, save_calibration
    from selector.core.estimate.latency import estimate_latency
    from selector.core.estimate.memory import Workload

    cal = load_calibration(torch.get_num_threads()) if args.cached else None
    if cal is None:
        started = time.perf_counter()
        cal = calibrate(torch.get_num_threads(), cpu_time=args.cpu_time)
        save_calibration(cal)
        print(f"calibrated in {time.perf_counter() - started:.1f} s")
    rates = ", ".join(f"{k} {v / 1e9:.1f}" for k, v in cal.macs_per_s.items())
    print(f"{cal.cpu}, {cal.threads} threads, torch {cal.torch}: GMAC/s {rates}; "
          f"element-wise {cal.bytes_per_s / 1e9:.1f} GB/s; op {cal.op_overhead_s * 1e6:.1f} us; "
          f"correction x{cal.correction:.2f}")
    print(f"{'model':26s} {'mode':9s} {'batch':>5s} {'predicted':>10s} {'measured':>10s} {'ratio':>6s}")
    rows = []
    modes = ["inference", "train"] if args.train else ["inference"]
    for name in args.models.split(","):
        spec = spec_for(name, 128)
        entry = entry_for(spec)
        for mode in modes:
            for batch in [int(b) for b in args.batches.split(",")]:
                wl = Workload(mode=mode, batch_size=batch)
                predicted = estimate_latency(entry, wl, "cpu", cal).ms_per_batch
                measured = time_model(spec, batch, mode == "train", clock=clock)
                ratio = predicted / measured
                print(f"{name:26s} {mode:9s} {batch:5d} {predicted:9.1f}ms {measured:9.1f}ms {ratio:6.2f}", flush=True)
                rows.append({"model": name, "mode": mode, "batch": batch, "predicted_ms": predicted,
                             "measured_ms": measured})
    if rows:
        import math

        logs = [abs(math.log(r["predicted_ms"] / r["measured_ms"])) for r in rows]
        within = sum(x <= math.log(1.5) for x in logs)
        print(f"\n{within}/{len(rows)} predictions within x1.5 of the measurement; "
              f"median factor {math.exp(statistics.median(logs)):.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"calibration": cal.to_dict(), "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
