"""``torch.compile`` (the inductor backend): compile time is reported apart from latency.

torch compiles lazily, at the first call of each new input shape; ``prepare`` makes that first
call on the example so ``export_s`` holds the compile time. Another batch size recompiles
once (then with a dynamic batch): that lands in the row's first call and its warm-up.
"""

from __future__ import annotations

from typing import Any

from selector.core.runtimes.base import Prepared, RuntimeFailure, positional, short_reason, timed, wrap


def prepare(model: Any, example: Any, device: str) -> Prepared:
    import torch

    from selector.core.probes.memory import current_rss_mib

    module = wrap(model, isinstance(example, dict))
    before = current_rss_mib()
    try:
        compiled = torch.compile(module, backend="inductor")

        def run(args: tuple) -> Any:
            with torch.inference_mode():
                return compiled(*args)

        _, seconds = timed(lambda: run(positional(example)))
    except Exception as err:  # noqa: BLE001 - any compiler error ends this runtime's row
        raise RuntimeFailure(f"torch.compile failed: {short_reason(err)}") from err
    return Prepared("compile", "fp32", torch.__version__, "inductor", positional, run,
                    export_s=round(seconds, 3), steps={"compile": round(seconds, 3)},
                    runtime_rss_mib=round(current_rss_mib() - before, 1),
                    note="export_s: compile and first call at the first batch size")
