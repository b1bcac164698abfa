"""Reach a Ray cluster and list its nodes, each with the hardware profile read on that node.

``connect(address)`` answers an unreachable or malformed address with one ``SelectorError``
line before anything starts (a TCP connect with a short timeout comes first: ``ray.init``
alone can wait a minute on a wrong port). ``cluster_nodes()`` runs one small task pinned to
each alive node that returns ``detect_hardware(include_torch=False)`` from there, so a node's
profile is that node's, never the driver's.
"""

from __future__ import annotations

import os
import socket
from dataclasses import asdict, dataclass, field
from typing import Any

from selector.core.cluster import require_ray
from selector.core.errors import SelectorError

DEFAULT_PORT = 6379
"""Ray's default GCS port (``ray start --head``)."""
REACH_TIMEOUT_S = 3.0
"""How long the reachability check waits for a TCP connection, seconds."""
ACCELERATOR_PREFIX = "accelerator_type:"
"""Ray's resource name for a node's accelerator type (``ray start --resources`` can set it)."""


@dataclass
class ClusterNode:
    """One node of the cluster as selector sees it."""

    node_id: str
    address: str
    """The node's IP address, as Ray reports it."""
    name: str
    """A short name people can read: the host name, with part of the node id when hosts repeat."""
    kind: str
    """The hardware kind its results are pooled under (see ``node_kind``)."""
    resources: dict[str, float] = field(default_factory=dict)
    hardware: dict[str, Any] | None = None
    """``HardwareProfile.to_dict()`` read on the node; None when detection failed there."""
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def resolve_address(address: str | None) -> str:
    """``address`` or ``$RAY_ADDRESS``; a ``SelectorError`` when there is neither."""
    value = (address or os.environ.get("RAY_ADDRESS") or "").strip()
    if not value:
        raise SelectorError("no cluster address: give --cluster HOST:PORT or set RAY_ADDRESS")
    return value


def host_port(address: str) -> tuple[str, int]:
    """``HOST[:PORT]`` or ``ray://HOST:PORT`` -> (host, port); ``SelectorError`` when malformed."""
    text = address
    for scheme in ("ray://", "http://", "https://"):
        if text.startswith(scheme):
            text = text[len(scheme):]
    text = text.rstrip("/")
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = text, str(DEFAULT_PORT)
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SelectorError(f"not a cluster address: {address!r} (expected HOST:PORT, e.g. 10.0.0.5:6379)")
    return host, int(port)


def check_reachable(address: str, timeout_s: float = REACH_TIMEOUT_S) -> None:
    """One TCP connection to the head; a one-line ``SelectorError`` when nothing answers."""
    host, port = host_port(address)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return
    except OSError as err:
        reason = getattr(err, "strerror", None) or str(err) or type(err).__name__
        raise SelectorError(f"cannot reach the Ray cluster at {address}: {reason} "
                            "(is `ray start --head` running there, and the port open?)") from None


def connect(address: str | None) -> str:
    """Connect this process to the cluster (once); the address used. ``SelectorError`` for an
    unreachable address or a missing ``ray``, before any probe starts."""
    ray = require_ray()
    address = resolve_address(address)
    if address != "auto":
        check_reachable(address)
    if ray.is_initialized():
        return address
    try:
        ray.init(address=address, log_to_driver=False, logging_level="ERROR")
    except Exception as err:  # noqa: BLE001 - ray raises many kinds here; one line for the user
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise SelectorError(f"cannot join the Ray cluster at {address}: {first}") from None
    return address


def disconnect() -> None:
    """Leave the cluster (the cluster itself keeps running)."""
    try:
        import ray
    except ImportError:
        return
    if ray.is_initialized():
        ray.shutdown()


def node_kind(resources: dict[str, float], hardware: dict[str, Any] | None) -> str:
    """The hardware kind of a node: its Ray accelerator type when it declares one (``T4``,
    ``A100``), else its first GPU's name, else its CPU model and logical core count."""
    for name in sorted(resources):
        if name.startswith(ACCELERATOR_PREFIX):
            return name[len(ACCELERATOR_PREFIX):]
    hw = hardware or {}
    gpus = hw.get("gpus") or []
    if gpus and gpus[0].get("name"):
        return str(gpus[0]["name"])
    cpu = hw.get("cpu") or {}
    cores = cpu.get("logical_cores")
    return f"{cpu.get('model') or 'CPU'}" + (f" x{cores}" if cores else "")


def _detect_here() -> dict[str, Any]:
    """Run on a node: its profile (no torch: a second per node saved) and host name."""
    from selector.core.hardware import detect_hardware

    return detect_hardware(include_torch=False).to_dict()


def cluster_nodes(timeout_s: float = 120.0) -> list[ClusterNode]:
    """Every alive node, its profile read on the node itself. Needs ``connect`` first."""
    ray = require_ray()
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    alive = [n for n in ray.nodes() if n.get("Alive")]
    detect = ray.remote(num_cpus=0, max_retries=0)(_detect_here)
    refs = [detect.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)).remote()
            for n in alive]
    nodes = []
    for info, ref in zip(alive, refs):
        hardware, error = None, ""
        try:
            hardware = ray.get(ref, timeout=timeout_s)
        except Exception as err:  # noqa: BLE001 - one node that cannot say stays listed, with why
            error = (str(err).strip().splitlines() or [type(err).__name__])[0]
        resources = {k: float(v) for k, v in (info.get("Resources") or {}).items()
                     if not k.startswith("node:") and not k.endswith("memory")}
        host = (hardware or {}).get("name") or info.get("NodeManagerHostname") or info["NodeManagerAddress"]
        nodes.append(ClusterNode(node_id=info["NodeID"], address=info["NodeManagerAddress"], name=host,
                                 kind=node_kind(resources, hardware), resources=resources,
                                 hardware=hardware, error=error))
    names = [n.name for n in nodes]
    for node in nodes:
        if names.count(node.name) > 1:
            node.name = f"{node.name}/{node.node_id[:6]}"
    return nodes
