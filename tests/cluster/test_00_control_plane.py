"""`fadi-seldon cluster` itself, on its own control plane: readiness, idempotent `up`, recovery
from a crashed component (data and kubeconfig kept), and a `down` that leaves nothing behind.

The tests run in order on one cluster of this module (not the session's).
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys

import pytest

from conftest import TOOLS_BIN
from fadi_seldon.localkube import ControlPlane
from fadi_seldon.localkube.controlplane import COMPONENTS
from fadi_seldon.runtime import processes


def cli(state, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fadi_seldon", "cluster", "--state-dir", str(state), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "FADI_TOOLS_DIR": str(TOOLS_BIN.parent)},
        timeout=300,
    )


def kubectl(plane: ControlPlane, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(TOOLS_BIN / "kubectl"), "--kubeconfig", str(plane.layout.kubeconfig), *args],
        capture_output=True,
        text=True,
        check=check,
        timeout=60,
    )


@pytest.fixture(scope="module")
def plane(tmp_path_factory):
    p = ControlPlane(tmp_path_factory.mktemp("own-cluster") / "state", bin_dir=TOOLS_BIN, out=sys.stderr)
    p.up(timeout_scale=2.0, node_kind="simulated")  # the control plane itself; test_00c has the real node
    yield p
    p.down()


def test_up_reports_every_component_ready_with_its_log(plane):
    proc = cli(plane.layout.root, "status", "--output", "json")
    assert proc.returncode == 0, proc.stderr
    status = json.loads(proc.stdout)
    assert status["ready"] and status["node"]["ready"]
    assert [c["name"] for c in status["components"]] == list(COMPONENTS)
    for c in status["components"]:
        assert c["running"] and c["healthy"] and c["port"], c
        assert os.path.getsize(c["log"]) > 0
    assert kubectl(plane, "get", "nodes", "-o", "name").stdout.split() == ["node/kwok-node-0"]
    assert cli(plane.layout.root, "env").stdout.strip() == f"export KUBECONFIG={plane.layout.kubeconfig}"


def test_up_again_changes_nothing(plane):
    before = {c["name"]: c["pid"] for c in plane.status()["components"]}
    out = io.StringIO()
    ControlPlane(plane.layout.root, bin_dir=TOOLS_BIN, out=out).up()
    assert "already running" in out.getvalue()
    assert {c["name"]: c["pid"] for c in plane.status()["components"]} == before


def test_up_recovers_from_a_crashed_api_server_and_keeps_the_data(plane):
    kubectl(plane, "create", "configmap", "survivor", "--from-literal=k=v")
    kubeconfig_before = plane.layout.kubeconfig.read_text()
    api = plane.records()["kube-apiserver"]
    os.kill(api.pid, signal.SIGKILL)
    proc = cli(plane.layout.root, "status")
    assert proc.returncode == 1 and "NOT READY" in proc.stdout
    proc = cli(plane.layout.root, "up")
    assert proc.returncode == 0, proc.stderr
    assert "not healthy" in proc.stderr
    assert plane.status()["ready"]
    assert plane.records()["kube-apiserver"].pid != api.pid
    assert plane.layout.kubeconfig.read_text() == kubeconfig_before  # same ports, same keys
    assert kubectl(plane, "get", "configmap", "survivor", "-o", "jsonpath={.data.k}").stdout == "v"
    # the new kwok takes over the node at once (without the lease handover it waits 40 s)
    kubectl(plane, "create", "deployment", "after-restart", "--image=example.invalid/app:1")
    kubectl(plane, "wait", "deployment/after-restart", "--for=condition=Available", "--timeout=30s")


def test_a_simulated_cluster_keeps_its_ranges_on_a_sink_of_its_own(plane):
    """Nothing of a kwok-only cluster owns the Service and pod ranges: they go onto a port-less bridge
    of its own (metric 100: a real node's bridge wins while both run), never the default route."""
    from fadi_seldon.localkube import host, node, node_lifecycle

    sink = node_lifecycle.sink_name(plane.layout)
    routes = subprocess.run(["ip", "route", "show", "dev", sink], capture_output=True, text=True).stdout
    assert "10.96.0.0/16" in routes and "10.244.0.0/16" in routes and "metric 100" in routes, routes
    for address in ("10.96.3.4", "10.244.9.9"):
        assert host.route_device(address) in (sink, node.BRIDGE)


def test_down_leaves_no_process_and_no_state(plane):
    from fadi_seldon.localkube import node_lifecycle

    recs = plane.records()
    sink = node_lifecycle.sink_name(plane.layout)
    proc = cli(plane.layout.root, "down", "--output", "json")
    assert proc.returncode == 0, proc.stderr
    assert not os.path.exists(f"/sys/class/net/{sink}")  # the sink, and its routes with it
    assert len(json.loads(proc.stdout)["stopped"]) >= len(COMPONENTS)
    assert not any(processes.is_running(r.pid, r.start_time) for r in recs.values())
    assert processes.processes_mentioning(str(plane.layout.root), COMPONENTS) == []
    assert not plane.layout.root.exists()
    assert cli(plane.layout.root, "status").returncode == 3
