"""What runs on a node: one probe, in a fresh Ray worker, streamed back event by event.

``run_probe`` is a generator task (Ray streams each yielded value to the driver as it is
produced). It yields, in order: a ``placed`` dict (the node, its hardware profile read here,
the worker's pid), the probe's events (``ProbeEvent.to_dict()``), and last an ``end`` dict
holding the ``ProbeResult`` as a dict. The probe itself runs as it does locally: the pre-flight
fit check against this node's free memory, then ``ProbeRun`` with its own child process, so a
crash or an out-of-memory kill is classified here. If the worker itself dies (killed, node
lost), the child sees its stdin close and ends its process group; the driver records the row.
"""

from __future__ import annotations

import os
import socket
from typing import Any, Iterator

PLACED = "placed"


def node_identity() -> dict[str, Any]:
    """This node as the driver names it: Ray node id, IP address, host name."""
    import ray

    context = ray.get_runtime_context()
    return {"node_id": context.get_node_id(), "address": ray.util.get_node_ip_address(),
            "host": socket.gethostname()}


def run_probe(spec_dict: dict[str, Any], packed: dict[str, Any] | None,
              allow_download: bool = False) -> Iterator[dict[str, Any]]:
    """The Ray task body (see the module docstring). ``packed``: the user's data from
    ``data.pack`` (the object store resolves it before the call), or None."""
    from selector.core.cluster.connect import node_kind
    from selector.core.hardware import detect_hardware
    from selector.core.probes import events as ev
    from selector.core.probes.bench import _entry, _unrun
    from selector.core.probes.preflight import preflight
    from selector.core.probes.registry import get_kind
    from selector.core.probes.runner import ProbeRun
    from selector.core.probes.spec import ProbeSpec
    from selector.core.results import record as rec

    import ray

    hardware = detect_hardware(include_torch=False).to_dict()
    node = node_identity()
    resources = {k: float(v) for k, v in (ray.get_runtime_context().get_assigned_resources() or {}).items()}
    node_resources = _node_resources(node["node_id"])
    node["kind"] = node_kind(node_resources, hardware)
    yield {"type": PLACED, "node": node, "hardware": hardware, "worker_pid": os.getpid(),
           "resources": resources}
    spec = ProbeSpec.from_dict(spec_dict)
    if not spec.threads and not spec.cuda and resources.get("CPU") and not get_kind(spec.kind).hidden:
        spec.threads = max(1, int(resources["CPU"]))  # what Ray gave it, not every core of the node
    if packed is not None and spec.data:
        from selector.core.cluster.data import unpack

        spec.data = dict(spec.data, source=unpack(packed))
    if allow_download:
        os.environ.pop("HF_HUB_OFFLINE", None)
    else:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the node's own cache: weights there or random
    try:
        entry = _entry(spec)
        verdict = preflight(spec, entry)
    except Exception as err:  # noqa: BLE001 - an unknown model on this node becomes a failed row
        result = _unrun(spec, rec.FAILED, f"cannot start on {node['host']}: {err}")
        result.hardware, result.placement = hardware, node
        yield {"type": ev.END, "result": result.to_dict()}
        return
    if verdict.refused:
        result = _unrun(spec, rec.REFUSED, verdict.message, verdict)
        result.hardware, result.placement = hardware, node
        yield {"type": ev.END, "result": result.to_dict()}
        return
    run = ProbeRun(spec, hardware=hardware, preflight=verdict.to_dict())
    for event in run.events():
        if event.type == ev.END:
            result = event.result
            result.placement = node
            yield {"type": ev.END, "result": result.to_dict()}
        else:
            yield event.to_dict()


def _node_resources(node_id: str) -> dict[str, float]:
    import ray

    for info in ray.nodes():
        if info.get("NodeID") == node_id:
            return {k: float(v) for k, v in (info.get("Resources") or {}).items()}
    return {}
