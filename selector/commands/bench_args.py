"""Checks of ``selector bench``'s numbers and data, made before anything is loaded or measured.

A value no probe can use is refused here, in one line that names the option, what was given
and what is accepted. Nothing is silently replaced: ``--threads 0`` and ``--max-items 0`` were
once taken to mean "the default", and ``--threads -2`` failed only inside the probe.
"""

from __future__ import annotations

import argparse
import math
import os

from selector.core.errors import SelectorError

MAX_THREADS_PER_CORE = 4
"""More torch threads than this per logical core measure the thread pool, not the model."""


def check_bench_args(args: argparse.Namespace) -> None:
    """``SelectorError`` for the first unusable value in ``args`` (``selector bench``'s)."""
    if not args.probe:
        raise SelectorError("--probe needs at least one probe: latency, finetune or transfer")
    if not args.dtype:
        raise SelectorError("--dtype needs at least one precision: fp32, bf16, fp16 or int8")
    _whole(args.threads, "--threads", "torch threads per probe")
    cores = os.cpu_count() or 1
    if args.threads is not None and args.threads > MAX_THREADS_PER_CORE * cores:
        raise SelectorError(f"--threads must be from 1 to {MAX_THREADS_PER_CORE * cores} "
                            f"({MAX_THREADS_PER_CORE} per logical core, {cores} here), not {args.threads}")
    _whole(args.train_batch, "--train-batch", "samples per fine-tune step")
    _whole(args.iters, "--iters", "timed iterations per latency row")
    for flag in ("prompt_len", "gen_len", "lora_rank"):
        _whole(getattr(args, flag, None), "--" + flag.replace("_", "-"), "decoder tokens or LoRA rank")
    _seconds(args.budget, "--budget", "time budget per probe", zero=False)
    _seconds(args.timeout, "--timeout", "hard timeout per probe", zero=False)
    _seconds(args.min_time, "--min-time", "time per latency row", zero=True)
    if args.lr is not None and not (math.isfinite(args.lr) and args.lr > 0):
        raise SelectorError(f"--lr must be a learning rate above 0 (e.g. 1e-4), not {args.lr}")
    check_data_args(args)


def check_data_args(args: argparse.Namespace) -> None:
    """The data options (checked even without ``--data``: a wrong value is a mistake either
    way); the source as the data loader checks it (``DatasetSpec.check``)."""
    from selector.core.data.dataset import MIN_ITEMS, DataError, DatasetSpec

    if not 0 <= args.holdout < 1:  # also NaN
        raise SelectorError(f"--holdout must be a fraction at least 0 and below 1 (0.2 holds out "
                            f"20 % of each class), not {args.holdout:g}")
    if args.max_items is not None and args.max_items < MIN_ITEMS:
        raise SelectorError(f"--max-items must be a whole number of at least {MIN_ITEMS} "
                            f"(two classes of two samples), not {args.max_items}")
    if args.data is None:
        return
    try:
        DatasetSpec(args.data, text_column=args.text_column, label_column=args.label_column,
                    holdout=args.holdout, max_items=args.max_items).check()
    except DataError as err:
        raise SelectorError(f"--data: {err}") from None


def _whole(value: int | None, flag: str, what: str) -> None:
    if value is not None and value < 1:
        raise SelectorError(f"{flag} must be a whole number of 1 or more ({what}), not {value}")


def _seconds(value: float | None, flag: str, what: str, zero: bool) -> None:
    if value is None:
        return
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero):
        accepted = "0 or more" if zero else "more than 0"
        raise SelectorError(f"{flag} must be {accepted} seconds ({what}, e.g. 30s or 2m), "
                            f"not {value:g} s")
