"""Datasets for the probes: where the samples come from and what was made of them.

``load_dataset(DatasetSpec(...))`` reads an image folder (one sub-folder per class), a
CSV / TSV / JSONL text file, or the built-in sample data, and returns a
:class:`LoadedDataset`: the items and labels, a deterministic held-out split, and an honest
account of what was skipped and why. Bad input never crashes a probe: corrupt or unreadable
files are skipped and counted; input that cannot be used at all (no label column, a single
class) raises :class:`DataError` with a message saying what to do.
"""

from __future__ import annotations

import dataclasses
import math
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from selector.core.errors import SelectorError
from selector.core.fileio import special_file_kind

IMAGE = "image"
TEXT = "text"
SAMPLE = "sample"
MIN_ITEMS = 4
"""The smallest ``max_items``: two classes of two samples (one to train on, one held out)."""


class DataError(SelectorError):
    """The data cannot be used for a probe; the message says why and what to do."""


@dataclass
class DatasetSpec:
    """Which data a probe uses. Plain data: it travels to the probe child as JSON."""

    source: str
    """A folder of images, a ``.csv`` / ``.tsv`` / ``.jsonl`` file, or ``sample``."""
    modality: str = "auto"
    """``image``, ``text`` or ``auto`` (folder: images, file: text, sample: from the model)."""
    text_column: str | None = None
    """Text files: the column (or JSON key) with the text; None detects it."""
    label_column: str | None = None
    """Text files: the column with the class label; None detects it."""
    holdout: float = 0.2
    """Fraction of each class held out for accuracy (at least one sample per class that has two)."""
    seed: int = 0
    """Seed of the split (and of the sample data)."""
    max_items: int | None = None
    """Keep at most this many samples (a stratified subset), to bound loading time."""
    sample_per_class: int | None = None
    """Built-in sample only: samples per class (default 64 images / 120 sentences)."""

    @property
    def is_sample(self) -> bool:
        return self.source.strip().lower() in (SAMPLE, "sample:image", "sample:text")

    def check(self) -> None:
        """``DataError`` for settings no probe can use, before any file is read: the holdout
        must be a fraction in [0, 1), ``max_items`` at least :data:`MIN_ITEMS`, and the source
        ``sample``, a regular file or a folder (see :func:`check_source`)."""
        holdout = self.holdout
        if isinstance(holdout, bool) or not isinstance(holdout, (int, float)) or not (
                math.isfinite(holdout) and 0 <= holdout < 1):
            raise DataError(f"the held-out fraction must be at least 0 and below 1 "
                            f"(0.2 holds out 20 % of each class), not {holdout}")
        if self.max_items is not None and (isinstance(self.max_items, bool) or not isinstance(
                self.max_items, int) or self.max_items < MIN_ITEMS):
            raise DataError(f"the sample limit must be a whole number of at least {MIN_ITEMS} "
                            f"(two classes of two samples), not {self.max_items}")
        if not self.is_sample:
            check_source(self.source)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DatasetSpec":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class LoadedDataset:
    """Samples ready for a probe. ``items[i]`` is a file path or an in-memory image (images)
    or a string (text); ``labels[i]`` indexes ``classes``."""

    modality: str
    source: str
    classes: list[str]
    items: list[Any]
    labels: list[int]
    train_idx: list[int] = field(default_factory=list)
    test_idx: list[int] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    """Reason -> how many samples or files were skipped for it."""
    skipped_examples: list[str] = field(default_factory=list)
    """The first few skipped files or lines, with the reason."""
    notes: list[str] = field(default_factory=list)
    """Things the user should know: detected columns, the encoding used, ignored folders."""
    encoding: str | None = None
    text_column: str | None = None
    label_column: str | None = None

    MAX_EXAMPLES = 10

    def skip(self, reason: str, example: str | None = None) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
        if example and len(self.skipped_examples) < self.MAX_EXAMPLES:
            self.skipped_examples.append(f"{example}: {reason}")

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def class_counts(self) -> dict[str, int]:
        counts = {name: 0 for name in self.classes}
        for label in self.labels:
            counts[self.classes[label]] += 1
        return counts

    def summary(self) -> dict[str, Any]:
        """JSON-ready description for results and the GUI (no samples)."""
        return {
            "modality": self.modality, "source": self.source, "classes": list(self.classes),
            "num_items": len(self.items), "train": len(self.train_idx), "test": len(self.test_idx),
            "class_counts": self.class_counts(), "skipped": dict(self.skipped),
            "skipped_total": sum(self.skipped.values()),
            "skipped_examples": list(self.skipped_examples), "notes": list(self.notes),
            "encoding": self.encoding, "text_column": self.text_column,
            "label_column": self.label_column,
        }


