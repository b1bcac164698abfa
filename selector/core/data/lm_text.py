"""The user's text for decoder language models: a .txt, .jsonl or .csv file, split and tokenised.

Accepted files:

- ``.txt`` (or ``.md``): documents separated by blank lines (one document per line when the
  file has no blank line);
- ``.jsonl`` / ``.csv`` / ``.tsv``: a ``text`` column (or the one named with ``text_column``),
  else ``prompt`` and ``response`` columns, joined as ``prompt`` + newline + ``response``
  (``instruction``/``output`` and ``prompt``/``completion`` are read the same way).

The reading and its checks are the classification files' (:mod:`selector.core.data.text`):
NUL bytes refuse a binary file, encodings other than UTF-8 are read and said. An empty file,
one with no text, or a table with neither a text column nor prompt/response pairs is a
``DataError`` before any model is loaded. Documents (not tokens) are split into training and
held-out sets, seeded, so no held-out sentence is seen in training.

Without the model's own tokenizer, :class:`ByteTokenizer` stands in: one token per UTF-8
byte, so per-token figures are then per byte (and say so).
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from selector.core.data.dataset import DataError

SUFFIXES = (".txt", ".md", ".jsonl", ".ndjson", ".csv", ".tsv")
PAIRS = (("prompt", "response"), ("instruction", "output"), ("prompt", "completion"),
         ("question", "answer"))
MIN_CHARS = 16
"""A file with fewer characters of text than this has nothing to measure."""


@dataclass
class LMText:
    """The documents of one text file and their split (indices into ``documents``)."""

    source: str
    documents: list[str]
    layout: str
    """``paragraphs``, ``lines``, ``text column 'x'`` or ``prompt/response pairs``."""
    train_idx: list[int] = field(default_factory=list)
    test_idx: list[int] = field(default_factory=list)
    encoding: str = "utf-8"
    notes: list[str] = field(default_factory=list)
    skipped: int = 0
    """Rows without text."""

    @property
    def train(self) -> list[str]:
        return [self.documents[i] for i in self.train_idx]

    @property
    def test(self) -> list[str]:
        return [self.documents[i] for i in self.test_idx]

    def summary(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("documents")
        data.pop("train_idx")
        data.pop("test_idx")
        return {**data, "documents_total": len(self.documents), "train_documents": len(self.train_idx),
                "test_documents": len(self.test_idx), "chars": sum(map(len, self.documents))}


def load_lm_text(source: str | Path, *, text_column: str | None = None, holdout: float = 0.2,
                 max_items: int | None = None, seed: int = 0) -> LMText:
    """Read and split ``source``; ``DataError`` with a one-line reason for an unusable file."""
    from selector.core.data.text import _read_delimited, _read_json, decode_bytes

    from selector.core.data.dataset import check_source

    path = check_source(str(source))
    if not path.is_file():
        raise DataError(f"{path} is a folder: a language model reads one .txt, .jsonl or .csv file")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataError(f"{path.name}: unsupported file type {suffix!r} for a language model; "
                        "use .txt, .jsonl or .csv (a 'text' column or 'prompt'/'response' pairs)")
    if not 0.0 < holdout < 1.0:
        raise DataError(f"the held-out fraction must be between 0 and 1, not {holdout}")
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise DataError(f"cannot read {path}: {err.strerror or err}") from err
    if b"\x00" in raw[:65536] and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataError(f"{path.name} is not a text file (it holds NUL bytes); use UTF-8 .txt, .jsonl or .csv")
    content, encoding, note = decode_bytes(raw)
    notes = [note] if note else []
    skipped = 0
    if suffix in (".txt", ".md"):
        documents, layout = _documents(content)
    else:
        from selector.core.data.dataset import TEXT, LoadedDataset

        holder = LoadedDataset(TEXT, str(path), [], [], [])
        if suffix in (".jsonl", ".ndjson"):
            records, columns = _read_json(content, holder, whole=False)
        else:
            records, columns = _read_delimited(path.name, content, "\t" if suffix == ".tsv" else None)
        documents, layout, skipped = _from_records(path.name, records, columns, text_column)
        notes += [f"{n} {reason}" for reason, n in holder.skipped.items()]
    if sum(len(d) for d in documents) < MIN_CHARS:
        raise DataError(f"{path.name} holds no text to measure (fewer than {MIN_CHARS} characters)")
    if max_items and len(documents) > max_items:
        documents = random.Random(seed).sample(documents, max_items)
        notes.append(f"{max_items} documents drawn at random (seed {seed})")
    if len(documents) < 2:
        documents = _halves(documents[0])
        notes.append("one document: its first part trains, its last part is held out")
        train_idx, test_idx = [0], [1]
    else:
        order = list(range(len(documents)))
        random.Random(seed).shuffle(order)
        n_test = min(len(documents) - 1, max(1, round(holdout * len(documents))))
        test_idx, train_idx = sorted(order[:n_test]), sorted(order[n_test:])
    return LMText(str(path), documents, layout, train_idx, test_idx, encoding, notes, skipped)


def _documents(content: str) -> tuple[list[str], str]:
    blocks = [b.strip() for b in content.replace("\r\n", "\n").split("\n\n")]
    blocks = [b for b in blocks if b]
    if len(blocks) > 1:
        return blocks, "paragraphs"
    lines = [ln.strip() for ln in content.splitlines() if ln.strip()]
    return lines, "lines"


def _from_records(name: str, records: list[dict], columns: list[str],
                  text_column: str | None) -> tuple[list[str], str, int]:
    shown = ", ".join(repr(c) for c in columns) or "none"
    if not records:
        raise DataError(f"{name} has no data rows")
    lowered = {c.lower(): c for c in columns}
    if text_column is not None and text_column not in columns:
        raise DataError(f"{name} has no column {text_column!r}; its columns are {shown}")
    column = text_column or lowered.get("text")
    if column is not None:
        texts = [_cell(r.get(column)) for r in records]
        layout = f"text column {column!r}"
    else:
        pair = next(((lowered[a], lowered[b]) for a, b in PAIRS if a in lowered and b in lowered), None)
        if pair is None:
            raise DataError(f"{name} has no 'text' column and no 'prompt'/'response' pairs: its columns "
                            f"are {shown}; name the text column with --text-column")
        texts = [f"{p}\n{r}" if p and r else "" for p, r in
                 ((_cell(rec.get(pair[0])), _cell(rec.get(pair[1]))) for rec in records)]
        layout = f"{pair[0]}/{pair[1]} pairs"
    kept = [t for t in texts if t]
    return kept, layout, len(texts) - len(kept)


def _cell(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _halves(text: str) -> list[str]:
    """The text cut in two at a space near 80 %: what trains and what is held out."""
    cut = int(len(text) * 0.8)
    space = text.rfind(" ", 0, cut)
    cut = space if space > len(text) // 2 else cut
    return [text[:cut].strip(), text[cut:].strip()]


class ByteTokenizer:
    """Byte-level token ids (``byte + 3``, modulo the vocabulary) when the model's tokenizer is
    not on this machine: speed and memory are faithful, losses are of bytes a pretrained
    model never saw as such, so they are labelled."""

    description = "byte-level fallback (the model's tokenizer is not on this machine)"
    OFFSET = 3

    def __init__(self, vocab_size: int) -> None:
        if vocab_size < 2:
            raise ValueError(f"vocabulary of {vocab_size} is too small")
        self.vocab_size = vocab_size
        self.eos_token_id = 0

    def encode(self, text: str) -> list[int]:
        return [(b + self.OFFSET) % self.vocab_size for b in text.encode("utf-8")]


def token_ids(text: str, tokenizer: Any) -> list[int]:
    """``text``'s ids under ``tokenizer`` (a transformers tokenizer or :class:`ByteTokenizer`)."""
    if isinstance(tokenizer, ByteTokenizer):
        return tokenizer.encode(text)
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def blocks(documents: list[str], tokenizer: Any, length: int, max_blocks: int | None = None) -> list[list[int]]:
    """The documents' ids, each followed by EOS, packed into blocks of ``length`` tokens (the
    last, shorter block kept when it has at least 2 tokens): the usual causal-LM packing."""
    eos = getattr(tokenizer, "eos_token_id", None)
    stream: list[int] = []
    for doc in documents:
        stream += token_ids(doc, tokenizer) + ([int(eos)] if eos is not None else [])
        if max_blocks and len(stream) >= length * max_blocks:
            break
    out = [stream[i:i + length] for i in range(0, len(stream), length)]
    out = [b for b in out if len(b) >= 2]
    return out[:max_blocks] if max_blocks else out


