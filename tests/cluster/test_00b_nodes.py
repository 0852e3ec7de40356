"""`cluster up --nodes N` on a control plane of its own: N simulated nodes Ready with the capacity
asked for, pods spread by the scheduler according to it, and `up` again scaling down to one node.

The tests run in order on one cluster of this module (not the session's).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cluster.kube import wait_until
from conftest import TOOLS_BIN
from fadi_seldon.localkube import ControlPlane
from fadi_seldon.localkube.nodes import NodeSpec

CAPACITY = {"cpu": "4", "memory": "16Gi", "pods": "20"}
SPEC = NodeSpec(count=3, cpu="4", memory="16Gi", pods=20)


def kubectl(plane: ControlPlane, *args: str) -> str:
    return subprocess.run(
        [str(TOOLS_BIN / "kubectl"), "--kubeconfig", str(plane.layout.kubeconfig), *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout


@pytest.fixture(scope="module")
def plane(tmp_path_factory):
    p = ControlPlane(tmp_path_factory.mktemp("nodes-cluster") / "state", bin_dir=TOOLS_BIN, out=sys.stderr)
    try:
        p.up(timeout_scale=2.0, nodes=SPEC, node_kind="simulated")
        yield p
    finally:
        p.down()


def test_three_nodes_ready_with_the_capacity_asked_for(plane):
    status = plane.status()
    assert status["ready"]
    assert [n["name"] for n in status["nodes"]] == ["kwok-node-0", "kwok-node-1", "kwok-node-2"]
    assert all(n["ready"] and n["capacity"] == CAPACITY for n in status["nodes"]), status["nodes"]
    assert json.loads(plane.layout.state_file.read_text())["nodes"] == SPEC.to_json()
    listed = json.loads(kubectl(plane, "get", "nodes", "-l", "type=kwok", "-o", "json"))["items"]
    assert [n["metadata"]["name"] for n in listed] == SPEC.names
    for node in listed:
        assert node["status"]["allocatable"] == CAPACITY and node["status"]["capacity"] == CAPACITY
        assert node["metadata"]["annotations"]["kwok.x-k8s.io/node"] == "fake"


def test_pods_too_big_to_share_a_node_are_spread_over_the_nodes(plane):
    """3 pods asking for 3 of a node's 4 CPUs: one per node, all Running and Ready; a 4th stays Pending."""
    kubectl(plane, "create", "deployment", "wide", "--image=example.invalid/model:1", "--replicas=0")
    kubectl(plane, "set", "resources", "deployment", "wide", "--requests=cpu=3,memory=1Gi")
    kubectl(plane, "scale", "deployment", "wide", "--replicas=3")
    kubectl(plane, "wait", "deployment/wide", "--for=condition=Available", "--timeout=60s")
    kubectl(plane, "wait", "pods", "-l", "app=wide", "--for=condition=Ready", "--timeout=60s")
    pods = json.loads(kubectl(plane, "get", "pods", "-l", "app=wide", "-o", "json"))["items"]
    assert sorted(p["spec"]["nodeName"] for p in pods) == SPEC.names
    assert all(p["status"]["phase"] == "Running" for p in pods)
    kubectl(plane, "scale", "deployment", "wide", "--replicas=4")

    def one_unschedulable() -> bool:
        items = json.loads(kubectl(plane, "get", "pods", "-l", "app=wide", "-o", "json"))["items"]
        pending = [p for p in items if p["status"].get("phase") == "Pending"]
        return len(items) == 4 and len(pending) == 1 and not pending[0]["spec"].get("nodeName")

    wait_until("a 4th pod left Pending: no node has 3 CPUs free", one_unschedulable, 30)


def test_up_again_scales_down_to_one_node_without_a_restart(plane):
    pids = {c["name"]: c["pid"] for c in plane.status()["components"]}
    status = plane.up(nodes=NodeSpec(count=1, cpu="4", memory="16Gi", pods=20))
    assert status["ready"]
    assert [n["name"] for n in status["nodes"]] == ["kwok-node-0"]
    assert kubectl(plane, "get", "nodes", "-o", "name").split() == ["node/kwok-node-0"]
    assert {c["name"]: c["pid"] for c in status["components"]} == pids
    assert plane.node_spec().count == 1  # recorded: a plain `up` keeps one node
    # the pods of the removed nodes went at once; their replacements wait for room on the one left
    pods = json.loads(kubectl(plane, "get", "pods", "-l", "app=wide", "-o", "json"))["items"]
    assert {p["spec"].get("nodeName") for p in pods} <= {"kwok-node-0", None}
    assert sum(p["spec"].get("nodeName") == "kwok-node-0" for p in pods) == 1
