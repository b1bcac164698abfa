"""Energy counters faked at their boundary: a powercap tree in tmp_path (RAPL), pynvml's
energy call, a fake amdsmi module; each missing or failing gives None with the reason."""

import json
import os
import subprocess
import sys

import pynvml
import pytest

from selector.core.probes import energy
from selector.core.probes.energy import EnergyMeter
from selector.core.results.record import FinetuneReport, LatencyRow
from tests import fake_amdsmi, fake_nvml


def _zone(root, name, label, uj, max_uj=2**32):
    zone = root / name
    zone.mkdir(parents=True)
    (zone / "name").write_text(label + "\n")
    (zone / "energy_uj").write_text(f"{uj}\n")
    (zone / "max_energy_range_uj").write_text(f"{max_uj}\n")
    return zone


def test_rapl_sums_packages_skips_subzones_and_handles_wraparound(tmp_path):
    p0 = _zone(tmp_path, "intel-rapl:0", "package-0", 2**32 - 1_000_000)
    p1 = _zone(tmp_path, "intel-rapl:1", "package-1", 5_000_000)
    core = _zone(tmp_path, "intel-rapl:0:0", "core", 0)
    _zone(tmp_path, "intel-rapl:2", "psys", 0)  # the platform, not a CPU package
    meter = EnergyMeter("cpu", powercap=tmp_path).start()
    (p0 / "energy_uj").write_text("2000000\n")  # wrapped: 1 J to the top, then 2 J
    (p1 / "energy_uj").write_text("9000000\n")  # 4 J
    (core / "energy_uj").write_text("999999999\n")
    reading = meter.stop()
    assert reading.energy_j == pytest.approx(7.0)
    assert reading.method == "RAPL package (powercap)"
    assert reading.avg_power_w == pytest.approx(7.0 / reading.seconds, rel=1e-3)
    assert "whole CPU packages" in reading.note
    fields = reading.fields(samples=70)
    assert fields["energy_per_sample_j"] == pytest.approx(0.1)


def test_rapl_absent_without_packages_or_root_only(tmp_path, monkeypatch):
    for root, why in ((tmp_path / "none", "does not exist"), (tmp_path, "no CPU package zone")):
        reading = EnergyMeter("cpu", powercap=root).start().stop()
        assert reading.energy_j is None and reading.method is None and why in reading.note
    _zone(tmp_path, "intel-rapl:0", "package-0", 10)
    monkeypatch.setattr(energy.os, "access", lambda path, mode: False)
    reading = EnergyMeter("cpu", powercap=tmp_path).start().stop()
    assert reading.energy_j is None and "readable by root only" in reading.note


def test_a_counter_failing_mid_window_gives_none_with_the_reason(tmp_path):
    zone = _zone(tmp_path, "intel-rapl:0", "package-0", 10)
    meter = EnergyMeter("cpu", powercap=tmp_path).start()
    (zone / "energy_uj").write_text("garbage\n")
    reading = meter.stop()
    assert reading.energy_j is None
    assert reading.note.startswith("RAPL package (powercap) failed (ValueError")


def test_nvml_total_energy(monkeypatch):
    fake_nvml.install(monkeypatch, [fake_nvml.FakeGpu("NVIDIA H100", 81_000, 80_000)])
    counter = iter([1_000_000, 1_000_000, 1_450_500])  # mJ: probe, start, stop
    monkeypatch.setattr(pynvml, "nvmlDeviceGetTotalEnergyConsumption", lambda h: next(counter),
                        raising=False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    reading = EnergyMeter("cuda:0", rocm=False).start().stop()
    assert reading.energy_j == pytest.approx(450.5)
    assert reading.method == "NVML total energy" and "whole GPU board" in reading.note


def test_nvml_missing_or_without_an_energy_counter(monkeypatch):
    fake_nvml.install(monkeypatch, [fake_nvml.FakeGpu("Tesla P4", 8_000, 7_000, cc=(6, 1))])

    def unsupported(handle):
        raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)

    monkeypatch.setattr(pynvml, "nvmlDeviceGetTotalEnergyConsumption", unsupported, raising=False)
    reading = EnergyMeter("cuda:0", rocm=False).start().stop()
    assert reading.energy_j is None and "this GPU has no NVML energy counter" in reading.note
    fake_nvml.install(monkeypatch, [], init_error=pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)
    assert "NVML not available" in EnergyMeter("cuda:0", rocm=False).start().stop().note


