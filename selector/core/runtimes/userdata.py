"""A sample of the user's data for the runtimes: calibration batches and held-out batches.

int8 static quantisation calibrates its activation ranges on the calibration split (taken
from the training split); parity's top-1 agreement and the held-out accuracy use the held-out
split. Each sample is preprocessed as the model expects (timm's eval transform, the model's
tokenizer) and shaped like the probe's own inputs (the exported models have a fixed image
size and sequence length): images resized to the probe's size, token ids padded or cut to
its sequence length.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

CALIBRATION_SAMPLES = 64
"""Samples that calibrate int8 activation ranges (ONNX Runtime's examples use tens to hundreds)."""
HELDOUT_SAMPLES = 128
"""Held-out samples compared across runtimes at most."""
CHUNK = 16
"""Samples per batch fed to each runtime."""


@dataclass
class UserSample:
    source: str
    calibration: list[Any] = field(default_factory=list)
    """Batches of probe inputs (torch) from the training split."""
    calibration_labels: list[int] = field(default_factory=list)
    heldout: list[Any] = field(default_factory=list)
    heldout_labels: list[int] = field(default_factory=list)
    classes: int = 0

    @property
    def calibration_count(self) -> int:
        return len(self.calibration_labels)


def load_sample(data_spec: dict[str, Any], loaded: Any, example: Any, seed: int = 0) -> UserSample:
    """Read the sample of ``data_spec`` for ``loaded`` (a ``LoadedModel``), shaped like ``example``."""
    from selector.core.data.batches import Batcher
    from selector.core.data.dataset import DatasetSpec, load_dataset
    from selector.core.probes.kinds.finetune import _preprocessing

    data = load_dataset(DatasetSpec.from_dict(data_spec), task=loaded.entry.task)
    text = isinstance(example, dict)
    seq_len = int(example["input_ids"].shape[1]) if text else 0
    prep = _preprocessing(loaded, seq_len or None)
    batcher = Batcher(data, transform=prep.get("transform"), tokenizer=prep.get("tokenizer_obj"),
                      max_length=seq_len or 128)
    rng = random.Random(seed)
    train = rng.sample(data.train_idx, min(CALIBRATION_SAMPLES, len(data.train_idx)))
    test = rng.sample(data.test_idx, min(HELDOUT_SAMPLES, len(data.test_idx)))
    sample = UserSample(source=data.source, classes=data.num_classes)
    for indices, batches, labels in ((train, sample.calibration, sample.calibration_labels),
                                     (test, sample.heldout, sample.heldout_labels)):
        for start in range(0, len(indices), CHUNK):
            got = batcher.batch(indices[start:start + CHUNK])
            if got is None:
                continue
            inputs, y = got
            batches.append(_shaped(inputs, example))
            labels.extend(int(v) for v in y)
    return sample


def _shaped(inputs: Any, example: Any) -> Any:
    """``inputs`` with the example's per-sample shape (and dtype)."""
    import torch

    if isinstance(example, dict):
        length = int(example["input_ids"].shape[1])
        out = {}
        for name in ("input_ids", "attention_mask"):
            value = inputs.get(name)
            if value is None:
                value = torch.ones_like(inputs["input_ids"])
            value = value[:, :length]
            if value.shape[1] < length:
                value = torch.nn.functional.pad(value, (0, length - value.shape[1]), value=0)
            out[name] = value.to(example[name].dtype)
        return out
    size = tuple(example.shape[2:])
    if tuple(inputs.shape[2:]) != size:
        inputs = torch.nn.functional.interpolate(inputs, size=size, mode="bilinear", align_corners=False)
    return inputs.to(example.dtype)
