"""Runtimes in the latency probe: the request is checked before work, parity catches a runtime
that changes the answers, and a runtime that cannot take a model ends only its own row."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

from selector.cli import main
from selector.core.errors import SelectorError
from selector.core.probes.settings import LatencySettings, SettingsError
from selector.core.runtimes import INSTALL, check_runtimes, parity


def refused(capsys, *argv: str) -> str:
    try:
        code = main(list(argv))
    except SystemExit as exit_:
        code = exit_.code
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# ---------------------------------------------------------------------------- the request
def test_settings_take_runtimes_and_refuse_unknown_ones():
    settings = LatencySettings.from_dict({"runtime": ["eager", "onnxruntime", "eager"], "quantize": "int8"})
    assert settings.runtime == ["eager", "onnxruntime"] and settings.quantize == "int8"
    assert LatencySettings().runtime == ["eager"] and LatencySettings().quantize is None
    with pytest.raises(SettingsError, match="runtime.*eager, compile, onnxruntime, openvino"):
        LatencySettings.from_dict({"runtime": ["tensorflow"]})
    with pytest.raises(SettingsError, match="quantize"):
        LatencySettings.from_dict({"quantize": "int4"})


def test_a_runtime_not_installed_names_the_install_command(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "openvino" else real(name, *a))
    with pytest.raises(SelectorError) as err:
        check_runtimes(["eager", "openvino"], None, "cpu")
    assert str(err.value) == f"OpenVINO is not installed (needs openvino): install it with {INSTALL}"
    check_runtimes(["eager", "onnxruntime"], None, "cpu")  # the others are


def test_bench_refuses_a_missing_runtime_before_any_probe(capsys, monkeypatch, isolated_home):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else real(name, *a))
    line = refused(capsys, "bench", "test_resnet", "--runtime", "eager,onnxruntime")
    assert "ONNX Runtime is not installed" in line and "pip install 'selector[runtimes]'" in line
    assert not (isolated_home / "data" / "results.sqlite").exists()


@pytest.mark.parametrize("argv, words", [
    (["--runtime", "tensorrt"], "unknown runtime 'tensorrt'"),
    (["--runtime", "eager,compile", "--quantize", "int8"], "--quantize int8 runs under onnxruntime or openvino"),
])
def test_bench_refuses_a_runtime_request_no_probe_can_run(capsys, argv, words):
    assert words in refused(capsys, "bench", "test_resnet", *argv)


# ---------------------------------------------------------------------------- parity
def test_parity_states_its_figures_and_tolerance():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(16, 10)).astype(np.float32)
    same = parity.check(ref, ref + 1e-7, "fp32")
    assert same["ok"] and same["max_rel_diff"] < 1e-6 and same["top1_agreement_random"] == 1.0
    assert same["tolerance"] == {"max_rel_diff": 1e-3, "min_top1_agreement": 0.99}
    off = parity.check(ref, ref * 1.1, "fp32")
    assert not off["ok"] and "differ from eager" in off["reason"]
    assert parity.check(ref, ref * 1.1, "int8-static")["ok"]  # int8's tolerance is wider
    flipped = ref.copy()
    flipped[:4] = -flipped[:4]
    data = parity.check(ref, ref, "int8-static", data_reference=ref, data_outputs=flipped)
    assert data["top1_agreement"] == pytest.approx(12 / 16) and not data["ok"]
    assert "top-1 agrees with eager on 75.0 %" in data["reason"]
    assert not parity.check(ref, np.full_like(ref, np.nan), "fp32")["ok"]


def test_centroid_accuracy_is_the_share_of_held_out_samples_placed_right():
    train = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]], dtype=np.float32)
    labels = np.array([0, 0, 1, 1])
    test = np.array([[1, 0.2], [0.2, 1], [0.8, 0.1]], dtype=np.float32)
    assert parity.centroid_accuracy(train, labels, test, np.array([0, 1, 1])) == pytest.approx(2 / 3)


# ---------------------------------------------------------------------------- rows, in process
class FakeCtx:
    def __init__(self) -> None:
        self.logs: list[str] = []
        self.budget_t0 = time.perf_counter()
        self.stop_requested = threading.Event()

    def phase(self, *args, **kwargs) -> None:
        pass

    def log(self, message: str, level: str = "info") -> None:
        self.logs.append(message)


def rows_for(model, runtimes: list[str]) -> list[dict]:
    """The runtime rows of ``model`` (test_resnet's entry for input shapes), one call each
    instead of a timed sweep."""
    from selector.core.models import resolve_model
    from selector.core.runtimes.probe import RuntimeRows

    loaded = SimpleNamespace(entry=resolve_model("test_resnet"), preprocess={}, model=model)
    rows = RuntimeRows(FakeCtx(), SimpleNamespace(data=None), loaded, model.eval(), "cpu",
                       {"runtime": runtimes, "quantize": None, "seq_len": None}, threads=1)
    out: list[dict] = []
    try:
        rows.reference()

        def measure_row(prepared, precision, batch):
            prepared.outputs(rows.example)
            return {"runtime": prepared.runtime, "dtype": precision, "batch_size": batch, "p50_ms": 1.0}

        rows.measure([2], measure_row, out.append, lambda: False)
    finally:
        rows.close()
    return out


@pytest.mark.slow
def test_a_deliberately_broken_export_fails_parity(monkeypatch):
    import onnx
    from onnx import numpy_helper

    import selector.core.runtimes.onnx_export as onnx_export
    from selector.core.models import build_model, resolve_model

    real = onnx_export.export_onnx

    def broken(model, example, path):  # an exporter that gets one weight wrong
        seconds = real(model, example, path)
        proto = onnx.load(str(path))
        weight = next(t for t in proto.graph.initializer if len(t.dims) == 4)
        weight.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(weight) * 3.0, weight.name))
        onnx.save(proto, str(path))
        return seconds

    monkeypatch.setattr(onnx_export, "export_onnx", broken)
    model = build_model(resolve_model("test_resnet"), weights="random", device="cpu").model
    [row] = rows_for(model, ["eager", "onnxruntime"])
    assert row["runtime"] == "onnxruntime" and not row["parity"]["ok"]
    assert "outputs differ from eager" in row["parity"]["reason"]
    assert row["parity"]["max_rel_diff"] > 1e-3


class Branchy:
    """A model whose answer depends on its data: torch.export cannot export it, OpenVINO's
    tracer can (it follows the branch the example takes)."""

    @staticmethod
    def build():
        import torch

        class Model(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.fc = torch.nn.Linear(12, 5)

            def forward(self, x):
                h = self.fc(x.flatten(1)[:, :12])
                return h if h.sum() > -1e9 else -h

        return Model()


@pytest.mark.slow
def test_a_runtime_that_cannot_export_ends_its_own_row_and_the_others_go_on():
    rows = rows_for(Branchy.build(), ["eager", "onnxruntime", "openvino"])
    assert [r["runtime"] for r in rows] == ["onnxruntime", "openvino"]
    failed, measured = rows
    assert failed["error"].startswith("ONNX export failed") and "data-dependent" in failed["error"]
    assert "p50_ms" not in failed
    assert not measured.get("error") and measured["parity"]["ok"] and measured["p50_ms"] == 1.0


@pytest.mark.slow
def test_an_op_the_exporter_does_not_know_is_named(tmp_path):
    import torch

    from selector.core.runtimes.base import RuntimeFailure
    from selector.core.runtimes.onnx_export import export_onnx

    class Eig(torch.nn.Module):
        def forward(self, x):
            h = x.flatten(1)[:, :4]
            return torch.linalg.eigvals(h[:, :, None] * h[:, None, :]).real

    with pytest.raises(RuntimeFailure, match="ONNX export failed.*linalg_eig"):
        export_onnx(Eig(), torch.randn(2, 3, 8, 8), tmp_path / "eig.onnx")
