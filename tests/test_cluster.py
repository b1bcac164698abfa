"""Probes on a real two-node Ray cluster on this machine (``ray.cluster_utils.Cluster``).

The nodes have one CPU each and a custom ``accelerator_type:`` resource standing in for a
hardware kind (``T4`` on the head, ``A100`` on the other), which is how Ray itself marks a
node's accelerator. Probes are of the torch-free ``fault`` kind, so each takes well under a
second once its worker is up. The cluster starts once for the module and is shut down after
it, so no raylet or GCS process outlives the run (``tests/conftest.py`` checks).
"""

from __future__ import annotations

import os
import signal
import time

import psutil
import pytest

from selector.core.catalog.entry import VISION, CatalogEntry
from selector.core.errors import SelectorError
from selector.core.probes.spec import ProbeSpec
from selector.core.results import ResultStore
from selector.core.results import record as rec

pytestmark = pytest.mark.slow
try:
    from selector.core.cluster import require_ray

    ray = require_ray()
except SelectorError:
    pytest.skip("ray is not installed (the cluster extra)", allow_module_level=True)

ENTRY = CatalogEntry(id="resnet-like", source="timm", task=VISION, family="resnet", architecture="resnet50",
                     params=25_000_000, macs=4e9, input_size=(3, 224, 224))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Head (1 CPU, kind T4) + one node (1 CPU, kind A100); the driver connected to it."""
    from ray.cluster_utils import Cluster

    from selector.core.cluster import local_cluster_env
    from selector.core.cluster.connect import connect, disconnect

    home = tmp_path_factory.mktemp("ray-nodes-home")
    saved = os.environ.get("SELECTOR_HOME")
    os.environ["SELECTOR_HOME"] = str(home)  # the nodes' workers inherit it: never the user's folders
    with local_cluster_env():  # its processes inherit it (amdsmi without ROCm breaks Ray's import)
        made = Cluster(initialize_head=True, head_node_args={
            "num_cpus": 1, "resources": {"accelerator_type:T4": 1}, "include_dashboard": False})
    try:
        with local_cluster_env():
            made.add_node(num_cpus=1, resources={"accelerator_type:A100": 1})
        made.wait_for_nodes()
        connect(made.address)
        yield made
    finally:
        disconnect()
        made.shutdown()
        if saved is None:
            os.environ.pop("SELECTOR_HOME", None)
        else:
            os.environ["SELECTOR_HOME"] = saved


def fault(mode: str = "finish", **params) -> ProbeSpec:
    return ProbeSpec(kind="fault", model=ENTRY.id, entry=ENTRY.to_dict(), timeout_s=60, budget_s=5,
                     estimate={"total_mib": 1.0}, params={"mode": mode, **params})


def _run(specs, **kw):
    from selector.core.cluster.runner import ClusterBenchRun

    store = ResultStore()
    return ClusterBenchRun(specs, store=store, session_name="cluster test", address="test", **kw), store


def _gone(pid: int, within_s: float = 20.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.1)
    return False


def test_nodes_are_listed_with_the_profile_read_on_each(cluster):
    from selector.core.cluster.connect import cluster_nodes

    nodes = cluster_nodes()
    assert sorted(n.kind for n in nodes) == ["A100", "T4"]
    assert len({n.node_id for n in nodes}) == 2 and len({n.name for n in nodes}) == 2  # same host: ids tell
    for node in nodes:
        assert node.hardware and node.hardware["cpu"]["logical_cores"] and not node.error
        assert node.resources[f"accelerator_type:{node.kind}"] == 1.0


def test_probes_spread_over_the_nodes_and_each_row_names_its_node(cluster):
    run, store = _run([fault(rows=2, delay_s=1.0) for _ in range(4)])
    events = list(run.events())
    assert len(run.results) == 4 and all(r.status == rec.FINISHED for r in run.results)
    placements = [r.placement for r in run.results]
    assert len({p["node_id"] for p in placements}) == 2  # both nodes worked
    assert {p["kind"] for p in placements} == {"T4", "A100"}
    assert len({p["worker_pid"] for p in placements}) == 4  # a fresh worker per probe
    for result in run.results:
        assert result.hardware and result.hardware["cpu"]["logical_cores"]
        assert len(result.rows) == 2
    saved = store.session_results(run.session_id)
    assert sorted(r.placement["node_id"] for r in saved) == sorted(p["node_id"] for p in placements)
    assert [e.type for e in events].count("end") == 4
    assert {e.index for e in events if e.type == "end"} == {0, 1, 2, 3} and events[-1].count == 4


def test_a_killed_worker_is_one_failed_row_and_the_run_goes_on(cluster):
    run, _ = _run([fault("hang"), fault(rows=1, delay_s=2.0)])
    killed: dict = {}
    for event in run.events():
        if event.type == "started" and event.index == 0:
            killed["child"] = event.data["pid"]
        if event.type == "phase" and event.phase == "placed" and event.index == 0:
            killed["worker"] = event.data["node"]["worker_pid"]
        if "worker" in killed and "child" in killed and "sent" not in killed:
            os.kill(killed["worker"], signal.SIGKILL)
            killed["sent"] = True
    by_mode = {r.spec["params"]["mode"]: r for r in run.results}
    hung, other = by_mode["hang"], by_mode["finish"]
    assert hung.status == rec.CRASHED
    assert "worker running it died" in hung.message and hung.placement["node_id"]
    assert "WorkerCrashedError" in hung.error
    assert other.status == rec.FINISHED
    assert _gone(killed["child"])  # the probe child followed its worker


def test_cancel_stops_the_remote_probes(cluster):
    run, store = _run([fault("hang"), fault("hang"), fault("hang")])
    children = []
    for event in run.events():
        if event.type == "started":
            children.append(event.data["pid"])
            if len(children) == 2:  # two nodes, one CPU each: the third waits in Ray's queue
                run.cancel()
    assert [r.status for r in run.results] == [rec.CANCELLED] * 3
    assert sum("before it started" in r.message for r in run.results) == 1
    assert all(_gone(pid) for pid in children)
    assert store.get_session(run.session_id).status != "closed"  # cancelled: resumable, not closed


def test_user_data_travels_once_and_lands_on_the_node(cluster, tmp_path):
    folder = tmp_path / "pets"
    for label in ("cat", "dog"):
        (folder / label).mkdir(parents=True)
        (folder / label / "a.txt").write_text(label)
    spec_a, spec_b = fault(), fault()
    for spec in (spec_a, spec_b):
        spec.data = {"source": str(folder)}
    run, _ = _run([spec_a, spec_b])
    list(run.events())
    assert len(run._packed) == 1  # packed and put once for both probes
    for result in run.results:
        source = result.spec["data"]["source"]
        assert source != str(folder) and "cluster-data" in source
        assert sorted(p.name for p in __import__("pathlib").Path(source).iterdir()) == ["cat", "dog"]


def test_an_unreachable_address_is_one_line_before_anything_starts(cluster):
    import socket

    from selector.core.cluster.connect import check_reachable, host_port

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(SelectorError, match=f"cannot reach the Ray cluster at 127.0.0.1:{port}") as info:
        check_reachable(f"127.0.0.1:{port}")
    assert "\n" not in str(info.value)
    with pytest.raises(SelectorError, match="not a cluster address"):
        host_port("10.0.0.5:notaport")
    assert host_port("ray://head:10001") == ("head", 10001) and host_port("head") == ("head", 6379)


def test_hw_cluster_lists_each_node_as_json(cluster, capsys):
    import json

    from selector.cli import main

    assert main(["hw", "--cluster", cluster.address, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["cluster"] == cluster.address
    assert sorted(n["kind"] for n in listed["nodes"]) == ["A100", "T4"]
    assert all(n["hardware"]["memory"]["total_mib"] > 0 for n in listed["nodes"])


def test_the_cli_says_an_unreachable_cluster_in_one_line_before_any_probe(capsys, monkeypatch):
    import socket

    from selector.cli import main

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert main(["bench", "test_resnet", "--cluster", f"127.0.0.1:{port}"]) == 2
    err = capsys.readouterr().err.strip()
    assert f"cannot reach the Ray cluster at 127.0.0.1:{port}" in err and len(err.splitlines()) == 1
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert main(["hw", "--cluster"]) == 2
    assert "give --cluster HOST:PORT or set RAY_ADDRESS" in capsys.readouterr().err


def test_a_run_can_target_one_node_kind(cluster):
    from selector.core.cluster.runner import ClusterTarget

    make = ClusterTarget(cluster.address, node_kind="A100").runner()  # what the app's Funnel calls
    run = make([fault(), fault()], store=ResultStore(), hardware={"name": "here"})
    list(run.events())
    assert [r.placement["kind"] for r in run.results] == ["A100", "A100"]


def test_a_node_lost_mid_run_ends_its_probe_and_the_run_goes_on(cluster):
    from selector.core.cluster import local_cluster_env

    with local_cluster_env():
        doomed = cluster.add_node(num_cpus=1, resources={"doomed": 1})
    cluster.wait_for_nodes()
    run, _ = _run([fault("hang")], resources={"doomed": 1})
    child = None
    for event in run.events():
        if event.type == "started":
            child = event.data["pid"]
            cluster.remove_node(doomed)  # the node stops: raylet and workers killed
    (lost,) = run.results
    assert lost.status == rec.CRASHED and lost.placement["node_id"]
    assert "lost" in lost.message or "died" in lost.message
    assert child is not None and _gone(child)
    after, _ = _run([fault()])
    list(after.events())
    assert after.results[0].status == rec.FINISHED
