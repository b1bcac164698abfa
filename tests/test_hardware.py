import json
import os

import psutil
import pynvml
import pytest

from selector.core import hardware
from tests import fake_nvml


def test_live_detection_matches_this_machine():
    profile = hardware.detect_hardware(include_torch=False)
    assert profile.cpu.logical_cores == psutil.cpu_count()
    assert profile.cpu.physical_cores == psutil.cpu_count(logical=False)
    total_mib = psutil.virtual_memory().total / 2**20
    assert profile.memory.total_mib == pytest.approx(total_mib, rel=1e-3)
    assert 0 < profile.memory.available_mib <= profile.memory.total_mib
    assert profile.gpu_status  # found GPUs, or a plain reason why not
    if not profile.gpus:
        assert "Traceback" not in profile.gpu_status
    assert profile.torch is None


def test_torch_view_reports_threads_and_cuda():
    import torch

    profile = hardware.detect_hardware(include_torch=True)
    assert profile.torch.version == torch.__version__
    assert profile.cpu.torch_threads == torch.get_num_threads()
    assert profile.torch.cuda_available == torch.cuda.is_available()


def test_profile_json_round_trip(tmp_path):
    profile = hardware.detect_hardware(include_torch=False)
    path = hardware.save_profile(profile, tmp_path / "me.json")
    again = hardware.load_profile(path)
    assert again.source == "file"
    again.source = profile.source
    assert again == profile
    assert json.loads(path.read_text())["cpu"]["logical_cores"] == profile.cpu.logical_cores


def test_two_fake_gpus_one_nearly_full_one_without_power(monkeypatch):
    fake_nvml.install(monkeypatch, fake_nvml.two_gpus())
    profile = hardware.detect_hardware(include_torch=False)
    assert profile.gpu_status == "2 NVIDIA GPUs found through NVML"
    assert profile.nvidia_driver == "550.54.15" and profile.cuda_driver == "12.4"
    roomy, full = profile.gpus
    assert roomy.name == "NVIDIA GeForce RTX 4090"
    assert roomy.memory_free_mib == 23800 and roomy.memory_total_mib == 24564
    assert roomy.power_limit_w == 300.0 and roomy.compute_capability == "8.9"
    assert roomy.memory_other_processes_mib == 500
    assert full.memory_free_mib == 1200 and full.memory_other_processes_mib == 13_800
    assert full.power_limit_w is None  # the one failing query leaves one field empty
    assert full.temperature_c == 40 and full.compute_capability == "7.5"
    cuda1 = profile.device("cuda:1")
    assert (cuda1.free_mib, cuda1.total_mib) == (1200, 15360)


def test_own_process_is_not_counted_as_other(monkeypatch):
    gpu = fake_nvml.FakeGpu("A", 1000, 500, processes=[(os.getpid(), 300), (12345, 100)])
    fake_nvml.install(monkeypatch, [gpu])
    (found,) = hardware.detect_hardware(include_torch=False).gpus
    assert found.memory_other_processes_mib == 100


def test_nvml_library_missing_gives_plain_reason(monkeypatch):
    fake_nvml.install(monkeypatch, [], init_error=pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)
    profile = hardware.detect_hardware(include_torch=False)
    assert profile.gpus == []
    assert profile.gpu_status.startswith("no NVIDIA driver found")
    assert [d.id for d in profile.memory_devices()] == ["cpu"]


def test_driver_not_loaded_and_pynvml_absent(monkeypatch):
    fake_nvml.install(monkeypatch, [], init_error=pynvml.NVML_ERROR_DRIVER_NOT_LOADED)
    assert "not loaded" in hardware.detect_hardware(include_torch=False).gpu_status
    monkeypatch.setitem(__import__("sys").modules, "pynvml", None)
    status = hardware.detect_hardware(include_torch=False).gpu_status
    assert "nvidia-ml-py" in status


def test_reference_profiles_cover_the_usual_questions():
    refs = hardware.reference_profiles()
    assert {"t4", "l4", "rtx4090", "a100-80gb", "h100-80gb", "laptop-8gb"} <= set(refs)
    for key, profile in refs.items():
        assert profile.source == "reference"
        for gpu in profile.gpus:
            assert 0 < gpu.memory_free_mib < gpu.memory_total_mib
    assert refs["t4"].device("cuda").total_mib == 15360
    assert refs["laptop-cpu-8gb"].memory_devices()[0].total_mib == 8192


def test_resolve_profile_by_name_file_or_error(tmp_path):
    assert hardware.resolve_profile("l4").gpus[0].name == "NVIDIA L4"
    path = hardware.save_profile(hardware.reference_profiles()["t4"], tmp_path / "t4copy.json")
    assert hardware.resolve_profile(str(path)).gpus[0].name == "Tesla T4"
    with pytest.raises(ValueError, match="unknown hardware profile 'nope'"):
        hardware.resolve_profile("nope")


@pytest.mark.parametrize(
    "content, message",
    [("{not json", "is not a hardware profile"), ("[1, 2]", "is not a hardware profile"),
     ('{"name": "x", "schema_version": 99}', "newer than this app")],
)
def test_bad_profile_files_give_clear_errors(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        hardware.load_profile(path)


def test_missing_profile_file(tmp_path):
    with pytest.raises(ValueError, match="cannot read hardware profile"):
        hardware.load_profile(tmp_path / "absent.json")
