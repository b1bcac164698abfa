"""``selector recommend``: which model to use under your constraints, and why."""

from __future__ import annotations

import argparse
import math

NAME = "recommend"
HELP = "recommend a model from a probe session (or catalog models) under your constraints"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_source_arguments(parser)
    add_constraint_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the recommendation as JSON")


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--session", metavar="ID",
                        help="probe session id or unique prefix (default: the latest)")
    source.add_argument("--sheet", metavar="FILE",
                        help="re-use the candidates of a JSON sheet (e.g. from another machine)")
    source.add_argument("--models", metavar="ID[,ID...]",
                        help="unprobed models (catalog ids, timm architectures, local folders):"
                             " published figures and estimates only")


def add_constraint_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("constraints and objective")
    group.add_argument("--latency-ms", type=_positive, metavar="MS",
                       help="p50 latency budget per batch, in ms")
    group.add_argument("--batch", type=int, default=1, metavar="N",
                       help="batch size the latency budget is for (default: 1)")
    group.add_argument("--device", default="cpu", help="cpu, cuda:N, xpu:N or mps (default: cpu)")
    group.add_argument("--dtype", help="only use latency figures of this dtype (fp32, bf16, ...)")
    group.add_argument("--memory-gib", type=_positive, metavar="GIB",
                       help="memory budget in GiB (default: what was free on the device "
                            "when the probes ran, or now for --models)")
    group.add_argument("--memory-for", choices=("inference", "finetune"), default="inference",
                       help="what must fit in memory (default: inference)")
    group.add_argument("--min-accuracy", type=float, metavar="PCT",
                       help="accuracy floor in percent (fine-tuned held-out accuracy if measured, "
                            "else the published figure, labelled)")
    group.add_argument("--task", choices=("image-classification", "text-classification"),
                       help="reject models of other tasks")
    group.add_argument("--objective", choices=("accuracy", "latency", "balanced", "energy"),
                       default="accuracy",
                       help="most accurate within the constraints (default), fastest above "
                            "the floor, a weighted balance, or most samples per joule "
                            "(measured energy)")
    group.add_argument("--accuracy-weight", type=float, default=0.5, metavar="W",
                       help="balanced objective: weight of accuracy, 0-1 (default 0.5)")


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a number more than 0, not {text}")
    return value


def check_constraint_args(args: argparse.Namespace) -> None:
    """``SelectorError`` for a constraint no recommendation can use, before anything is read."""
    from selector.core.errors import SelectorError

    device = args.device
    if not (device in ("cpu", "cuda") or (device.startswith("cuda:") and device[5:].isdigit())):
        raise SelectorError(f"--device must be cpu, cuda or cuda:N, not {device!r}")
    if args.batch < 1:
        raise SelectorError(f"--batch must be a whole number of 1 or more, not {args.batch}")
    if args.min_accuracy is not None and not 0 <= args.min_accuracy <= 100:  # also NaN
        raise SelectorError(f"--min-accuracy is a percentage from 0 to 100, not {args.min_accuracy:g}")
    if not 0 <= args.accuracy_weight <= 1:
        raise SelectorError(f"--accuracy-weight must be from 0 to 1 (the share of accuracy in the "
                            f"balanced objective), not {args.accuracy_weight:g}")


def constraints_from_args(args: argparse.Namespace, hardware: dict | None):  # noqa: ANN201
    """Constraints and objective from the command line; free memory from ``hardware``."""
    from selector.core.errors import SelectorError
    from selector.core.recommend import Constraints, Objective

    if args.batch < 1:
        raise SelectorError(f"--batch must be at least 1, not {args.batch}")
    free = _free_mib(hardware, args.device)
    try:
        objective = Objective(args.objective, args.accuracy_weight)
    except ValueError as err:
        raise SelectorError(str(err)) from err
    constraints = Constraints(
        task=args.task, device=args.device, batch=args.batch, latency_ms=args.latency_ms,
        dtype=args.dtype, memory_mode=args.memory_for,
        memory_budget_mib=args.memory_gib * 1024 if args.memory_gib else None,
        free_memory_mib=free, min_accuracy=args.min_accuracy,
    )
    return constraints, objective


def _free_mib(hardware: dict | None, device: str) -> float | None:
    from selector.core.estimate.fit import free_for_verdicts

    return free_for_verdicts(device, recorded=hardware)


def app_session(args: argparse.Namespace):  # noqa: ANN201
    """(AppSession, constraints, objective): the application session showing what ``args``
    name (a sheet, catalog models or a probe session: the newest by default), as the desktop
    app shows it, so both answer from the same code."""
    from selector.core.errors import SelectorError
    from selector.core.hardware import detect_hardware
    from selector.core.session import AppSession

    check_constraint_args(args)
    app = AppSession()
    if getattr(args, "sheet", None):
        sheet = app.open_sheet(args.sheet)
        constraints, objective = constraints_from_args(args, sheet.hardware)
        return app, constraints, objective
    if getattr(args, "models", None) is not None:
        live = detect_hardware(include_torch=False)
        app.set_live_profile(live)
        ids = [m.strip() for m in args.models.split(",") if m.strip()]
        if not ids:
            raise SelectorError("--models needs at least one catalog id")
        constraints, objective = constraints_from_args(args, live.to_dict())
        app.show_models(ids)
        return app, constraints, objective
    app.reopen(args.session)
    # free memory: what the session recorded when its probes ran (filled in by the session)
    constraints, objective = constraints_from_args(args, None)
    return app, constraints, objective


def run(args: argparse.Namespace) -> int:
    import json

    app, constraints, objective = app_session(args)
    rec = app.recommendation_sheet(constraints, objective).recommendation
    if args.json:
        print(json.dumps(rec.to_dict(), indent=2, ensure_ascii=False))
    else:
        print_recommendation(rec)
    return 0


def print_recommendation(rec) -> None:  # noqa: ANN001 - Recommendation, imported lazily
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from selector.core.export.table import accuracy_cell, latency_cell, memory_cell, status_word

    console = Console()
    head = Text()
    if rec.recommended:
        head.append("Recommended: ", style="bold")
        head.append(rec.recommended, style="bold green")
    else:
        head.append("No candidate meets the constraints", style="bold red")
    head.append(f"  (confidence: {rec.confidence})")
    console.print(head)
    console.print(Text(rec.verdicts[0].reason if rec.recommended else rec.summary))
    console.print(Text("Constraints: " + "; ".join(rec.constraints.describe())
                       + f". Objective: {rec.objective.describe()}.", style="dim"))
    console.print(Text(f"Accuracy basis: {rec.basis}.", style="dim"))
    table = Table(show_lines=False, title_justify="left")
    for col in ("#", "model", "status", "accuracy", "p50", "memory", "why"):
        table.add_column(col, overflow="fold")
    colors = {"recommended": "green", "pareto": "blue", "rejected": "red", "unverified": "yellow"}
    for v in rec.verdicts:
        table.add_row(
            str(v.rank) if v.rank else "—", Text(v.model_id),
            Text(status_word(v.status), style=colors.get(v.status, "")), accuracy_cell(v),
            latency_cell(v.latency), memory_cell(v.memory), Text(v.reason),
        )
    console.print(table)
    console.print(Text("M = measured, E = estimated, P = published.", style="dim"))
    for note in rec.notes:
        console.print(Text(f"• {note}", style="yellow"))
    for probe in rec.next_probes:
        console.print(Text(f"→ {probe.text()}", style="cyan"))
