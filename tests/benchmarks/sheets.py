"""Recommendation and sheet figures: how long recommend() and each export format take.

    python tests/benchmarks/sheets.py [--repeat 3] [--sizes 10,100,2000]

Candidates are synthetic (published accuracy, measured and estimated latency and memory,
transfer scores for some, fine-tuned accuracy for a few), so the figures depend on the
number of candidates, not on a probe session. Each figure is the median of ``--repeat`` runs
in this process after one warm-up (imports and matplotlib's font cache excluded); the output
sizes are in KiB.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path


def synthetic(n: int, seed: int = 0):
    from selector.core.recommend import Candidate, Figure, TransferScore

    rng = random.Random(seed)
    out = []
    for i in range(n):
        ms = rng.uniform(2, 200)
        cand = Candidate(
            f"model_{i:04d}.tag", task="image-classification", params=rng.randint(1, 300) * 10**6,
            published={"imagenet_top1": round(rng.uniform(60, 90), 2)},
            latency=[Figure(ms, "measured" if i % 3 else "estimated", "ms", batch=1, dtype="fp32",
                            threads=2, device="cpu", extra={"p90": ms * 1.1, "p99": ms * 1.3})],
            finetune_memory=[Figure(rng.uniform(500, 20000), "estimated", "MiB", batch=16, device="cpu")],
            inference_memory=[Figure(rng.uniform(300, 3000), "estimated", "MiB", batch=1, device="cpu")],
        )
        if i % 2 == 0:
            cand.transfer = TransferScore(rng.uniform(-2, 0), "logme", None, rng.uniform(0.4, 1.0))
        if i % 10 == 0:
            cand.finetuned_accuracy = Figure(rng.uniform(50, 99), "measured", "%",
                                             extra={"samples": 200.0})
            cand.loss_curve = [(s, 2.0 * 0.95**s) for s in range(50)]
        out.append(cand)
    return out


def timed(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", default="10,100,2000")
    args = parser.parse_args()
    from selector.core.export import build_sheet, render_outputs
    from selector.core.recommend import Constraints, recommend

    constraints = Constraints(latency_ms=50, memory_mode="finetune", free_memory_mib=16000,
                              task="image-classification")
    folder = Path(tempfile.mkdtemp())
    print(f"{'candidates':>10} {'recommend':>10} " + " ".join(f"{f:>12}" for f in
                                                              ("json", "csv", "md", "html", "pdf")))
    for n in (int(s) for s in args.sizes.split(",")):
        cands = synthetic(n)
        rec_s = timed(lambda: recommend(cands, constraints), args.repeat)
        sheet = build_sheet(cands, constraints)
        cells = []
        for fmt in ("json", "csv", "md", "html", "pdf"):
            if fmt == "pdf" and n > 500:
                cells.append(f"{'(skipped)':>12}")
                continue
            outputs = []
            seconds = timed(lambda: outputs.append(render_outputs(sheet, folder / f"s.{fmt}", fmt)),
                            args.repeat)
            kib = sum(len(o.data) for o in outputs[-1]) / 1024
            cells.append(f"{seconds * 1000:7.0f} ms/{kib:.0f}K".rjust(12))
        print(f"{n:>10} {rec_s * 1000:8.1f} ms " + " ".join(cells))


if __name__ == "__main__":
    main()
