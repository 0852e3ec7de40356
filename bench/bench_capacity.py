"""How many model pods the local cluster holds: `cluster up --nodes N` with the default node size.

A control plane with N simulated nodes of the default capacity (128 CPU, 512Gi, 250 pods each) and
one Deployment of PODS replicas, each asking what the chart's executor asks by default (500m CPU,
512Mi: the footprint of a model pod before the model's own container). Measured: the time until
every replica is Running, where they landed (pods per node, CPU requested), and that one replica
more stays Pending with the scheduler's reason. Plain figures, no assertions.

Usage: .venv/bin/python bench/bench_capacity.py [-o json]
Environment: PODS (default 3000), NODES (default: the fewest default nodes that fit PODS, 250 pods
each, so that the one more pod finds every node full).
"""

from __future__ import annotations

import collections
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))  # the test machinery (tests/machinery)

from fadi_seldon.localkube import ControlPlane  # noqa: E402
from fadi_seldon.localkube.nodes import NodeSpec  # noqa: E402
from fadi_seldon.runtime import polling  # noqa: E402
from fadi_seldon.tools.layout import default_tools_dir  # noqa: E402
from machinery.proxy import Proxy  # noqa: E402

BIN = default_tools_dir() / "bin"
NAMESPACE = "capacity"
EXECUTOR_REQUESTS = {"cpu": "500m", "memory": "512Mi"}  # values.yaml executor.resources
DEPLOYMENTS = f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments"
PODS_PATH = f"/api/v1/namespaces/{NAMESPACE}/pods"


def say(line: str) -> None:
    print(f"[capacity] {line}", file=sys.stderr, flush=True)


def deployment(name: str, replicas: int) -> dict:
    labels = {"app": name}
    container = {"name": "model", "image": "capacity/model:1", "resources": {"requests": EXECUTOR_REQUESTS}}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
        },
    }


def pods(proxy: Proxy, selector: str) -> list[dict]:
    code, answer = proxy.request("GET", f"{PODS_PATH}?labelSelector={selector}")
    return answer.get("items", []) if code == 200 else []


def wait_running(proxy: Proxy, selector: str, target: int, timeout: float = 1800) -> float:
    """Seconds until `target` pods of `selector` are Running, with progress every 15 s."""
    t0 = time.perf_counter()

    def running() -> int:
        return sum(1 for p in pods(proxy, selector) if p.get("status", {}).get("phase") == "Running")

    def note(waited: float) -> None:
        say(f"  {running()}/{target} Running after {waited:.0f} s")

    try:
        polling.wait_until(
            "pods Running", lambda: running() >= target, timeout, 2.0, progress=note, progress_every=15
        )
    except polling.WaitTimeout:
        raise SystemExit(f"{running()} of {target} pods Running after {timeout:.0f} s") from None
    return time.perf_counter() - t0


def one_more(proxy: Proxy) -> str:
    """One more pod asking the same: the scheduler's reason for leaving it Pending (or 'scheduled')."""
    proxy.request("POST", DEPLOYMENTS, json.dumps(deployment("one-more", 1)).encode())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for pod in pods(proxy, "app=one-more"):
            if pod.get("spec", {}).get("nodeName"):
                return "scheduled"
            for cond in pod.get("status", {}).get("conditions", []):
                if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
                    return cond.get("message", cond.get("reason", "unschedulable"))
        time.sleep(1)
    return "no answer from the scheduler within 60 s"


def run(count: int, nodes: int) -> dict:
    spec = NodeSpec(count=nodes)
    say(f"{count} pods of {EXECUTOR_REQUESTS} on {nodes} simulated nodes of {spec.capacity}")
    with tempfile.TemporaryDirectory(prefix="bench-capacity-") as tmp:
        plane = ControlPlane(Path(tmp) / "state", bin_dir=BIN, out=open(os.devnull, "w"))  # noqa: SIM115
        try:
            t0 = time.perf_counter()
            plane.up(timeout_scale=2.0, nodes=spec, node_kind="simulated")
            up_s = time.perf_counter() - t0
            env = dict(os.environ, KUBECONFIG=str(plane.layout.kubeconfig))
            with Proxy(str(BIN / "kubectl"), env) as proxy:
                proxy.request(
                    "POST", "/api/v1/namespaces", json.dumps({"metadata": {"name": NAMESPACE}}).encode()
                )
                proxy.request("POST", DEPLOYMENTS, json.dumps(deployment("models", count)).encode())
                running_s = wait_running(proxy, "app=models", count)
                per_node = collections.Counter(p["spec"].get("nodeName") for p in pods(proxy, "app=models"))
                extra = one_more(proxy)
        finally:
            plane.down()
    busiest = max(per_node.values())
    return {
        "pods": count,
        "nodes": nodes,
        "node_capacity": spec.capacity,
        "cluster_up_s": round(up_s, 1),
        "all_running_s": round(running_s, 1),
        "pods_per_node": dict(sorted(per_node.items())),
        "cpu_requested_on_busiest_node": busiest * 0.5,
        "one_more_pod": extra,
    }


def main() -> int:
    count = int(os.environ.get("PODS", "3000"))
    nodes = int(os.environ.get("NODES") or math.ceil(count / NodeSpec().pods))
    result = run(count, nodes)
    if sys.argv[1:3] == ["-o", "json"]:
        print(json.dumps(result, indent=2))
    else:
        print(f"{result['pods']} model pods ({EXECUTOR_REQUESTS}) on {nodes} simulated nodes: cluster up "
              f"{result['cluster_up_s']} s, all Running after {result['all_running_s']} s; busiest node "
              f"{max(result['pods_per_node'].values())} pods, {result['cpu_requested_on_busiest_node']} CPU "
              f"requested; one more pod: {result['one_more_pod']}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
