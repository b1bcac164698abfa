"""The CLI's side of running on a Ray cluster: ``--cluster`` for ``bench`` and ``hw``.

``selector bench ... --cluster HOST:PORT`` (or ``--cluster`` alone with ``RAY_ADDRESS`` set)
sends each probe to the cluster as a Ray task; ``selector hw --cluster HOST:PORT`` lists the
nodes with the profile each read on itself. An unreachable address, or Ray not installed, is
one line and exit 2 before anything starts.
"""

from __future__ import annotations

import argparse


def _resource(text: str) -> tuple[str, float]:
    name, _, amount = text.partition("=")
    try:
        value = float(amount) if amount else 1.0
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected NAME or NAME=AMOUNT, not {text!r}") from None
    if not name or value <= 0:
        raise argparse.ArgumentTypeError(f"expected NAME or NAME=AMOUNT (AMOUNT > 0), not {text!r}")
    return name, value


def add_cluster_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--all-gpus", action="store_true",
                        help="probes side by side on every GPU here, one per GPU, each on a card it fits "
                             "(with --device cuda); CPU probes on the cores the GPU probes leave")
    group = parser.add_argument_group("on a Ray cluster")
    group.add_argument("--cluster", nargs="?", const="", metavar="ADDRESS",
                       help="run each probe as a task on this Ray cluster (HOST:PORT of the head; "
                            "--cluster alone: $RAY_ADDRESS)")
    group.add_argument("--node-kind", metavar="TYPE",
                       help="only on nodes of this accelerator type (Ray's accelerator_type, e.g. T4, A100)")
    group.add_argument("--resource", type=_resource, action="append", metavar="NAME[=N]",
                       help="a custom Ray resource each probe needs (repeatable)")
    group.add_argument("--allow-download", action="store_true",
                       help="nodes without the weights download them (default: architecture only, random weights)")


def local_run_class(args: argparse.Namespace) -> type:
    """``BenchRun``, or ``PlacedBenchRun`` with ``--all-gpus``."""
    if getattr(args, "all_gpus", False):
        from selector.core.probes.placement import PlacedBenchRun

        return PlacedBenchRun
    from selector.core.probes.bench import BenchRun

    return BenchRun


def cluster_bench(args: argparse.Namespace, specs: list, store):  # noqa: ANN001, ANN201 - ResultStore
    """Connect (a one-line error when that fails) and the run to drive."""
    from selector.core.cluster.connect import connect
    from selector.core.cluster.runner import ClusterBenchRun
    from selector.core.errors import SelectorError

    if args.cluster is None:
        raise SelectorError("--cluster is needed to run on a cluster")
    address = connect(args.cluster)
    return ClusterBenchRun(specs, store=store, session=args.session, address=address,
                           session_name="bench " + " ".join(args.models) + f" on {address}",
                           accelerator_type=args.node_kind, resources=dict(args.resource or []),
                           allow_download=args.allow_download)


def print_cluster(address: str, as_json: bool) -> int:
    """``selector hw --cluster``: every alive node, its kind and the profile read there."""
    import json

    from selector.core.cluster import require_ray
    from selector.core.cluster.connect import cluster_nodes, connect, disconnect

    joined_here = not require_ray().is_initialized()
    address = connect(address)
    try:
        nodes = cluster_nodes()
    finally:
        if joined_here:
            disconnect()
    if as_json:
        print(json.dumps({"cluster": address, "nodes": [n.to_dict() for n in nodes]}, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    from selector.core.units import fmt_mib

    table = Table(title=f"Ray cluster {address}: {len(nodes)} node(s)", title_justify="left")
    for col in ("node", "address", "kind", "CPU", "RAM free", "GPUs", "Ray resources"):
        table.add_column(col)
    for node in nodes:
        hw = node.hardware or {}
        cpu, mem = hw.get("cpu") or {}, hw.get("memory") or {}
        gpus = ", ".join(f"{g.get('index')}: {g.get('name')}" for g in hw.get("gpus") or []) or "—"
        shown = ", ".join(f"{k}={v:g}" for k, v in sorted(node.resources.items()))
        table.add_row(node.name, node.address, node.kind,
                      f"{cpu.get('model', '?')} x{cpu.get('logical_cores', '?')}",
                      fmt_mib(mem.get("available_mib")) if mem else "—", gpus,
                      shown + (f" (error: {node.error})" if node.error else ""))
    Console().print(table)
    return 0


def export_per_kind(args: argparse.Namespace, fmt: str) -> int:
    """``selector export --per-kind``: a cluster session as one sheet per hardware kind."""
    from selector.commands.recommend import app_session
    from selector.core.cluster.sheets import kind_sheets
    from selector.core.errors import SelectorError
    from selector.core.export.compare import compare_kinds
    from selector.core.export.compare_render import export_comparison

    if fmt == "pdf":
        raise SelectorError("per-kind sheets are written as html, md, csv or json, not pdf")
    _app, constraints, objective = app_session(args)
    sheets = kind_sheets(args.session, constraints, objective)
    comparison = compare_kinds(sheets)
    written = export_comparison(comparison, args.out, fmt, overwrite=args.force, title=args.title)
    print(f"wrote {written[0]} ({fmt}; {len(comparison.models)} models on {len(sheets)} hardware kind(s))")
    for line in comparison.notes:
        print(f"  {line}")
    return 0
