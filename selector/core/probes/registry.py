"""The registry of probe kinds: a name, where its code lives, and what it needs.

A kind is a function that runs in the child process::

    def run(spec: ProbeSpec, ctx: ProbeContext) -> dict

It reads its settings from ``spec`` (its own knobs: ``spec.settings()``, a typed value from
:mod:`selector.core.probes.settings` that rejects an unknown key), reports through
``ctx`` (``ctx.emit(...)``, ``ctx.phase``, ``ctx.progress``, ``ctx.row``; ``ctx.should_stop()``
when the budget is spent or the user asked to stop) and returns its report, a dict with any
of: ``rows`` (list of dicts), ``summary``, ``settings``, ``weights``, ``weights_note``,
``loss_curve``. The runner does the rest: process isolation, events, cancel, timeouts,
classification of the end, the store.

A new kind plugs in with one ``register(ProbeKind(...))`` call in ``_BUILTIN`` below (or at
run time, by a plugin that the child also imports: the target is an import path, resolved
in the child, so the parent never imports the kind's heavy code).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class ProbeKind:
    name: str
    target: str
    """``package.module:function`` run in the child."""
    description: str = ""
    needs_data: bool = False
    """Whether the probe needs a dataset (``spec.data``)."""
    hidden: bool = False
    """Not offered in the CLI or GUI (the fault-injection kind for tests)."""

    @property
    def settings(self) -> type | None:
        """The kind's settings class (None: it takes a plain dict, like the test-only kind)."""
        from selector.core.probes.settings import SETTINGS

        return SETTINGS.get(self.name)

    def load(self) -> Callable:
        module_name, _, func_name = self.target.partition(":")
        return getattr(importlib.import_module(module_name), func_name)


_KINDS: dict[str, ProbeKind] = {}


def register(kind: ProbeKind) -> ProbeKind:
    _KINDS[kind.name] = kind
    return kind


def get_kind(name: str) -> ProbeKind:
    try:
        return _KINDS[name]
    except KeyError:
        known = ", ".join(k.name for k in kinds())
        raise KeyError(f"unknown probe kind {name!r} (known: {known})") from None


def kinds(include_hidden: bool = False) -> list[ProbeKind]:
    return [k for k in _KINDS.values() if include_hidden or not k.hidden]


_BUILTIN = [
    ProbeKind("latency", "selector.core.probes.kinds.latency:run",
              "inference latency and throughput over a batch-size and dtype sweep"),
    ProbeKind("finetune", "selector.core.probes.kinds.finetune:run",
              "a quick fine-tune on your data: step time, memory, accuracy before and after",
              needs_data=True),
    ProbeKind("transfer", "selector.core.probes.kinds.transfer:run",
              "transferability: frozen-feature scores (LogME, k-NN, linear probe) on your data",
              needs_data=True),
    ProbeKind("perplexity", "selector.core.probes.kinds.perplexity:run",
              "decoders: held-out perplexity (bits per token) of the frozen model on your text",
              needs_data=True),
    ProbeKind("fault", "selector.core.probes.kinds.fault:run",
              "test only: fails on purpose (exit, MemoryError, hang, kill)", hidden=True),
]
for _kind in _BUILTIN:
    register(_kind)
