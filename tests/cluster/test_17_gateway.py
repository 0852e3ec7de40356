"""The gateway on the real node (`fadi-seldon cluster gateway`): Traefik v3 with its Kubernetes Gateway
provider, the Gateway API CRDs from the module cache, the Gateway `fadi-gateway/fadi` Programmed, and
its URL answering from this host. Routes (the route controller's HTTPRoutes) come later in this file."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from cluster.kube import condition
from fadi_seldon.localkube import gateway
from fadi_seldon.runtime import versions


def test_the_gateway_is_programmed_and_answers_404_on_an_unknown_path(gateway_deployed):
    k = gateway_deployed["kube"]
    obj = k.get(f"gateways.{gateway.GROUP}", gateway.GATEWAY, "-n", gateway.NAMESPACE)
    assert condition(obj, "Programmed") == "True", obj.get("status")
    assert condition(obj, "Accepted") == "True", obj.get("status")
    crd = k.get("crd", f"httproutes.{gateway.GROUP}")
    bundle = crd["metadata"]["annotations"]["gateway.networking.k8s.io/bundle-version"]
    assert bundle == versions.get("GATEWAY_API_VERSION")
    url = k.service_url(gateway.NAME, gateway.NAMESPACE)
    assert (
        gateway_deployed["url"]
        == url
        == f"http://{obj['status']['addresses'][0]['value']}:{gateway.SERVICE_PORT}"
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(url + "/no-such-route-fadi", timeout=10)
    assert err.value.code == 404
