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


# ------------------------------------------------------------------ nothing leaves the machine

ON_MACHINE_OUTSIDE = "198.18.0.2"  # a benchmarking address (RFC 2544), given to a namespace of this host
OUTSIDE_HOST_SIDE = "198.18.0.1"


def default_device() -> str:
    words = subprocess.run(
        ["ip", "-o", "route", "show", "default"], capture_output=True, text=True
    ).stdout.split()
    return words[words.index("dev") + 1] if "dev" in words else ""


def test_the_cluster_ranges_never_take_the_default_route(plane):
    """`ip route get` (no packet sent): a ClusterIP and a simulated pod's address stay on the bridge,
    so a connection made before kube-proxy has a Service's rules never leaves the machine."""
    for address in ("10.96.142.13", "10.96.255.254", "10.244.0.7", "10.244.255.1"):
        device = host.route_device(address)
        assert device == node.BRIDGE, f"{address} routes through {device}, not {node.BRIDGE}"
        assert device != default_device()
    routes = host.snapshot()["routes"]  # the snapshot `down` compares covers them
    assert any(r.startswith("10.96.0.0/16 dev fadi0") for r in routes), routes
    assert any(r.startswith("10.244.0.0/16 dev fadi0") for r in routes), routes


@pytest.fixture
def outside(plane):
    """A listener on this machine but outside the cluster: a network namespace of its own (`unshare`,
    no /run/netns mount) joined to the host by a veth pair; gone with its process."""
    listener = subprocess.Popen(
        ["unshare", "--net", sys.executable, "-c",
         "import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
         "s.bind(('0.0.0.0', 8099)); s.listen(8); print('ready', flush=True)\n"
         "while True:\n c, _ = s.accept(); c.sendall(b'hello'); c.close()"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert listener.stdout.readline().strip() == "ready"
        inside = ["nsenter", "-t", str(listener.pid), "-n"]
        for argv in (["ip", "link", "add", "fadi-eg0", "type", "veth", "peer", "name", "fadi-eg1"],
                     ["ip", "link", "set", "fadi-eg1", "netns", str(listener.pid)],
                     ["ip", "addr", "add", f"{OUTSIDE_HOST_SIDE}/30", "dev", "fadi-eg0"],
                     ["ip", "link", "set", "fadi-eg0", "up"],
                     [*inside, "ip", "addr", "add", f"{ON_MACHINE_OUTSIDE}/30", "dev", "fadi-eg1"],
                     [*inside, "ip", "link", "set", "fadi-eg1", "up"],
                     [*inside, "ip", "route", "add", "default", "via", OUTSIDE_HOST_SIDE]):  # fmt: skip
            subprocess.run(argv, check=True, capture_output=True)
        yield ON_MACHINE_OUTSIDE, 8099
    finally:
        listener.kill()
        listener.wait()
        subprocess.run(["ip", "link", "del", "fadi-eg0"], capture_output=True)


def connect_from(pid: int | None, address: str, port: int) -> str:
    """Connect to address:port from the network namespace of `pid` (None: the host); the outcome."""
    code = (f"import socket; s=socket.create_connection(({address!r}, {port}), timeout=3); print('connected')\n"
            "try:\n print(s.recv(5).decode())\nexcept OSError:\n pass")  # fmt: skip
    prefix = ["nsenter", "-t", str(pid), "-n"] if pid else []
    proc = subprocess.run([*prefix, sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    return " ".join(proc.stdout.split()) or proc.stderr.strip().splitlines()[-1]


def pod_netns_pid(plane: ControlPlane, pod_ip: str) -> int:
    """A process of the pod whose address is `pod_ip` (its network namespace is the pod's)."""
    from fadi_seldon.localkube import node_images

    for line in node_images.ctr(plane.layout, "tasks", "ls").splitlines()[1:]:
        pid = int(line.split()[1])
        addrs = subprocess.run(
            ["nsenter", "-t", str(pid), "-n", "ip", "-o", "addr"], capture_output=True, text=True
        )
        if f" {pod_ip}/" in addrs.stdout:
            return pid
    raise AssertionError(f"no container task has the address {pod_ip}")


def test_pods_reach_the_host_but_nothing_beyond_it(plane, outside):
    """The pod's own network namespace (its sandbox's), so the packets take the pod's path: veth,
    bridge, then FORWARD. The host reaches the outside listener (the control); the pod reaches the
    API server on the host, and is refused the listener."""
    address, port = outside
    assert connect_from(None, address, port) == "connected hello"
    kubectl(plane, "wait", "pod/sleeper", "--for=condition=Ready", "--timeout=60s")
    pod_ip = json.loads(kubectl(plane, "get", "pod", "sleeper", "-o", "json"))["status"]["podIP"]
    pid = pod_netns_pid(plane, pod_ip)
    api_port = plane.load_state()["ports"]["kube-apiserver"]
    outcome = connect_from(pid, node.GATEWAY, api_port)
    assert outcome.startswith("connected"), outcome
    outcome = connect_from(pid, address, port)
    assert not outcome.startswith("connected"), "a pod reached an address beyond the host"
    assert "No route to host" in outcome, outcome  # FADI-EGRESS's icmp-admin-prohibited, at once


def test_an_image_the_node_lacks_is_never_pulled_from_off_the_machine(plane):
    """A pull goes to the loopback port of the node's `_default` registry host and is refused at
    once: no name resolved, no registry called (`cluster up --pod-egress` lets the node pull)."""
    manifest = json.dumps(
        pod("wants-a-pull", "docker.io/library/not-loaded:1.0", imagePullPolicy="IfNotPresent")
    )
    subprocess.run([str(TOOLS_BIN / "kubectl"), "--kubeconfig", str(plane.layout.kubeconfig), "apply", "-f", "-"],
                   input=manifest, text=True, check=True, capture_output=True)  # fmt: skip

    def pull_failures() -> str:
        events = json.loads(kubectl(plane, "get", "events", "--field-selector",
                                    "involvedObject.name=wants-a-pull", "-o", "json"))["items"]  # fmt: skip
        return " ".join(e["message"] for e in events if "Failed to pull" in e.get("message", ""))

    from fadi_seldon.runtime.polling import wait_until

    message = wait_until("the pull to fail", pull_failures, 60, every=0.5)
    assert "127.0.0.1:1: connect: connection refused" in message, message
    assert "registry-1.docker.io" not in message
    kubectl(plane, "delete", "pod", "wants-a-pull", "--wait=false")


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
