"""Measure many models in worker processes, each task with a time limit.

A worker is a fresh (spawned) Python process that imports torch, timm and transformers once
and then measures one network per task. The parent hands out tasks, waits on the pipes and
kills a worker whose task runs past ``timeout``; a worker that dies or is killed costs only
its task, which is recorded as failed, and a new worker takes its place. This is the
pattern of timm's ``bulk_runner.py``: one bad model is one failed row.

Workers never outlive the build: an interrupted ``run_tasks`` (Ctrl-C, or SIGTERM turned
into an exception by the caller) kills them before it returns, and a worker whose parent
died ends itself (it watches the parent's sentinel).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, Callable


@dataclass
class Task:
    key: str
    kind: str
    """``timm`` (``name`` is ``arch.tag``) or ``text`` (``entry["config"]`` is the config)."""
    name: str
    entry: dict[str, Any]
    with_activation: bool = True


def measure_task(task: Task) -> dict[str, Any]:
    """Run one task in this process; never raises."""
    from selector.core.catalog.entry import CatalogEntry
    from selector.core.catalog.measure import measure_text, measure_timm, short_error

    try:
        entry = CatalogEntry.from_dict(task.entry)
        if task.kind == "timm":
            result = measure_timm(task.name, with_activation=task.with_activation, entry=entry)
        else:
            from selector.core.catalog.text import config_from_dict

            result = measure_text(config_from_dict(entry.config or {}), with_activation=task.with_activation,
                                  entry=entry)
        return result.to_dict()
    except BaseException as err:  # noqa: BLE001 - a worker reports, it does not die
        return {"error": "unexpected: " + short_error(err)}


def _die_with_parent() -> None:
    """Exit as soon as the parent process is gone, even in the middle of a task.

    Ctrl-C in a terminal reaches the whole process group: the worker ignores it and the
    parent, which handles it, stops its workers. A parent killed outright (SIGKILL) closes
    the sentinel pipe, and this thread ends the worker.
    """
    import signal
    import threading

    if hasattr(signal, "SIGINT"):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = mp.parent_process()
    if parent is None:
        return

    def watch() -> None:
        wait([parent.sentinel])
        os._exit(3)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _worker_main(conn: Connection) -> None:
    _die_with_parent()
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import warnings

    warnings.filterwarnings("ignore")
    import torch

    torch.set_num_threads(1)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        conn.send((task.key, measure_task(task)))


class Worker:
    """One spawned measuring process; ``measure`` for one task at a time, ``stop`` when done."""

    def __init__(self, ctx: Any = None) -> None:
        ctx = ctx or mp.get_context("spawn")
        self.conn: Any
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child,), daemon=True)
        self.process.start()
        child.close()
        self.task: Task | None = None
        self.started = 0.0

    def send(self, task: Task) -> None:
        self.task, self.started = task, time.monotonic()
        self.conn.send(task)

    def measure(self, task: Task, timeout: float) -> dict[str, Any]:
        """The task's result; ``{"error": ...}`` when the worker died or ran past ``timeout`` s
        (the worker is then killed: start a new one for the next task)."""
        self.send(task)
        try:
            ready = self.conn.poll(timeout)
            result = self.conn.recv()[1] if ready else {"error": f"timed out after {timeout:g} s"}
        except (EOFError, OSError):
            ready, result = False, {"error": f"worker crashed (exit code {self.process.exitcode})"}
        self.task = None
        if not ready:
            self.stop(kill=True)
        return result

    @property
    def alive(self) -> bool:
        return self.process.is_alive()

    def stop(self, kill: bool = False) -> None:
        if kill:
            self.process.kill()
        else:
            try:
                self.conn.send(None)
            except (OSError, BrokenPipeError):
                pass
        self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()



def run_tasks(
    tasks: list[Task], *, jobs: int = 1, timeout: float = 300.0,
    progress: Callable[[int, int, str], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Results by task key; failed tasks map to ``{"error": ...}``.

    ``jobs=0`` measures in this process (no isolation, no time limit; for tests and tiny runs).
    """
    total = len(tasks)
    results: dict[str, dict[str, Any]] = {}
    if jobs <= 0:
        for i, task in enumerate(tasks, 1):
            results[task.key] = measure_task(task)
            if progress:
                progress(i, total, task.name)
        return results
    if not tasks:
        return results
    ctx = mp.get_context("spawn")
    pending = deque(tasks)
    slots = [Worker(ctx) for _ in range(max(1, min(jobs, total)))]
    finished = False
    try:
        while pending or any(s.task for s in slots):
            for slot in slots:
                if slot.task is None and pending:
                    slot.send(pending.popleft())
            busy: dict[Any, Worker] = {s.conn: s for s in slots if s.task is not None}
            for conn in wait(list(busy), timeout=1.0):
                slot = busy[conn]
                current = slot.task
                assert current is not None
                try:
                    key, result = slot.conn.recv()
                except (EOFError, OSError):
                    key, result = current.key, {"error": f"worker crashed (exit code {slot.process.exitcode})"}
                    slots[slots.index(slot)] = _replace(slot, ctx)
                else:
                    slot.task = None
                results[key] = result
                if progress:
                    progress(len(results), total, key.split(":", 1)[1])
            now = time.monotonic()
            for i, slot in enumerate(slots):
                if slot.task is not None and now - slot.started > timeout:
                    results[slot.task.key] = {"error": f"timed out after {timeout:g} s"}
                    if progress:
                        progress(len(results), total, slot.task.name)
                    slots[i] = _replace(slot, ctx)
        finished = True
    finally:  # interrupted (Ctrl-C, SIGTERM): kill the workers, their tasks are lost anyway
        for slot in slots:
            slot.stop(kill=not finished)
    return results


def _replace(slot: Worker, ctx: Any) -> Worker:
    """A fresh worker in place of one that hung or died."""
    slot.task = None
    slot.stop(kill=True)
    return Worker(ctx)
