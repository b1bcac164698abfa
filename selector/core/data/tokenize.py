"""A fallback tokenizer for text models whose own tokenizer is not available locally.

It splits on words and punctuation and hashes each lower-cased token into the model's
vocabulary (CRC32, stable across runs and machines). A pretrained model has never seen these
ids, so results with it are labelled ``hashing fallback``: they measure speed and memory
faithfully, and accuracy only roughly (like a model trained from scratch).
"""

from __future__ import annotations

import re
import zlib

_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)
RESERVED = 1000
"""Low ids are left alone: they hold special tokens ([PAD], [CLS], [SEP], ...) in most vocabularies."""


class HashingTokenizer:
    """Callable like a Hugging Face tokenizer on a list of strings (returns torch tensors)."""

    description = "hashing fallback (the model's tokenizer is not available locally)"

    def __init__(self, vocab_size: int, max_length: int = 128, pad_id: int = 0,
                 cls_id: int | None = None, sep_id: int | None = None) -> None:
        if vocab_size <= RESERVED + 1:
            raise ValueError(f"vocabulary of {vocab_size} is too small for the hashing tokenizer")
        self.vocab_size, self.max_length = vocab_size, max_length
        self.pad_id, self.cls_id, self.sep_id = pad_id, cls_id, sep_id

    def token_ids(self, text: str) -> list[int]:
        span = self.vocab_size - RESERVED
        ids = [RESERVED + zlib.crc32(tok.lower().encode("utf-8")) % span for tok in _TOKEN.findall(text)]
        room = self.max_length - (self.cls_id is not None) - (self.sep_id is not None)
        ids = ids[:room]
        if self.cls_id is not None:
            ids.insert(0, self.cls_id)
        if self.sep_id is not None:
            ids.append(self.sep_id)
        return ids

    def __call__(self, texts: list[str], **_ignored):
        import torch

        rows = [self.token_ids(t) for t in texts]
        width = max(1, max(map(len, rows), default=1))
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
            mask[i, : len(row)] = 1
        return {"input_ids": ids, "attention_mask": mask}
