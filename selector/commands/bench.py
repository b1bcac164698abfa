"""``selector bench``: measure models on this machine (latency, a quick fine-tune).

Each probe runs in its own process, with a progress bar and ETA; Ctrl-C cancels the probe in
flight cleanly (nothing is left running) and keeps what was measured. Every result goes to
the results database, grouped in a session (``--session ID`` adds to an existing one).
"""

from __future__ import annotations

import argparse

NAME = "bench"
HELP = "measure models on this machine: inference latency and a quick fine-tune, isolated"


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _ints(text: str) -> list[int]:
    try:
        values = [int(v) for v in _csv(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers, not {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"batch sizes must be whole numbers of 1 or more, not {text!r}")
    return values


def _seconds(text: str) -> float:
    from selector.core.probes.spec import parse_duration

    try:
        return parse_duration(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("models", nargs="+", metavar="MODEL",
                        help="catalog ids, timm architectures, or local model folders")
    parser.add_argument("--probe", default="latency", type=_csv,
                        help="probes to run, comma-separated: latency, finetune, transfer, perplexity (decoders) "
                             "(default: latency)")
    parser.add_argument("--data", metavar="PATH|sample",
                        help="fine-tune and transfer data: an image folder (one sub-folder per class), a .csv/.tsv/"
                             ".jsonl text file, or 'sample' for the built-in sample data")
    parser.add_argument("--device", default="cpu",
                        help="cpu, cuda or cuda:N (NVIDIA, or AMD under ROCm torch), xpu[:N] "
                             "(Intel) or mps (Apple) (default: cpu)")
    parser.add_argument("--batch", type=_ints, metavar="B1,B2",
                        help="latency: batch sizes to sweep (default 1,8)")
    parser.add_argument("--train-batch", type=int, metavar="N",
                        help="fine-tune batch size (default: the largest --batch, else 16)")
    parser.add_argument("--dtype", type=_csv, default=["fp32"],
                        help="latency precisions: fp32, bf16, fp16 (CUDA), int8 (CPU) (default fp32)")
    parser.add_argument("--budget", type=_seconds, default=60.0, metavar="TIME",
                        help="time budget per probe, after the model is loaded (e.g. 60s, 2m; default 60s)")
    parser.add_argument("--timeout", type=_seconds, metavar="TIME",
                        help="hard timeout per probe (default: 2 x budget + 2 min)")
    parser.add_argument("--threads", type=int, metavar="N", help="torch intra-op threads")
    parser.add_argument("--weights", choices=("auto", "pretrained", "random"), default="auto",
                        help="auto: pretrained when on this machine, else random (default)")
    parser.add_argument("--iters", type=int, metavar="N", help="latency: at least N timed iterations (30)")
    parser.add_argument("--min-time", type=_seconds, metavar="TIME",
                        help="latency: time at least this long per row (3s)")
    parser.add_argument("--channels-last", action="store_true", help="latency: channels-last memory format")
    parser.add_argument("--runtime", type=_csv, metavar="R1,R2",
                        help="latency: runtimes, comma-separated: eager, compile, onnxruntime, openvino "
                             "(default eager); each is checked against eager before it is timed")
    parser.add_argument("--quantize", choices=("int8",),
                        help="latency: also int8 static quantisation under onnxruntime/openvino, "
                             "calibrated on --data when given")
    parser.add_argument("--prompt-len", type=int, metavar="N",
                        help="decoders, latency: prompt tokens (time to first token; default 128)")
    parser.add_argument("--gen-len", type=int, metavar="N",
                        help="decoders, latency: tokens generated greedily with the KV cache (default 32)")
    parser.add_argument("--lora-rank", type=int, metavar="R",
                        help="decoders, finetune: LoRA rank (default 8; the base model stays frozen)")
    parser.add_argument("--text-column", help="text data: the column holding the text")
    parser.add_argument("--label-column", help="text data: the column holding the class label")
    parser.add_argument("--holdout", type=float, default=0.2, help="held-out fraction (default 0.2)")
    parser.add_argument("--max-items", type=int, metavar="N", help="use at most N samples of the data")
    parser.add_argument("--lr", type=float, help="fine-tune: backbone learning rate (1e-4)")
    parser.add_argument("--train-mode", choices=("full", "head"),
                        help="fine-tune: all weights or the head only")
    parser.add_argument("--no-amp", action="store_true", help="fine-tune on CUDA in fp32, without autocast")
    parser.add_argument("--force", action="store_true",
                        help="run probes even when the estimate says they will not fit in free memory")
    parser.add_argument("--session", metavar="ID", help="add the results to this session")
    from selector.commands.cluster_cli import add_cluster_arguments

    add_cluster_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")


def build_specs(args: argparse.Namespace, entries: list) -> list:
    """One ``ProbeSpec`` per model and probe kind, from the command line."""
    from selector.core.data.dataset import DatasetSpec
    from selector.core.probes.spec import ProbeSpec

    data = None
    if args.data:
        source = args.data
        if not DatasetSpec(source).is_sample:  # the probe may run elsewhere than this folder
            from pathlib import Path

            source = str(Path(source).expanduser().resolve())
        data = DatasetSpec(source, text_column=args.text_column, label_column=args.label_column,
                           holdout=args.holdout, max_items=args.max_items).to_dict()
    batches = args.batch or [1, 8]
    train_batch = args.train_batch or (max(args.batch) if args.batch else 16)
    latency = {k: v for k, v in (("min_iters", args.iters), ("min_time_s", args.min_time),
                                 ("channels_last", args.channels_last or None),
                                 ("runtime", getattr(args, "runtime", None)),
                                 ("quantize", getattr(args, "quantize", None)),
                                 ("prompt_len", getattr(args, "prompt_len", None)),
                                 ("gen_len", getattr(args, "gen_len", None))) if v is not None}
    finetune = {k: v for k, v in (("lr", args.lr), ("train_mode", args.train_mode),
                                  ("amp", False if args.no_amp else None),
                                  ("lora_rank", getattr(args, "lora_rank", None))) if v is not None}
    transfer = {"max_items": args.max_items} if args.max_items else {}
    params = {"latency": latency, "finetune": finetune, "transfer": transfer}
    sizes = {"finetune": [train_batch], "transfer": [max(args.batch) if args.batch else 32]}
    specs = []
    for entry in entries:
        for kind in args.probe:
            specs.append(ProbeSpec(
                kind=kind, model=entry.id, entry=entry.to_dict(), device=args.device,
                weights=args.weights, batch_sizes=sizes.get(kind, batches),
                dtypes=args.dtype, threads=args.threads, budget_s=args.budget, timeout_s=args.timeout,
                data=data if kind != "latency" or "runtime" in latency or "quantize" in latency else None,
                params=params.get(kind, {}),
                force=args.force,
            ))
    return specs


def run(args: argparse.Namespace) -> int:
    from selector.commands.bench_args import check_bench_args
    from selector.core.errors import SelectorError
    from selector.core.hardware import detect_hardware
    from selector.core.models import resolve_model
    from selector.core.probes.preflight import check_spec
    from selector.core.results.store import ResultStore

    from selector.core.probes.registry import kinds

    check_bench_args(args)
    if getattr(args, "runtime", None) or getattr(args, "quantize", None):
        from selector.core.runtimes import check_runtimes

        check_runtimes(args.runtime or ["eager"], args.quantize, args.device)
    offered = [k.name for k in kinds()]
    for name in args.probe:
        if name not in offered:
            raise SelectorError(f"unknown probe {name!r}: choose from {', '.join(offered)}")
    for name in ("finetune", "transfer", "perplexity"):
        if args.data is None and name in args.probe:
            raise SelectorError(f"--probe {name} needs --data FOLDER|FILE|sample")
    from selector.core.catalog.catalog import load_catalog

    catalog = load_catalog()
    entries = [resolve_model(spec, catalog) for spec in args.models]
    profile = detect_hardware(include_torch=False)
    specs = build_specs(args, entries)
    for spec in specs:
        check_spec(spec, gpu_count=None if args.cluster is not None else len(
            [g for g in profile.gpus if g.backend in ("cuda", "rocm")]))
    _check_data(specs, quiet=args.json)
    store = ResultStore()
    if args.cluster is not None:  # probes as Ray tasks on the cluster's nodes
        from selector.commands.cluster_cli import cluster_bench

        bench = cluster_bench(args, specs, store)
    else:
        from selector.commands.cluster_cli import local_run_class

        bench = local_run_class(args)(specs, store=store, session=args.session, hardware=profile.to_dict(),
                                      session_name="bench " + " ".join(args.models))
        _warn_if_busy()
    interrupted = drive(bench)
    results = bench.results
    if args.json:
        import json

        from selector.core.transfer.session import rank_session

        ranked = rank_session(store.session_results(bench.session_id) if args.session else results)
        print(json.dumps({"session": bench.session_id, "database": str(store.path),
                          "results": [_without_events(r) for r in results],
                          **({"transfer": ranked.to_dict()} if not ranked.empty else {})}, indent=2))
    else:
        print_results(results, bench.session_id, store.path,
                      session_results=store.session_results(bench.session_id) if args.session else None)
    if interrupted:
        return 130
    return 0 if results and all(r.ok for r in results) else 1


def _check_data(specs: list, quiet: bool) -> None:
    """Read the fine-tune data once before any probe starts: unusable data fails here, plainly."""
    import sys

    from selector.core.data.dataset import DatasetSpec, load_dataset

    checked = set()
    for spec in specs:
        task = (spec.entry or {}).get("task")
        if not spec.data or task in checked:
            continue
        checked.add(task)
        if task == "text-generation":
            from selector.core.data.lm_text import check_lm_data

            check_lm_data(spec.data, quiet=quiet)
            continue
        data = load_dataset(DatasetSpec.from_dict(spec.data), task=task)
        if not quiet:
            skipped = sum(data.skipped.values())
            print(f"data: {data.source}: {len(data.items)} samples in {data.num_classes} classes "
                  f"({len(data.train_idx)} to train, {len(data.test_idx)} held out)"
                  + (f", {skipped} skipped" if skipped else ""), file=sys.stderr)
            for note in data.notes:
                print(f"  {note}", file=sys.stderr)


def _without_events(result) -> dict:  # noqa: ANN001 - ProbeResult
    data = result.to_dict()
    data.pop("events", None)
    return data


def _warn_if_busy() -> None:
    """Say on stderr, before the first probe, that the machine is busy (the rows will say too)."""
    import sys

    from selector.core.probes.contention import machine_busy

    warning = machine_busy(seconds=0.5)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)


# ----------------------------------------------------------------- the live view
def drive(bench) -> bool:  # noqa: ANN001 - BenchRun
    """Run ``bench`` with a progress bar on stderr; True when Ctrl-C cancelled it.

    The first Ctrl-C cancels the probe in flight (its result is still stored); a second
    one interrupts at once (the probe's process group is killed on exit all the same).
    """
    import signal
    import threading

    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    interrupted = []
    previous = None

    def on_sigint(signum, frame):  # noqa: ANN001
        interrupted.append(True)
        signal.signal(signal.SIGINT, previous or signal.default_int_handler)
        bench.cancel("interrupted (Ctrl-C)")

    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, on_sigint)
    console = Console(stderr=True)
    columns = [TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
               TextColumn("{task.fields[eta]}"), TimeElapsedColumn()]
    tasks: dict[str, int] = {}
    try:
        with Progress(*columns, console=console, transient=False) as progress:
            for event in bench.events():
                _show(progress, tasks, event)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    return bool(interrupted)


def _label(event) -> str:  # noqa: ANN001
    where = f"[{event.index + 1}/{event.count}] " if event.count else ""
    return f"{where}{event.model_id} {event.kind}"


def _show(progress, tasks: dict, event) -> None:  # noqa: ANN001
    from selector.core.units import fmt_ms

    task = tasks.get(event.probe_id)
    if task is None:
        task = tasks[event.probe_id] = progress.add_task(_label(event), total=100, eta="")
    if event.type == "end":
        result = event.result
        mark = "[green]done[/]" if result.ok else f"[red]{result.status_words}[/]"
        progress.update(task, completed=100 if result.ok else progress.tasks[task].completed,
                        description=f"{_label(event)}: {mark}", eta="")
        progress.console.print(f"{_label(event)}: {result.status_words}: {result.message}")
        return
    if event.type == "log" and event.message:
        progress.console.print(f"  {event.message}", highlight=False)
    detail = event.phase or ""
    if event.type == "phase" and event.message:
        detail = event.message
    if event.loss is not None:
        detail = f"step {event.step}, loss {event.loss:.3f}"
    update = {"description": f"{_label(event)}: {detail}"}
    if event.fraction is not None:
        update["completed"] = 100 * event.fraction
    if event.eta_s is not None:
        update["eta"] = f"ETA {fmt_ms(event.eta_s * 1000)}"
    progress.update(task, **update)


# ----------------------------------------------------------------- the final table
def print_results(results: list, session_id: str | None, db_path,  # noqa: ANN001
                  session_results: list | None = None) -> None:
    """The final tables. ``session_results``: every result of the session (when this run added
    to an earlier one), for the transfer ranking across all its models."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    latency = [row for r in results for row in r.latency_rows()]
    if latency:
        gpu = any(row.cuda_max_allocated_mib is not None for row in latency)
        energy = any(row.energy_j is not None for row in latency)
        settings = sorted({f"{row.model_id}: {row.weights} weights, {row.threads} threads, "
                           f"input {'x'.join(map(str, row.input_size))}, {row.device}" for row in latency})
        table = Table(title="Latency", title_justify="left", caption="; ".join(settings),
                      caption_justify="left")
        setting = "runtime dtype" if any(r.runtime != "eager" for r in latency) else "dtype"
        columns = ["model", setting, "batch", "p50 ms", "p90 ms", "p99 ms", "CV", "samples/s",
                   "RSS MiB"]
        for col in (columns + (["GPU max MiB"] if gpu else []) + (["J/sample", "W"] if energy else [])
                    + ["machine"]):
            table.add_column(col, justify="left" if col in ("model", "dtype", "runtime dtype", "machine") else "right",
                             no_wrap=col == "model", min_width=5 if col == "machine" else None)
        for row in latency:
            cells = [row.model_id, row.setting + ("" if row.parity_ok else " ✗"), str(row.batch_size),
                     _num(row.p50_ms, 3),
                     _num(row.p90_ms, 3), _num(row.p99_ms, 3),
                     "—" if row.cv is None else f"{100 * row.cv:.0f}%", _num(row.samples_per_s, 4),
                     _num(row.peak_rss_mib, 4)]
            table.add_row(*cells + ([_num(row.cuda_max_allocated_mib, 4)] if gpu else [])
                          + ([_num(row.energy_per_sample_j, 3), _num(row.avg_power_w, 3)]
                             if energy else [])
                          + [_machine_cell(row.contention)])
        console.print(table)
        notes = sorted({row.energy_note for row in latency if row.energy_j is None and row.energy_note})
        for note in notes:
            console.print(f"energy not measured: {note}", style="dim", highlight=False)
        _print_notes(console, [(f"{r.model_id} {r.setting} batch {r.batch_size}", r.contention,
                                "; ".join(n for n in (r.note, _parity_note(r)) if n)) for r in latency])
    tunes = [rep for r in results if (rep := r.finetune_report()) is not None and not rep.lora]
    if tunes:
        settings = sorted({f"{t.model_id}: {t.weights} weights, {t.precision}, {t.train_mode} fine-tune, "
                           f"{t.threads} threads" for t in tunes})
        table = Table(title="Quick fine-tune", title_justify="left", caption="; ".join(settings),
                      caption_justify="left")
        for col in ("model", "batch", "steps", "samples/s", "step p50 ms", "acc before", "acc after",
                    "loss", "RSS MiB", "machine"):
            table.add_column(col, justify="left" if col in ("model", "machine") else "right",
                             no_wrap=col == "model", min_width=5 if col == "machine" else None)
        for rep in tunes:
            batch = str(rep.batch_size_used) + ("*" if rep.oom_step_downs else "")
            table.add_row(rep.model_id, batch, str(rep.steps), _num(rep.samples_per_s, 4),
                          _num(rep.p50_step_ms, 3), _pct(rep.acc_before), _pct(rep.acc_after),
                          _num(rep.loss_last, 3), _num(rep.peak_rss_mib, 4),
                          _machine_cell(rep.contention))
        console.print(table)
        if any(rep.oom_step_downs for rep in tunes):
            console.print("* batch stepped down after running out of memory", style="dim")
        _print_notes(console, [(f"{t.model_id} fine-tune", t.contention, "") for t in tunes])
    from selector.commands.bench_decoder import print_decoder

    print_decoder(console, results)
    from selector.commands.bench_transfer import print_transfer

    print_transfer(console, session_results if session_results is not None else results)
    _print_notes(console, [(f"{r.model_id} transfer", r.rows[0].get("contention"), "")
                           for r in results if r.kind == "transfer" and r.rows])
    for result in results:
        if not result.ok:
            console.print(f"[red]{result.model_id} {result.kind}: {result.status_words}[/]: {result.message}")
            if result.error and result.status == "failed":
                console.print(result.error.strip().splitlines()[-1], style="dim", highlight=False)
    console.print(f"session {session_id} saved in {db_path}", style="dim", highlight=False)


def _parity_note(row) -> str:  # noqa: ANN001 - LatencyRow
    """A runtime row's parity (and held-out accuracy) in words; eager rows say nothing."""
    parity = row.parity or {}
    if row.runtime == "eager" and row.dtype == "fp32" or not parity or row.error:
        return ""
    words = f"parity vs eager: max rel diff {parity.get('max_rel_diff', 0):.2g}"
    if parity.get("top1_agreement") is not None:
        words += f", top-1 agreement {100 * parity['top1_agreement']:.1f} %"
    if row.heldout_accuracy is not None and row.heldout_accuracy_fp32 is not None:
        words += (f", held-out accuracy {100 * row.heldout_accuracy:.1f} % "
                  f"(eager fp32 {100 * row.heldout_accuracy_fp32:.1f} %)")
    if not parity.get("ok", True):
        words += f"; ✗ {parity.get('reason')}: never recommended"
    return words


def _machine_cell(contention: dict | None) -> str:
    """``noisy`` (its reasons follow the table), ``quiet``, or ``—`` (not recorded)."""
    if not contention:
        return "—"
    return "[bold yellow]noisy[/]" if contention.get("noisy") else "quiet"


def _print_notes(console, rows: list[tuple[str, dict | None, str]]) -> None:  # noqa: ANN001
    """Under a table: one line per contention reason of each noisy row, and each row's note."""
    from selector.core.probes.contention import reasons_of

    for label, contention, note in rows:
        for reason in reasons_of(contention):
            console.print(f"noisy: {label}: {reason}", highlight=False, markup=False)
        if note:
            console.print(f"note: {label}: {note}", style="dim", highlight=False)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _num(value: float | None, digits: int | None = None) -> str:
    """3 decimals, or ``digits`` significant digits (no exponent)."""
    if value is None:
        return "—"
    if digits is None:
        return f"{value:.3f}"
    places = max(0, digits - len(str(int(abs(value)))) if abs(value) >= 1 else digits)
    return f"{value:,.{places}f}"
