"""The Gateway API routes of a SeldonDeployment (sdep.routes): weights, mirrors, names, headers, URLs."""

from __future__ import annotations

import hashlib

import pytest

from fadi_seldon.sdep import routes

GW = routes.GatewayRef("fadi", "fadi-gateway", "http")


def sdep(*predictors: dict, name: str = "iris", namespace: str = "models", **spec) -> dict:
    return {
        "apiVersion": "machinelearning.seldon.io/v1",
        "kind": "SeldonDeployment",
        "metadata": {"name": name, "namespace": namespace, "uid": "u-1"},
        "spec": {"predictors": list(predictors), **spec},
    }


def predictor(name: str, **extra) -> dict:
    return {"name": name, "graph": {"name": "model", "type": "MODEL"}, **extra}


def refs(route: dict) -> list[tuple[str, int, int]]:
    return [(b["name"], b["port"], b["weight"]) for b in route["spec"]["rules"][0]["backendRefs"]]


def test_a_canary_splits_75_25_between_the_predictor_services():
    obj = sdep(predictor("main", traffic=75), predictor("canary", traffic=25))
    assert refs(routes.http_route(obj, GW)) == [("iris-main", 8000, 75), ("iris-canary", 8000, 25)]
    assert refs(routes.grpc_route(obj, GW)) == [("iris-main", 5001, 75), ("iris-canary", 5001, 25)]


@pytest.mark.parametrize("traffic", [None, 0, 100])
def test_a_single_predictor_takes_all_traffic_whatever_it_says(traffic):
    extra = {} if traffic is None else {"traffic": traffic}
    assert refs(routes.http_route(sdep(predictor("default", **extra)), GW)) == [("iris-default", 8000, 100)]


def test_serving_predictors_that_all_say_zero_share_equally_rather_than_drop_everything():
    obj = sdep(predictor("a"), predictor("b"))
    assert [w for _, _, w in refs(routes.http_route(obj, GW))] == [1, 1]


def test_a_shadow_is_mirrored_never_a_weighted_backend():
    obj = sdep(predictor("main"), predictor("shadow", shadow=True))
    rule = routes.http_route(obj, GW)["spec"]["rules"][0]
    assert refs({"spec": {"rules": [rule]}}) == [("iris-main", 8000, 100)]
    mirrors = [f["requestMirror"] for f in rule["filters"] if f["type"] == "RequestMirror"]
    assert mirrors == [{"backendRef": {"group": "", "kind": "Service", "name": "iris-shadow", "port": 8000}}]
    grpc_rule = routes.grpc_route(obj, GW)["spec"]["rules"][0]
    assert grpc_rule["filters"][0]["requestMirror"]["backendRef"]["port"] == 5001


def test_without_mirroring_a_shadow_is_left_out_and_the_rest_of_the_route_stays():
    obj = sdep(predictor("main"), predictor("shadow", shadow=True))
    http, grpc = routes.routes(obj, GW, mirror=routes.MIRROR_NONE)
    assert [f["type"] for f in http["spec"]["rules"][0]["filters"]] == ["URLRewrite"]
    assert refs(http) == [("iris-main", 8000, 100)]
    assert "filters" not in grpc["spec"]["rules"][0]
    assert [b["name"] for b in grpc["spec"]["rules"][0]["backendRefs"]] == ["iris-main"]
    assert routes.shadows(obj) == ["shadow"]


