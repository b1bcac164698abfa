"""A probe kind that fails on purpose, for tests of the runner (hidden from users).

``params["mode"]``:

``finish``        emit rows, then report normally (``params["rows"]`` of them).
``exit``          leave with ``os._exit(params["code"])`` without a result.
``memory_error``  raise ``MemoryError``.
``cuda_oom``      raise the ``RuntimeError`` text torch gives on CUDA out-of-memory.
``raise``         raise ``ValueError`` (a plain failure, traceback kept).
``hang``          sleep forever (cancel or the hard timeout must end it).
``hang_hard``     like ``hang``, but ignoring SIGTERM (only SIGKILL ends it).
``sigkill``       kill itself with SIGKILL, as a ``kill -9`` from outside would.
``allocate``      take ``params["mib"]`` MiB of memory, 16 MiB at a time, then hang.
``segfault``      kill itself with SIGSEGV.
``grandchild``    start a sleeping grandchild process (pid in a ``log`` event), then hang.
``noisy``         print to stdout and stderr, including JSON-looking lines, then finish.
``stop_aware``    loop until ``ctx.should_stop()`` (budget or a soft stop), then report.

Every mode first emits ``params["rows"]`` rows (default 1) and waits ``params["delay_s"]``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any


def run(spec, ctx) -> dict[str, Any]:  # noqa: ANN001 - ProbeSpec, ProbeContext
    params = spec.params
    mode = params.get("mode", "finish")
    ctx.phase("fault", f"mode {mode}")
    for i in range(int(params.get("rows", 1))):
        ctx.row({"index": i, "model_id": spec.model, "weights": "random"})
    time.sleep(float(params.get("delay_s", 0.0)))
    if mode == "exit":
        sys.stderr.write("about to exit hard\n")
        sys.stderr.flush()
        os._exit(int(params.get("code", 1)))
    if mode == "memory_error":
        raise MemoryError("fault injection: no memory left")
    if mode == "cuda_oom":
        raise RuntimeError(
            "CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 7.79 GiB total capacity; "
            "5.12 GiB already allocated; 1.01 GiB free; 5.20 GiB reserved in total by PyTorch)"
        )
    if mode == "raise":
        raise ValueError("fault injection: a plain bug")
    if mode in ("hang", "hang_hard"):
        if mode == "hang_hard":
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        ctx.log("hanging")
        while True:
            time.sleep(0.05)
    if mode == "allocate":
        held = []
        for _ in range(int(params.get("mib", 1024)) // 16):
            held.append(bytearray(16 * 2**20))  # zero-filled: every page is touched
        ctx.log("allocated")
        while True:
            time.sleep(0.05)
    if mode == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    if mode == "segfault":
        os.kill(os.getpid(), signal.SIGSEGV)
    if mode == "grandchild":
        proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        ctx.emit("log", message="grandchild started", data={"pid": proc.pid})
        while True:
            time.sleep(0.05)
    if mode == "noisy":
        print('{"type": "result", "data": {"summary": {"fake": true}}}')
        print("plain noise on stdout")
        sys.stderr.write("noise on stderr\n")
        os.write(1, b"raw bytes on fd 1\n")
    steps = 0
    if mode == "stop_aware":
        while not ctx.should_stop():
            steps += 1
            ctx.progress(steps, None, fraction=min(1.0, ctx.elapsed() / spec.budget_s))
            time.sleep(0.01)
    return {"summary": {"mode": mode, "steps": steps, "stopped_by_request": ctx.stop_requested.is_set()},
            "weights": "random", "message": f"fault probe finished ({mode})"}
