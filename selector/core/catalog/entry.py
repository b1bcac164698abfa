"""CatalogEntry: one candidate model, as the catalog, the estimates and the probes see it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

VISION = "image-classification"
TEXT = "text-classification"
GENERATION = "text-generation"
"""Decoder language models (``selector.core.catalog.decoders``)."""


@dataclass
class CatalogEntry:
    id: str
    """Unique id: ``resnet50.a1_in1k`` (timm ``architecture.tag``), ``bert-base-uncased`` (text,
    the Hugging Face id), ``local:<name>`` (a folder the user added)."""
    source: str
    """``timm``, ``transformers`` or ``local``."""
    task: str
    """``image-classification`` or ``text-classification``."""
    family: str
    """Architecture family for filtering: ``resnet``, ``vit``, ``bert``, ..."""
    architecture: str
    """timm model name (``resnet50``) or transformers ``model_type`` (``bert``)."""
    params: int | None = None
    """Parameter count, from a meta-device build of the model."""
    macs: float | None = None
    """Multiply-accumulates per sample at ``input_size`` (MACs, not FLOPs: FLOPs = 2 x MACs)."""
    input_size: tuple[int, ...] = ()
    """Default input per sample: ``(3, H, W)`` for images, ``(seq_len,)`` for text."""
    num_classes: int | None = None
    """Size of the pretrained classification head, if any."""
    published: dict[str, float] = field(default_factory=dict)
    """Published scores, keyed by metric: ``imagenet_top1``, ``imagenet_top5``, ``glue``, ``sst2``,
    ``mnli`` (percent)."""
    published_source: str = ""
    """Where the published scores come from (file, paper, model card)."""
    published_params: int | None = None
    """Parameter count as published, to check ours against."""
    published_macs: float | None = None
    """MACs per sample as published (timm's ``infer_gmacs`` x 1e9)."""
    pretrain_data: str | None = None
    license: str | None = None
    hf_hub_id: str | None = None
    """Where the weights live on the Hugging Face Hub (``timm/resnet50.a1_in1k``)."""
    reference_throughput: dict[str, float] = field(default_factory=dict)
    """Published samples/s on reference hardware, keyed like ``rtx4090-amp-infer``."""
    activation: dict[str, Any] | None = None
    """Activation-memory profile traced from the model (format owned by ``selector.core.estimate``)."""
    local_path: str | None = None
    """Folder or checkpoint file of a user-added model."""
    config: dict[str, Any] | None = None
    """Architecture config (text models: the transformers config dict)."""
    notes: str = ""
    weights_cached: bool = False
    """Whether the weights are in the local HF cache (or local files); computed at load, not shipped."""

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["input_size"] = list(self.input_size)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CatalogEntry":
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        values["input_size"] = tuple(values.get("input_size") or ())
        return cls(**values)

    @property
    def is_vision(self) -> bool:
        return self.task == VISION

    @property
    def is_text(self) -> bool:
        return self.task == TEXT

    @property
    def is_decoder(self) -> bool:
        return self.task == GENERATION
