"""``selector catalog``: build the snapshot, add or remove local models, show an entry."""

from __future__ import annotations

import argparse
import contextlib
from typing import Iterator

NAME = "catalog"
HELP = "build the model catalog snapshot, add/remove local models, show an entry"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="catalog_command", metavar="ACTION")
    sub.required = True
    build = sub.add_parser(
        "build", help="measure every model on the meta device and write the snapshot",
        description="Measure every pretrained timm tag and the text models (parameters, MACs, "
        "activation profile) in worker processes and write the catalog snapshot. About an hour of "
        "CPU on two cores. One build at a time: a lock in the cache folder names the running one. "
        "Ctrl-C or SIGTERM stops the build and its workers, and writes nothing.",
    )
    build.add_argument("--out", metavar="FILE", help="snapshot file (default: resources/catalog/"
                       "catalog.json.gz in a source checkout, else the refreshed copy in the cache folder)")
    build.add_argument("--limit", type=int, metavar="N", help="only the first N vision tags (for a quick try)")
    build.add_argument("--jobs", type=int, default=2, metavar="N",
                       help="worker processes (default 2; 0 measures in this process, without time limits)")
    build.add_argument("--timeout", type=float, default=300.0, metavar="S",
                       help="seconds one model may take before it is recorded as failed (default 300)")
    build.add_argument("--no-activation", action="store_true", help="skip the activation profiles (faster)")
    build.add_argument("--no-text", action="store_true", help="vision entries only")
    again = build.add_mutually_exclusive_group()
    again.add_argument("--remeasure", nargs="+", metavar="ID",
                       help="measure only these ids again, keeping the rest of the snapshot at --out")
    again.add_argument("--failed", action="store_true",
                       help="measure again the models that failed in the snapshot at --out")
    build.add_argument("--quiet", action="store_true", help="no progress output")
    build.add_argument("--watch-stdin", action="store_true", help=argparse.SUPPRESS)
    """The app that starts a build passes a pipe as stdin: its end (EOF) stops the build."""
    add = sub.add_parser("add", help="add a local model folder or checkpoint file")
    add.add_argument("path", metavar="PATH", help="Hugging Face folder (config.json + safetensors) "
                     "or a timm checkpoint folder/file")
    add.add_argument("--architecture", metavar="NAME", help="timm architecture of the checkpoint, e.g. resnet18")
    remove = sub.add_parser("remove", help="forget a local model (its files stay)")
    remove.add_argument("model_id", metavar="ID", help="the local model's id, e.g. local:my-model")
    show = sub.add_parser("show", help="print one entry (any model spec: id, timm name, folder)")
    show.add_argument("spec", metavar="MODEL")
    show.add_argument("--json", action="store_true", help="as JSON")
    sub.add_parser("info", help="which snapshot is loaded, its versions and counts, local models")


def run(args: argparse.Namespace) -> int:
    return {"build": _build, "add": _add, "remove": _remove, "show": _show, "info": _info}[
        args.catalog_command
    ](args)


def _default_out():  # noqa: ANN202
    """The shipped snapshot in a source checkout; the cache copy in an installed app."""
    from pathlib import Path

    import selector
    from selector.core import paths
    from selector.core.catalog.catalog import refreshed_snapshot_path, shipped_snapshot_path

    package_dir = Path(selector.__file__).resolve().parent
    in_checkout = package_dir not in paths.resources_dir().resolve().parents
    return shipped_snapshot_path() if in_checkout else refreshed_snapshot_path()


def _build(args: argparse.Namespace) -> int:
    import os
    import sys
    import time

    from selector.core.catalog.buildlock import BuildLock
    from selector.core.catalog.snapshot import build_snapshot
    from selector.core.errors import SelectorError

    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # measuring needs no network, ever
    out = args.out or _default_out()
    started = time.monotonic()
    last = [0.0]

    def progress(done: int, total: int, label: str) -> None:
        now = time.monotonic()
        if args.quiet or (now - last[0] < 2.0 and done != total):
            return
        last[0] = now
        elapsed = now - started
        eta = elapsed / done * (total - done) if done else 0.0
        print(f"[{done}/{total}] {elapsed:5.0f} s, about {eta:4.0f} s left: {label}", file=sys.stderr, flush=True)

    if args.limit is not None and args.limit < 0:
        raise SelectorError("--limit must be 0 or more")
    if args.jobs < 0:
        raise SelectorError("--jobs must be 0 or more")
    if not args.timeout > 0:
        raise SelectorError("--timeout must be more than 0 seconds")
    with BuildLock(), _stopped_by_signals(args.watch_stdin):
        try:
            if args.remeasure or args.failed:
                report = _remeasure(out, args, progress)
            else:
                report = build_snapshot(out, limit=args.limit, jobs=args.jobs, timeout=args.timeout,
                                        with_activation=not args.no_activation, include_text=not args.no_text,
                                        progress=progress)
        except OSError as err:
            raise SelectorError(f"cannot write the snapshot {out}: {err}") from err
    print(f"wrote {report.path}: {report.entries} entries, {report.measured} measured, "
          f"{len(report.failures)} with a failed measurement, in {report.seconds:.0f} s")
    for model_id, why in list(report.failures.items())[:20]:
        print(f"  {model_id}: {why}")
    if len(report.failures) > 20:
        print(f"  ... and {len(report.failures) - 20} more (listed in the snapshot's 'failures')")
    return 0


