"""runtime.names against the chart as helm renders it: the Python side and the chart say the same names."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from conftest import ROOT, tool
from fadi_seldon.localkube import operator as runner
from fadi_seldon.runtime import names
from fadi_seldon.sdep import schema

CHART = ROOT / "charts" / "seldon-core-operator"
NAMESPACE = "seldon-system"


def render(tools_env, *sets: str) -> list[dict]:
    argv = [tool("helm"), "template", "rel", str(CHART), "-n", NAMESPACE]
    for s in sets:
        argv += ["--set", s]
    proc = subprocess.run(argv, capture_output=True, text=True, env=tools_env, check=True)
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


@pytest.fixture(scope="module")
def rendered(tools_env) -> list[dict]:
    return render(tools_env)


def _only(docs: list[dict], kind: str) -> dict:
    [doc] = [d for d in docs if d["kind"] == kind]
    return doc


def test_the_controller_deployment_carries_exactly_these_labels(rendered):
    deployments = [d for d in rendered if d["kind"] == "Deployment"]
    [controller] = [d for d in deployments if runner.is_controller_deployment(d)]
    labels = controller["metadata"]["labels"]
    for key, value in {**names.CONTROLLER_LABELS, **names.UPSTREAM_CONTROLLER_LABELS}.items():
        assert labels.get(key) == value, (key, labels)
    assert controller["metadata"]["name"] == names.CONTROLLER_DEPLOYMENT
    # the pods (what `kubectl get pods -l SELECTOR` finds, doctor's CONTROLLER_SELECTORS)
    pod = controller["spec"]["template"]
    assert names.has_labels(pod, {names.COMPONENT_LABEL: names.CONTROLLER_COMPONENT})
    assert names.has_labels(pod, names.UPSTREAM_CONTROLLER_LABELS)
    assert controller["spec"]["selector"]["matchLabels"][names.COMPONENT_LABEL] == names.CONTROLLER_COMPONENT
    containers = [c["name"] for c in pod["spec"]["containers"]]
    assert names.MANAGER_CONTAINER in containers
    assert pod["spec"]["serviceAccountName"] == names.SERVICE_ACCOUNT


def test_only_a_deployment_with_the_labels_is_the_controller(rendered):
    """The chart labels the controller's ServiceAccount the same way: the kind decides too."""
    labelled = [d for d in rendered if names.has_labels(d, names.CONTROLLER_LABELS)]
    assert {d["kind"] for d in labelled} >= {"Deployment", "ServiceAccount"}
    assert [d["kind"] for d in labelled if runner.is_controller_deployment(d)] == ["Deployment"]


def test_user_labels_cannot_hide_the_controller(tools_env):
    docs = render(
        tools_env,
        r"commonLabels.app\.kubernetes\.io/component=mine",
        r"commonLabels.app\.kubernetes\.io/part-of=mine",
        "watchNamespaces={a,b}",
    )
    specs = runner.specs_from_manifest(docs, NAMESPACE)
    assert [s.deployment for s in specs] == [
        f"{names.CONTROLLER_DEPLOYMENT}-a",
        f"{names.CONTROLLER_DEPLOYMENT}-b",
    ]


def test_webhook_config_map_and_crd_names(rendered):
    assert _only(rendered, "Service")["metadata"]["name"] == names.WEBHOOK_SERVICE
    assert _only(rendered, "Secret")["metadata"]["name"] == names.WEBHOOK_SECRET
    assert _only(rendered, "ConfigMap")["metadata"]["name"] == names.CONFIG_MAP
    vwc = _only(rendered, "ValidatingWebhookConfiguration")
    assert vwc["metadata"]["name"] == names.validating_webhook_configuration(NAMESPACE)
    [hook] = vwc["webhooks"]
    assert hook["name"] == names.WEBHOOK_NAME
    assert hook["clientConfig"]["service"] == {
        "name": names.WEBHOOK_SERVICE,
        "namespace": NAMESPACE,
        "path": names.WEBHOOK_PATH,
        "port": 443,
    }
    assert hook["rules"][0]["apiGroups"] == [names.CRD_GROUP]
    assert hook["rules"][0]["resources"] == [names.CRD_PLURAL]
    assert _only(rendered, "CustomResourceDefinition")["metadata"]["name"] == names.CRD_NAME


def test_chart_and_schema_agree_with_the_names():
    assert yaml.safe_load((CHART / "Chart.yaml").read_text())["name"] == names.CHART_NAME
    assert f"{schema.PLURAL}.{schema.GROUP}" == names.CRD_NAME
    assert runner.values_prefix(CHART) == ""


def test_selectors_are_kubectl_equality_selectors():
    assert names.CONTROLLER_SELECTORS == (
        "app.kubernetes.io/component=controller-manager,app.kubernetes.io/part-of=seldon-core",
        "control-plane=seldon-controller-manager",
    )
    assert names.has_labels({"metadata": {"labels": {"a": "1", "b": "2"}}}, {"a": "1"})
    assert not names.has_labels({"metadata": {"labels": {"a": "2"}}}, {"a": "1"})
    assert not names.has_labels({"metadata": {}}, {"a": "1"}) and not names.has_labels("x", {"a": "1"})
