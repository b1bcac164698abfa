"""How fast this machine's CPU runs each kind of work: a short calibration, cached.

``calibrate()`` times a handful of single layers with torch (a 3x3 convolution, a depthwise
convolution, a linear layer, scaled-dot-product attention, element-wise ops, a tiny op for the
per-op overhead), then times two small reference models end to end (``resnet18``-like CNN and a
small ViT, random weights) and keeps one correction factor so that whole models, with their
varied layer shapes, come out right on average. The result is a :class:`Calibration`, cached
in ``cache_dir()`` per machine, torch version and thread count, so it runs once (a few
seconds), not at every start. The desktop app measures it in a child process
(``python -m selector.core.estimate.calibration --json``, see ``child_command``): torch's
import would stall its GUI thread, and a child can be killed when the window closes.

The machine is watched while it calibrates (``probes.contention``): a calibration measured
while other work ran, or while the machine's speed moved, is *provisional*: used by this
process, never cached, and ``provisional_note`` tells the user why. It also stores the speed
of the probes' reference workload, against which every later probe checks the machine.

Rates are MACs per second (multiply-accumulates, not FLOPs) and bytes per second.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
import platform
import socket
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from selector.core.paths import cache_dir

CALIBRATION_VERSION = 2
"""2: the reference workload's speed and the contention record are stored."""
KINDS = ("conv", "depthwise", "matmul", "attention")


@dataclass
class Calibration:
    """Measured CPU rates; ``key`` says which machine, torch and threads they belong to."""

    key: str
    macs_per_s: dict[str, float] = field(default_factory=dict)
    """Effective MACs/s per kind of layer: ``conv``, ``depthwise``, ``matmul``, ``attention``."""
    bytes_per_s: float = 5e9
    """Effective rate of element-wise work, in bytes written per second."""
    op_overhead_s: float = 10e-6
    """Fixed cost of dispatching one op (eager PyTorch, inference mode)."""
    train_op_overhead_s: float = 20e-6
    """Fixed cost of one op in a training step: forward with autograd recording, and its
    backward node."""
    correction: float = 1.0
    """Measured / predicted time of the reference models (geometric mean)."""
    threads: int = 1
    torch: str = ""
    cpu: str = ""
    created_at: str = ""
    reference: dict[str, Any] = field(default_factory=dict)
    """Per reference model: measured and predicted ms, for the record."""
    reference_gmacs: float | None = None
    """Speed of the probes' reference workload (``contention.reference_speed``), GMAC/s: the
    mean of its runs before and after the calibration."""
    contention: dict[str, Any] | None = None
    """How busy the machine was while it calibrated (``Contention.to_dict()``)."""
    version: int = CALIBRATION_VERSION

    @property
    def provisional(self) -> list[str]:
        """Why the rates may be off (the machine was busy), or ``[]``."""
        from selector.core.probes.contention import reasons_of

        return reasons_of(self.contention)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Calibration":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def calibration_key(threads: int, torch_version: str) -> str:
    """Machine, torch release and threads. The local build tag (``+cu130``) is dropped: the
    cache is read back with the installed distribution's version, which has none."""
    release = torch_version.split("+")[0]
    return f"{socket.gethostname()}|{platform.machine()}|torch {release}|{threads} threads"


def _cache_file() -> Path:
    return cache_dir() / "latency-calibration.json"


def load_calibration(threads: int | None = None) -> Calibration | None:
    """The cached calibration for this machine and torch (and ``threads``), or None."""
    try:
        data = json.loads(_cache_file().read_text())
    except (OSError, ValueError):
        return None
    from importlib.metadata import version

    items = data if isinstance(data, list) else [data]
    for item in items:
        cal = Calibration.from_dict(item)
        if cal.version != CALIBRATION_VERSION:
            continue
        if threads is not None and cal.threads != threads:
            continue
        if cal.key == calibration_key(cal.threads, version("torch")):
            return cal
    return None


def save_calibration(cal: Calibration) -> None:
    from selector.core.fileio import atomic_write_text

    try:
        data = json.loads(_cache_file().read_text())
        items = data if isinstance(data, list) else [data]
    except (OSError, ValueError):
        items = []
    items = [i for i in items if i.get("key") != cal.key][-7:] + [cal.to_dict()]
    atomic_write_text(_cache_file(), json.dumps(items, indent=1))


_PROVISIONAL: dict[int | None, Calibration] = {}
"""Calibrations measured on a busy machine: kept for this process only, never cached."""


