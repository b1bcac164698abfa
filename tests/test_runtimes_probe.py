"""``selector bench --runtime ... --quantize int8``: the real probe, end to end, in its child
process (test_resnet with random weights on the built-in sample data)."""

from __future__ import annotations

import json

import pytest

from selector.cli import main


@pytest.mark.slow
def test_bench_returns_one_row_per_runtime_with_parity_and_int8_accuracy(capsys):
    code = main(["bench", "test_resnet", "--probe", "latency", "--runtime", "eager,onnxruntime,openvino",
                 "--quantize", "int8", "--data", "sample", "--batch", "2", "--iters", "3",
                 "--min-time", "0.05", "--weights", "random", "--json"])
    out = capsys.readouterr().out
    [result] = json.loads(out[out.index("{"):])["results"]
    assert code == 0 and result["status"] == "finished", result["message"]
    rows = {(r["runtime"], r["dtype"]): r for r in result["rows"]}
    assert set(rows) == {("eager", "fp32"), ("onnxruntime", "fp32"), ("openvino", "fp32"),
                         ("onnxruntime", "int8-static"), ("openvino", "int8-static")}
    for (runtime, dtype), row in rows.items():
        assert not row["error"] and row["p50_ms"] > 0 and len(row["samples_ms"]) == row["iters"]
        assert row["parity"] is not None and "ok" in row["parity"], (runtime, dtype)
        assert row["contention"] is not None
        assert row["runtime_version"] and row["provider"]
        if runtime != "eager":
            assert row["export_s"] > 0 and row["parity"]["data_samples"] > 0
            assert 0 <= row["parity"]["max_rel_diff"] <= row["parity"]["tolerance"]["max_rel_diff"] or \
                not row["parity"]["ok"]
    assert rows["onnxruntime", "fp32"]["provider"] == "CPUExecutionProvider"
    assert rows["onnxruntime", "fp32"]["parity"]["max_rel_diff"] < 1e-3  # fp32 export: same answers
    fp32 = rows["eager", "fp32"]["heldout_accuracy"]
    assert fp32 is not None
    for runtime in ("onnxruntime", "openvino"):
        int8 = rows[runtime, "int8-static"]
        assert int8["heldout_accuracy"] is not None and int8["heldout_accuracy_fp32"] == fp32
        assert "calibration on" in int8["parity"]["quantization"] and "your data" in int8["parity"]["quantization"]
