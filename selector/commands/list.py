"""``selector list``: the catalog, filtered and sorted, with the fit on a device."""

from __future__ import annotations

import argparse
import sys

NAME = "list"
HELP = "list candidate models: filter by task, family, size, accuracy, fit in free memory"
SORT_CHOICES = ("top1", "params", "macs", "latency", "memory", "name")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    what = parser.add_argument_group("which models")
    what.add_argument("--task", choices=["image-classification", "text-classification", "text-generation", "image",
                                         "text"])
    what.add_argument("--family", action="append", default=[], metavar="NAME",
                      help="architecture family (resnet, vit, bert, ...); repeat for several")
    what.add_argument("--search", default="", metavar="TEXT", help="words that must all appear in the id/architecture")
    what.add_argument("--min-params", metavar="N", help="at least N parameters (e.g. 5M)")
    what.add_argument("--max-params", metavar="N", help="at most N parameters (e.g. 50M, 1.5G)")
    what.add_argument("--min-top1", type=float, metavar="PCT",
                      help="published accuracy at least PCT (ImageNet top-1; GLUE/SST-2 for text)")
    what.add_argument("--cached", action="store_true", help="only models whose weights are in the local cache")
    fit = parser.add_argument_group("fit in free memory")
    fit.add_argument("--fits", metavar="DEVICE", help="keep what fits on DEVICE (cpu, cuda:0)")
    fit.add_argument("--strict", action="store_true", help="with --fits: leave out 'tight' fits too")
    fit.add_argument("--profile", metavar="NAME_OR_FILE",
                     help="a reference hardware profile (t4, a100-80gb, ...) or a saved one instead of this machine")
    fit.add_argument("--train", action="store_true", help="for a fine-tuning step rather than inference")
    fit.add_argument("--batch", type=int, default=1, metavar="N", help="batch size (default 1)")
    fit.add_argument("--image-size", type=int, metavar="PX", help="input side in pixels (default: each model's own)")
    fit.add_argument("--seq-len", type=int, default=128, metavar="N", help="tokens per sample (default 128)")
    fit.add_argument("--dtype", default="fp32", choices=["fp32", "fp16", "bf16", "amp"])
    fit.add_argument("--optimizer", default="adamw", choices=["adamw", "sgd"])
    fit.add_argument("--grad-checkpointing", action="store_true")
    fit.add_argument("--context", type=int, metavar="N",
                     help="decoders: tokens per sequence, prompt plus generated (default: --seq-len)")
    fit.add_argument("--quant", choices=["fp32", "bf16", "int8", "nf4"],
                     help="decoders: weight format (int8 / nf4 compute in bf16); overrides --dtype")
    fit.add_argument("--lora-rank", type=int, default=0, metavar="R",
                     help="decoders: a LoRA fine-tune of rank R (with --quant nf4: QLoRA); implies --train")
    fit.add_argument("--margin", type=float, default=0.10, metavar="F",
                     help="safety margin for 'tight' (default 0.10, the fit rule's MARGIN)")
    out = parser.add_argument_group("output")
    out.add_argument("--sort", default="top1", choices=SORT_CHOICES,
                     help="top1 best first; params, macs, latency, memory smallest first")
    out.add_argument("--reverse", action="store_true", help="reverse the sort order")
    out.add_argument("--limit", type=int, default=50, metavar="N", help="show at most N rows (default 50; 0: all)")
    out.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    from selector.core.catalog.catalog import load_catalog
    from selector.core.catalog.filters import CatalogFilter, apply, parse_count
    from selector.core.errors import SelectorError
    from selector.core.estimate.memory import Workload

    task = {"image": "image-classification", "text": "text-classification"}.get(args.task, args.task)
    try:
        if args.context is not None and args.context < 1:
            raise ValueError(f"--context must be at least 1 token, not {args.context}")
        quant = args.quant if args.quant in ("int8", "nf4") else None
        dtype = "bf16" if quant else (args.quant or args.dtype)
        workload = Workload(
            mode="train" if args.train or args.lora_rank else "inference", batch_size=args.batch,
            image_size=args.image_size, seq_len=args.context or args.seq_len, dtype=dtype,
            optimizer=args.optimizer, grad_checkpointing=args.grad_checkpointing, quant=quant,
            lora_rank=args.lora_rank,
        )
        flt = CatalogFilter(
            task=task, families=args.family, search=args.search,
            params_min=parse_count(args.min_params) if args.min_params else None,
            params_max=parse_count(args.max_params) if args.max_params else None,
            min_accuracy=args.min_top1, cached_only=args.cached, fits_on=args.fits,
            include_tight=not args.strict, workload=workload, margin=args.margin, sort=args.sort,
            descending=(args.sort != "top1") if args.reverse else None,
            limit=args.limit or None,
        )
    except ValueError as err:
        raise SelectorError(str(err)) from err
    profile = _profile(args) if (args.fits or args.sort in ("memory", "latency")) else None
    calibration = _calibration(args) if args.sort == "latency" else None
    catalog = load_catalog(check_cache=True)
    for problem in catalog.problems:
        print(f"note: {problem}", file=sys.stderr)
    try:
        rows = apply(catalog, flt, profile, calibration)
    except ValueError as err:
        raise SelectorError(str(err)) from err
    latencies = _latencies(rows, flt, profile, calibration) if args.sort == "latency" else {}
    if args.json:
        _print_json(rows, flt, profile, latencies, _answers(rows, flt, profile))
    else:
        _print_table(rows, flt, profile, len(catalog), latencies)
    return 0


