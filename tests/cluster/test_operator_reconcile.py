"""The real Seldon operator, configured by the chart, reconciles SeldonDeployments on the local cluster.

Names and the address are upstream's contract (research/upstream-operator.md §7): Deployment
`<sdep>-<predictor>-<componentSpec index>-<containers>`, predictor Service `<sdep>-<predictor>`,
one Service per graph container `<sdep>-<predictor>-<container>`. kwok makes the pods Ready, the
kube-controller-manager marks the Deployments available, and the operator reports Available.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request

import pytest
import yaml

from cluster.kube import wait_until
from cluster.operator_fixtures import (
    IN_CLUSTER,
    WEBHOOK_MARKER,
    load_example,
    names,
    operator_deployments,
    running_operator,
    wait_available,
)
from fadi_seldon.sdep import validator

RELEASE, NAMESPACE, MODELS = "seldon-real", "seldon-real", "models-real"


@pytest.fixture(scope="module")
def operator(kube, umbrella, tmp_path_factory):
    with running_operator(kube, tmp_path_factory.mktemp("operator"), RELEASE, NAMESPACE) as status:
        kube.namespace(MODELS)
        yield status


def test_operator_runs_as_the_charts_service_account_with_its_webhook(operator, kube):
    vwc = kube.get("validatingwebhookconfiguration", f"seldon-validating-webhook-configuration-{NAMESPACE}")
    client = vwc["webhooks"][0]["clientConfig"]
    if IN_CLUSTER:  # kind: the chart's pod serves the webhook through its Service
        assert client["service"]["name"] == "seldon-webhook-service"
        assert (
            operator_deployments(kube, NAMESPACE)["seldon-controller-manager"]["status"]["availableReplicas"]
            == 1
        )
        return
    [proc] = operator["processes"]
    assert proc["running"] and proc["serving"]
    assert proc["service_account"] == f"system:serviceaccount:{NAMESPACE}:seldon-manager"
    assert client["url"].startswith(proc["webhook"] + "/validate-")


def test_user_guide_example_becomes_available_with_upstream_names(operator, kube):
    kube.apply([load_example("seldon-model.yaml")], "-n", MODELS)
    sdep = wait_available(kube, "seldon-model", MODELS)
    assert sdep["status"]["address"]["url"] == (
        f"http://seldon-model-example.{MODELS}.svc.cluster.local:8000/api/v1.0/predictions"
    )
    assert names(kube, "deployments", MODELS, "seldon-model") == {"seldon-model-example-0-classifier"}
    assert names(kube, "services", MODELS, "seldon-model") == {
        "seldon-model-example",
        "seldon-model-example-classifier",
    }
    deployment = kube.get("deployment", "seldon-model-example-0-classifier", "-n", MODELS)
    assert deployment["status"].get("availableReplicas") == 1
    owner = deployment["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"]) == ("SeldonDeployment", "seldon-model")
    containers = {c["name"] for c in deployment["spec"]["template"]["spec"]["containers"]}
    assert containers == {"classifier", "seldon-container-engine"}  # the model and the executor


GRAPHS = {
    # example file: (name, {Deployments}, {Services})
    "graphs/canary.yaml": (
        "classifier",
        {"classifier-default-0-classifier", "classifier-canary-0-classifier"},
        {
            "classifier-default",
            "classifier-canary",
            "classifier-default-classifier",
            "classifier-canary-classifier",
        },
    ),
    "graphs/ab-test.yaml": (
        "iris-ab",
        {"iris-ab-default-0-sklearn-xgboost"},
        {"iris-ab-default", "iris-ab-default-sklearn", "iris-ab-default-xgboost"},
    ),
    "graphs/sklearn-prepackaged.yaml": (
        "iris",
        {"iris-default-0-classifier"},
        {"iris-default", "iris-default-classifier"},
    ),
}


@pytest.mark.parametrize("example", sorted(GRAPHS))
def test_canary_ab_router_and_prepackaged_server_reconcile(operator, kube, example):
    name, deployments, services = GRAPHS[example]
    doc = load_example(example)
    assert doc["metadata"]["name"] == name
    kube.apply([doc], "-n", MODELS)
    sdep = wait_available(kube, name, MODELS)
    assert names(kube, "deployments", MODELS, name) == deployments
    assert names(kube, "services", MODELS, name) == services
    first = doc["spec"]["predictors"][0]["name"]
    assert sdep["status"]["address"]["url"].startswith(
        f"http://{name}-{first}.{MODELS}.svc.cluster.local:8000/"
    )


def test_canary_status_reports_both_predictors_available(operator, kube):
    sdep = wait_available(kube, "classifier", MODELS)
    status = sdep["status"]["deploymentStatus"]
    assert set(status) == {"classifier-default-0-classifier", "classifier-canary-0-classifier"}
    assert all(d.get("availableReplicas") == 1 for d in status.values()), status


def test_prepackaged_server_gets_the_image_of_the_charts_configmap(operator, kube):
    wait_available(kube, "iris", MODELS)
    deployment = kube.get("deployment", "iris-default-0-classifier", "-n", MODELS)
    images = {c["name"]: c["image"] for c in deployment["spec"]["template"]["spec"]["containers"]}
    assert images["classifier"] == "seldonio/sklearnserver:1.17.1"  # predictor_servers in values.yaml
    assert deployment["spec"]["replicas"] == 2
    inits = deployment["spec"]["template"]["spec"].get("initContainers") or []
    assert [i["image"] for i in inits] == ["seldonio/rclone-storage-initializer:1.17.1"]


INVALID = {
    "bad-traffic": (
        "Traffic must sum to 100 for multiple predictors",
        {
            "apiVersion": "machinelearning.seldon.io/v1",
            "kind": "SeldonDeployment",
            "metadata": {"name": "bad-traffic"},
            "spec": {
                "name": WEBHOOK_MARKER,
                "predictors": [
                    {
                        "name": p,
                        "traffic": t,
                        "componentSpecs": [
                            {"spec": {"containers": [{"name": "m", "image": "seldonio/mock_classifier:1.0"}]}}
                        ],  # fmt: skip
                        "graph": {"name": "m", "type": "MODEL", "children": []},
                    }
                    for p, t in (("a", 60), ("b", 30))
                ],
            },
        },
    ),
    "no-container": (
        "Can't find container for Predictive Unit",
        {
            "apiVersion": "machinelearning.seldon.io/v1",
            "kind": "SeldonDeployment",
            "metadata": {"name": "no-container"},
            "spec": {
                "name": WEBHOOK_MARKER,
                "predictors": [
                    {
                        "name": "default",
                        "componentSpecs": [
                            {
                                "spec": {
                                    "containers": [
                                        {"name": "classifier", "image": "seldonio/mock_classifier:1.0"}
                                    ]
                                }
                            }
                        ],  # fmt: skip
                        "graph": {"name": "model", "type": "MODEL", "children": []},
                    }
                ],
            },
        },
    ),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_deployments_are_rejected_by_the_operators_webhook_like_validate_does(
    operator, kube, case, tmp_path
):
    expected, doc = INVALID[case]
    proc = kube.apply([doc], "-n", MODELS, check=False)
    assert proc.returncode != 0, f"{case} was admitted"
    # the operator's own words: `SeldonDeployment "<spec.name>" is invalid: <path>: Invalid value: "<v>": <message>`
    said = re.findall(
        rf'SeldonDeployment "{WEBHOOK_MARKER}" is invalid: \S+: Invalid value: "[^"]*": (.+)', proc.stderr
    )
    assert said and said[0].strip() == expected, proc.stderr
    assert kube.get("seldondeployment", case, "-n", MODELS) is None

    path = tmp_path / f"{case}.yaml"
    path.write_text(yaml.safe_dump(doc))
    validate = subprocess.run(
        [sys.executable, "-m", "fadi_seldon", "validate", "--output", "json", str(path)],
        capture_output=True,
        text=True,
    )
    assert validate.returncode == 1, validate.stderr
    errors = [f for f in json.loads(validate.stdout)["findings"] if f["severity"] == "error"]
    assert any(f["message"].startswith(expected) for f in errors), errors


def test_delete_removes_the_deployments_and_services_it_created(operator, kube):
    wait_available(kube, "seldon-model", MODELS)
    kube.kubectl("delete", "seldondeployment", "seldon-model", "-n", MODELS)

    def gone():
        left = names(kube, "deployments", MODELS, "seldon-model") | names(
            kube, "services", MODELS, "seldon-model"
        )
        return not left or None

    wait_until("the operator's objects of seldon-model to be deleted", gone, timeout=120)
    assert names(kube, "deployments", MODELS, "classifier"), "other models must stay"


# Two files of the conformance corpus's valid/ folder break webhook rules (see KNOWN_REJECTS in
# tests/test_validator_conformance.py). The operator's own webhook is the referee: it must refuse them
# with the message of the rule `fadi-seldon validate` reports.
CORPUS_WEBHOOK_REJECTS = {
    "executor__samples__local__metadata__broken_chain.yaml": "Can't find container for Predictive Unit",
    "notebooks__resources__complex_graph_with_canary.json": "Traffic must sum to 100 for multiple predictors",
    # the chart's default servers do not include upstream's custom-server example (NEEDS_SERVER there)
    "examples__models__lightgbm_custom_server__model_seldon_v1.yaml": "No entry in predictors map for LIGHTGBM_SERVER",
    "examples__models__lightgbm_custom_server__model_seldon_v2.yaml": "No entry in predictors map for LIGHTGBM_SERVER",
}
RULE_OF_MESSAGE = {
    "Can't find container for Predictive Unit": "webhook-no-container",
    "Traffic must sum to 100 for multiple predictors": "webhook-traffic-sum",
    "No entry in predictors map for LIGHTGBM_SERVER": "unknown-server",
}


@pytest.mark.parametrize("name", sorted(CORPUS_WEBHOOK_REJECTS))
def test_corpus_files_the_validator_rejects_are_rejected_by_the_operators_webhook(
    operator, kube, conformance_dir, name
):
    found = validator.validate_paths([str(conformance_dir / "valid" / name)]).findings
    # the errors admission raises (broken_chain also gets engine-placement: were it admitted, it would fail)
    refused = {f.rule for f in found if f.severity == "error" and f.rule not in validator.FAILED_LATER_RULES}
    assert refused == {RULE_OF_MESSAGE[CORPUS_WEBHOOK_REJECTS[name]]}
    [doc] = [d for d in yaml.safe_load_all((conformance_dir / "valid" / name).read_text()) if d]
    doc["metadata"]["name"] = "corpus-" + re.sub(r"[^a-z0-9]+", "-", name.split(".")[0].lower())[-40:].strip(
        "-"
    )
    doc["spec"]["name"] = WEBHOOK_MARKER
    proc = kube.apply([doc], "-n", MODELS, check=False)
    assert proc.returncode != 0, f"{name} was admitted by the operator's webhook"
    # one cause inline, or several as a `* path: Invalid value: ...` list
    assert f'SeldonDeployment "{WEBHOOK_MARKER}" is invalid' in proc.stderr, proc.stderr
    said = re.findall(r'Invalid value: "[^"]*": ([^\n]+)', proc.stderr)
    assert CORPUS_WEBHOOK_REJECTS[name] in [s.strip() for s in said], proc.stderr


def test_the_dashboards_operator_queries_find_their_series_in_the_operators_scrape(operator):
    """Runs last in this module: the operator has reconciled and its webhook has answered by now."""
    from fadi_seldon.dev import dashboard
    from test_serve import scrape_labels

    if IN_CLUSTER:
        pytest.skip("on kind the operator's metrics port is inside its pod; the local run scrapes it")
    [proc] = operator["processes"]
    with urllib.request.urlopen(proc["metrics"], timeout=10) as resp:
        series = scrape_labels(resp.read().decode())
    wanted = dashboard.queried_series([dashboard.OPERATOR_PANELS])
    wanted.pop("up")  # made by Prometheus for each target, never scraped
    for metric, labels in wanted.items():
        assert metric in series, f"{metric} is not in the operator's scrape"
        assert labels <= series[metric], f"{metric} lacks {labels - series[metric]}"
