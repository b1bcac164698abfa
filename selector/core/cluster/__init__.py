"""Probes on a Ray cluster: the same probes, events and results store as a local run.

A user who outgrows one machine points selector at a Ray cluster they already run
(``selector bench ... --cluster ADDRESS`` or ``RAY_ADDRESS``). Each probe becomes a Ray Core
task that asks for what it needs (CPUs, one GPU, an accelerator type or a custom resource) and
runs in a fresh worker process (``max_calls=1``); inside it the usual probe child runs, so a
crash, an out-of-memory kill or a timeout is one failed row on a remote node as it is here.
``ray`` is the optional ``cluster`` extra: nothing here imports it at module level.
"""

from __future__ import annotations

from typing import Any

INSTALL_HINT = 'pip install "selector[cluster]"  (or: pip install ray)'


def require_ray() -> Any:
    """The ``ray`` module, or a ``SelectorError`` that says how to install it."""
    from selector.core.errors import SelectorError

    try:
        import ray
    except ImportError:
        raise SelectorError(f"running on a cluster needs Ray, which is not installed: {INSTALL_HINT}") from None
    return ray