def test_traefik_mirroring_routes_to_one_traefikservice_that_splits_and_mirrors():
    """Traefik 3.6 and 3.7 have no RequestMirror: the route's one backend is a TraefikService of its CRD
    provider (`<ns>-<name>@kubernetescrd`) mirroring to the shadow, over a weighted one for a canary."""
    obj = sdep(
        predictor("main", traffic=75),
        predictor("canary", traffic=25),
        predictor("shadow", shadow=True, traffic=40),
    )
    http, grpc, split, mirror = routes.routes(obj, GW, mirror=routes.MIRROR_TRAEFIK)
    rule = http["spec"]["rules"][0]
    assert [f["type"] for f in rule["filters"]] == ["URLRewrite"]
    assert rule["backendRefs"] == [
        {"group": "traefik.io", "kind": "TraefikService", "name": "models-iris-mirror@kubernetescrd"}
    ]
    assert (split["kind"], split["apiVersion"], split["metadata"]["name"]) == (
        "TraefikService",
        "traefik.io/v1alpha1",
        "iris-split",
    )
    assert split["spec"]["weighted"]["services"] == [
        {"name": "iris-main", "port": 8000, "weight": 75},
        {"name": "iris-canary", "port": 8000, "weight": 25},
    ]
    assert mirror["spec"]["mirroring"] == {
        "name": "iris-split",
        "kind": "TraefikService",
        "mirrors": [{"name": "iris-shadow", "port": 8000, "percent": 40}],
    }
    assert mirror["metadata"]["ownerReferences"][0]["kind"] == "SeldonDeployment"
    assert mirror["metadata"]["labels"][routes.SDEP_LABEL] == "iris"
    assert "filters" not in grpc["spec"]["rules"][0]  # gRPC shadows only by RequestMirror
    assert "annotations" not in mirror["metadata"]  # the URL is on the routes


def test_traefik_mirroring_of_one_serving_predictor_mirrors_its_service_and_nothing_without_a_shadow():
    obj = sdep(predictor("main"), predictor("shadow", shadow=True))
    (mirror,) = routes.traefik_services(obj)
    assert mirror["spec"]["mirroring"] == {
        "name": "iris-main",
        "port": 8000,
        "mirrors": [{"name": "iris-shadow", "port": 8000, "percent": 100}],
    }
    assert routes.traefik_services(sdep(predictor("main"))) == []
    assert refs(routes.http_route(sdep(predictor("main")), GW, mirror=routes.MIRROR_TRAEFIK)) == [
        ("iris-main", 8000, 100)
    ]


def test_a_shadow_with_traffic_mirrors_that_share_only():
    obj = sdep(predictor("main"), predictor("shadow", shadow=True, traffic=30))
    rule = routes.http_route(obj, GW)["spec"]["rules"][0]
    assert rule["filters"][-1]["requestMirror"]["percent"] == 30


def test_the_prefix_is_rewritten_to_root_so_seldon_and_v2_paths_reach_the_executor():
    rule = routes.http_route(sdep(predictor("default")), GW)["spec"]["rules"][0]
    assert rule["matches"] == [{"path": {"type": "PathPrefix", "value": "/seldon/models/iris/"}}]
    assert rule["filters"][0] == {
        "type": "URLRewrite",
        "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}},
    }


def test_long_names_are_hashed_as_seldon_hashes_them():
    name, pred = "a" * 40, "b" * 30
    service = routes.http_route(sdep(predictor(pred), name=name), GW)["spec"]["rules"][0]["backendRefs"][0]
    assert service["name"] == "seldon-" + hashlib.md5(f"{name}-{pred}".encode()).hexdigest()
    long_sdep = "c" * 70
    route = routes.http_route(sdep(predictor("p"), name=long_sdep), GW)
    assert route["metadata"]["name"] == "seldon-" + hashlib.md5(long_sdep.encode()).hexdigest() + "-http"
    assert route["metadata"]["labels"][routes.SDEP_LABEL] == route["metadata"]["name"].removesuffix("-http")


def test_a_predictor_naming_its_service_keeps_that_name():
    p = predictor("main", annotations={"seldon.io/svc-name": "my-svc"})
    assert refs(routes.http_route(sdep(p), GW))[0][0] == "my-svc"


def test_a_no_engine_predictor_is_reached_on_its_root_nodes_ports():
    p = predictor("main", annotations={"seldon.io/no-engine": "true"})
    assert refs(routes.http_route(sdep(p), GW))[0][1] == 9000
    p["graph"]["endpoint"] = {"httpPort": 9100, "grpcPort": 9600}
    assert refs(routes.grpc_route(sdep(p), GW))[0][1] == 9600


