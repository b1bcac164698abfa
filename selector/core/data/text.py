"""Text classification files: CSV, TSV, JSON Lines (and a JSON list of objects).

Columns are chosen by the user or detected: well-known names first (``text``, ``sentence``,
``label``, ``class``, ...), then by shape (the label column has few distinct short values, the
text column the longest values). Files that are not UTF-8 are read as Windows-1252 (or
Latin-1) and the result says so. Rows without text or label are skipped and counted.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from selector.core.data.dataset import TEXT, DataError, LoadedDataset

TEXT_NAMES = ("text", "sentence", "sentence1", "review", "content", "body", "document", "comment",
              "message", "utterance", "query", "question", "tweet", "description", "title", "input")
LABEL_NAMES = ("label", "labels", "class", "category", "target", "sentiment", "intent", "topic",
               "tag", "y", "gold_label", "output")
MAX_LABEL_CHARS = 40


def decode_bytes(raw: bytes) -> tuple[str, str, str | None]:
    """``(text, encoding, note)``: UTF-8 (with or without BOM), UTF-16 with a BOM (Excel's
    "Unicode text"), else Windows-1252, else Latin-1."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16"), "utf-16", None
        except UnicodeDecodeError:
            pass
    try:
        return raw.decode("utf-8-sig"), "utf-8", None
    except UnicodeDecodeError as err:
        bad = f"byte 0x{raw[err.start]:02X} at offset {err.start}"
    for encoding, name in (("cp1252", "Windows-1252"), ("latin-1", "Latin-1")):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        return text, encoding, (f"not valid UTF-8 ({bad}); read as {name}. "
                                "If accented letters look wrong, save the file as UTF-8")
    raise AssertionError("latin-1 decodes any bytes")  # pragma: no cover


def read_text_file(path: Path, text_column: str | None = None,
                   label_column: str | None = None) -> LoadedDataset:
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise DataError(f"cannot read {path}: {err.strerror or err}") from err
    if b"\x00" in raw[:65536] and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataError(f"{path.name} is not a text file (it holds NUL bytes); "
                        "use a UTF-8 .csv, .tsv or .jsonl file")
    content, encoding, note = decode_bytes(raw)
    data = LoadedDataset(TEXT, str(path), [], [], [], encoding=encoding)
    if note:
        data.notes.append(note)
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        records, columns = _read_json(content, data, whole=suffix == ".json")
    elif suffix in (".csv", ".tsv", ".tab", ".txt"):
        records, columns = _read_delimited(path.name, content,
                                           "\t" if suffix in (".tsv", ".tab") else None)
    else:
        raise DataError(f"{path.name}: unsupported text file type {suffix!r}; use .csv, .tsv or .jsonl")
    if not records:
        skipped = ", ".join(f"{n} {reason}" for reason, n in data.skipped.items())
        raise DataError(f"{path.name} has no data rows" + (f" (skipped: {skipped})" if skipped else ""))
    text_col, label_col = choose_columns(path.name, records, columns, text_column, label_column)
    data.text_column, data.label_column = text_col, label_col
    if text_column is None or label_column is None:
        data.notes.append(f"text column {text_col!r}, label column {label_col!r}"
                          + (" (detected)" if text_column is None and label_column is None else ""))
    texts, labels = [], []
    for number, record in enumerate(records, start=2 if columns else 1):
        text, label = _cell(record.get(text_col)), _cell(record.get(label_col))
        if not text:
            data.skip("empty text", f"row {number}")
        elif not label:
            data.skip("missing label", f"row {number}")
        else:
            texts.append(text)
            labels.append(label)
    classes = sorted(set(labels), key=_label_key)
    index = {name: i for i, name in enumerate(classes)}
    data.classes, data.items, data.labels = classes, texts, [index[x] for x in labels]
    return data


def _cell(value) -> str:  # noqa: ANN001
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value).strip()


