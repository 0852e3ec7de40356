"""The route controller's handlers against a fake API (gateway.reconcile, gateway.controller)."""

from __future__ import annotations

import asyncio
import copy
import logging

import pytest

from fadi_seldon.gateway import controller, kubeapi, reconcile
from fadi_seldon.sdep import routes

GATEWAY = {
    "spec": {"listeners": [{"name": "web", "port": 8000, "protocol": "HTTP"}]},
    "status": {"addresses": [{"type": "IPAddress", "value": "10.0.0.9"}]},
}


class FakeApi:
    """The routes as a dict keyed by (kind, namespace, name); every call recorded."""

    def __init__(self, gateway: dict | None = GATEWAY, fail: int = 0) -> None:
        self.objects: dict[tuple[str, str, str], dict] = {}
        self.calls: list[tuple] = []
        self.events: list[tuple[str, str]] = []
        self.gateway = gateway
        self.fail = fail
        self.ns_labels: dict[str, dict] = {}

    async def apply(self, obj: dict) -> None:
        if self.fail:
            self.fail -= 1
            raise kubeapi.KubeApiError("PATCH: HTTP 503")
        meta = obj["metadata"]
        self.objects[(obj["kind"], meta["namespace"], meta["name"])] = copy.deepcopy(obj)
        self.calls.append(("apply", obj["kind"], meta["name"]))

    async def list_routes(self, kind, namespace, selector):
        return [
            o for (k, ns, _), o in self.objects.items()
            if k == kind and ns == namespace
            and all(o["metadata"].get("labels", {}).get(a) == b for a, b in selector.items())
        ]  # fmt: skip

    async def delete_route(self, kind, namespace, name):
        self.objects.pop((kind, namespace, name), None)
        self.calls.append(("delete", kind, name))

    async def annotate_sdep(self, namespace, name, annotations):
        self.calls.append(("annotate", name, annotations))

    async def post_event(self, sdep, reason, message):
        self.events.append((reason, message))

    async def get_gateway(self, namespace, name):
        return self.gateway if (namespace, name) == ("fadi-gateway", "fadi") else None

    async def namespace_labels(self, name):
        return self.ns_labels.get(name, {})


def sdep(namespace="models", traffic=(75, 25), annotations=None, labels=None) -> dict:
    preds = [{"name": f"p{i}", "traffic": t, "graph": {"name": "m"}} for i, t in enumerate(traffic)]
    meta = {
        "name": "iris",
        "namespace": namespace,
        "uid": "u",
        "annotations": annotations or {},
        "labels": labels or {},
    }
    return {"kind": "SeldonDeployment", "metadata": meta, "spec": {"predictors": preds}}


def run(obj, api, settings=None, log=None):
    return asyncio.run(
        reconcile.reconcile(obj, api, settings or reconcile.Settings(), log or logging.getLogger("t"))
    )


URL = "http://10.0.0.9:8000/seldon/models/iris/api/v1.0/predictions"


def test_an_added_seldondeployment_gets_its_routes_its_url_annotation_and_an_event():
    api = FakeApi()
    outcome = run(sdep(), api)
    assert outcome.applied == ["HTTPRoute/iris-http", "GRPCRoute/iris-grpc"]
    assert ("annotate", "iris", {routes.URL_ANNOTATION: URL}) in api.calls
    assert api.events == [("RouteReady", f"routed through the Gateway: {URL}")]
    backends = api.objects[("HTTPRoute", "models", "iris-http")]["spec"]["rules"][0]["backendRefs"]
    assert [b["weight"] for b in backends] == [75, 25]


def test_an_update_reapplies_the_new_weights_without_touching_an_unchanged_annotation():
    api = FakeApi()
    outcome = run(sdep(traffic=(50, 50), annotations={routes.URL_ANNOTATION: URL}), api)
    assert outcome.applied and not outcome.annotated
    assert not [c for c in api.calls if c[0] == "annotate"] and api.events == []
    backends = api.objects[("HTTPRoute", "models", "iris-http")]["spec"]["rules"][0]["backendRefs"]
    assert [b["weight"] for b in backends] == [50, 50]


