"""The cluster suite's shared cluster: ONE local control plane per session, always stopped.

Set FADI_TEST_KUBECONFIG to run the suite against another cluster instead (kind in
`make e2e-kind`); the local control plane is then not started.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from cluster.kube import CRD, RELEASE, RELEASE_NS, Kube, condition, copy_charts, set_webhook, wait_until
from conftest import TOOLS_BIN
from fadi_seldon.localkube import ControlPlane


def pytest_collection_modifyitems(items):
    """Every test in this folder needs the cluster: mark it, so `-m "not cluster"` skips the folder."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.cluster)


@pytest.fixture(scope="session")
def cluster_kubeconfig(tmp_path_factory) -> Path:
    external = os.environ.get("FADI_TEST_KUBECONFIG")
    if external:
        yield Path(external)
        return
    # a private state folder: never touches a cluster the user started with `make cluster-up`
    plane = ControlPlane(tmp_path_factory.mktemp("cluster") / "state", bin_dir=TOOLS_BIN, out=sys.stderr)
    try:
        plane.up(timeout_scale=2.0)
        yield plane.layout.kubeconfig
    finally:
        stopped = plane.down(keep_state=bool(os.environ.get("FADI_KEEP_CLUSTER_STATE")))
        print(f"[cluster-suite] stopped {len(stopped)} component(s)", file=sys.stderr)


@pytest.fixture(scope="session")
def kube(cluster_kubeconfig, tools_env, tmp_path_factory) -> Kube:
    k = Kube(cluster_kubeconfig, tools_env, copy_charts(tmp_path_factory.mktemp("charts")))
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
