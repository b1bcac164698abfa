"""Request: the user's question in one value: task, data, device, sizes and constraints.

The desktop app's "what you want" panel edits one; the catalog's fit badges, the one-click
shortlist, the probes and the recommendation all read their settings from it, so they can
never disagree about the batch size or the device.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from selector.core.catalog.entry import GENERATION, TEXT, VISION
from selector.core.estimate.memory import Workload

MIB_PER_GIB = 1024.0
SAMPLE = "sample"


@dataclass
class Request:
    task: str = VISION
    """``image-classification`` or ``text-classification``."""
    data: str = SAMPLE
    """An image folder, a CSV/TSV/JSONL file, or ``sample`` (the built-in data)."""
    device: str = "cpu"
    """``cpu`` or ``cuda:N``: where the model will run and where probes run."""
    batch_size: int = 1
    """Batch the latency budget is stated at (and inference memory is checked at)."""
    train_batch_size: int = 16
    """Batch for the fine-tune estimate and probe."""
    dtype: str = "fp32"
    image_size: int | None = None
    """Square image side in pixels; None: each model's own default resolution."""
    seq_len: int = 128
    latency_budget_ms: float | None = None
    """p50 per batch of ``batch_size``."""
    memory_budget_gib: float | None = None
    """None: the device's free memory is the budget."""
    memory_mode: str = "inference"
    """Which memory must fit: ``inference`` or ``finetune``."""
    min_accuracy: float | None = None
    """Percent."""
    threads: int | None = None
    runtimes: list[str] = field(default_factory=lambda: ["eager"])
    """Runtimes the latency probe measures (``selector.core.runtimes.RUNTIMES``); eager first."""
    quantize: str | None = None
    """``int8``: also int8 static rows (ONNX Runtime / OpenVINO), calibrated on ``data``."""
    quant: str | None = None
    """Decoders: weights as ``int8`` or ``nf4`` (bitsandbytes); None: in ``dtype``. ``seq_len``
    is then the context length in tokens."""
    lora_rank: int = 8
    """Decoders, fine-tuning: LoRA rank (0: full fine-tuning; with ``nf4``: QLoRA)."""

    def inference_workload(self) -> Workload:
        return Workload(mode="inference", batch_size=self.batch_size, image_size=self.image_size,
                        seq_len=self.seq_len, dtype=self.dtype, **self._decoder(train=False))

    def train_workload(self) -> Workload:
        dtype = "amp" if self.dtype in ("fp16", "bf16") else self.dtype
        return Workload(mode="train", batch_size=self.train_batch_size, image_size=self.image_size,
                        seq_len=self.seq_len, dtype=dtype, **self._decoder(train=True))

    def _decoder(self, train: bool) -> dict[str, Any]:
        """Decoders' workload settings (quantisation, LoRA rank); none for other tasks."""
        if self.task != GENERATION:
            return {}
        return {"quant": self.quant, **({"lora_rank": self.lora_rank} if train else {})}

    def checked_workload(self) -> Workload:
        """The workload whose memory must fit, per ``memory_mode``."""
        return self.train_workload() if self.memory_mode == "finetune" else self.inference_workload()

    def constraints(self, free_memory_mib: float | None = None) -> Any:
        """The recommendation's Constraints for this request."""
        from selector.core.recommend.result import Constraints

        return Constraints(
            task=self.task, device=self.device, batch=self.batch_size,
            latency_ms=self.latency_budget_ms, memory_mode=self.memory_mode,
            memory_budget_mib=(self.memory_budget_gib * MIB_PER_GIB
                               if self.memory_budget_gib is not None else None),
            free_memory_mib=free_memory_mib, min_accuracy=self.min_accuracy,
        )

    @property
    def is_text(self) -> bool:
        return self.task == TEXT

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Request":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in (data or {}).items() if k in names})