def _label_key(label: str) -> tuple:
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def _read_json(content: str, data: LoadedDataset, whole: bool) -> tuple[list[dict], list[str]]:
    records: list[dict] = []
    if whole:
        try:
            value = json.loads(content)
        except ValueError as err:
            raise DataError(f"{Path(data.source).name} is not valid JSON: {err}") from err
        if not isinstance(value, list):
            raise DataError(f"{Path(data.source).name}: expected a JSON list of objects")
        candidates = list(enumerate(value, start=1))
    else:
        candidates = []
        for number, line in enumerate(content.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                candidates.append((number, json.loads(line)))
            except ValueError:
                data.skip("invalid JSON line", f"line {number}")
    for number, value in candidates:
        if isinstance(value, dict):
            records.append({str(k): v for k, v in value.items()})
        else:
            data.skip("not a JSON object", f"line {number}")
    columns: list[str] = []
    for record in records:
        columns.extend(k for k in record if k not in columns)
    return records, columns


def _read_delimited(name: str, content: str, delimiter: str | None) -> tuple[list[dict], list[str]]:
    if delimiter is None:
        try:
            delimiter = csv.Sniffer().sniff(content[:65536], delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    reader = csv.reader(io.StringIO(content, newline=""), delimiter=delimiter)
    try:
        rows = [row for row in reader if any(cell.strip() for cell in row)]
    except csv.Error as err:
        raise DataError(_csv_error(name, reader.line_num, err)) from None
    if not rows:
        return [], []
    header = [h.strip() or f"column {i + 1}" for i, h in enumerate(rows[0])]
    records = [{header[i]: cell for i, cell in enumerate(row[: len(header)])} for row in rows[1:]]
    return records, header


def _csv_error(name: str, line: int, err: csv.Error) -> str:
    """One line for a file the csv reader gives up on (it reports the line it had reached)."""
    if "field larger than field limit" in str(err):
        return (f"{name}, line {line}: a field longer than {csv.field_size_limit():,} characters "
                "(the CSV reader's limit); most often a quote (\") that is never closed, so the "
                "rest of the file reads as one field: check the quoting, or shorten that text")
    return f"{name}, line {line}: not readable as CSV ({err})"


def choose_columns(name: str, records: list[dict], columns: list[str], text_column: str | None,
                   label_column: str | None) -> tuple[str, str]:
    """The text and label columns: as given (checked), else detected; ``DataError`` if none fits."""
    shown = ", ".join(repr(c) for c in columns) or "none"
    for given in (text_column, label_column):
        if given is not None and given not in columns:
            raise DataError(f"{name} has no column {given!r}; its columns are {shown}")
    if text_column is not None and text_column == label_column:
        raise DataError(f"{name}: the text and the label column are both {text_column!r}; "
                        f"name two different columns of {shown}")
    lowered = {c.lower(): c for c in columns}
    label = label_column or next(
        (lowered[n] for n in LABEL_NAMES if n in lowered and lowered[n] != text_column), None)
    if label is None:  # by shape, but never a column whose name says it holds the text
        label = _label_by_shape(records, [c for c in columns if c != text_column
                                          and c.lower() not in TEXT_NAMES])
    if label is None:
        raise DataError(
            f"{name} has no usable label column: found {shown}; expected one named "
            f"{', '.join(repr(n) for n in LABEL_NAMES[:4])} (or like them) or a column of a few "
            "distinct short values, or name it with --label-column (in the app: Label column)"
        )
    text = text_column or next((lowered[n] for n in TEXT_NAMES if n in lowered and lowered[n] != label), None)
    if text is None:
        rest = [c for c in columns if c != label]
        if not rest:
            raise DataError(f"{name} has no text column besides the label column {label!r}")
        text = max(rest, key=lambda c: _mean_len(records, c))
    distinct = {_cell(r.get(label)) for r in records} - {""}
    if len(distinct) < 2:
        raise DataError(f"{name}: the label column {label!r} has {len(distinct)} distinct value(s); "
                        "a classifier needs at least two classes")
    return text, label


def _mean_len(records: list[dict], column: str) -> float:
    values = [_cell(r.get(column)) for r in records[:2000]]
    return sum(map(len, values)) / max(1, len(values))


def _label_by_shape(records: list[dict], columns: list[str]) -> str | None:
    """A column with 2..100 distinct short values, and fewer distinct values than half the rows."""
    best, best_distinct = None, None
    sample = records[:5000]
    for column in columns:
        values = [_cell(r.get(column)) for r in sample]
        values = [v for v in values if v]
        distinct = set(values)
        if not values or not 2 <= len(distinct) <= min(100, max(2, len(values) // 2)):
            continue
        if max(map(len, distinct)) > MAX_LABEL_CHARS:
            continue
        if best_distinct is None or len(distinct) < best_distinct:
            best, best_distinct = column, len(distinct)
    return best
