"""The gateway on the real node (`fadi-seldon cluster gateway`): Traefik v3 with its Kubernetes Gateway
provider, the Gateway API CRDs from the module cache, the Gateway `fadi-gateway/fadi` Programmed, and
its URL answering from this host. Routes (the route controller's HTTPRoutes) come later in this file."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from cluster.kube import Kube, condition
from fadi_seldon.localkube import gateway
from fadi_seldon.runtime import versions


@pytest.fixture(scope="module")
def deployed(kube: Kube, real_node, cluster_kubeconfig) -> dict:
    """`cluster gateway -o json`, run as a user of the local cluster runs it."""
    env = {**kube.env, "KUBECONFIG": str(kube.kubeconfig), "FADI_CLUSTER_DIR": str(cluster_kubeconfig.parent)}
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "fadi_seldon", "cluster", "gateway", "-o", "json"],
                          capture_output=True, text=True, timeout=900, env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    print(f"[gateway] deployed in {time.monotonic() - started:.1f}s", file=sys.stderr)
    return {"kube": Kube(kube.kubeconfig, kube.env, kube.charts, simulated=False), **json.loads(proc.stdout)}


def test_the_gateway_is_programmed_and_answers_404_on_an_unknown_path(deployed):
    k = deployed["kube"]
    obj = k.get(f"gateways.{gateway.GROUP}", gateway.GATEWAY, "-n", gateway.NAMESPACE)
    assert condition(obj, "Programmed") == "True", obj.get("status")
    assert condition(obj, "Accepted") == "True", obj.get("status")
    crd = k.get("crd", f"httproutes.{gateway.GROUP}")
    bundle = crd["metadata"]["annotations"]["gateway.networking.k8s.io/bundle-version"]
    assert bundle == versions.get("GATEWAY_API_VERSION")
    url = k.service_url(gateway.NAME, gateway.NAMESPACE)
    assert deployed["url"] == url == f"http://{obj['status']['addresses'][0]['value']}:{gateway.SERVICE_PORT}"
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(url + "/no-such-route-fadi", timeout=10)
    assert err.value.code == 404
