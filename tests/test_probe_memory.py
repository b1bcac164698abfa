"""Peak memory measurement: the RSS poller, the kernel's high-water mark, NVML per process."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from selector.core.probes import memory
from selector.core.probes.memory import MemoryMonitor, NvmlProcessMemory
from tests import fake_nvml


def _spike(mib: int, hold_s: float) -> None:
    block = np.ones(mib * 2**20 // 8)  # touched: resident
    time.sleep(hold_s)
    del block


def test_the_poller_catches_a_spike_that_is_gone_by_the_end(monkeypatch):
    monkeypatch.setattr(memory, "_reset_hwm", lambda: False)  # the poller alone
    with MemoryMonitor("cpu", poll_s=0.005) as monitor:
        monitor.reset()
        before = memory.current_rss_mib()
        _spike(200, hold_s=0.06)
        peaks = monitor.peaks()
    assert memory.current_rss_mib() < before + 100, "the block was freed"
    assert peaks["peak_rss_mib"] >= before + 180
    assert peaks["rss_poll_ms"] == 5.0 and peaks["peak_rss_method"] == "polled every 5 ms"
    assert peaks["cuda_max_allocated_mib"] is None


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="Linux only")
def test_the_kernel_high_water_mark_misses_no_spike():
    with MemoryMonitor("cpu", poll_s=10.0) as monitor:  # the poller is too slow to see it
        _spike(150, hold_s=0.0)
        monitor.reset()
        before = memory.current_rss_mib()
        _spike(150, hold_s=0.0)
        peaks = monitor.peaks()
    if not monitor._hwm_ok:
        pytest.skip("this kernel does not allow resetting VmHWM")
    assert peaks["peak_rss_mib"] >= before + 130
    assert peaks["peak_rss_method"] == "kernel high-water mark (VmHWM)" and peaks["rss_poll_ms"] == 10_000
    monitor.reset()  # a new window forgets the old peak
    assert monitor.peaks()["peak_rss_mib"] < before + 100


def test_nvml_reports_this_process_only(monkeypatch):
    gpu = fake_nvml.FakeGpu("NVIDIA H100 80GB HBM3", 81_559, 70_000,
                            processes=[(12345, 900), (os.getpid(), 1234)])
    fake_nvml.install(monkeypatch, [gpu])
    assert NvmlProcessMemory(0).read() == pytest.approx(1234)
    assert NvmlProcessMemory(0, pid=1).read() is None  # a process NVML does not list


def test_nvml_missing_or_silent_means_unknown(monkeypatch):
    import pynvml

    fake_nvml.install(monkeypatch, [], init_error=pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)
    reader = NvmlProcessMemory(0)
    assert reader.read() is None and "NVML not available" in reader.note
    gpu = fake_nvml.FakeGpu("T4", 15_360, 15_000, processes=[(os.getpid(), 500)],
                            fail={"nvmlDeviceGetComputeRunningProcesses"})
    fake_nvml.install(monkeypatch, [gpu])
    assert NvmlProcessMemory(0).read() is None