def _latencies(rows, flt, profile, calibration) -> dict:  # noqa: ANN001
    """Predicted latency of each listed entry on the filter's device (or the CPU)."""
    from selector.core.catalog.filters import latency_device
    from selector.core.estimate.latency import estimate_latency

    device_id, name = latency_device(flt, profile)
    out = {}
    for entry, _result in rows:
        est = estimate_latency(entry, flt.workload, device_id, calibration, device_name=name)
        if est is not None:
            out[entry.id] = est
    return out


def _profile(args: argparse.Namespace):  # noqa: ANN202 - HardwareProfile, imported lazily
    from selector.core import hardware
    from selector.core.errors import SelectorError

    if args.profile:
        try:
            return hardware.resolve_profile(args.profile)
        except ValueError as err:
            raise SelectorError(str(err)) from err
    return hardware.detect_hardware(include_torch=False)


def _calibration(args: argparse.Namespace):  # noqa: ANN202
    from selector.core.estimate.calibration import get_calibration, load_calibration, provisional_note

    device = args.fits or "cpu"
    if device.startswith("cuda"):
        return None  # GPUs are predicted from published throughput
    if args.profile:
        print("note: no CPU latency for another machine's profile (it needs that CPU's calibration)",
              file=sys.stderr)
        return None
    cal = load_calibration()
    if cal is None:
        print("calibrating this CPU for latency estimates (once, a few seconds)...", file=sys.stderr)
        cal = get_calibration()
        note = provisional_note(cal)
        if note:
            print(f"note: {note}", file=sys.stderr)
    return cal


def _answers(rows, flt, profile) -> dict:  # noqa: ANN001
    """Decoders with a device: the longest context, largest batch and mildest quantisation that fit."""
    from selector.core.estimate.llm_memory import answers

    if not flt.fits_on or profile is None:
        return {}
    device = profile.device(flt.fits_on)
    return {e.id: answers(e, flt.workload, device, flt.margin) for e, _r in rows if e.is_decoder}