def test_a_route_no_longer_wanted_is_deleted():
    api = FakeApi()
    run(sdep(), api)
    off = sdep(annotations={routes.GRPC_ANNOTATION: "false", routes.URL_ANNOTATION: URL})
    outcome = run(off, api)
    assert outcome.deleted == ["GRPCRoute/iris-grpc"]
    assert ("GRPCRoute", "models", "iris-grpc") not in api.objects


def test_routes_of_other_seldondeployments_are_never_deleted():
    api = FakeApi()
    other = sdep()
    other["metadata"]["name"] = "other"
    run(other, api)
    run(sdep(annotations={routes.GRPC_ANNOTATION: "false"}), api)
    assert ("GRPCRoute", "models", "other-grpc") in api.objects


def test_an_out_of_scope_namespace_is_left_alone_and_logged(caplog):
    api = FakeApi()
    settings = reconcile.Settings(scope=reconcile.Scope(("models", "team")))
    with caplog.at_level(logging.INFO):
        outcome = run(sdep(namespace="elsewhere"), api, settings)
    assert outcome.skipped and api.calls == [] and api.objects == {}
    assert "leaving SeldonDeployment elsewhere/iris alone" in caplog.text
    assert "outside the watched namespaces (models, team)" in caplog.text
    assert "left alone" in settings.scope.describe() and "models, team" in settings.scope.describe()


def test_the_controller_id_label_must_match_as_for_the_operator():
    scope = reconcile.Scope(controller_id="team")
    assert run(sdep(), FakeApi(), reconcile.Settings(scope=scope)).skipped
    assert not run(
        sdep(labels={"seldon.io/controller-id": "team"}), FakeApi(), reconcile.Settings(scope=scope)
    ).skipped
    assert run(sdep(labels={"seldon.io/controller-id": "x"}), FakeApi()).skipped


def test_cluster_wide_leaves_namespaces_a_namespaced_operator_owns():
    api = FakeApi()
    api.ns_labels["models"] = {"seldon.io/controller-id": "models"}
    assert "namespaced operator" in run(sdep(), api).skipped


def test_a_public_url_wins_over_the_gateway_address_and_no_address_means_no_annotation():
    api = FakeApi(gateway=None)
    outcome = run(sdep(), api)
    assert outcome.url is None and outcome.applied and api.events == []
    outcome = run(sdep(), FakeApi(gateway=None), reconcile.Settings(public_url="https://ml.example.org"))
    assert outcome.url == "https://ml.example.org/seldon/models/iris/api/v1.0/predictions"


def test_the_handler_retries_a_failed_call_then_succeeds():
    api = FakeApi(fail=2)
    outcome = asyncio.run(
        controller.handle(sdep(), api, reconcile.Settings(), logging.getLogger("t"), (0, 0, 0))
    )
    assert outcome.url == URL and api.events


def test_the_handler_gives_up_after_its_retries(caplog):
    api = FakeApi(fail=10)
    with caplog.at_level(logging.ERROR):
        asyncio.run(controller.handle(sdep(), api, reconcile.Settings(), logging.getLogger("t"), (0, 0)))
    assert "giving up" in caplog.text


