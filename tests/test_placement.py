"""Every GPU here at once, with NVML faked at its function boundary (``tests/fake_nvml.py``)
and CUDA seen where a child meets it: its ``CUDA_VISIBLE_DEVICES`` and its cores, read from
outside with psutil while the probes (the torch-free ``fault`` kind) run side by side."""

from __future__ import annotations

import os
import time

import psutil
import pytest

from selector.core.catalog.entry import VISION, CatalogEntry
from selector.core.probes import placement as pl
from selector.core.probes.spec import ProbeSpec
from selector.core.results import ResultStore
from selector.core.results import record as rec
from tests import fake_nvml

ENTRY = CatalogEntry(id="resnet-like", source="timm", task=VISION, family="resnet", architecture="resnet50",
                     params=25_000_000, macs=4e9, input_size=(3, 224, 224))


def fault(mode: str = "finish", device: str = "cpu", need_mib: float = 1000.0) -> ProbeSpec:
    return ProbeSpec(kind="fault", model=ENTRY.id, entry=ENTRY.to_dict(), device=device, timeout_s=60,
                     estimate={"total_mib": need_mib}, params={"mode": mode})


def cards() -> list[fake_nvml.FakeGpu]:
    """Two cards of 16 GiB: 4 GiB free on the first, 10 GiB on the second (14 GiB together)."""
    return [fake_nvml.FakeGpu("Tesla T4", 16384, 4096), fake_nvml.FakeGpu("NVIDIA A10", 16384, 10240)]


def test_cores_go_one_per_card_and_the_rest_to_cpu_probes():
    assert pl.split_cores([0, 1], [0, 1, 2, 3]) == ({0: [0], 1: [1]}, [2, 3])
    assert pl.split_cores([0, 1], [0, 1]) == ({0: [0], 1: [0]}, [1])  # cards share; one core stays CPU's
    assert pl.split_cores([], [0, 1]) == ({}, [0, 1])
    assert pl.split_cores([0], [5]) == ({0: [5]}, [5])


def test_fit_is_judged_per_card_never_on_pooled_memory(monkeypatch):
    fake_nvml.install(monkeypatch, cards())
    slots = pl.gpu_slots()
    assert [(s.index, s.name, s.uuid) for s in slots] == [(0, "Tesla T4", "GPU-fake-Tesla T4"),
                                                           (1, "NVIDIA A10", "GPU-fake-NVIDIA A10")]
    slot, _ = pl.choose_gpu(8000, slots, busy=set())
    assert slot.index == 1  # only the A10 holds it
    slot, why = pl.choose_gpu(12000, slots, busy=set())  # 14 GiB together, 10 GiB at most on one
    assert slot is None and "fits on no single GPU" in why and "not pooled" in why
    assert pl.choose_gpu(3000, slots, busy={1})[0].index == 0
    assert pl.choose_gpu(8000, slots, busy={1}) == (None, "wait")


def test_a_pinned_child_sees_its_card_as_cuda0():
    spec = fault(device="cuda:1")
    placement = {"gpu": {"index": 1, "name": "NVIDIA A10", "uuid": "GPU-abc"}, "cpus": [0]}
    assert pl.child_spec(spec, placement)["device"] == "cuda:0" and spec.device == "cuda:1"
    assert pl.child_env(placement, {})["CUDA_VISIBLE_DEVICES"] == "GPU-abc"
    assert "CUDA_VISIBLE_DEVICES" not in pl.child_env({"cpus": [1]}, {})


@pytest.mark.slow
def test_probes_run_side_by_side_one_per_card_each_pinned(monkeypatch):
    fake_nvml.install(monkeypatch, cards())
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    cores = sorted(os.sched_getaffinity(0))
    specs = [fault("hang", "cuda"), fault("hang", "cuda"), fault("hang", "cpu"),
             fault("hang", "cuda", need_mib=12000), fault("finish", "cuda")]
    store = ResultStore()
    run = pl.PlacedBenchRun(specs, store=store, cores=cores, session_name="placed", free_mib=lambda d: None)
    seen: dict[int, dict] = {}
    for event in run.events():
        if event.type == "started":
            child = psutil.Process(event.data["pid"])
            seen[event.index] = {"env": child.environ().get("CUDA_VISIBLE_DEVICES"),
                                 "cores": child.cpu_affinity()}
            if len(seen) == 3:  # the two cards and the CPU probe, all at once
                alive = [pid for pid in (r.pid for r in run.running.values()) if psutil.pid_exists(pid)]
                assert len(alive) == 3
                run.cancel()
    by_index = {specs.index(next(s for s in specs if s.id == r.id)): r for r in run.results}
    assert by_index[3].status == rec.REFUSED and "fits on no single GPU" in by_index[3].message
    assert by_index[4].status == rec.CANCELLED  # waited for a card, then the run was cancelled
    gpu_rows = [by_index[0], by_index[1]]
    assert sorted(r.device for r in gpu_rows) == ["cuda:0", "cuda:1"]
    for result in gpu_rows:
        gpu = result.placement["gpu"]
        assert result.device == f"cuda:{gpu['index']}" and gpu["uuid"] == f"GPU-fake-{gpu['name']}"
        assert seen[specs.index(next(s for s in specs if s.id == result.id))]["env"] == gpu["uuid"]
    assert seen[2]["env"] is None and by_index[2].placement == {"cpus": seen[2]["cores"]}
    gpu_cores = set(seen[0]["cores"]) | set(seen[1]["cores"])
    if len(cores) > 1:
        assert not gpu_cores & set(seen[2]["cores"])  # the CPU probe keeps off the cards' cores
    assert by_index[2].spec["threads"] == len(seen[2]["cores"])
    deadline = time.monotonic() + 10
    while any(psutil.pid_exists(r.pid) and psutil.Process(r.pid).status() != psutil.STATUS_ZOMBIE
              for r in run.running.values()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not run.running
