"""``selector hw``: what this machine (or a saved/reference profile) can do."""

from __future__ import annotations

import argparse

NAME = "hw"
HELP = "show the hardware profile: CPU, RAM, every GPU (NVIDIA, AMD, Intel, Apple), torch's view"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the profile as JSON")
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--profile", metavar="FILE_OR_NAME",
        help="a saved profile file or a reference name (see --references) instead of this machine",
    )
    source.add_argument(
        "--references", action="store_true", help="list the shipped reference profiles"
    )
    source.add_argument("--cluster", nargs="?", const="", metavar="ADDRESS",
                        help="list the nodes of a Ray cluster, each profile read on its node "
                             "(ADDRESS: HOST:PORT; without it, $RAY_ADDRESS)")
    parser.add_argument("--save", metavar="FILE", help="also save the profile as JSON to FILE")
    parser.add_argument(
        "--no-torch", action="store_true",
        help="skip torch's view (CUDA/ROCm runtime, XPU, MPS's limit, threads); faster, as torch "
             "is not imported",
    )


def run(args: argparse.Namespace) -> int:
    from selector.core import hardware
    from selector.core.errors import SelectorError

    if args.references:
        return _print_references(hardware.reference_profiles(), as_json=args.json)
    if args.cluster is not None:
        from selector.commands.cluster_cli import print_cluster

        return print_cluster(args.cluster, as_json=args.json)
    try:
        if args.profile:
            profile = hardware.resolve_profile(args.profile)
        else:
            profile = hardware.detect_hardware(include_torch=not args.no_torch)
    except ValueError as err:
        raise SelectorError(str(err)) from err
    if args.save:
        try:
            hardware.save_profile(profile, args.save)
        except OSError as err:
            raise SelectorError(f"cannot save the profile: {err}") from err
    if args.json:
        print(profile.to_json())
    else:
        print_profile(profile)
    return 0


def print_profile(profile) -> None:  # noqa: ANN001 - HardwareProfile, imported lazily
    from rich.console import Console
    from rich.table import Table

    from selector.core.units import fmt_mib, fmt_optional

    console = Console()
    title = f"{profile.name} ({profile.source})"
    if profile.description:
        title += f": {profile.description}"
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value")
    cpu, mem = profile.cpu, profile.memory
    table.add_row("OS", fmt_optional(profile.os))
    table.add_row("Python", fmt_optional(profile.python))
    table.add_row("CPU", f"{cpu.model} ({cpu.architecture})" if cpu.architecture else cpu.model)
    table.add_row(
        "Cores", f"{fmt_optional(cpu.physical_cores)} physical, {fmt_optional(cpu.logical_cores)} logical"
    )
    if cpu.freq_current_mhz or cpu.freq_max_mhz:
        table.add_row(
            "Frequency",
            f"{fmt_optional(cpu.freq_current_mhz, ' MHz')} now, {fmt_optional(cpu.freq_max_mhz, ' MHz')} max",
        )
    table.add_row("RAM", f"{fmt_mib(mem.available_mib)} available of {fmt_mib(mem.total_mib)}")
    table.add_row("Swap", f"{fmt_mib(mem.swap_free_mib)} free of {fmt_mib(mem.swap_total_mib)}")
    table.add_row("NVIDIA driver", fmt_optional(profile.nvidia_driver))
    table.add_row("CUDA (driver)", fmt_optional(profile.cuda_driver))
    table.add_row("GPUs", profile.gpu_status or "—")
    for platform, status in profile.accelerators.items():
        if not any(g.vendor == platform for g in profile.gpus):
            table.add_row(f"  {platform}", status)
    if profile.torch is not None:
        t = profile.torch
        table.add_row("torch", fmt_optional(t.version))
        table.add_row("torch threads", fmt_optional(t.num_threads))
        available = "yes" if t.cuda_available else "no"
        table.add_row("CUDA (torch)",
                      f"{fmt_optional(t.cuda_runtime)}, available: {available}, devices: {t.cuda_device_count}")
        table.add_row("MPS", "available" if t.mps_available else "not available")
        if t.hip_runtime:
            table.add_row("ROCm (torch)", t.hip_runtime)
        table.add_row("XPU", f"available, devices: {t.xpu_device_count}" if t.xpu_available
                      else "not available")
    console.print(table)
    if profile.gpus:
        gpus = Table(title="GPUs", title_justify="left")
        for col in ("device", "name", "free", "total", "others", "CC", "power", "util"):
            gpus.add_column(col)
        for g in profile.gpus:
            gpus.add_row(
                g.device_id, g.name + (" (unified memory)" if g.unified_memory else ""),
                fmt_mib(g.memory_free_mib), fmt_mib(g.memory_total_mib),
                fmt_mib(g.memory_other_processes_mib), fmt_optional(g.compute_capability),
                fmt_optional(g.power_limit_w, " W"), fmt_optional(g.utilization_pct, " %"),
            )
        console.print(gpus)
        for g in profile.gpus:
            runs = f"runs {', '.join(g.precisions)}" if g.precisions else ""
            line = "; ".join(p for p in (g.memory_note, runs) if p)
            if line:
                console.print(f"{g.device_id}: {line}", style="dim")


def _print_references(profiles: dict, as_json: bool) -> int:
    import json

    from selector.core.units import fmt_mib

    if as_json:
        print(json.dumps({k: p.to_dict() for k, p in profiles.items()}, indent=2))
        return 0
    for key, p in profiles.items():
        gpu = ", ".join(f"{g.name} {fmt_mib(g.memory_total_mib)}"
                        + (" (unified)" if g.unified_memory else "") for g in p.gpus) or "no GPU"
        print(f"{key:20s} {p.name}: {gpu}; RAM {fmt_mib(p.memory.total_mib)}")
    return 0