@contextlib.contextmanager
def _stopped_by_signals(watch_stdin: bool) -> Iterator[None]:
    """SIGTERM (and, with ``watch_stdin``, the end of stdin) ends the build as Ctrl-C does:
    the exception unwinds through the worker pool, which kills its workers, and the lock is
    released. Nothing is written: the snapshot is only written whole, at the end."""
    import os
    import signal
    import sys
    import threading

    done = threading.Event()

    def stop(signum: int, _frame: object) -> None:
        print(f"selector: catalog build stopped ({signal.Signals(signum).name})", file=sys.stderr, flush=True)
        raise SystemExit(128 + signum)

    def watch() -> None:
        try:  # raw reads: a buffered reader's lock would stall the interpreter's shutdown
            while os.read(sys.stdin.fileno(), 4096):
                pass
        except OSError:
            pass
        if not done.is_set():
            os.kill(os.getpid(), signal.SIGTERM)

    previous = signal.signal(signal.SIGTERM, stop)
    if watch_stdin:
        threading.Thread(target=watch, name="parent-watch", daemon=True).start()
    try:
        yield
    finally:
        done.set()
        signal.signal(signal.SIGTERM, previous)


def _remeasure(out, args: argparse.Namespace, progress):  # noqa: ANN001, ANN202
    from selector.core.catalog.snapshot import read_header, remeasure_snapshot
    from selector.core.errors import SelectorError

    try:
        ids = args.remeasure or list(read_header(out).get("failures", {}))
    except (OSError, ValueError) as err:
        raise SelectorError(f"cannot read the snapshot {out}: {err}") from err
    if not ids:
        raise SelectorError(f"nothing failed in {out}")
    return remeasure_snapshot(out, ids, jobs=args.jobs, timeout=args.timeout,
                              with_activation=not args.no_activation, progress=progress)


def _add(args: argparse.Namespace) -> int:
    from selector.core.catalog.local import add_local_model

    entry = add_local_model(args.path, architecture=args.architecture)
    print(f"added {entry.id}: {entry.architecture}, {_count(entry.params)} parameters, "
          f"{_count(entry.macs)} MACs per sample ({entry.task})")
    return 0


def _remove(args: argparse.Namespace) -> int:
    from selector.core.catalog.local import remove_local_model

    entry = remove_local_model(args.model_id)
    print(f"removed {entry.id} (the files in {entry.local_path} are untouched)")
    return 0


def _count(value) -> str:  # noqa: ANN001
    from selector.core.units import fmt_count

    return "?" if value is None else fmt_count(value)


def _show(args: argparse.Namespace) -> int:
    import json

    from selector.core.catalog.retrace import retrace_here
    from selector.core.models import resolve_model

    entry = resolve_model(args.spec)
    retrace_here(entry)  # a profile from an older tracer is traced again (cached per entry)
    data = entry.to_dict()
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    data.pop("activation", None)
    data.pop("config", None)
    for key, value in data.items():
        if value not in (None, "", {}, [], ()):
            print(f"{key:22s} {value}")
    return 0


def _info(args: argparse.Namespace) -> int:
    from selector.core.catalog.catalog import installed_versions, load_catalog

    catalog = load_catalog()
    print(f"snapshot   {catalog.path or '(none)'}")
    print(f"built      {catalog.built_at or '?'} with {catalog.versions}")
    print(f"installed  {installed_versions()}")
    if catalog.stale:
        print("           (other versions than the snapshot's: it is used as it is, and an entry is "
              "re-traced when shown or probed; `selector catalog build` rebuilds it whole)")
    entries = list(catalog)
    print(f"entries    {len(entries)}: {sum(e.is_vision for e in entries)} vision, "
          f"{sum(e.is_text for e in entries)} text, {sum(e.source == 'local' for e in entries)} local; "
          f"{sum(e.weights_cached for e in entries)} with weights on this machine")
    for problem in catalog.problems:
        print(f"problem    {problem}")
    return 0
