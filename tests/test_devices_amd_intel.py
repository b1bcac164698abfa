"""AMD and Intel GPUs faked at their library boundary: amdsmi (a fake module in sys.modules),
the amdgpu driver's sysfs files (a tree in tmp_path), torch.xpu (a stand-in torch)."""

import json
import sys
from types import SimpleNamespace

import pynvml
import pytest

from selector.core import hardware
from selector.core.devices import amd, intel
from tests import fake_amdsmi, fake_nvml
from tests.fake_amdsmi import FakeAmdGpu

GIB = 1024


@pytest.fixture
def no_nvidia(monkeypatch):
    fake_nvml.install(monkeypatch, [], init_error=pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)


@pytest.fixture
def no_sysfs(monkeypatch, tmp_path):
    empty = tmp_path / "drm-empty"
    empty.mkdir()
    monkeypatch.setattr(amd, "SYSFS_DRM", empty)
    monkeypatch.setattr(intel, "SYSFS_DRM", empty)


def test_amdsmi_discrete_and_apu_in_hw_json(monkeypatch, no_nvidia, no_sysfs, capsys):
    gpus = [FakeAmdGpu("AMD Radeon RX 7900 XTX", 24 * GIB, vram_used_mib=1 * GIB),
            FakeAmdGpu("AMD Radeon 890M Graphics", 512, vram_used_mib=100, gtt_mib=16 * GIB,
                       gtt_used_mib=2 * GIB)]
    fake = fake_amdsmi.module(gpus)
    monkeypatch.setitem(sys.modules, "amdsmi", fake)
    from selector.cli import main

    assert main(["hw", "--no-torch", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["gpu_status"] == "2 AMD GPUs found through amdsmi"
    assert data["accelerators"]["nvidia"].startswith("no NVIDIA driver found")
    card, apu = data["gpus"]
    assert (card["vendor"], card["backend"], card["unified_memory"]) == ("amd", "rocm", False)
    assert card["memory_total_mib"] == 24 * GIB and card["memory_free_mib"] == 23 * GIB
    assert card["power_limit_w"] == 355.0
    assert apu["unified_memory"] is True
    assert apu["memory_total_mib"] == 512 + 16 * GIB  # carve-out plus GTT
    ram_free = data["memory"]["available_mib"]
    assert apu["memory_free_mib"] == pytest.approx(min(412 + 14 * GIB, 412 + ram_free), abs=0.2)
    assert "GTT" in apu["memory_note"]
    assert fake.calls[-1] == "shut_down"
    profile = hardware.HardwareProfile.from_dict(data)
    dev = profile.device("cuda:1")  # ROCm torch names AMD GPUs cuda:N
    assert (dev.kind, dev.unified) == ("rocm", True)


def test_amdsmi_missing_or_failing_falls_back_to_sysfs(monkeypatch, tmp_path, no_nvidia):
    card = tmp_path / "drm" / "card1" / "device"
    card.mkdir(parents=True)
    (tmp_path / "drm" / "card1-DP-1").mkdir()  # a connector, not a card
    for name, value in {"vendor": "0x1002", "device": "0x744c", "mem_info_vram_total": 24 * GIB * 2**20,
                        "mem_info_vram_used": GIB * 2**20, "mem_info_gtt_total": 0,
                        "mem_info_gtt_used": 0}.items():
        (card / name).write_text(f"{value}\n")
    monkeypatch.setitem(sys.modules, "amdsmi", None)  # not installed
    report = amd.detect(sysfs=tmp_path / "drm")
    assert report.status.startswith("1 AMD GPU found through the amdgpu driver")
    assert "amdsmi is not installed" in report.status
    gpu = report.gpus[0]
    assert gpu.name == "AMD GPU (PCI 0x744c)" and gpu.memory_free_mib == 23 * GIB
    monkeypatch.setitem(sys.modules, "amdsmi", fake_amdsmi.module([], init_error="no driver"))
    report = amd.detect(sysfs=tmp_path / "drm")
    assert "amdsmi could not start (no driver)" in report.status and report.gpus
    monkeypatch.setitem(sys.modules, "amdsmi", fake_amdsmi.module(
        [FakeAmdGpu("AMD Instinct MI300X", 192 * GIB, fail={"memory"})]))
    gpu = amd.detect(sysfs=tmp_path / "empty").gpus[0]
    assert gpu.memory_total_mib is None and "did not report" in gpu.memory_note


def test_amdsmi_whose_library_is_missing_says_so_and_keeps_stdout_clean(monkeypatch, capsys,
                                                                       tmp_path):
    def broken_import():
        print("Unable to find libamd_smi.so library")  # what the real wrapper prints
        raise KeyError("libamd_smi.so")

    monkeypatch.delitem(sys.modules, "amdsmi", raising=False)
    real_import = __import__

    def fake_import(name, *args, **kwargs):
        if name == "amdsmi":
            broken_import()
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr("builtins.__import__", fake_import)
    report = amd.detect(sysfs=tmp_path)
    assert "cannot load the ROCm library libamd_smi.so" in report.status
    assert capsys.readouterr().out == ""


def test_rocm_torch_view_when_amdsmi_is_absent(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "amdsmi", None)
    cuda = SimpleNamespace(is_available=lambda: True, device_count=lambda: 1,
                           get_device_name=lambda i: "AMD Radeon RX 7900 XTX",
                           mem_get_info=lambda i: (20 * GIB * 2**20, 24 * GIB * 2**20))
    torch = SimpleNamespace(version=SimpleNamespace(hip="6.2"), cuda=cuda)
    report = amd.detect(torch, sysfs=tmp_path)
    assert "found through ROCm torch" in report.status
    assert report.gpus[0].memory_free_mib == 20 * GIB


def _xpu_torch(name: str, total_gib: float, free_gib: float | None, fail: bool = False):
    props = SimpleNamespace(name=name, total_memory=int(total_gib * 2**30), driver_version="1.3",
                            has_fp16=True, has_bfloat16_conversions=True)

    def available():
        if fail:
            raise RuntimeError("Level Zero loader not found")
        return True

    xpu = SimpleNamespace(is_available=available, device_count=lambda: 1,
                          get_device_properties=lambda i: props,
                          memory_reserved=lambda i: 2**30)
    if free_gib is not None:
        xpu.mem_get_info = lambda i: (int(free_gib * 2**30), int(total_gib * 2**30))
    return SimpleNamespace(__version__="2.7.0+xpu", xpu=xpu)


def test_intel_arc_through_torch_xpu(tmp_path):
    report = intel.detect(_xpu_torch("Intel(R) Arc(TM) A770 Graphics", 16, 15.5), 8000.0, tmp_path)
    gpu = report.gpus[0]
    assert report.status == "1 Intel GPU found through torch.xpu"
    assert (gpu.device_id, gpu.unified_memory, gpu.memory_free_mib) == ("xpu:0", False, 15.5 * GIB)
    assert "bf16" in gpu.precisions


def test_intel_integrated_is_unified_and_capped_by_ram(tmp_path):
    torch = _xpu_torch("Intel(R) Arc(TM) Graphics", 14, None)  # Core Ultra iGPU, old torch
    gpu = intel.detect(torch, ram_available_mib=6000.0, sysfs=tmp_path).gpus[0]
    assert gpu.unified_memory and gpu.memory_free_mib == 6000.0  # 13 GiB by torch, RAM has 6000
    assert "reservation" in gpu.memory_note and "capped by free RAM" in gpu.memory_note


def test_intel_xpu_failing_or_absent_falls_back_to_the_pci_list(tmp_path):
    card = tmp_path / "card0" / "device"
    card.mkdir(parents=True)
    (card / "vendor").write_text("0x8086\n")
    (card / "device").write_text("0x56a0\n")
    report = intel.detect(_xpu_torch("x", 1, 1, fail=True), 8000.0, tmp_path)
    assert "Level Zero loader not found" in report.status
    gpu = report.gpus[0]
    assert gpu.name == "Intel discrete GPU (PCI 0x56a0)" and gpu.memory_total_mib is None
    assert "torch with XPU support" in gpu.memory_note
    profile = hardware.HardwareProfile(name="x", gpus=report.gpus)
    assert [d.id for d in profile.memory_devices()] == ["cpu"]  # no memory: no fit on it
    assert "no Intel GPU found" in intel.detect(None, 8000.0, tmp_path / "none").status


@pytest.mark.parametrize("name, apu", [
    ("AMD Radeon 890M Graphics", True), ("AMD Radeon 8060S", True), ("AMD Radeon Graphics", True),
    ("AMD Instinct MI300A", True), ("AMD Radeon RX 6800M", False), ("AMD Radeon RX 7900 XTX", False),
    ("AMD Instinct MI300X", False), ("AMD Radeon PRO W7900", False),
])
def test_which_radeons_are_apus(name, apu):
    assert amd.is_apu(name) is apu
