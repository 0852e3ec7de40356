"""The cluster suite's shared cluster: ONE local control plane per session, always stopped.

Set FADI_TEST_KUBECONFIG to run the suite against another cluster instead (kind in
`make e2e-kind`); the local control plane is then not started.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from cluster.kube import CRD, RELEASE, RELEASE_NS, Kube, condition, copy_charts, set_webhook, wait_until
from conftest import TOOLS_BIN
from fadi_seldon.localkube import ControlPlane, host, node_lifecycle

# the suite's node: real where this host can run one (CI machines can: root, runc, `make tools`),
# FADI_TEST_NODE=simulated for kwok only; `real` fails instead of falling back
NODE_KIND = os.environ.get("FADI_TEST_NODE", "auto")


def pytest_collection_modifyitems(items):
    """Every test in this folder needs the cluster: mark it, so `-m "not cluster"` skips the folder."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.cluster)


@pytest.fixture(scope="session")
def cluster_kubeconfig() -> Path:
    external = os.environ.get("FADI_TEST_KUBECONFIG")
    if external:
        yield Path(external)
        return
    # a private state folder: never touches a cluster the user started with `make cluster-up`; outside
    # pytest's numbered temporary folders, which another pytest run (`make test-unit` beside it) prunes
    # while this cluster's etcd and containerd still write there
    root = Path(tempfile.mkdtemp(prefix="fadi-cluster-suite-"))
    plane = ControlPlane(root / "state", bin_dir=TOOLS_BIN, out=sys.stderr)
    # the host before `up` and after `down` must be the same: a real node changes sysctls, iptables,
    # links, mounts, cgroups and fixed paths, and `down` must put every one of them back
    before = host.snapshot()
    try:
        plane.up(timeout_scale=2.0, node_kind=NODE_KIND)
        yield plane.layout.kubeconfig
    finally:
        keep = bool(os.environ.get("FADI_KEEP_CLUSTER_STATE"))
        stopped = plane.down(keep_state=keep)
        print(f"[cluster-suite] stopped {len(stopped)} component(s)", file=sys.stderr)
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    left = host.differences(before, host.snapshot())
    assert not left, "the host is not as it was before `cluster up`:\n" + "\n".join(left)


@pytest.fixture(scope="session")
def kube(cluster_kubeconfig, tools_env, tmp_path_factory) -> Kube:
    # these tests run their pods on the simulated nodes (upstream images, many pods); the real node's
    # tests (test_10_real_node.py) use namespaces of their own, without the annotations
    k = Kube(cluster_kubeconfig, tools_env, copy_charts(tmp_path_factory.mktemp("charts")), simulated=True)
    k.helm("dependency", "build", k.chart("fadi"))
    return k


@pytest.fixture(scope="session")
def umbrella(kube: Kube) -> dict:
    """FADI installed as shipped (Seldon off), then upgraded with the operator on: the user guide's path.

    Returns what the first install left behind, for the tests to check.
    """
    kube.install(RELEASE, RELEASE_NS, "fadi", kube.chart("fadi/ci/seldon-off-values.yaml"), upgrade=False)
    before = {
        "crd": kube.get("crd", CRD),
        "manifest": kube.manifest(RELEASE, RELEASE_NS),
    }
    kube.install(RELEASE, RELEASE_NS, "fadi", kube.chart("fadi/ci/seldon-on-values.yaml"))
    wait_until("the CRD to be Established", lambda: condition(kube.get("crd", CRD), "Established") == "True")
    return before


@pytest.fixture(scope="module")
def webhook_off(kube: Kube, umbrella):
    set_webhook(kube, False)
    yield


@pytest.fixture(scope="session")
def real_node(cluster_kubeconfig) -> bool:
    """The suite's cluster has a real node; on a host that cannot run one, the test is skipped and
    says why (a host that can run one and did not is a failure, not a skip)."""
    if os.environ.get("FADI_TEST_KUBECONFIG"):
        pytest.skip("an external cluster (FADI_TEST_KUBECONFIG): the local real node is not used")
    plane = ControlPlane(cluster_kubeconfig.parent, bin_dir=TOOLS_BIN, out=sys.stderr)
    if plane.real_node:
        return True
    problems = node_lifecycle.host_problems(TOOLS_BIN)
    if problems and NODE_KIND != "real":
        pytest.skip("this host cannot run a real node: " + "; ".join(problems))
    raise AssertionError(f"the host can run a real node but the suite's cluster has none ({NODE_KIND=})")


@pytest.fixture(scope="session")
def operator_image(real_node, cluster_kubeconfig) -> list[str]:
    """The operator image built here (the operator binary the tools build, on a Debian base) and
    loaded into the real node; returns the operator chart's `--set`s that point the chart at it."""
    from fadi_seldon.images import operator
    from fadi_seldon.localkube import node_images
    from fadi_seldon.localkube.layout import Layout

    built = operator.build()
    node_images.import_archive(built.archive, Layout(cluster_kubeconfig.parent))
    return operator.chart_sets()


@pytest.fixture(scope="session")
def seldon_images(real_node, cluster_kubeconfig) -> None:
    """The executor's and the user guide's model's images, built from Seldon's source release
    (cached by content, built once per run) and loaded into the real node."""
    from fadi_seldon.images import executor, mock_classifier
    from fadi_seldon.localkube import node_images
    from fadi_seldon.localkube.layout import Layout

    for built in (executor.build(), mock_classifier.build()):
        node_images.import_archive(built.archive, Layout(cluster_kubeconfig.parent))


@pytest.fixture(scope="session")
def gateway_deployed(kube: Kube, real_node, cluster_kubeconfig) -> dict:
    """The gateway on the real node: `cluster gateway -o json`, run as a user of the local cluster runs
    it (tests/cluster/test_17_gateway.py checks it; test_18_routes.py routes models through it)."""
    env = {**kube.env, "KUBECONFIG": str(kube.kubeconfig), "FADI_CLUSTER_DIR": str(cluster_kubeconfig.parent)}
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "fadi_seldon", "cluster", "gateway", "-o", "json"],
                          capture_output=True, text=True, timeout=900, env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    print(f"[gateway] deployed in {time.monotonic() - started:.1f}s", file=sys.stderr)
    return {"kube": Kube(kube.kubeconfig, kube.env, kube.charts, simulated=False), **json.loads(proc.stdout)}