def test_a_seldondeployment_being_deleted_is_not_routed_again():
    obj = sdep()
    obj["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    api = FakeApi()
    assert run(obj, api).skipped and api.calls == []


def test_the_registry_watches_seldondeployments_with_event_handlers_only():
    registry = controller.build_registry(reconcile.Settings())
    handlers = registry._watching.get_all_handlers()  # noqa: SLF001 (kopf's registry has no public listing)
    assert [h.id.rpartition(".")[2] for h in handlers] == ["seldondeployment"]
    assert not registry._changing.get_all_handlers()  # no create/update handlers: no progress annotations


def test_the_event_about_the_seldondeployment():
    event = kubeapi.event(sdep(), "RouteReady", "m")
    assert (
        event["involvedObject"]["kind"] == "SeldonDeployment" and event["metadata"]["namespace"] == "models"
    )
    assert event["type"] == "Normal" and event["reason"] == "RouteReady"


def test_the_cli_does_not_import_kopf():
    import subprocess
    import sys

    code = "import sys, fadi_seldon.cli; print([m for m in ('kopf', 'aiohttp') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("bad", ["--public-url=gateway:8000", "--executor-port=0"])
def test_render_refuses_bad_settings(bad, tmp_path, capsys):
    from fadi_seldon.cli import main

    path = tmp_path / "s.yaml"
    path.write_text("kind: SeldonDeployment\nmetadata: {name: a}\nspec: {predictors: [{name: p}]}\n")
    assert main(["routes", "render", "-f", str(path), bad]) == 2


def test_images_lists_the_route_controller_when_it_runs(tmp_path, capsys):
    from fadi_seldon.cli import main

    path = tmp_path / "values.yaml"
    path.write_text("seldon-core-operator:\n  enabled: true\n  gatewayRoutes:\n    enabled: true\n")
    assert main(["images", "-f", str(path)]) == 0
    assert "fadi-seldon-routes" in capsys.readouterr().out


def test_the_controller_names_itself_without_a_passwd_entry(monkeypatch):
    """The image runs as uid 8888 with no passwd entry: kopf must not ask getpass who it is."""
    import getpass

    def no_user():
        raise KeyError("getpwuid(): uid not found: 8888")

    seen = {}
    monkeypatch.setattr(getpass, "getuser", no_user)
    monkeypatch.setattr(controller.kopf, "run", lambda **kwargs: seen.update(kwargs))
    monkeypatch.setenv("HOSTNAME", "seldon-gateway-routes-abc")
    controller.run(reconcile.Settings(scope=reconcile.Scope(("models",))))
    assert seen["identity"] == "seldon-gateway-routes-abc" and seen["standalone"] is True
    assert seen["namespaces"] == ["models"]


def test_kopf_is_configured_for_the_charts_least_privilege():
    """No scan of CRDs and namespaces: the chart grants neither list on customresourcedefinitions
    nor on namespaces, and kopf retries forever without them."""
    settings = controller.kopf.OperatorSettings()
    controller.configure(settings)
    assert settings.scanning.disabled is True and settings.posting.level == logging.WARNING


def test_shadows_without_request_mirror_are_said_in_the_log(caplog):
    obj = sdep()
    obj["spec"]["predictors"].append({**obj["spec"]["predictors"][0], "name": "shadow", "shadow": True})
    api = FakeApi()
    with caplog.at_level(logging.WARNING):
        run(obj, api, reconcile.Settings(mirror="none"))
    route = api.objects[("HTTPRoute", "models", "iris-http")]
    assert all(f["type"] != "RequestMirror" for f in route["spec"]["rules"][0]["filters"])
    assert "shadow predictor(s) shadow of models/iris get no copy" in caplog.text


def test_traefik_mirroring_writes_the_traefikservice_and_removes_it_with_the_shadow():
    obj = sdep()
    obj["metadata"]["uid"] = "u"
    obj["spec"]["predictors"].append({"name": "shadow", "shadow": True, "graph": {"name": "m"}})
    api, settings = FakeApi(), reconcile.Settings(mirror="traefik-service")
    run(obj, api, settings)
    assert ("TraefikService", "models", "iris-mirror") in api.objects
    assert ("TraefikService", "models", "iris-split") in api.objects  # p0 and p1 share 75/25
    obj["spec"]["predictors"].pop()
    outcome = run(obj, api, settings)
    assert set(outcome.deleted) == {"TraefikService/iris-mirror", "TraefikService/iris-split"}
