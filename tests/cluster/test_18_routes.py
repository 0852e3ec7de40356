"""The route controller against a real Gateway: traffic split, shadow mirror, namespaces, deletion, scope.

Needs what the gateway fixture of the suite builds: Traefik v3 as the Gateway API implementation,
with Gateway `fadi` in namespace `fadi-gateway` and an HTTP listener `http` on port 8000, reachable
from this host at the address its status gives (ROUTES_GATEWAY_URL overrides it). The operator chart
is installed with `gatewayRoutes.enabled=true`, watching two namespaces, and its route controller's
image is built here and loaded into the real node (`cluster load --routes-controller`'s builder).
The predictors are the constant models of examples/components: A answers A_ROW, B answers B_ROW, so
each answer says which predictor served it.
"""

from __future__ import annotations

import json
import math
import os
import re
import statistics
import sys
import time
import urllib.request
from collections import Counter

import pytest

from cluster.kube import Kube, wait_until
from cluster.test_14_graphs import A_IMAGE, B_IMAGE, build_components
from fadi_seldon.sdep import routes
from test_components import A_ROW, B_ROW

RELEASE, NS = "seldon-routes", "seldon-routes"
WATCHED, OTHER, OUTSIDE = "routes-a", "routes-b", "routes-outside"
GATEWAY_NS, GATEWAY, SECTION = "fadi-gateway", "fadi", "http"
SETS = ("crd.create=false", "usageMetrics.enabled=false", "executor.resources.cpuRequest=100m",
        "executor.resources.memoryRequest=128Mi", "gatewayRoutes.enabled=true",
        f"gatewayRoutes.gateway.name={GATEWAY}", f"gatewayRoutes.gateway.namespace={GATEWAY_NS}",
        f"gatewayRoutes.gateway.sectionName={SECTION}", f"watchNamespaces={{{WATCHED},{OTHER}}}",
        # Traefik 3.6's Gateway provider has no RequestMirror filter (a route holding one never answers):
        # shadows are mirrored by a TraefikService, as FADI's values say
        "gatewayRoutes.mirror=traefik-service")  # fmt: skip
REQUESTS = 400
SIGMAS = 4.0  # binomial tolerance: a correct 75/25 split fails once in ~16,000 runs


def sdep(name: str, namespace: str, *predictors: tuple[str, str, dict]) -> dict:
    """A SeldonDeployment of constant-model predictors: (predictor name, image, extra fields)."""
    return {
        "apiVersion": "machinelearning.seldon.io/v1",
        "kind": "SeldonDeployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "predictors": [
                {"name": p, "componentSpecs": [{"spec": {"containers": [{"name": "model", "image": image}]}}],
                 "graph": {"name": "model", "type": "MODEL", "children": []}, **extra}
                for p, image, extra in predictors
            ]
        },
    }  # fmt: skip


def canary(a: int, b: int, name: str = "canary", namespace: str = WATCHED) -> dict:
    return sdep(name, namespace, ("main", A_IMAGE, {"traffic": a}), ("canary", B_IMAGE, {"traffic": b}))


