"""A fake ``amdsmi`` module, put into ``sys.modules`` (the real one needs ROCm's library).

Only the calls selector makes exist; each answers from a :class:`FakeAmdGpu`. A name in a
card's ``fail`` set raises ``AmdSmiLibraryException`` as the real wrapper does.
"""

from __future__ import annotations

import enum
import types
from dataclasses import dataclass, field

MIB = 2**20


class AmdSmiLibraryException(Exception):
    pass


class AmdSmiMemoryType(enum.IntEnum):
    VRAM = 0
    VIS_VRAM = 1
    GTT = 2


@dataclass
class FakeAmdGpu:
    name: str
    vram_mib: int
    vram_used_mib: int = 0
    gtt_mib: int = 0
    gtt_used_mib: int = 0
    energy_uj: float = 0.0
    """What the energy accumulator times its resolution reads, uJ."""
    fail: set[str] = field(default_factory=set)


def module(gpus: list[FakeAmdGpu], init_error: str | None = None) -> types.ModuleType:
    fake = types.ModuleType("amdsmi")
    fake.AmdSmiMemoryType = AmdSmiMemoryType  # type: ignore[attr-defined]
    fake.AmdSmiLibraryException = AmdSmiLibraryException  # type: ignore[attr-defined]
    fake.calls = []  # type: ignore[attr-defined]

    def init(*_a):
        fake.calls.append("init")
        if init_error:
            raise AmdSmiLibraryException(init_error)

    def checked(name, fn):
        def call(handle, *args):
            if name in gpus[handle].fail:
                raise AmdSmiLibraryException(f"{name}: AMDSMI_STATUS_NOT_SUPPORTED")
            return fn(gpus[handle], *args)
        return call

    def total(gpu, kind):
        return (gpu.vram_mib if kind == AmdSmiMemoryType.VRAM else gpu.gtt_mib) * MIB

    def used(gpu, kind):
        return (gpu.vram_used_mib if kind == AmdSmiMemoryType.VRAM else gpu.gtt_used_mib) * MIB

    def energy(gpu):
        return {"energy_accumulator": int(gpu.energy_uj / 15.3), "counter_resolution": 15.3,
                "timestamp": 0}

    functions = {
        "amdsmi_init": init,
        "amdsmi_shut_down": lambda: fake.calls.append("shut_down"),
        "amdsmi_get_processor_handles": lambda: list(range(len(gpus))),
        "amdsmi_get_gpu_asic_info": checked("asic", lambda g: {"market_name": g.name}),
        "amdsmi_get_gpu_driver_info": lambda h: {"driver_version": "6.10.5"},
        "amdsmi_get_gpu_device_uuid": lambda h: f"amd-{h}",
        "amdsmi_get_gpu_memory_total": checked("memory", total),
        "amdsmi_get_gpu_memory_usage": checked("memory", used),
        "amdsmi_get_power_info": checked("power", lambda g: {"power_limit": 355}),
        "amdsmi_get_gpu_activity": lambda h: {"gfx_activity": 3},
        "amdsmi_get_energy_count": checked("energy", energy),
    }
    for name, fn in functions.items():
        setattr(fake, name, fn)
    return fake
