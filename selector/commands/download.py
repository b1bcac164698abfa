"""``selector download``: fetch pretrained weights into the Hugging Face cache.

Only the files a model needs are fetched, into the standard cache that every other command
reads. A progress bar per model on stderr; Ctrl-C cancels the file in flight cleanly (the
model is left not cached, nothing partial in the cache) and exits with status 130. Without
the Hub (``HF_HUB_OFFLINE``, or no answer within a second) it fails at once.
"""

from __future__ import annotations

import argparse

NAME = "download"
HELP = "download pretrained weights into the Hugging Face cache (needs the Hugging Face Hub)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("models", nargs="+", metavar="MODEL",
                        help="catalog ids, Hub ids of catalog entries, or timm architectures")
    parser.add_argument("--json", action="store_true", help="print what was downloaded as JSON")


def run(args: argparse.Namespace) -> int:
    import json
    import signal
    import sys
    import threading

    from selector.core.catalog.catalog import load_catalog
    from selector.core.download import DownloadCancelled, download_weights
    from selector.core.errors import SelectorError
    from selector.core.models import resolve_model

    catalog = load_catalog()
    entries = [resolve_model(spec, catalog) for spec in args.models]  # unknown ids fail before any download
    cancel = threading.Event()
    previous = None

    def on_sigint(signum, frame):  # noqa: ANN001 - the first Ctrl-C cancels, a second one interrupts
        cancel.set()
        signal.signal(signal.SIGINT, previous or signal.default_int_handler)

    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, on_sigint)
    results, errors, cancelled = [], [], False
    try:
        with _progress() as progress:
            for entry in entries:
                task = progress.add_task(entry.id, total=None, file="")

                def show(done: int, total: int, name: str, task=task) -> None:  # noqa: ANN001
                    progress.update(task, completed=done, total=total or None, file=name)

                try:
                    result = download_weights(entry, progress=show, cancel=cancel)
                except DownloadCancelled as err:
                    progress.update(task, file="cancelled")
                    progress.console.print(str(err))
                    cancelled = True
                    break
                except SelectorError as err:
                    progress.update(task, file="failed")
                    progress.console.print(f"[red]error[/]: {err}", highlight=False)
                    errors.append({"model": entry.id, "error": str(err)})
                    continue
                results.append(result)
                total = result.total_bytes or None
                progress.update(task, completed=result.total_bytes, total=total,
                                file="cached" if result.already_cached else "done")
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    if args.json:
        print(json.dumps({"downloaded": [r.to_dict() for r in results], "errors": errors,
                          "cancelled": cancelled}, indent=2))
    else:
        for result in results:
            where = f" -> {result.snapshot}" if result.snapshot else ""
            print(f"{result.model_id}: {_summary(result)}{where}")
    if cancelled:
        print("selector: download cancelled", file=sys.stderr)
        return 130
    return 2 if errors else 0


def _progress():  # noqa: ANN202 - rich.progress.Progress, imported lazily
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = [TextColumn("{task.description}"), BarColumn(bar_width=24), DownloadColumn(binary_units=True),
               TransferSpeedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[file]}")]
    return Progress(*columns, console=Console(stderr=True), transient=False)


def _summary(result) -> str:  # noqa: ANN001 - DownloadResult
    if result.note:
        return result.note
    size = f"{result.total_bytes / 2**20:,.1f} MiB in {len(result.files)} files"
    if result.already_cached:
        return f"{size}, all already in the cache"
    return f"{size}, {result.downloaded_bytes / 2**20:,.1f} MiB fetched in {result.seconds:.1f} s"
