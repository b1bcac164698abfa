"""Data for the probes: image folders, text files, built-in samples, splits, batches."""

from selector.core.data.dataset import (
    IMAGE,
    TEXT,
    DataError,
    DatasetSpec,
    LoadedDataset,
    load_dataset,
)

__all__ = ["IMAGE", "TEXT", "DataError", "DatasetSpec", "LoadedDataset", "load_dataset"]
