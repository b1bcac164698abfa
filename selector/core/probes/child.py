"""The probe child process: ``python -m selector.core.probes.child``.

Protocol with the parent (``runner.py``):

- stdin, first line: the ``ProbeSpec`` as JSON. Later lines: ``stop`` asks the probe to wrap
  up and report (a soft stop). End of file means the parent is gone: the child kills its
  process group (itself and anything it started) at once, so no probe outlives the app.
- stdout: events only, one JSON object per line. At start the child moves its real stdout to
  a private descriptor and points file descriptor 1 at stderr, so ``print`` and C libraries
  writing to stdout cannot corrupt the event stream.
- stderr: warnings and crash output; the parent keeps the tail for the error report.
- exit status: 0 after a ``result`` event, 1 after a ``failed`` error event, 3 after an
  ``out_of_memory`` one; anything else (a signal, a hard exit) the parent classifies itself.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import traceback

EXIT_OK, EXIT_FAILED, EXIT_OOM, EXIT_ORPHANED = 0, 1, 3, 70


def _private_event_stream():
    events_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(events_fd, "wb", buffering=0)


def _die_with_group() -> None:
    """The parent vanished: end this process and everything it started, now."""
    if hasattr(os, "killpg"):
        try:
            if os.getpgrp() == os.getpid():
                os.killpg(os.getpgrp(), signal.SIGKILL)
        except OSError:
            pass
    os._exit(EXIT_ORPHANED)


def _watch_parent(ctx) -> None:  # noqa: ANN001 - ProbeContext
    """Read stdin until EOF: ``stop`` lines set the soft-stop flag, EOF ends the process."""
    for line in sys.stdin.buffer:
        if line.strip() == b"stop":
            ctx.stop_requested.set()
    _die_with_group()


def _setup_threads(threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(int(threads))


def _reference(ctx, when: str) -> None:  # noqa: ANN001 - ProbeContext
    """Time the fixed reference workload (``contention.reference_speed``) and tell the parent,
    which compares before with after and with this machine's calibration."""
    from selector.core.probes.contention import reference_speed

    try:
        speed = reference_speed()
    except Exception as err:  # noqa: BLE001 - the probe matters more than its noise check
        ctx.log(f"reference workload failed: {err}", level="warning")
        return
    ctx.phase("reference", f"reference workload {when} the measurement: {speed:.2f} GMAC/s",
              data={"when": when, "gmacs": speed})


def main() -> int:
    t0 = time.perf_counter()
    stream = _private_event_stream()
    line = sys.stdin.buffer.readline()
    if not line:
        os._exit(EXIT_ORPHANED)

    from selector.core.probes import events as ev
    from selector.core.probes.context import ProbeContext, is_oom
    from selector.core.probes.registry import get_kind
    from selector.core.probes.spec import ProbeSpec

    spec = ProbeSpec.from_dict(json.loads(line))
    ctx = ProbeContext(spec, stream, t0)
    threading.Thread(target=_watch_parent, args=(ctx,), name="parent-watch", daemon=True).start()
    ctx.phase("start", f"probe child {os.getpid()} running", data={"pid": os.getpid()})
    code = EXIT_OK
    try:
        kind = get_kind(spec.kind)
        func = kind.load()
        _setup_threads(spec.threads)
        ctx.phase("ready", data={"imports_s": round(ctx.elapsed(), 4)})
        timed = not kind.hidden  # test-only kinds skip the reference work (and torch)
        if timed:
            _reference(ctx, "before")
        report = func(spec, ctx) or {}
        if timed:
            _reference(ctx, "after")
        ctx.emit(ev.RESULT, data=report)
    except BaseException as err:  # noqa: BLE001 - every end is reported, then classified
        from selector.core.errors import SelectorError
        from selector.core.probes.environment import ProbeSettingError

        oom = is_oom(err)
        code = EXIT_OOM if oom else EXIT_FAILED
        if isinstance(err, (SelectorError, ProbeSettingError)):  # written for the user already
            message = str(err)
        else:
            message = f"{type(err).__name__}: {err}".strip().rstrip(":")
        ctx.emit(ev.ERROR, message=message, data={
            "status": "out_of_memory" if oom else "failed",
            "phase": ctx.current_phase,
            "traceback": "".join(traceback.format_exception(err)),
        })
    for flush in (stream.flush, sys.stderr.flush):
        try:
            flush()
        except OSError:
            pass
    # Skip interpreter teardown: it can take seconds with torch loaded, or crash in C++.
    os._exit(code)


if __name__ == "__main__":
    main()