def _row_dict(entry, result, latency=None) -> dict:  # noqa: ANN001
    from selector.core.catalog.filters import accuracy

    row = {
        "id": entry.id, "task": entry.task, "family": entry.family, "source": entry.source,
        "params": entry.params or entry.published_params, "macs": entry.macs or entry.published_macs,
        "accuracy": accuracy(entry), "weights_cached": entry.weights_cached,
    }
    if result is not None:
        est = result.estimate
        row["fit"] = {
            "status": result.status, "device": result.device_id, "needed_mib": round(result.needed_mib, 1),
            "free_mib": round(result.free_mib, 1), "reason": result.reason,
            "breakdown_mib": {k: round(getattr(est, f"{k}_mib"), 1) for k in
                              ("weights", "gradients", "optimizer", "activations", "allocator",
                               "overhead")},
            "method": est.method,
        }
        if entry.is_decoder:
            row["fit"]["breakdown_mib"]["kv_cache"] = round(est.kv_cache_mib, 1)
    if latency is not None:
        row["latency"] = {"device": latency.device_id, "ms_per_batch": round(latency.ms_per_batch, 3),
                          "samples_per_s": round(latency.samples_per_s, 1), "method": latency.method}
    return row


def _print_json(rows, flt, profile, latencies, answers=None) -> None:  # noqa: ANN001
    import json

    out = {
        "filter": flt.to_dict(),
        "profile": profile.name if profile is not None else None,
        "count": len(rows),
        "models": [_row_dict(e, r, latencies.get(e.id)) | ({"answers": answers[e.id]} if answers and e.id in answers
                                                           else {}) for e, r in rows],
    }
    print(json.dumps(out, indent=1))


def _print_table(rows, flt, profile, total: int, latencies: dict) -> None:  # noqa: ANN001
    from rich.console import Console
    from rich.table import Table

    from selector.core.catalog.filters import accuracy
    from selector.core.estimate.fit import FITS, NO, TIGHT
    from selector.core.units import fmt_count, fmt_mib, fmt_ms

    console = Console()
    if not console.is_terminal:  # piped: room for whole ids rather than 80 columns
        console = Console(width=max(console.width, 160))
    has_fit = any(r is not None for _e, r in rows)
    title = f"{len(rows)} model{'' if len(rows) == 1 else 's'} (of {total})"
    if flt.fits_on:
        title += f" that fit on {flt.fits_on} of {profile.name}: {flt.workload.describe()}"
        if flt.task == "text-generation":
            wl = flt.workload
            title += f", {wl.seq_len} tokens" + (f", weights {wl.quant}" if wl.quant else "") + (
                f", LoRA r={wl.lora_rank}" if wl.lora_rank else "")
    has_kv = has_fit and any(e.is_decoder for e, _r in rows)
    table = Table(title=title, title_justify="left")
    table.add_column("model", overflow="fold")  # ids are copied into other commands: never cut
    for col in ("family", "params", "MACs", "acc %"):
        table.add_column(col, justify="left" if col == "family" else "right", no_wrap=True)
    if has_fit:
        table.add_column("fit", no_wrap=True)
        table.add_column("needs", justify="right", no_wrap=True)
    if has_kv:
        table.add_column("KV cache", justify="right", no_wrap=True)
    if latencies:
        table.add_column("ms/batch", justify="right", no_wrap=True)
    colors = {FITS: "green", TIGHT: "yellow", NO: "red"}
    for entry, result in rows:
        acc = accuracy(entry)
        cells = [entry.id + (" *" if entry.weights_cached else ""), entry.family,
                 fmt_count(entry.params or entry.published_params), fmt_count(entry.macs or entry.published_macs),
                 "—" if acc is None else f"{acc:.1f}"]
        if has_fit:
            cells += [f"[{colors[result.status]}]{result.status}[/]", fmt_mib(result.needed_mib)]
        if has_kv:
            cells.append(fmt_mib(result.estimate.kv_cache_mib) if entry.is_decoder else "—")
        if latencies:
            est = latencies.get(entry.id)
            cells.append(fmt_ms(est.ms_per_batch) if est else "—")
        table.add_row(*cells)
    console.print(table)
    if has_fit and rows:
        free = rows[0][1].free_mib
        console.print(f"free on {rows[0][1].device_id}: {fmt_mib(free)}; needs = weights + grads + "
                      f"optimizer + activations + allocator + framework overhead"
                      f"{' + KV cache' if has_kv else ''}; * weights cached")
    if latencies:
        method = next(iter(latencies.values())).method
        console.print(f"latency: {method}")
