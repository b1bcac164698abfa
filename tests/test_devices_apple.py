"""Apple silicon faked at its boundary: platform, sysctl, torch.mps; and the unified-memory fit."""

import json
import platform
from types import SimpleNamespace

import pytest

from selector.core import hardware
from selector.core.devices import apple
from selector.core.estimate.fit import NO, fit
from selector.core.estimate.memory import Workload
from selector.core.estimate.overheads import backend_overhead_mib, cpu_baseline_mib

GIB = 1024


@pytest.fixture
def mac(monkeypatch):
    monkeypatch.setattr(platform, "system", lambda: "Darwin")
    monkeypatch.setattr(platform, "machine", lambda: "arm64")
    monkeypatch.setattr(platform, "mac_ver", lambda: ("14.5", ("", "", ""), "arm64"))
    sysctl = {"machdep.cpu.brand_string": "Apple M3 Max"}
    monkeypatch.setattr(apple, "read_sysctl", lambda name: sysctl.get(name))
    return sysctl


def _mps_torch(recommended_gib=None, held_gib=0.0, available=True):
    mps = SimpleNamespace(driver_allocated_memory=lambda: int(held_gib * 2**30))
    if recommended_gib is not None:
        mps.recommended_max_memory = lambda: int(recommended_gib * 2**30)
    return SimpleNamespace(__version__="2.6.0", mps=mps,
                           backends=SimpleNamespace(mps=SimpleNamespace(is_available=lambda: available)))


def test_default_limit_is_two_thirds_then_three_quarters_of_ram():
    assert apple.default_wired_limit_mib(16 * GIB) == pytest.approx(16 * GIB * 2 / 3, abs=0.1)
    assert apple.default_wired_limit_mib(36 * GIB) == 24 * GIB
    assert apple.default_wired_limit_mib(128 * GIB) == 96 * GIB


def test_mps_limit_from_torch_less_this_process_capped_by_ram(mac):
    report = apple.detect(_mps_torch(recommended_gib=27, held_gib=2), 36 * GIB, 30 * GIB)
    gpu = report.gpus[0]
    assert (gpu.device_id, gpu.unified_memory, gpu.name) == ("mps", True, "Apple M3 Max")
    assert gpu.memory_total_mib == 27 * GIB and gpu.memory_free_mib == 25 * GIB
    assert "recommendedMaxWorkingSetSize" in gpu.memory_note
    tight = apple.detect(_mps_torch(recommended_gib=27), 36 * GIB, 10 * GIB).gpus[0]
    assert tight.memory_free_mib == 10 * GIB  # RAM has less free than Metal's limit
    assert "bf16" in gpu.precisions


def test_mps_without_torch_uses_the_raised_sysctl_or_the_default(mac):
    mac["iogpu.wired_limit_mb"] = "30000"
    assert apple.detect(None, 36 * GIB, 33 * GIB).gpus[0].memory_total_mib == 30000
    mac["iogpu.wired_limit_mb"] = "0"  # 0: not raised
    gpu = apple.detect(None, 36 * GIB, 33 * GIB).gpus[0]
    assert gpu.memory_total_mib == 24 * GIB and "macOS default" in gpu.memory_note


def test_mps_unavailable_intel_mac_and_linux_say_why(mac, monkeypatch):
    assert "MPS not available" in apple.detect(_mps_torch(available=False), 16 * GIB, 8 * GIB).status
    monkeypatch.setattr(platform, "mac_ver", lambda: ("13.6", ("", "", ""), "arm64"))
    assert "bf16" not in apple.detect(None, 16 * GIB, 8 * GIB).gpus[0].precisions
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    assert "Intel Mac" in apple.detect(None, 16 * GIB, 8 * GIB).status
    monkeypatch.setattr(platform, "system", lambda: "Linux")
    assert apple.detect(None, 16 * GIB, 8 * GIB).gpus == []


