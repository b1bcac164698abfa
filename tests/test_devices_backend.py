"""Probes on mps / xpu / ROCm devices, faked at torch's boundary: event timing where the
backend has events, synchronisation otherwise, the backend's own memory counters."""

from types import SimpleNamespace

import pytest
import torch

from selector.core.devices import backend
from selector.core.errors import SelectorError
from selector.core.probes.environment import ProbeSettingError, resolve_device


class FakeEvent:
    clock = [0.0]
    made: list = []

    def __init__(self, enable_timing=False):
        assert enable_timing
        self.t = None
        FakeEvent.made.append(self)

    def record(self):
        self.t = FakeEvent.clock[0]

    def synchronize(self):
        pass

    def elapsed_time(self, other):
        return other.t - self.t


def _work():
    FakeEvent.clock[0] += 7.5  # the device took 7.5 ms


@pytest.mark.parametrize("device, attr", [("xpu:0", "xpu"), ("cuda:0", "cuda")])
def test_event_timing_on_xpu_and_cuda_rocm(monkeypatch, device, attr):
    monkeypatch.setattr(getattr(torch, attr), "Event", FakeEvent)
    FakeEvent.made.clear()
    assert backend.step_timer(device)(_work) == pytest.approx(7.5)
    assert len(FakeEvent.made) == 2
    assert backend.timing_method(device) == f"{attr}_events"


def test_mps_uses_its_events_or_synchronises_around_the_clock(monkeypatch):
    monkeypatch.setattr(torch.mps, "event", SimpleNamespace(Event=FakeEvent), raising=False)
    assert backend.timing_method("mps") == "mps_events"
    assert backend.step_timer("mps")(_work) == pytest.approx(7.5)
    synced = []
    monkeypatch.setattr(torch.mps, "event", SimpleNamespace(), raising=False)
    monkeypatch.setattr(torch.mps, "synchronize", lambda: synced.append(1))
    assert backend.timing_method("mps") == "mps_sync"
    ms = backend.step_timer("mps")(lambda: None)
    assert ms >= 0 and len(synced) == 2  # before and after the work


def test_backend_memory_counters(monkeypatch):
    monkeypatch.setattr(torch.mps, "current_allocated_memory", lambda: 300 * 2**20)
    monkeypatch.setattr(torch.mps, "driver_allocated_memory", lambda: 512 * 2**20)
    assert backend.allocator_peaks("mps") == (300.0, 512.0)
    monkeypatch.setattr(torch.xpu, "max_memory_allocated", lambda d: 2 * 2**30, raising=False)
    monkeypatch.setattr(torch.xpu, "max_memory_reserved", lambda d: 3 * 2**30, raising=False)
    assert backend.allocator_peaks("xpu:0") == (2048.0, 3072.0)

    def broken(device):
        raise RuntimeError("no XPU")

    monkeypatch.setattr(torch.xpu, "max_memory_allocated", broken, raising=False)
    assert backend.allocator_peaks("xpu:0") == (None, None)
    assert backend.allocator_peaks("cpu") == (None, None)


def test_resolve_device_names_what_is_missing(monkeypatch):
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(ProbeSettingError, match="cannot use an Apple GPU"):
        resolve_device("mps")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device("mps") == "mps"
    monkeypatch.setattr(torch.xpu, "is_available", lambda: False)
    with pytest.raises(ProbeSettingError, match="sees no Intel XPU"):
        resolve_device("xpu")
    monkeypatch.setattr(torch.xpu, "is_available", lambda: True)
    monkeypatch.setattr(torch.xpu, "device_count", lambda: 1)
    assert resolve_device("xpu") == "xpu:0"
    with pytest.raises(ProbeSettingError, match="only 1 XPU"):
        resolve_device("xpu:2")
    with pytest.raises(ProbeSettingError, match="unknown device 'tpu'"):
        resolve_device("tpu")


def test_preflight_accepts_mps_and_xpu_devices():
    from selector.core.probes.preflight import check_spec
    from selector.core.probes.spec import ProbeSpec

    for device in ("mps", "xpu", "xpu:1"):
        check_spec(ProbeSpec(kind="latency", model="test_resnet", device=device, batch_sizes=[1]))
    with pytest.raises(SelectorError, match="unknown device 'tpu:0'"):
        check_spec(ProbeSpec(kind="latency", model="test_resnet", device="tpu:0", batch_sizes=[1]))
