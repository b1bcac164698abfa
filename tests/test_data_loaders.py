"""Data for the probes: bad input is skipped and counted, unusable input says what to do."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from selector.core.data import DataError, DatasetSpec, load_dataset
from selector.core.data.batches import UNREADABLE_AT_LOAD, Batcher, epoch_batches
from selector.core.data.split import stratified_split
from selector.core.data.text import decode_bytes
from selector.core.data.tokenize import HashingTokenizer


def _png(path, colour=(200, 10, 10), size=(24, 24)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)


@pytest.fixture
def image_folder(tmp_path):
    root = tmp_path / "imgs"
    for i in range(4):
        _png(root / "cat" / f"{i}.png")
        _png(root / "dog" / "nested" / f"{i}.jpg", (10, 200, 10))
    (root / "cat" / "garbage.jpg").write_bytes(b"this is not a jpeg")
    (root / "cat" / "notes.txt").write_text("not an image")
    (root / "empty").mkdir()
    (root / ".hidden").mkdir()
    _png(root / ".hidden" / "x.png")
    _png(root / "loose.png")
    good = root / "dog" / "truncated.png"
    _png(good, size=(64, 64))
    good.write_bytes(good.read_bytes()[:80])  # the header parses, the pixels do not
    return root


def test_image_folder_skips_and_counts_bad_files(image_folder):
    data = load_dataset(DatasetSpec(str(image_folder), holdout=0.25))
    assert data.classes == ["cat", "dog"]
    assert data.skipped == {"unreadable image": 1, "not an image file": 1}
    assert any("garbage.jpg" in e for e in data.skipped_examples)
    notes = " ".join(data.notes)
    assert "empty" in notes and "loose" not in data.classes and "1 image(s) directly" in notes
    assert len(data.items) == 9  # 4 cats, 4 dogs + the truncated dog (found at decode time)
    assert sorted(data.train_idx + data.test_idx) == list(range(9))
    assert {data.labels[i] for i in data.test_idx} == {0, 1}


def test_a_file_corrupt_at_decode_time_is_skipped_once_and_counted(image_folder):
    import torch

    data = load_dataset(DatasetSpec(str(image_folder)))
    batcher = Batcher(data, transform=lambda im: torch.zeros(3, 8, 8))
    truncated = next(i for i, item in enumerate(data.items) if str(item).endswith("truncated.png"))
    inputs, labels = batcher.batch(list(range(len(data.items))))
    assert inputs.shape == (8, 3, 8, 8) and len(labels) == 8
    assert data.skipped[UNREADABLE_AT_LOAD] == 1
    batcher.batch([truncated])  # never tried again, never counted twice
    assert data.skipped[UNREADABLE_AT_LOAD] == 1 and truncated in batcher.bad


def test_image_folder_without_classes_or_with_one_class(tmp_path):
    _png(tmp_path / "flat" / "a.png")
    with pytest.raises(DataError, match="no class sub-folders.*1 images directly"):
        load_dataset(DatasetSpec(str(tmp_path / "flat")))
    _png(tmp_path / "one" / "cat" / "a.png")
    (tmp_path / "one" / "dog").mkdir()
    (tmp_path / "one" / "dog" / "broken.png").write_bytes(b"\x89PNG nope")
    with pytest.raises(DataError, match="at least two classes.*only 'cat'.*1 unreadable image"):
        load_dataset(DatasetSpec(str(tmp_path / "one")))


def test_csv_with_named_columns_and_empty_rows(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text("id,review,sentiment\n1,great phone,pos\n2,awful,neg\n3,,pos\n4,fine,\n"
                    "5,\"ok, really\",pos\n6,bad bad,neg\n", encoding="utf-8")
    data = load_dataset(DatasetSpec(str(path)))
    assert (data.text_column, data.label_column) == ("review", "sentiment")
    assert data.classes == ["neg", "pos"]
    assert data.items == ["great phone", "awful", "ok, really", "bad bad"]
    assert data.skipped == {"empty text": 1, "missing label": 1}


def test_csv_without_a_label_column_says_what_to_do(tmp_path):
    path = tmp_path / "texts.csv"
    rows = "\n".join(f"{i},this is sentence number {i} about things" for i in range(20))
    path.write_text("id,text\n" + rows + "\n")
    with pytest.raises(DataError) as err:
        load_dataset(DatasetSpec(str(path)))
    message = str(err.value)
    assert "no usable label column" in message and "'id', 'text'" in message
    assert "--label-column" in message


def test_label_column_found_by_shape_and_a_wrong_name_rejected(tmp_path):
    path = tmp_path / "data.tsv"
    lines = [f"sentence {i} is long enough to be text\t{'yes' if i % 2 else 'no'}" for i in range(12)]
    path.write_text("utterance\tverdict\n" + "\n".join(lines) + "\n")
    data = load_dataset(DatasetSpec(str(path)))
    assert (data.text_column, data.label_column) == ("utterance", "verdict")
    assert data.classes == ["no", "yes"]
    with pytest.raises(DataError, match="no column 'label'.*'utterance', 'verdict'"):
        load_dataset(DatasetSpec(str(path), label_column="label"))
    with pytest.raises(DataError, match="1 distinct value"):
        path.write_text("text\tlabel\n" + "\n".join(f"t{i}\tsame" for i in range(5)))
        load_dataset(DatasetSpec(str(path)))


def test_non_utf8_text_is_read_and_the_encoding_reported(tmp_path):
    path = tmp_path / "latin.csv"
    body = "text,label\ncafé crème très bon,pos\nmauvais goût,neg\nsoirée ratée,neg\nà refaire,pos\n"
    path.write_bytes(body.encode("cp1252"))
    data = load_dataset(DatasetSpec(str(path), holdout=0))
    assert data.encoding == "cp1252"
    assert data.items[0] == "café crème très bon"
    assert any("not valid UTF-8" in n and "Windows-1252" in n for n in data.notes)
    assert decode_bytes("\ufeffé".encode("utf-8")) == ("é", "utf-8", None)
    text, encoding, note = decode_bytes(b"\x81\x8d")  # undefined in cp1252
    assert encoding == "latin-1" and "Latin-1" in note and len(text) == 2


def test_jsonl_bad_lines_are_skipped_and_counted(tmp_path):
    path = tmp_path / "data.jsonl"
    lines = [json.dumps({"text": f"item {i}", "label": i % 3}) for i in range(9)]
    lines[3] = "{not json"
    lines[5] = json.dumps(["a", "list"])
    path.write_text("\n".join(lines) + "\n\n")
    data = load_dataset(DatasetSpec(str(path)))
    assert data.classes == ["0", "1", "2"]
    assert len(data.items) == 7
    assert data.skipped == {"invalid JSON line": 1, "not a JSON object": 1}


def test_unsupported_and_mismatched_inputs(tmp_path):
    (tmp_path / "x.parquet").write_bytes(b"PAR1")
    with pytest.raises(DataError, match="unsupported text file type '.parquet'"):
        load_dataset(DatasetSpec(str(tmp_path / "x.parquet")))
    with pytest.raises(DataError, match="no such file"):
        load_dataset(DatasetSpec(str(tmp_path / "missing.csv")))
    (tmp_path / "t.csv").write_text("text,label\na,x\nb,y\n")
    with pytest.raises(DataError, match="holds text, but the model classifies images"):
        load_dataset(DatasetSpec(str(tmp_path / "t.csv")), task="image-classification")


def test_built_in_samples_are_deterministic_and_balanced():
    one = load_dataset(DatasetSpec("sample", sample_per_class=5), task="image-classification")
    two = load_dataset(DatasetSpec("sample", sample_per_class=5), task="image-classification")
    assert one.classes == ["circle", "square", "triangle", "cross"]
    assert one.class_counts() == {c: 5 for c in one.classes}
    assert all(a.tobytes() == b.tobytes() for a, b in zip(one.items, two.items))
    assert one.test_idx == two.test_idx and len(one.test_idx) == 4
    other_seed = load_dataset(DatasetSpec("sample", sample_per_class=5, seed=1))
    assert other_seed.items[0].tobytes() != one.items[0].tobytes()
    text = load_dataset(DatasetSpec("sample"), task="text-classification")
    assert text.classes == ["positive", "negative"] and len(text.items) == 240
    assert text.items == load_dataset(DatasetSpec("sample:text")).items
    assert len(set(text.items)) > 150, "the templates give varied sentences"


def test_split_is_stratified_and_keeps_a_training_sample_per_class():
    labels = [0] * 10 + [1] * 3 + [2]
    train, test = stratified_split(labels, 0.2, seed=3)
    assert sorted(train + test) == list(range(14))
    held = [labels[i] for i in test]
    assert held.count(0) == 2 and held.count(1) == 1 and 2 not in held
    assert stratified_split(labels, 0.2, seed=3) == (train, test)
    assert stratified_split(labels, 0.0) == (list(range(14)), [])


def test_epoch_batches_cover_every_sample_each_epoch():
    batches = epoch_batches(list(range(10)), 4, seed=0)
    first_epoch = [next(batches), next(batches)]
    assert all(len(b) == 4 for b in first_epoch) and len(set(sum(first_epoch, []))) == 8
    small = epoch_batches([1, 2], 8)
    assert sorted(next(small)) == [1, 2]


def test_hashing_tokenizer_is_stable_and_inside_the_vocabulary():
    tok = HashingTokenizer(vocab_size=5000, max_length=6, pad_id=0, cls_id=101, sep_id=102)
    out = tok(["Hello, world!", "a b c d e f g h"])
    ids, mask = out["input_ids"], out["attention_mask"]
    assert ids.shape == (2, 6) and ids[0, 0] == 101 and 102 in ids[0].tolist()
    assert mask.sum(1).tolist() == [6, 6]  # 4 tokens + [CLS] + [SEP]; the second truncated
    assert ((ids >= 0) & (ids < 5000)).all()
    assert tok.token_ids("Hello") == tok.token_ids("hello")
    assert tok(["x"])["input_ids"].tolist() == tok(["x"])["input_ids"].tolist()


def test_a_field_past_the_csv_limit_is_a_data_error_naming_the_line(tmp_path):
    import csv

    path = tmp_path / "long.csv"
    path.write_text("text,label\nshort,a\n\"" + "x" * (csv.field_size_limit() + 10) + "\",b\n")
    with pytest.raises(DataError) as err:
        load_dataset(DatasetSpec(str(path)))
    message = str(err.value)
    assert message.startswith("long.csv, line 3: a field longer than")
    assert "quote" in message and "\n" not in message


def test_a_text_column_is_never_taken_for_the_label(tmp_path):
    # 'text' has three short repeated values: by shape alone it looked like a label column,
    # and the ids were then fine-tuned on as if they were the text.
    path = tmp_path / "ids.csv"
    path.write_text("text,id\n" + "".join(f"row number {i % 3},{i}\n" for i in range(20)))
    with pytest.raises(DataError) as err:
        load_dataset(DatasetSpec(str(path)))
    message = str(err.value)
    assert "no usable label column: found 'text', 'id'" in message
    assert "'label'" in message and "--label-column" in message


def test_files_that_are_not_text_or_not_regular_are_refused(tmp_path):
    import os
    import socket

    binary = tmp_path / "blob.csv"
    binary.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(DataError, match="blob.csv is not a text file"):
        load_dataset(DatasetSpec(str(binary)))
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)  # reading it would block until some program writes to it
    with pytest.raises(DataError, match=r"pipe.csv is a named pipe \(FIFO\)"):
        load_dataset(DatasetSpec(str(fifo)))
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(tmp_path / "s.csv"))
        with pytest.raises(DataError, match="s.csv is a socket"):
            load_dataset(DatasetSpec(str(tmp_path / "s.csv")))
    finally:
        sock.close()
    with pytest.raises(DataError, match="/dev/null is a device file"):
        load_dataset(DatasetSpec("/dev/null"))


def test_utf16_text_with_a_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "excel.tsv"
    path.write_bytes("text\tlabel\ngrand café\tpos\nbad\tneg\nfine\tpos\nawful\tneg\n".encode("utf-16"))
    data = load_dataset(DatasetSpec(str(path)))
    assert data.encoding == "utf-16" and data.items[0] == "grand café"


@pytest.mark.parametrize("holdout", [2, 1, -0.1, float("nan")])
def test_holdout_outside_zero_to_one_is_refused_before_reading(holdout):
    with pytest.raises(DataError, match="held-out fraction must be at least 0 and below 1"):
        load_dataset(DatasetSpec("sample", holdout=holdout))


@pytest.mark.parametrize("max_items", [0, 3, -1])
def test_too_small_a_sample_limit_is_refused(max_items):
    with pytest.raises(DataError, match="sample limit must be a whole number of at least 4"):
        load_dataset(DatasetSpec("sample", max_items=max_items))


def test_one_column_named_as_both_text_and_label_is_refused(tmp_path):
    path = tmp_path / "ok.csv"
    path.write_text("text,label\nhi,a\nyo,b\nhey,a\n")
    with pytest.raises(DataError, match="the text and the label column are both 'label'"):
        load_dataset(DatasetSpec(str(path), text_column="label", label_column="label"))


def test_a_jsonl_of_bad_lines_says_what_was_skipped(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text("garbage\n{bad\n[1, 2]\n")
    with pytest.raises(DataError, match=r"bad.jsonl has no data rows \(skipped: 2 invalid JSON "
                                        r"line, 1 not a JSON object\)"):
        load_dataset(DatasetSpec(str(path)))
