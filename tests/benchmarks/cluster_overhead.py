"""What running a probe on Ray costs against running it here, on this same machine.

    python tests/benchmarks/cluster_overhead.py [--runs 5] [--models test_resnet,test_vit,...]
        [--out cluster.json]

Two figures:

1. **Per-probe overhead**: one probe at a time, ``--runs`` times, locally (``BenchRun``) and on
   a one-node Ray cluster started here (``ray.cluster_utils.Cluster``, 2 CPUs); wall time from
   the run's start to the probe's result, as the caller sees it. The ``fault`` kind (no torch)
   shows the plumbing alone; a ``latency`` probe of ``test_resnet`` (batch 1, 1 s) a real one.
   Medians, with the spread.
2. **A 2-node run of 4 models** (latency, batch 1, 1 thread each, 2 s budget): the four models
   one after another here, then on a two-node cluster (one CPU each) started here, where two
   probes run at once. Wall time of each run.

All on one machine, so "remote" here is Ray's overhead (a worker process per probe, the
object store, the event stream), never network time. Prints JSON; the load average is in it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time


def _spec(kind: str, model: str, budget: float):  # noqa: ANN202
    from selector.core.models import resolve_model
    from selector.core.probes.spec import ProbeSpec

    if kind == "fault":
        return ProbeSpec(kind="fault", model="m", params={"mode": "finish"}, estimate={"total_mib": 1.0},
                         entry={"id": "m", "source": "timm", "task": "image-classification",
                                "family": "x", "architecture": "m"})
    entry = resolve_model(model)
    return ProbeSpec(kind="latency", model=entry.id, entry=entry.to_dict(), batch_sizes=[1], threads=1,
                     budget_s=budget, params={"min_time_s": min(1.0, budget), "min_iters": 5})


def _wall(run) -> tuple[float, list]:  # noqa: ANN001
    t0 = time.perf_counter()
    for _ in run.events():
        pass
    wall = time.perf_counter() - t0
    bad = [r for r in run.results if not r.ok]
    if bad:
        raise SystemExit(f"{bad[0].model_id}: {bad[0].status}: {bad[0].message}")
    return wall, run.results


def _stats(values: list[float]) -> dict:
    return {"median_s": round(statistics.median(values), 3), "min_s": round(min(values), 3),
            "max_s": round(max(values), 3), "runs": [round(v, 3) for v in values]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--models", default="test_resnet,test_vit,test_convnext,test_efficientnet")
    parser.add_argument("--out")
    args = parser.parse_args()
    from selector.core.cluster import local_cluster_env, require_ray

    require_ray()
    from ray.cluster_utils import Cluster

    from selector.core.cluster.connect import connect, disconnect
    from selector.core.cluster.runner import ClusterBenchRun
    from selector.core.probes.bench import BenchRun

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    hw = {"name": "bench"}
    report: dict = {"load_before": os.getloadavg()}
    with local_cluster_env():
        one = Cluster(initialize_head=True, head_node_args={"num_cpus": 2, "include_dashboard": False})
    try:
        connect(one.address)
        for kind, model, budget in (("fault", "m", 1.0), ("latency", "test_resnet", 1.0)):
            local, remote = [], []
            for _ in range(args.runs):
                local.append(_wall(BenchRun([_spec(kind, model, budget)], hardware=hw))[0])
                remote.append(_wall(ClusterBenchRun([_spec(kind, model, budget)], address="bench"))[0])
            report[f"{kind}_local"] = _stats(local)
            report[f"{kind}_ray"] = _stats(remote)
            report[f"{kind}_ray_overhead_median_s"] = round(statistics.median(remote) - statistics.median(local), 3)
    finally:
        disconnect()
        one.shutdown()
    models = args.models.split(",")
    t0 = time.perf_counter()
    local_wall, _ = _wall(BenchRun([_spec("latency", m, 2.0) for m in models], hardware=hw))
    report["four_models_local_s"] = round(local_wall, 2)
    with local_cluster_env():
        two = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        with local_cluster_env():
            two.add_node(num_cpus=1)
        two.wait_for_nodes()
        t0 = time.perf_counter()
        connect(two.address)
        report["two_node_connect_s"] = round(time.perf_counter() - t0, 2)
        wall, results = _wall(ClusterBenchRun([_spec("latency", m, 2.0) for m in models], address="bench"))
        report["four_models_two_nodes_s"] = round(wall, 2)
        report["two_node_placement"] = {r.model_id: r.placement["node_id"][:8] for r in results}
        report["two_node_p50_ms"] = {r.model_id: round(r.rows[0]["p50_ms"], 2) for r in results}
    finally:
        disconnect()
        two.shutdown()
    report["load_after"] = os.getloadavg()
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(text)


if __name__ == "__main__":
    main()