def check_source(source: str) -> Path:
    """The data path, if it is a folder or a regular file that can be read; else ``DataError``.

    Anything else is refused before it is opened: reading a named pipe blocks until some other
    program writes to it, and a device or socket is not data.
    """
    path = Path(source).expanduser()
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise DataError(f"no such file or folder: {path}") from None
    except OSError as err:
        raise DataError(f"cannot read {path}: {err.strerror or err}") from None
    kind = special_file_kind(path)
    if kind:
        raise DataError(f"{path} is {kind}: data must be a folder of images, a .csv/.tsv/.jsonl "
                        "file, or 'sample'")
    if not os.access(path, os.R_OK | (os.X_OK if stat.S_ISDIR(mode) else 0)):
        raise DataError(f"cannot read {path}: permission denied")
    return path


def load_dataset(spec: DatasetSpec, task: str | None = None) -> LoadedDataset:
    """Read the data ``spec`` names and split it. ``task`` (the model's) picks the sample kind."""
    from selector.core.data.split import stratified_split, subsample

    spec.check()
    modality = spec.modality
    if spec.is_sample:
        from selector.core.data import sample

        source = spec.source.strip().lower()
        if modality == "auto":
            modality = source.split(":")[1] if ":" in source else (
                TEXT if task == "text-classification" else IMAGE)
        data = (sample.sample_texts(spec.sample_per_class, spec.seed) if modality == TEXT
                else sample.sample_images(spec.sample_per_class, spec.seed))
    else:
        path = check_source(spec.source)
        if modality == "auto":
            modality = IMAGE if path.is_dir() else TEXT
        _check_task(spec.source, modality, task)
        if modality == IMAGE:
            if not path.is_dir():
                raise DataError(f"{path} is a file; image data is a folder with one sub-folder per class")
            from selector.core.data.images import scan_image_folder

            data = scan_image_folder(path)
        elif modality == TEXT:
            if path.is_dir():
                raise DataError(f"{path} is a folder; text data is a .csv, .tsv or .jsonl file")
            from selector.core.data.text import read_text_file

            data = read_text_file(path, spec.text_column, spec.label_column)
        else:
            raise DataError(f"unknown data modality {modality!r} (image, text or auto)")
    _check_task(spec.source, data.modality, task)
    _check_classes(data)
    if spec.max_items and len(data.items) > spec.max_items:
        keep = subsample(data.labels, spec.max_items, spec.seed)
        data.items = [data.items[i] for i in keep]
        data.labels = [data.labels[i] for i in keep]
        data.notes.append(f"kept a stratified subset of {len(keep)} samples (max_items)")
    data.train_idx, data.test_idx = stratified_split(data.labels, spec.holdout, spec.seed)
    if not data.test_idx:
        data.notes.append("too few samples to hold any out: accuracy is not measured")
    return data


def _check_task(source: str, modality: str, task: str | None) -> None:
    if task and modality == TEXT and task != "text-classification":
        raise DataError(f"{source} holds text, but the model classifies images")
    if task and modality == IMAGE and task == "text-classification":
        raise DataError(f"{source} holds images, but the model classifies text")


def _check_classes(data: LoadedDataset) -> None:
    counts = data.class_counts()
    empty = [name for name, n in counts.items() if n == 0]
    if empty:  # a class whose every sample was skipped
        keep = [c for c in data.classes if counts[c] > 0]
        remap = {data.classes.index(c): i for i, c in enumerate(keep)}
        data.labels = [remap[label] for label in data.labels]
        data.classes = keep
        data.notes.append("classes with no usable sample ignored: " + ", ".join(empty))
    if len(data.classes) < 2:
        found = f"only {data.classes[0]!r}" if data.classes else "none"
        raise DataError(
            f"{data.source}: need at least two classes with usable samples to fine-tune, "
            f"found {found}" + _skipped_words(data)
        )


def _skipped_words(data: LoadedDataset) -> str:
    if not data.skipped:
        return ""
    return " (skipped: " + ", ".join(f"{n} {reason}" for reason, n in data.skipped.items()) + ")"