def test_amdsmi_energy_counter_and_its_absence(monkeypatch):
    gpu = fake_amdsmi.FakeAmdGpu("AMD Instinct MI300X", 192 * 1024, energy_uj=1_000_000)
    fake = fake_amdsmi.module([gpu])
    monkeypatch.setitem(sys.modules, "amdsmi", fake)
    meter = EnergyMeter("cuda:0", rocm=True).start()
    gpu.energy_uj += 300_000_000  # 300 J
    reading = meter.stop()
    meter.close()
    assert reading.energy_j == pytest.approx(300.0, rel=1e-3)
    assert reading.method == "amdsmi energy counter" and fake.calls[-1] == "shut_down"
    gpu.fail.add("energy")
    assert "cannot be read" in EnergyMeter("cuda:0", rocm=True).start().stop().note
    monkeypatch.setitem(sys.modules, "amdsmi", None)
    assert "amdsmi is not installed" in EnergyMeter("cuda:0", rocm=True).start().stop().note


def test_mps_and_xpu_have_no_counter_and_say_so():
    for device in ("mps", "xpu:0"):
        reading = EnergyMeter(device).start().stop()
        assert reading.energy_j is None and "no energy counter" in reading.note


def test_rows_keep_the_energy_fields():
    reading = energy.EnergyReading(12.5, "NVML total energy", 250.0, "whole board", 0.05)
    row = LatencyRow.from_dict({"model_id": "m", "device": "cuda:0", "dtype": "fp32", "batch_size": 8,
                                **reading.fields(samples=800)})
    assert (row.energy_j, row.energy_per_sample_j, row.avg_power_w) == (12.5, 0.015625, 250.0)
    assert LatencyRow.from_dict(row.to_dict()) == row
    report = FinetuneReport.from_dict({"model_id": "m", "device": "cpu", **reading.fields(0)})
    assert report.energy_method == "NVML total energy" and report.energy_per_sample_j is None


@pytest.mark.slow
def test_bench_latency_rows_carry_energy_or_the_reason(isolated_home):
    proc = subprocess.run(
        [sys.executable, "-m", "selector", "bench", "test_resnet", "--probe", "latency", "--batch", "1",
         "--iters", "3", "--min-time", "0.1s", "--budget", "20s", "--threads", "1", "--json"],
        capture_output=True, text=True, timeout=300, env=dict(os.environ, HF_HUB_OFFLINE="1"))
    assert proc.returncode == 0, proc.stderr
    (row,) = json.loads(proc.stdout)["results"][0]["rows"]
    assert "energy_j" in row and "energy_method" in row
    if row["energy_j"] is None:  # as on a VM: the method is null and the note says why
        assert row["energy_method"] is None and row["energy_note"]
    else:
        assert row["energy_method"] and row["energy_per_sample_j"] > 0


def test_bench_table_shows_joules_per_sample_or_why_not(capsys, monkeypatch):
    from selector.commands.bench import print_results

    monkeypatch.setenv("COLUMNS", "200")
    from selector.core.results.record import ProbeResult

    base = {"model_id": "m", "device": "cuda:0", "dtype": "fp32", "batch_size": 8, "p50_ms": 4.0,
            "samples_per_s": 2000.0}
    measured = energy.EnergyReading(1.6, "NVML total energy", 400.0, "whole board", 0.004)
    rows = [LatencyRow.from_dict({**base, **measured.fields(samples=80)}).to_dict()]
    result = ProbeResult(id="a", kind="latency", model_id="m", device="cuda:0", status="finished",
                         rows=rows)
    print_results([result], "s1", "db")
    out = capsys.readouterr().out
    assert "J/sample" in out and "0.02" in out and "energy not measured" not in out
    missing = energy.EnergyReading(None, None, None, "no RAPL energy counter: a VM", 0.1)
    result.rows = [LatencyRow.from_dict({**base, **missing.fields(80)}).to_dict()]
    print_results([result], "s1", "db")
    out = capsys.readouterr().out
    assert "J/sample" not in out and "energy not measured: no RAPL energy counter: a VM" in out


@pytest.mark.slow
def test_finetune_report_carries_energy_or_the_reason(tmp_path):
    from PIL import Image

    from selector.core.data import DatasetSpec
    from selector.core.models import resolve_model
    from selector.core.probes import ProbeRun, ProbeSpec

    for cls, colour in (("red", (220, 20, 20)), ("blue", (20, 20, 220))):
        (tmp_path / cls).mkdir()
        for i in range(4):
            Image.new("RGB", (32, 32), colour).save(tmp_path / cls / f"{i}.png")
    entry = resolve_model("test_resnet")
    spec = ProbeSpec(kind="finetune", model=entry.id, entry=entry.to_dict(), threads=1, batch_sizes=[2],
                     budget_s=60, data=DatasetSpec(str(tmp_path)).to_dict(), params={"max_steps": 2})
    probe = ProbeRun(spec)
    list(probe.events())
    report = probe.result.finetune_report()
    assert report is not None and report.steps == 2
    if report.energy_j is None:
        assert report.energy_method is None and report.energy_note
    else:
        assert report.energy_per_sample_j == pytest.approx(report.energy_j / report.samples_seen,
                                                             rel=1e-3)
