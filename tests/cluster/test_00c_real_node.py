"""The real node on its own cluster: real containers with pod IPs, Services answering, and a host that
`down` puts back exactly as it was, also after everything was killed with SIGKILL.

Runs before the session's cluster starts (one real node per machine). On a host that cannot run a
real node (not root, no runc, ...) the module is skipped with the reason; FADI_TEST_NODE=real turns
that into a failure.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from cluster.conftest import NODE_KIND
from conftest import TOOLS_BIN
from fadi_seldon.images import pause
from fadi_seldon.localkube import ControlPlane, host, node, node_lifecycle


def kubectl(plane: ControlPlane, *args: str, check: bool = True, timeout: float = 120) -> str:
    proc = subprocess.run(
        [str(TOOLS_BIN / "kubectl"), "--kubeconfig", str(plane.layout.kubeconfig), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0 or not check, f"kubectl {' '.join(args)}: {proc.stderr}"
    return proc.stdout


def cli(plane: ControlPlane, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fadi_seldon", "cluster", "--state-dir", str(plane.layout.root), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "FADI_TOOLS_DIR": str(TOOLS_BIN.parent)},
        timeout=300,
    )


@pytest.fixture(scope="module")
def baseline():
    problems = node_lifecycle.host_problems(TOOLS_BIN)
    if problems and NODE_KIND != "real":
        pytest.skip("this host cannot run a real node: " + "; ".join(problems))
    return host.snapshot()


@pytest.fixture(scope="module")
def plane(tmp_path_factory, baseline):
    p = ControlPlane(tmp_path_factory.mktemp("real-node") / "state", bin_dir=TOOLS_BIN, out=sys.stderr)
    p.up(timeout_scale=2.0, node_kind="real")
    yield p
    p.down()
    assert host.differences(baseline, host.snapshot()) == []


def pod(name: str, image: str, **extra) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "containers": [{"name": name, "image": image, "imagePullPolicy": "Never", **extra}],
            "terminationGracePeriodSeconds": 1,
        },
    }


def test_the_real_node_is_ready_beside_a_tainted_simulated_node(plane):
    status = json.loads(cli(plane, "status", "-o", "json").stdout)
    assert status["ready"] and status["node_kind"] == "real"
    assert {"containerd", "kubelet", "kube-proxy", "coredns"} <= {c["name"] for c in status["components"]}
    nodes = {
        n["metadata"]["name"]: n for n in json.loads(kubectl(plane, "get", "nodes", "-o", "json"))["items"]
    }
    real = nodes[node.NODE_NAME]
    assert real["status"]["nodeInfo"]["containerRuntimeVersion"].startswith("containerd://2.")
    assert {"type": "InternalIP", "address": node.GATEWAY} in real["status"]["addresses"]
    assert not real["spec"].get("taints")
    assert nodes["kwok-node-0"]["spec"]["taints"][0]["key"] == "kwok.x-k8s.io/node"


def test_pods_are_real_containers_with_pod_ips_and_services_answer(plane):
    ref = pause.image_ref()
    manifest = json.dumps(pod("sleeper", ref))
    subprocess.run([str(TOOLS_BIN / "kubectl"), "--kubeconfig", str(plane.layout.kubeconfig), "apply", "-f", "-"],
                   input=manifest, text=True, check=True, capture_output=True)  # fmt: skip
    kubectl(plane, "wait", "pod/sleeper", "--for=condition=Ready", "--timeout=60s")
    live = json.loads(kubectl(plane, "get", "pod", "sleeper", "-o", "json"))
    assert live["spec"]["nodeName"] == node.NODE_NAME
    assert live["status"]["podIP"].startswith("10.88.")
    assert live["status"]["containerStatuses"][0]["containerID"].startswith("containerd://")
    wide = kubectl(plane, "get", "pods", "-o", "wide")
    assert live["status"]["podIP"] in wide and node.NODE_NAME in wide
    # the API server answers pods through the `kubernetes` Service (kube-proxy's rules, the bridge)
    svc = json.loads(kubectl(plane, "get", "endpointslices", "-l", "kubernetes.io/service-name=kubernetes",
                             "-o", "json"))["items"][0]  # fmt: skip
    assert svc["endpoints"][0]["addresses"] == [node.GATEWAY]


def test_the_kubelet_refuses_anonymous_requests(plane):
    """Webhook authentication and authorization on the kubelet: no anonymous access to its API."""
    import ssl
    import urllib.error
    import urllib.request

    context = ssl.create_default_context(cafile=str(plane.pki.ca_cert))
    url = f"https://{node.GATEWAY}:{node.KUBELET_PORT}/pods"
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(url, context=context, timeout=10)  # noqa: S310 - the local kubelet
    assert err.value.code == 401
    # the API server reaches it with its own client certificate: logs through the API work
    assert kubectl(plane, "logs", "sleeper") == ""


def test_up_after_sigkill_of_everything_cleans_up_and_starts_again(plane):
    kubectl(plane, "get", "pod", "sleeper")
    records = plane.records()
    shims = node_lifecycle.node_processes(plane.layout, (node_lifecycle.SHIM,))
    assert shims, "no containerd shim runs for the pod"
    for pid in [rec.pid for rec in records.values()] + shims:
        os.kill(pid, signal.SIGKILL)
    time.sleep(1)
    proc = cli(plane, "up")
    assert proc.returncode == 0, proc.stderr
    assert "stopped" in proc.stderr  # the leftovers of the killed run, then a fresh start
    kubectl(plane, "wait", "pod/sleeper", "--for=condition=Ready", "--timeout=90s")


def test_down_puts_the_host_back_as_it_was(plane, baseline):
    plane.down(keep_state=True)
    assert host.differences(baseline, host.snapshot()) == []
    assert not node_lifecycle.node_processes(plane.layout, node_lifecycle.NODE_TOOLS)
    # the module's fixture brings it up again for nothing else; `down` twice is harmless
    plane.down(keep_state=True)