def get_calibration(threads: int | None = None, run_if_missing: bool = True) -> Calibration | None:
    """Cached calibration, or a fresh one (a few seconds of torch work) when none is cached.
    A fresh one measured under contention is not cached (see ``provisional_note``); this
    process keeps using it, the next one measures again."""
    cal = load_calibration(threads) or _PROVISIONAL.get(threads)
    if cal is None and run_if_missing:
        cal = calibrate(threads)
        if cal.provisional:
            _PROVISIONAL[threads] = cal
        else:
            save_calibration(cal)
    return cal


def keep_provisional(cal: Calibration, threads: int | None = None) -> None:
    """Use ``cal`` in this process (never cached): a provisional calibration measured in a child
    (``child_command``), so this process's ``get_calibration`` returns it rather than measuring."""
    _PROVISIONAL[threads] = cal


def provisional_note(cal: Calibration | None) -> str | None:
    """One line for the user when CPU latency estimates rest on a calibration measured on a
    busy machine, else None."""
    if cal is None or not cal.provisional:
        return None
    return ("CPU latency estimates are provisional: this CPU was calibrated while "
            + "; ".join(cal.provisional).replace(" while it measured", "")
            + ". Not saved; it is measured again next time.")


# ------------------------------------------------------------------------------ measuring
CLOCK: list[Callable[[], float]] = [time.perf_counter]
"""The clock timings use. ``time.process_time`` (CPU seconds of this process) measures a
single-threaded calibration fairly on a machine busy with other work; see ``calibrate``."""


def _time(fn: Callable[[], Any], min_s: float = 0.15, repeats: int = 5) -> float:
    """Median seconds per call, after a warm-up, over ``repeats`` rounds of at least ``min_s``/5."""
    clock = CLOCK[0]
    fn()
    start = clock()
    fn()
    once = max(clock() - start, 1e-7)
    inner = max(1, int(min_s / repeats / once))
    samples = []
    for _ in range(repeats):
        start = clock()
        for _ in range(inner):
            fn()
        samples.append((clock() - start) / inner)
    return statistics.median(samples)


def calibrate(threads: int | None = None, cpu_time: bool = False) -> Calibration:
    """Time single layers and two reference models on this CPU (a few seconds).

    ``cpu_time`` times with the process's CPU seconds instead of the wall clock: with one
    thread that is the work itself, undisturbed by other processes on a busy machine (with
    several threads it would also count threads spinning at barriers).
    """
    import torch
    import torch.nn.functional as F

    from selector.core.probes import contention as cn

    if threads:
        torch.set_num_threads(threads)
    threads = torch.get_num_threads()
    sampler = _sampler()
    start = sampler.snapshot() if sampler else None
    before = cn.reference_speed()
    CLOCK[0] = time.process_time if cpu_time else time.perf_counter
    version = torch.__version__
    rates: dict[str, float] = {}
    with torch.inference_mode():
        x = torch.randn(4, 64, 56, 56)
        w = torch.randn(64, 64, 3, 3)
        rates["conv"] = 4 * 64 * 56 * 56 * 64 * 9 / _time(lambda: F.conv2d(x, w, padding=1))
        xd = torch.randn(4, 256, 28, 28)
        wd = torch.randn(256, 1, 3, 3)
        rates["depthwise"] = 4 * 256 * 28 * 28 * 9 / _time(lambda: F.conv2d(xd, wd, padding=1, groups=256))
        a = torch.randn(4 * 197, 384)
        wl = torch.randn(1536, 384)
        rates["matmul"] = 4 * 197 * 384 * 1536 / _time(lambda: F.linear(a, wl))
        q = torch.randn(4, 6, 197, 64)
        rates["attention"] = 4 * 6 * 197 * 197 * 128 / _time(lambda: F.scaled_dot_product_attention(q, q, q))
        e = torch.randn(4 * 64 * 56 * 56)
        bytes_per_s = e.numel() * 4 / _time(lambda: torch.add(e, e))
        tiny = torch.ones(1)
        op_overhead = _time(lambda: torch.add(tiny, tiny), min_s=0.05)
    leaf = torch.ones(1, requires_grad=True)

    def chain() -> None:
        y = leaf
        for _ in range(50):
            y = y * 1.0001
        y.backward()

    train_op_overhead = _time(chain, min_s=0.1) / 50
    cal = Calibration(
        key=calibration_key(threads, version), macs_per_s=rates, bytes_per_s=bytes_per_s,
        op_overhead_s=op_overhead, train_op_overhead_s=train_op_overhead, threads=threads, torch=version.split("+")[0],
        cpu=_cpu_name(), created_at=_dt.datetime.now().astimezone().isoformat(timespec="seconds"),
    )
    try:
        _correct(cal)
    finally:
        CLOCK[0] = time.perf_counter
    after = cn.reference_speed()
    cal.reference_gmacs = round((before + after) / 2, 4)
    if sampler is not None and start is not None:
        cal.contention = sampler.record(start, sampler.snapshot(), threads=threads,
                                        before=before, after=after).to_dict()
    return cal


