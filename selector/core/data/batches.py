"""Model-ready batches from a :class:`LoadedDataset` (imports torch: used in probe children).

Decoding happens in the probe process itself (no DataLoader workers: one process per probe,
nothing else to clean up). A sample that fails to decode is skipped, counted in the
dataset's ``skipped`` and never tried again.
"""

from __future__ import annotations

import random
from typing import Any, Callable, Iterator

from selector.core.data.dataset import IMAGE, LoadedDataset

UNREADABLE_AT_LOAD = "unreadable image (failed to decode)"


class Batcher:
    """``batch(indices) -> (inputs, labels)``: inputs a tensor (images) or a dict (text).

    ``transform`` maps a PIL image to a CHW tensor (the model's eval transform);
    ``tokenizer`` is a Hugging Face tokenizer or a ``HashingTokenizer``.
    ``cache`` keeps decoded image tensors (used for the held-out set, evaluated twice).
    """

    def __init__(self, data: LoadedDataset, *, transform: Callable | None = None,
                 tokenizer: Any = None, max_length: int = 128, cache: bool = False) -> None:
        self.data = data
        self.transform = transform
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.bad: set[int] = set()
        self._cache: dict[int, Any] | None = {} if cache else None

    def _image(self, index: int):  # noqa: ANN202 - tensor or None
        if self._cache is not None and index in self._cache:
            return self._cache[index]
        from selector.core.data.images import load_image

        item = self.data.items[index]
        if self.transform is None:
            raise ValueError("image batches need the model's transform")
        try:
            tensor = self.transform(load_image(item))
        except (OSError, ValueError, SyntaxError) as err:
            self.bad.add(index)
            self.data.skip(UNREADABLE_AT_LOAD, f"{item} ({type(err).__name__})")
            return None
        if self._cache is not None:
            self._cache[index] = tensor
        return tensor

    def batch(self, indices: list[int]) -> tuple[Any, Any] | None:
        """The batch, without samples that failed to decode; None if none is left."""
        import torch

        indices = [i for i in indices if i not in self.bad]
        if self.data.modality == IMAGE:
            pairs = [(self._image(i), i) for i in indices]
            pairs = [(t, i) for t, i in pairs if t is not None]
            if not pairs:
                return None
            inputs = torch.stack([t for t, _ in pairs])
            labels = torch.tensor([self.data.labels[i] for _, i in pairs], dtype=torch.long)
            return inputs, labels
        if not indices:
            return None
        texts = [self.data.items[i] for i in indices]
        encoded = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length,
                                 return_tensors="pt")
        keep = ("input_ids", "attention_mask", "token_type_ids")
        inputs = {k: v for k, v in dict(encoded).items() if k in keep}
        labels = torch.tensor([self.data.labels[i] for i in indices], dtype=torch.long)
        return inputs, labels

    def usable(self, indices: list[int]) -> list[int]:
        return [i for i in indices if i not in self.bad]


def epoch_batches(indices: list[int], batch_size: int, seed: int = 0) -> Iterator[list[int]]:
    """Endless shuffled batches of ``batch_size`` (a new order each epoch). When there are
    fewer samples than a batch, every batch is all of them."""
    if not indices:
        return
    rng = random.Random(seed)
    order = list(indices)
    while True:
        rng.shuffle(order)
        if len(order) <= batch_size:
            yield list(order)
            continue
        for start in range(0, len(order) - batch_size + 1, batch_size):
            yield order[start:start + batch_size]


def chunks(indices: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(indices), size):
        yield indices[start:start + size]