def test_grpc_is_routed_by_the_seldon_and_namespace_headers():
    route = routes.grpc_route(sdep(predictor("default"), namespace="team"), GW)
    assert route["kind"] == "GRPCRoute" and route["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert route["spec"]["rules"][0]["matches"] == [{"headers": [
        {"type": "Exact", "name": "seldon", "value": "iris"},
        {"type": "Exact", "name": "namespace", "value": "team"},
    ]}]  # fmt: skip


def test_routes_are_owned_by_the_seldondeployment_and_attach_to_the_gateway():
    route = routes.http_route(sdep(predictor("default")), GW)
    assert route["metadata"]["namespace"] == "models"
    assert route["metadata"]["ownerReferences"] == [{
        "apiVersion": "machinelearning.seldon.io/v1", "kind": "SeldonDeployment", "name": "iris",
        "uid": "u-1", "controller": True,
    }]  # fmt: skip
    assert route["spec"]["parentRefs"] == [
        {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "fadi", "namespace": "fadi-gateway", "sectionName": "http"}
    ]  # fmt: skip
    assert route["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "fadi-seldon-routes"


def test_same_name_in_two_namespaces_gives_distinct_prefixes_and_namespaces():
    a, b = (routes.http_route(sdep(predictor("p"), namespace=ns), GW) for ns in ("a", "b"))
    assert a["metadata"]["namespace"] != b["metadata"]["namespace"]
    assert a["spec"]["rules"][0]["matches"] != b["spec"]["rules"][0]["matches"]


def test_the_grpc_route_can_be_turned_off_per_seldondeployment_or_entirely():
    obj = sdep(predictor("p"))
    assert [r["kind"] for r in routes.routes(obj, GW)] == ["HTTPRoute", "GRPCRoute"]
    assert [r["kind"] for r in routes.routes(obj, GW, grpc=False)] == ["HTTPRoute"]
    obj["metadata"]["annotations"] = {routes.GRPC_ANNOTATION: "false"}
    assert [r["kind"] for r in routes.routes(obj, GW)] == ["HTTPRoute"]


def test_urls_for_the_seldon_and_the_v2_protocols():
    assert routes.prediction_url(sdep(predictor("p")), "http://gw:8000/") == (
        "http://gw:8000/seldon/models/iris/api/v1.0/predictions"
    )
    v2 = sdep(predictor("p"), protocol="v2")
    assert (
        routes.prediction_url(v2, "http://gw:8000")
        == "http://gw:8000/seldon/models/iris/v2/models/model/infer"
    )
    assert routes.route_base("http://gw:8000/seldon/models/iris/v2/models/model/infer", "models", "iris") == (
        "http://gw:8000/seldon/models/iris"
    )
    assert routes.route_base("http://elsewhere/x", "models", "iris") is None


def test_the_gateway_url_comes_from_its_address_and_listener_port():
    gateway = {
        "spec": {"listeners": [{"name": "web", "port": 8000, "protocol": "HTTP"}, {"name": "tls", "port": 443, "protocol": "HTTPS"}]},
        "status": {"addresses": [{"type": "IPAddress", "value": "10.0.0.5"}]},
    }  # fmt: skip
    assert routes.gateway_url(gateway, "web") == "http://10.0.0.5:8000"
    assert routes.gateway_url(gateway, "tls") == "https://10.0.0.5"
    assert routes.gateway_url({"spec": gateway["spec"], "status": {}}, "web") is None


def test_a_file_that_is_no_seldondeployment_is_refused_with_line_and_field(tmp_path):
    path = tmp_path / "two.yaml"
    path.write_text("kind: SeldonDeployment\nmetadata: {name: a}\nspec: {predictors: [{name: p}]}\n---\n"
                    "kind: SeldonDeployment\nmetadata: {name: b}\nspec: {predictors: [{traffic: 5}]}\n")  # fmt: skip
    from fadi_seldon.runtime.yamlfile import YamlFileError

    with pytest.raises(YamlFileError) as err:
        routes.load_documents(str(path))
    assert err.value.line == 5 and "spec.predictors[0].name" in err.value.problem
