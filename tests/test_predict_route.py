"""`predict NAME -n NS` through the route or the Service, and `status` showing the route's URL."""

from __future__ import annotations

import pytest

from fadi_seldon.cli.commands import status
from fadi_seldon.doctor import model_status
from fadi_seldon.sdep import routes

URL = "http://10.0.0.9:8000/seldon/models/iris/api/v1.0/predictions"


def sdep(url: str | None = URL) -> dict:
    meta = {"name": "iris", "namespace": "models", "annotations": {routes.URL_ANNOTATION: url} if url else {}}
    preds = [{"name": "shadow", "shadow": True}, {"name": "main", "traffic": 100}]
    return {"metadata": meta, "spec": {"predictors": preds}}


SERVICES = {
    "iris-main": {"spec": {"clusterIP": "10.96.0.7", "ports": [{"name": "http", "port": 8000}, {"name": "grpc", "port": 5001}]}},
    "iris-shadow": {"spec": {"clusterIP": "10.96.0.8", "ports": [{"name": "http", "port": 8000}]}},
}  # fmt: skip


def test_auto_takes_the_route_when_the_controller_wrote_its_url():
    assert model_status.choose_target(sdep(), SERVICES, "auto", "rest") == {
        "via": "route", "url": "http://10.0.0.9:8000/seldon/models/iris"
    }  # fmt: skip


def test_auto_falls_back_to_the_serving_predictors_service_never_the_shadows():
    assert model_status.choose_target(sdep(None), SERVICES, "auto", "rest") == {
        "via": "service", "url": "http://10.96.0.7:8000"
    }  # fmt: skip


def test_via_service_ignores_the_route_and_grpc_goes_to_the_service_port():
    assert model_status.choose_target(sdep(), SERVICES, "service", "rest")["url"] == "http://10.96.0.7:8000"
    assert model_status.choose_target(sdep(), SERVICES, "auto", "grpc") == {
        "via": "service",
        "url": "10.96.0.7:5001",
    }


def test_via_route_without_a_url_says_what_to_run():
    with pytest.raises(model_status.NoTarget, match="gatewayRoutes.enabled"):
        model_status.choose_target(sdep(None), SERVICES, "route", "rest")
    with pytest.raises(model_status.NoTarget, match="headers"):
        model_status.choose_target(sdep(), SERVICES, "route", "grpc")


def test_no_service_address_yet_is_nothing_to_call():
    with pytest.raises(model_status.NoTarget, match="no Service"):
        model_status.choose_target(sdep(None), {}, "auto", "rest")


class FakeKubectl:
    def __init__(self, objects: dict) -> None:
        self.objects = objects

    def get(self, kind, name, *rest):
        return self.objects.get((kind.split(".")[0], name))


def test_model_target_reads_the_seldondeployment_and_its_services():
    kubectl = FakeKubectl(
        {("seldondeployments", "iris"): sdep(None), ("service", "iris-main"): SERVICES["iris-main"]}
    )
    assert model_status.model_target(kubectl, "iris", "models", "auto", "rest")["via"] == "service"
    with pytest.raises(model_status.ModelNotFound):
        model_status.model_target(kubectl, "nope", "models", "auto", "rest")


def test_status_shows_the_route_url():
    raw = {
        "sdep": {**sdep(), "status": {"state": "Available"}},
        "deployments": [],
        "pods": [],
        "services": [],
        "events": [],
    }
    result = model_status.summarize(raw, None)
    assert result["route_url"] == URL
    assert f"through the Gateway: {URL}" in status.text(result)


def test_predict_refuses_via_without_a_namespace():
    from fadi_seldon.cli import main

    assert main(["predict", "--via", "route", "--ndarray", "[[1]]"]) == 2
    assert main(["predict", "-n", "models", "--ndarray", "[[1]]"]) == 2