def test_hw_json_on_a_faked_mac(mac, monkeypatch, capsys):
    import psutil

    monkeypatch.setattr(psutil, "virtual_memory",
                        lambda: SimpleNamespace(total=36 * 2**30, available=20 * 2**30))
    from selector.cli import main

    assert main(["hw", "--no-torch", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["accelerators"]["apple"] == "1 Apple GPU (MPS) with unified memory"
    gpu = [g for g in data["gpus"] if g["backend"] == "mps"][0]
    assert gpu["memory_total_mib"] == 24 * GIB and gpu["memory_free_mib"] == 20 * GIB


def test_unified_memory_counts_the_process_ram_once_in_one_pool():
    profile = hardware.reference_profiles()["m3-max-36gb"]
    mps = profile.device("mps")
    assert (mps.kind, mps.unified, mps.total_mib) == ("mps", True, 24 * GIB)
    assert mps.free_mib <= profile.memory.available_mib
    assert backend_overhead_mib("mps") == pytest.approx(300.0 + cpu_baseline_mib())
    assert backend_overhead_mib("rocm", unified=True) == pytest.approx(600.0 + cpu_baseline_mib())
    assert backend_overhead_mib("rocm") == 600.0
    apu = hardware.reference_profiles()["ryzen-ai-apu"].device("cuda:0")
    assert (apu.kind, apu.unified) == ("rocm", True)


def test_fit_on_mps_refuses_a_precision_the_backend_lacks():
    from selector.core.catalog.catalog import load_catalog

    entry = next(e for e in load_catalog() if e.id.startswith("resnet18"))
    device = hardware.MemoryDevice("mps", "Apple M1", 10 * GIB, 8 * GIB, precisions=("fp32", "fp16", "amp"))
    assert device.kind == "mps"
    result = fit(entry, Workload(dtype="bf16"), device)
    assert result.status == NO and "bf16 does not run on mps" in result.reason
    ok = fit(entry, Workload(dtype="fp32"), device)
    assert ok.runs and ok.estimate.device_kind == "mps"
    assert ok.estimate.overhead_mib == pytest.approx(backend_overhead_mib("mps"))


def test_list_fits_mps_answers_from_the_unified_memory_rules(capsys):
    from selector.cli import main

    assert main(["list", "--profile", "m3-max-36gb", "--fits", "mps", "--family", "resnet",
                 "--limit", "3", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    mps = hardware.reference_profiles()["m3-max-36gb"].device("mps")
    assert data["count"] == 3
    for model in data["models"]:
        fit_ = model["fit"]
        assert fit_["device"] == "mps" and fit_["free_mib"] == round(mps.free_mib, 1)
        # the backend's context plus the process's own RAM, once: one pool
        assert fit_["breakdown_mib"]["overhead"] == round(backend_overhead_mib("mps"), 1)
    assert main(["list", "--profile", "t4", "--fits", "mps"]) == 2
    assert "no device 'mps'" in capsys.readouterr().err


def test_latency_on_mps_is_predicted_from_the_gpu_not_the_cpu_calibration():
    from selector.core.catalog.catalog import load_catalog
    from selector.core.estimate.latency import estimate_latency

    entry = next(e for e in load_catalog() if e.id.startswith("resnet50"))
    work = Workload(batch_size=32)
    air = estimate_latency(entry, work, "mps", None, device_name="Apple M3 GPU")
    pro = estimate_latency(entry, work, "mps", None, device_name="Apple M3 Max GPU")
    h100 = estimate_latency(entry, work, "cuda:0", None, device_name="NVIDIA H100 80GB HBM3")
    assert air is not None and pro is not None and h100 is not None  # no CPU calibration needed
    assert air.ms_per_batch > pro.ms_per_batch > h100.ms_per_batch


def test_preflight_reads_free_memory_on_mps_from_the_unified_pool(mac, monkeypatch):
    import psutil

    from selector.core.probes.preflight import free_memory_mib

    monkeypatch.setattr(psutil, "virtual_memory",
                        lambda: SimpleNamespace(total=16 * 2**30, available=6 * 2**30))
    assert free_memory_mib("mps") == 6 * GIB  # RAM has less free than Metal's ~10.7 GiB limit
    assert free_memory_mib("xpu:0") is None  # no such device here: unknown, the probe decides