def _sampler():  # noqa: ANN202 - contention.Sampler | None
    """This process and the machine, watched while calibrating; None when psutil cannot."""
    try:
        from selector.core.probes.contention import Sampler

        return Sampler()
    except Exception:  # noqa: BLE001
        return None


def _correct(cal: Calibration) -> None:
    """Time reference models end to end; keep measured/predicted as the correction."""
    import math

    import timm
    import torch

    from selector.core.catalog.entry import VISION, CatalogEntry
    from selector.core.estimate.latency import estimate_latency
    from selector.core.estimate.memory import Workload
    from selector.core.estimate.trace import profile_entry

    ratios = []
    for name, size in (("resnet18", 160), ("vit_tiny_patch16_224", 224)):
        kwargs = {"img_size": size} if name.startswith("vit") else {}
        with torch.device("meta"):
            meta = timm.create_model(name, **kwargs)
        entry = CatalogEntry(name, "timm", VISION, "", name, input_size=(3, size, size))
        entry.activation = profile_entry(meta, entry)
        model = timm.create_model(name, **kwargs).eval()
        x = torch.randn(4, 3, size, size)
        with torch.inference_mode():
            measured = _time(lambda: model(x), min_s=0.3, repeats=3)  # noqa: B023 (called here)
        estimate = estimate_latency(entry, Workload(batch_size=4, image_size=size), "cpu", cal,
                                    corrected=False)
        assert estimate is not None, "a traced timm model always has an estimate"
        predicted = estimate.ms_per_batch / 1000
        ratios.append(measured / predicted)
        cal.reference[name] = {"batch": 4, "image_size": size, "measured_ms": measured * 1000,
                               "predicted_ms": predicted * 1000}
    cal.correction = math.exp(sum(math.log(r) for r in ratios) / len(ratios))


def _cpu_name() -> str:
    try:
        from selector.core.hardware import _cpu_model_name

        return _cpu_model_name()
    except Exception:  # noqa: BLE001 - a name is nice to have
        return platform.processor() or os.uname().machine


# ------------------------------------------------------------------------------ child process
CALIBRATE_CHILD_FLAG = "--calibrate-child"
"""Hidden first argument of a frozen bundle's ``selector`` executable: run ``main`` (``selector.cli``)."""


def child_command(threads: int | None = None) -> list[str]:
    """The command that calibrates this CPU in a child process and prints it as JSON (``main``).
    A frozen bundle has no ``-m``: its console executable runs ``main`` behind a hidden flag."""
    if getattr(sys, "frozen", False):
        from selector.core.probes.runner import frozen_console_executable

        base = [frozen_console_executable(), CALIBRATE_CHILD_FLAG]
    else:
        base = [sys.executable, "-m", "selector.core.estimate.calibration"]
    return [*base, "--json", *(["--threads", str(threads)] if threads else [])]


def main(argv: list[str] | None = None) -> int:
    """``python -m selector.core.estimate.calibration [--json] [--threads N]``: the cached
    calibration, or one measured now and cached (a provisional one, measured on a busy machine,
    is printed but not cached). ``--json`` prints ``Calibration.to_dict()`` on one line."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m selector.core.estimate.calibration",
                                     description="Calibrate this CPU for latency estimates.")
    parser.add_argument("--json", action="store_true", help="print the calibration as JSON")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args(argv)
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be 1 or more")
    cal = get_calibration(args.threads)
    assert cal is not None, "run_if_missing always gives one"
    if args.json:
        print(json.dumps(cal.to_dict()), flush=True)
    else:
        print(provisional_note(cal) or f"CPU calibrated: {cal.cpu}, {cal.threads} threads, "
              f"correction {cal.correction:.2f} (cached in {_cache_file()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
