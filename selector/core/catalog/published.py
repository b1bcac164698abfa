"""Published timm results: ImageNet accuracy, pretraining data, MACs and reference throughput.

Read from the copy of timm's ``results/`` CSVs shipped in ``resources/catalog/timm-results``
(Apache-2.0, see ``PROVENANCE.md`` there). ``results-imagenet.csv`` is keyed by
``architecture.tag`` with one row per evaluation size; the benchmark and metadata files are
keyed by architecture, the benchmarks with one row per image size. Throughput is taken only
from a row measured at the entry's own default input size, so a figure is never silently
borrowed from another resolution.

Reference throughput keys and what they measured (samples per second):

- ``rtx4090-amp-infer``: RTX 4090, AMP, batch 1024 (less where it did not fit), PyTorch 2.9.1
- ``rtx3090-amp-infer``: RTX 3090, AMP, batch 1024 (less where needed), PyTorch 2.4.0
- ``i7-12700h-fp32-infer-b1``: Intel i7-12700H CPU, fp32, batch 1, torch.compile, PyTorch 2.4.0
- ``rtx3090-amp-train``: RTX 3090, AMP, one training step (forward, backward, SGD update),
  batch 512 or less, PyTorch 1.12
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from selector.core.paths import resource

RESULTS_FILE = "results-imagenet.csv"
METADATA_FILE = "model_metadata-in1k.csv"
INFER_BENCHMARKS = {
    "rtx4090-amp-infer": "benchmark-infer-amp-nchw-pt291-cu128-4090.csv",
    "rtx3090-amp-infer": "benchmark-infer-amp-nchw-pt240-cu124-rtx3090.csv",
    "i7-12700h-fp32-infer-b1": "benchmark-infer-fp32-nchw-pt240-cpu-i7_12700h-dynamo.csv",
}
TRAIN_BENCHMARKS = {"rtx3090-amp-train": "benchmark-train-amp-nchw-pt112-cu113-rtx3090.csv"}


def results_dir() -> Path:
    return resource("catalog", "timm-results")


def _read(name: str) -> list[dict[str, str]]:
    with open(results_dir() / name, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


@dataclass
class Published:
    """Everything the CSVs say about one ``architecture.tag`` at one input size."""

    scores: dict[str, float] = field(default_factory=dict)
    source: str = ""
    params: int | None = None
    macs: float | None = None
    pretrain: str | None = None
    throughput: dict[str, float] = field(default_factory=dict)


class PublishedResults:
    """The shipped timm CSVs, indexed once; ``lookup(tag_name, arch, img_size)`` per entry."""

    def __init__(self) -> None:
        self.results: dict[str, list[dict[str, str]]] = {}
        for row in _read(RESULTS_FILE):
            self.results.setdefault(row["model"], []).append(row)
        self.metadata = {row["model"]: row["pretrain"] for row in _read(METADATA_FILE)}
        self.infer: dict[str, dict[tuple[str, int], dict[str, str]]] = {}
        for key, name in INFER_BENCHMARKS.items():
            table: dict[tuple[str, int], dict[str, str]] = {}
            for row in _read(name):
                size = int(float(row["infer_img_size"]))
                table.setdefault((row["model"], size), row)
            self.infer[key] = table
        self.train: dict[str, dict[str, dict[str, str]]] = {
            key: {row["model"]: row for row in _read(name)} for key, name in TRAIN_BENCHMARKS.items()
        }

    def lookup(
        self, name: str, architecture: str, img_size: int | None, num_classes: int | None = 1000
    ) -> Published:
        """``name`` is ``architecture.tag``; benchmark rows match ``architecture`` at ``img_size``.

        The benchmarks built every architecture with a 1000-class head, so their parameter
        count stands in for a missing results row only when the entry has 1000 classes too.
        """
        out = Published()
        rows = self.results.get(name, [])
        if rows:
            same = [r for r in rows if img_size and int(float(r["img_size"])) == img_size]
            row = same[0] if same else max(rows, key=lambda r: _float(r["top1"]) or 0.0)
            for metric, column in (("imagenet_top1", "top1"), ("imagenet_top5", "top5")):
                value = _float(row.get(column))
                if value is not None:
                    out.scores[metric] = value
            out.source = (
                f"timm results-imagenet.csv (ImageNet-1k val, {row['img_size']} px, "
                f"crop {row['crop_pct']}, {row['interpolation']})"
            )
            count = _float(row.get("param_count"))
            out.params = round(count * 1e6) if count is not None else None
        for key, table in self.infer.items():
            bench = table.get((architecture, img_size or 0))
            if bench is None:
                continue
            rate = _float(bench.get("infer_samples_per_sec"))
            if rate:
                out.throughput[key] = rate
            gmacs = _float(bench.get("infer_gmacs"))
            if out.macs is None and gmacs is not None:
                out.macs = round(gmacs * 1e9)
            if out.params is None and num_classes == 1000:
                count = _float(bench.get("param_count"))
                out.params = round(count * 1e6) if count is not None else None
        for key, train_table in self.train.items():
            trained = train_table.get(architecture)
            if trained is not None and img_size and int(float(trained["train_img_size"])) == img_size:
                rate = _float(trained.get("train_samples_per_sec"))
                if rate:
                    out.throughput[key] = rate
        out.pretrain = self.metadata.get(architecture)
        return out

    def __contains__(self, name: str) -> bool:
        return name in self.results


@lru_cache(maxsize=1)
def published_results() -> PublishedResults:
    return PublishedResults()
