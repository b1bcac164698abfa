"""Probes on a Ray cluster: the same probes, events and results store as a local run.

A user who outgrows one machine points selector at a Ray cluster they already run
(``selector bench ... --cluster ADDRESS`` or ``RAY_ADDRESS``). Each probe becomes a Ray Core
task that asks for what it needs (CPUs, one GPU, an accelerator type or a custom resource) and
runs in a fresh worker process (``max_calls=1``); inside it the usual probe child runs, so a
crash, an out-of-memory kill or a timeout is one failed row on a remote node as it is here.
``ray`` is the optional ``cluster`` extra: nothing here imports it at module level.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from pathlib import Path
from typing import Any

INSTALL_HINT = 'pip install "selector[cluster]"  (or: pip install ray)'
SHIM = Path(__file__).with_name("shim")
"""A stand-in ``amdsmi`` that raises ``ImportError`` (see ``shim/amdsmi``)."""


def amdsmi_broken() -> bool:
    """True when ``amdsmi`` is installed but cannot load its native library (it then raises
    ``KeyError`` at import, and prints to stdout: both kept away from the caller)."""
    if "amdsmi" in sys.modules:
        return sys.modules["amdsmi"] is None
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            import amdsmi  # noqa: F401
    except ImportError:
        return False
    except Exception:  # noqa: BLE001 - KeyError('libamd_smi.so') from amdsmi 7 without ROCm
        return True
    return False


def require_ray() -> Any:
    """The ``ray`` module, or a ``SelectorError`` that says how to install it. Where amdsmi is
    broken, Ray is imported as if it were absent (Ray catches only ``ImportError``)."""
    from selector.core.errors import SelectorError

    broken = "ray" not in sys.modules and amdsmi_broken()
    try:
        if broken:
            sys.modules["amdsmi"] = None  # type: ignore[assignment]  # import amdsmi: ImportError
        import ray
    except ImportError:
        raise SelectorError(f"running on a cluster needs Ray, which is not installed: {INSTALL_HINT}") from None
    finally:
        if broken:
            sys.modules.pop("amdsmi", None)
    return ray


def ray_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for Ray processes selector starts (a local cluster): on a machine where
    amdsmi is broken, the stand-in first on ``PYTHONPATH`` so Ray's processes can start."""
    env = dict(os.environ if env is None else env)
    if amdsmi_broken():
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SHIM), env.get("PYTHONPATH", "")) if p)
    return env


@contextlib.contextmanager
def local_cluster_env():  # noqa: ANN201 - a context manager
    """While a local cluster starts (tests, benchmarks): ``os.environ`` as ``ray_env()`` says,
    so its raylets, and the workers they start later, inherit it. Restored after."""
    saved = os.environ.get("PYTHONPATH")
    os.environ.update(ray_env())
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved

