"""How fast selector gives up, stops or kills: the figures the tests no longer assert.

    python tests/benchmarks/response_times.py [--repeat 3]

The tests check what happens (the probe is cancelled, the child is gone, the hub is marked
offline); how long it takes depends on how busy the machine is, so it is measured here. Each
figure is the median of ``--repeat`` runs, in seconds of wall clock:

- ``cancel_hung_probe``: ``ProbeRun.cancel()`` on a probe that hangs, until its ``end`` event;
- ``cancel_ignoring_sigterm``: the same for a probe that ignores SIGTERM (grace 0.3 s, then
  SIGKILL);
- ``hard_timeout_1s``: a hanging probe with a 1 s hard timeout, from start to its end;
- ``close_events_kills``: closing the event generator (the consumer went away) until the child
  is gone;
- ``hub_check_silent_0.5s``: ``hub.ensure_offline_unless_reachable(timeout=0.5)`` against a
  socket that listens and never answers;
- ``download_offline_refused``: ``download_weights`` with ``HF_HUB_OFFLINE=1``.

The GUI thread's longest stall during a one-click run is printed by
``tests/tools/screenshot.py --models ...``.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import tempfile
import threading
import time


def fault(mode: str, budget_s: float = 5.0, timeout_s: float = 30.0):  # noqa: ANN201
    from selector.core.probes import ProbeSpec

    return ProbeSpec(kind="fault", model="fake-model", budget_s=budget_s, timeout_s=timeout_s,
                     params={"mode": mode})


def cancel_hung_probe() -> float:
    from selector.core.probes import ProbeRun

    run, start = ProbeRun(fault("hang")), 0.0
    for event in run.events():
        if event.type == "log" and event.message == "hanging":
            start = time.perf_counter()
            run.cancel()
    return time.perf_counter() - start


def cancel_ignoring_sigterm() -> float:
    from selector.core.probes import ProbeRun

    run, start = ProbeRun(fault("hang_hard"), grace_s=0.3), 0.0
    for event in run.events():
        if event.type == "log" and not start:
            start = time.perf_counter()
            threading.Timer(0.0, run.cancel).start()
    return time.perf_counter() - start


def hard_timeout() -> float:
    from selector.core.probes import ProbeRun

    start = time.perf_counter()
    ProbeRun(fault("hang", timeout_s=1.0)).finish()
    return time.perf_counter() - start


def close_events_kills() -> float:
    import psutil

    from selector.core.probes import ProbeRun

    run = ProbeRun(fault("hang"))
    events = run.events()
    for event in events:
        if event.type == "log":
            break
    start = time.perf_counter()
    events.close()
    while psutil.pid_exists(run.pid) and psutil.Process(run.pid).status() != psutil.STATUS_ZOMBIE:
        time.sleep(0.005)
    return time.perf_counter() - start


def hub_check_silent() -> float:
    from selector.core import hub

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(0)
    saved = os.environ.pop("HF_HUB_OFFLINE", None)
    os.environ["HF_ENDPOINT"] = f"http://127.0.0.1:{silent.getsockname()[1]}"
    try:
        hub.reset_for_tests()
        start = time.perf_counter()
        hub.ensure_offline_unless_reachable(timeout=0.5)
        return time.perf_counter() - start
    finally:
        silent.close()
        os.environ.pop("HF_ENDPOINT", None)
        if saved is not None:
            os.environ["HF_HUB_OFFLINE"] = saved
        hub.reset_for_tests()


def download_offline_refused() -> float:
    from selector.core import download
    from selector.core.catalog.entry import VISION, CatalogEntry
    from selector.core.errors import SelectorError

    os.environ["HF_HUB_OFFLINE"] = "1"
    target = CatalogEntry(id="resnet18.a1_in1k", source="timm", task=VISION, family="test",
                          architecture="test", hf_hub_id="timm/resnet18.a1_in1k")
    start = time.perf_counter()
    try:
        download.download_weights(target)
    except SelectorError:
        pass
    return time.perf_counter() - start


FIGURES = {
    "cancel_hung_probe": cancel_hung_probe,
    "cancel_ignoring_sigterm": cancel_ignoring_sigterm,
    "hard_timeout_1s": hard_timeout,
    "close_events_kills": close_events_kills,
    "hub_check_silent_0.5s": hub_check_silent,
    "download_offline_refused": download_offline_refused,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("SELECTOR_HOME", tempfile.mkdtemp(prefix="selector-bench-"))
    print(f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs")
    for name, measure in FIGURES.items():
        times = [measure() for _ in range(args.repeat)]
        print(f"{name:28s} median {statistics.median(times):6.2f} s  "
              f"(min {min(times):.2f}, max {max(times):.2f})")


if __name__ == "__main__":
    main()
