"""GPU paths of the probes (CUDA events, AMP, CUDA and NVML memory). Skipped without a GPU.

On a CUDA machine: ``HF_HUB_OFFLINE=1 python -m pytest tests/test_probe_gpu.py -v``.
"""

from __future__ import annotations

import pytest
import torch

from selector.core.data import DatasetSpec
from selector.core.probes import ProbeRun, ProbeSpec
from selector.core.results import FINISHED

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


@pytest.fixture(scope="module")
def resnet():
    from selector.core.models import resolve_model

    return resolve_model("test_resnet")


def run(spec: ProbeSpec):
    probe = ProbeRun(spec)
    events = list(probe.events())
    assert probe.result.status == FINISHED, probe.result.error or probe.result.message
    return probe.result, events


def test_latency_on_cuda_in_three_precisions(resnet):
    spec = ProbeSpec(kind="latency", model=resnet.id, entry=resnet.to_dict(), device="cuda",
                     batch_sizes=[1, 8], dtypes=["fp32", "bf16", "fp16"], budget_s=60,
                     params={"min_iters": 20, "min_time_s": 0.5, "warmup_s": 0.2})
    result, _ = run(spec)
    rows = result.latency_rows()
    assert [(r.dtype, r.batch_size) for r in rows] == [
        ("fp32", 1), ("fp32", 8), ("bf16", 1), ("bf16", 8), ("fp16", 1), ("fp16", 8)]
    for row in rows:
        assert row.device == "cuda:0" and row.timing == "cuda_events"
        assert row.device_name == torch.cuda.get_device_name(0)
        assert row.cuda_max_allocated_mib > 0 and row.cuda_max_reserved_mib >= row.cuda_max_allocated_mib
        assert row.min_ms <= row.p50_ms <= row.p99_ms and row.samples_per_s > 0
        assert row.software["cuda"] == torch.version.cuda
    # NVML sees the process's memory unless the container hides host PIDs
    seen = [r.nvml_process_mib for r in rows if r.nvml_process_mib is not None]
    assert all(v > rows[0].cuda_max_reserved_mib for v in seen), "NVML includes the CUDA context"


def test_int8_is_refused_on_cuda(resnet):
    spec = ProbeSpec(kind="latency", model=resnet.id, entry=resnet.to_dict(), device="cuda",
                     dtypes=["int8"], budget_s=10)
    probe = ProbeRun(spec)
    list(probe.events())
    assert probe.result.status == "failed" and "CPU only" in probe.result.message


def test_finetune_on_cuda_uses_amp_and_reports_gpu_memory(resnet):
    spec = ProbeSpec(kind="finetune", model=resnet.id, entry=resnet.to_dict(), device="cuda",
                     batch_sizes=[32], budget_s=60, data=DatasetSpec("sample").to_dict(),
                     params={"max_steps": 20})
    result, events = run(spec)
    report = result.finetune_report()
    expected = "bf16-autocast" if torch.cuda.is_bf16_supported() else "fp16-autocast"
    assert report.precision == expected and report.steps == 20
    assert report.cuda_max_allocated_mib > 0 and report.batch_size_used == 32
    assert len([e for e in events if e.loss is not None]) == 20


def test_finetune_steps_the_batch_down_on_real_cuda_oom():
    from selector.core.estimate.memory import Workload, estimate_memory
    from selector.core.models import resolve_model

    entry = resolve_model("vit_base_patch16_224")
    free = torch.cuda.mem_get_info()[0] / 2**20
    batch = 64  # the smallest power of two whose AMP step needs twice the free memory
    while estimate_memory(entry, Workload("train", batch, dtype="amp"), "cuda").total_mib < 2 * free:
        batch *= 2
    spec = ProbeSpec(kind="finetune", model=entry.id, entry=entry.to_dict(), device="cuda",
                     batch_sizes=[batch], budget_s=120, timeout_s=600, force=True,
                     data=DatasetSpec("sample", sample_per_class=batch // 3 + 8).to_dict(),  # > batch to train
                     params={"max_steps": 3, "max_eval": 64})
    result, _ = run(spec)
    report = result.finetune_report()
    assert report.oom_step_downs and report.oom_step_downs[0] == batch
    assert report.batch_size_used < batch and report.steps == 3