def tokenizer_for(loaded_tokenizer: Any, vocab_size: int) -> tuple[Any, str]:
    """The tokenizer to use and how to name it: the model's own, else :class:`ByteTokenizer`."""
    if loaded_tokenizer is not None:
        name = getattr(loaded_tokenizer, "name_or_path", "") or type(loaded_tokenizer).__name__
        return loaded_tokenizer, f"model tokenizer ({name})"
    return ByteTokenizer(vocab_size), ByteTokenizer.description


def from_spec(data: dict[str, Any]) -> LMText:
    """:func:`load_lm_text` of a probe's data (``DatasetSpec.to_dict()``)."""
    if str(data.get("source", "")).strip().lower().startswith("sample"):
        raise DataError("decoders need your own text: a .txt, .jsonl or .csv file (no built-in sample)")
    return load_lm_text(data["source"], text_column=data.get("text_column"),
                        holdout=float(data.get("holdout") or 0.2), max_items=data.get("max_items"),
                        seed=int(data.get("seed") or 0))


def check_lm_data(data: dict[str, Any], quiet: bool = False) -> LMText:
    """Read the text once before any probe starts (``DataError`` when unusable); say what was read."""
    import sys

    text = from_spec(data)
    if not quiet:
        print(f"data: {text.source}: {len(text.documents)} documents ({text.layout}), "
              f"{len(text.train_idx)} to train, {len(text.test_idx)} held out"
              + (f", {text.skipped} rows without text skipped" if text.skipped else ""), file=sys.stderr)
        for note in text.notes:
            print(f"  {note}", file=sys.stderr)
    return text