def post(url: str, timeout: float = 10) -> list:
    body = json.dumps({"data": {"ndarray": [[1.0, 2.0, 3.0]]}}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as resp:
        return json.loads(resp.read())["data"]["ndarray"][0]


def split(url: str, n: int = REQUESTS) -> Counter:
    """Which constant model answered each of `n` requests: "A" or "B"."""
    names = {json.dumps(A_ROW): "A", json.dumps(B_ROW): "B"}
    return Counter(names.get(json.dumps(post(url)), "other") for _ in range(n))


def within_binomial(count: int, n: int, p: float) -> bool:
    return abs(count - n * p) <= SIGMAS * math.sqrt(n * p * (1 - p))


def annotation_url(kube: Kube, name: str, namespace: str) -> str:
    obj = kube.get("sdep", name, "-n", namespace) or {}
    return ((obj.get("metadata") or {}).get("annotations") or {}).get(routes.URL_ANNOTATION, "")


def available(kube: Kube, name: str, namespace: str) -> bool:
    obj = kube.get("sdep", name, "-n", namespace) or {}
    return (obj.get("status") or {}).get("state") == "Available"


def gateway_base(kube: Kube) -> str:
    """Where this host reaches the Gateway: ROUTES_GATEWAY_URL, else its status address and port."""
    if os.environ.get("ROUTES_GATEWAY_URL"):
        return os.environ["ROUTES_GATEWAY_URL"].rstrip("/")
    found = kube.get("gateway", GATEWAY, "-n", GATEWAY_NS)
    assert found, f"no Gateway {GATEWAY_NS}/{GATEWAY}: this module needs the suite's Traefik gateway fixture"
    url = routes.gateway_url(found, SECTION)
    assert url, f"Gateway {GATEWAY_NS}/{GATEWAY} has no address in its status yet: {found.get('status')}"
    return url


def controller_log(kube: Kube) -> str:
    proc = kube.kubectl("logs", "-n", NS, "deployment/seldon-gateway-routes", "--tail=-1", check=False)
    return proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def routed(
    kube: Kube, webhook_off, operator_image, seldon_images, cluster_kubeconfig, gateway_deployed
) -> dict:
    """The operator and its route controller watching two namespaces; the constant models loaded."""
    from fadi_seldon.images import routes_controller
    from fadi_seldon.localkube import node_images
    from fadi_seldon.localkube.layout import Layout

    k = Kube(kube.kubeconfig, kube.env, kube.charts, simulated=False)
    for ns in (NS, WATCHED, OTHER, OUTSIDE):
        k.namespace(ns)
    build_components(cluster_kubeconfig)
    built = routes_controller.build()
    node_images.import_archive(built.archive, Layout(cluster_kubeconfig.parent))
    k.install(RELEASE, NS, "charts/seldon-core-operator", *SETS, *operator_image,
              f"gatewayRoutes.image={routes_controller.image_ref()}", "gatewayRoutes.pullPolicy=Never")  # fmt: skip
    yield {"kube": k, "base": gateway_base(k)}
    for ns in (WATCHED, OTHER, OUTSIDE):
        k.kubectl("delete", "namespace", ns, "--ignore-not-found", "--wait=true", check=False, timeout=240)
    k.helm("uninstall", RELEASE, "-n", NS, "--wait", "--timeout", "180s", check=False)
    k.kubectl("delete", "namespace", NS, "--ignore-not-found", "--wait=true", check=False, timeout=180)


def deploy(k: Kube, obj: dict, base: str) -> str:
    """Apply, wait until Available and routed (annotation written), and return the gateway URL that
    answers (the annotation's URL on `base`)."""
    name, ns = obj["metadata"]["name"], obj["metadata"]["namespace"]
    k.apply([obj])
    wait_until(f"{ns}/{name} Available", lambda: available(k, name, ns), timeout=300)
    wait_until(f"{ns}/{name} routed", lambda: annotation_url(k, name, ns), timeout=120)
    url = base + routes.path_prefix(ns, name) + "api/v1.0/predictions"
    # 20 answers in a row: every predictor's endpoints known to the gateway, not only the first one's
    wait_until(f"{url} answering", lambda: _answers(url, 20), timeout=120)
    return url


def _answers(url: str, times: int = 1) -> bool:
    try:
        for _ in range(times):
            post(url, timeout=5)
        return True
    except OSError:
        return False


def test_a_canary_at_75_25_splits_within_a_binomial_tolerance(routed):
    k, base = routed["kube"], routed["base"]
    url = deploy(k, canary(75, 25), base)
    assert annotation_url(k, "canary", WATCHED).endswith(f"/seldon/{WATCHED}/canary/api/v1.0/predictions")
    counts = split(url)
    print(f"[routes] 75/25 over {REQUESTS}: {dict(counts)}", file=sys.stderr)
    assert counts["other"] == 0 and within_binomial(counts["B"], REQUESTS, 0.25), counts
    events = k.get("events", "-n", WATCHED, "--field-selector", "reason=RouteReady") or {}
    assert any("canary" in e["involvedObject"]["name"] for e in events.get("items") or [])


def test_changing_traffic_by_kubectl_apply_changes_the_split_alone(routed):
    k, base = routed["kube"], routed["base"]
    url = deploy(k, canary(75, 25), base)
    started = time.monotonic()
    k.apply([canary(25, 75)])
    wait_until(
        "the routes to follow the new traffic", lambda: split(url, 100)["B"] >= 60, timeout=180, every=1
    )
    took = time.monotonic() - started
    print(f"[routes] traffic 75/25 -> 25/75 through the gateway in {took:.1f}s", file=sys.stderr)
    counts = split(url)
    assert within_binomial(counts["B"], REQUESTS, 0.75), counts


def _shadow_requests(k: Kube, namespace: str) -> float:
    """Requests the shadow predictor's executor served, from its Prometheus counters."""
    url = k.service_url("shadowed-shadow", namespace).rstrip("/") + "/prometheus"
    text = urllib.request.urlopen(url, timeout=10).read().decode()
    pattern = (
        r'^seldon_api_executor_server_requests_seconds_count\{[^}]*service="predictions"[^}]*\} ([0-9.e+]+)$'
    )
    return sum(float(v) for v in re.findall(pattern, text, re.M))


def test_a_shadow_gets_a_copy_of_each_request_and_answers_none(routed):
    """Through Traefik's mirroring TraefikService (its Gateway provider has no RequestMirror filter):
    every answer comes from the main predictor, and the shadow's executor counts each request too."""
    k, base = routed["kube"], routed["base"]
    obj = sdep("shadowed", WATCHED, ("main", A_IMAGE, {}), ("shadow", B_IMAGE, {"shadow": True}))
    url = deploy(k, obj, base)
    assert k.get("traefikservices.traefik.io", "shadowed-mirror", "-n", WATCHED)
    before = _shadow_requests(k, WATCHED)
    counts = split(url, 200)
    assert counts == Counter({"A": 200}), counts  # every answer from the main predictor
    wait_until("the shadow to count 200 more requests",
               lambda: _shadow_requests(k, WATCHED) - before >= 200, timeout=60)  # fmt: skip
    copies = _shadow_requests(k, WATCHED) - before
    print(f"[routes] shadow: 200 answers from the main predictor, {copies:.0f} copies served by the shadow",
          file=sys.stderr)  # fmt: skip


def test_same_name_in_two_namespaces_does_not_collide(routed):
    k, base = routed["kube"], routed["base"]
    url_a = deploy(k, sdep("twin", WATCHED, ("default", A_IMAGE, {})), base)
    url_b = deploy(k, sdep("twin", OTHER, ("default", B_IMAGE, {})), base)
    assert split(url_a, 50) == Counter({"A": 50}) and split(url_b, 50) == Counter({"B": 50})


def test_deleting_the_seldondeployment_removes_its_routes(routed):
    k, base = routed["kube"], routed["base"]
    deploy(k, sdep("doomed", WATCHED, ("default", A_IMAGE, {})), base)
    assert k.get("httproute", "doomed-http", "-n", WATCHED)
    k.kubectl("delete", "sdep", "doomed", "-n", WATCHED, "--wait=true")
    wait_until("the routes to be collected", lambda: not k.get("httproute", "doomed-http", "-n", WATCHED)
               and not k.get("grpcroute", "doomed-grpc", "-n", WATCHED), timeout=120)  # fmt: skip


def test_a_seldondeployment_outside_the_watched_namespaces_is_left_alone(routed):
    k = routed["kube"]
    k.apply([sdep("stranger", OUTSIDE, ("default", A_IMAGE, {}))])
    time.sleep(20)  # what the controller would take to route it (seconds in the cases above)
    assert not k.get("httproute", "stranger-http", "-n", OUTSIDE)
    assert not annotation_url(k, "stranger", OUTSIDE)
    log = controller_log(k)
    assert (
        f"namespaces {WATCHED}, {OTHER}" in log
        and "SeldonDeployments in other namespaces are left alone" in log
    )


def _timed_post(url: str) -> float:
    started = time.perf_counter()
    post(url)
    return (time.perf_counter() - started) * 1000


def test_timed_apply_to_first_routed_answer_and_the_gateways_added_latency(routed):
    """What bench/bench_gateway.py reports: seconds from `kubectl apply` of a new SeldonDeployment to its
    first answer through the gateway, then the latency of the same model called through the gateway and
    through its predictor's Service, 500 requests each, taking turns. Printed, not asserted (timings
    belong to bench/); what is asserted is that every answer came from the model."""
    k, base = routed["kube"], routed["base"]
    obj = sdep("timed", WATCHED, ("default", A_IMAGE, {}))
    url = base + routes.path_prefix(WATCHED, "timed") + "api/v1.0/predictions"
    started = time.monotonic()
    k.apply([obj])
    wait_until("the first answer through the gateway", lambda: _answers(url), timeout=300, every=0.2)
    first = time.monotonic() - started
    direct = k.service_url("timed-default", WATCHED).rstrip("/") + "/api/v1.0/predictions"
    assert split(url, 20) == split(direct, 20) == Counter({"A": 20})
    through, around = [], []
    for _ in range(500):
        through.append(_timed_post(url))
        around.append(_timed_post(direct))
    figures = {  # the stdlib's percentiles (99 cut points): p50 and p99
        name: (cuts[49], cuts[98])
        for name, values in (("service", around), ("gateway", through))
        for cuts in [statistics.quantiles(values, n=100)]
    }
    print(f"[routes] timing: apply -> first routed answer {first:.1f} s; "
          + "; ".join(f"{n} p50 {p50:.2f} ms, p99 {p99:.2f} ms" for n, (p50, p99) in figures.items()),
          file=sys.stderr)  # fmt: skip
