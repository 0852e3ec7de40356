"""Real SeldonDeployments written by the Seldon Core project (../shared/conformance) and the user guide."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import SEED_GUIDE
from fadi_seldon.sdep import predictor_servers, validator

# Four files of the "valid" corpus are rejected by `kubectl apply` against Seldon Core 1.17.1. They
# were never meant for the API server: three are inputs for running the executor locally
# (executor/samples/local), one is an old notebook resource that predates the webhook's traffic
# rule. The webhook's Go source (checkPredictiveUnits, the traffic sum in ValidateSeldonDeployment)
# and kubectl's strict field validation reject them; the validator must keep reporting exactly these
# errors for them, and nothing else.
KNOWN_REJECTS = {
    "executor__samples__local__metadata__broken_chain.yaml": {
        ("webhook-no-container", "spec.predictors[0].graph"),
        ("webhook-no-container", "spec.predictors[0].graph.children[0]"),
    },
    "executor__samples__local__tfserving__model.yaml": {
        ("schema-unknown-field", "spec.predictors[0].graph.endpoint.http_port"),
        ("schema-unknown-field", "spec.predictors[0].graph.endpoint.grpc_port"),
    },
    "executor__samples__local__tfserving__model_chain.yaml": {
        ("schema-unknown-field", f"spec.predictors[0].graph{child}.endpoint.{port}")
        for child in ("", ".children[0]")
        for port in ("http_port", "grpc_port")
    },
    "notebooks__resources__complex_graph_with_canary.json": {
        ("webhook-traffic-sum", "spec.predictors[0].traffic"),
    },
}


# Errors that predict the operator's `Failed` state (validator.FAILED_LATER_RULES): the API server and
# the webhook admit these, then the operator cannot deploy them, so `validate` exits 1 on them too. One
# file is admitted as it is: the old "multiple versions" notebook resource puts its graph's container in
# two componentSpecs, defaulting marks no node localhost and the operator stops with "engine not
# separate and no pu with localhost service" (the cluster suite, test_11_differential.py, sees `Failed`
# with that message). The three executor samples above would fail the same way were they admitted:
# broken_chain's nodes have no container to put the executor beside, and the tfserving samples name
# their container "half_plus_two", which cannot become a Service name.
FAILS_LATER = {
    "notebooks__resources__model_multiple_versions.json": {
        ("engine-placement", "spec.predictors[0].componentSpecs"),
    },
    "executor__samples__local__metadata__broken_chain.yaml": {
        ("engine-placement", "spec.predictors[0].componentSpecs"),
    },
    "executor__samples__local__tfserving__model.yaml": {
        ("invalid-name", "spec.predictors[0].componentSpecs[0].spec.containers[0].name"),
    },
    "executor__samples__local__tfserving__model_chain.yaml": {
        ("invalid-name", "spec.predictors[0].componentSpecs[0].spec.containers[0].name"),
    },
}


# Upstream's custom-server example (examples/models/lightgbm_custom_server/iris.ipynb) deploys these
# two only after `helm upgrade --values values.yaml` adds LIGHTGBM_SERVER to predictor_servers: the
# webhook (checkPredictiveUnits) refuses them with "No entry in predictors map for LIGHTGBM_SERVER"
# on an operator with the chart's default servers, and accepts them on one configured as the example says.
NEEDS_SERVER = {
    "examples__models__lightgbm_custom_server__model_seldon_v1.yaml": "LIGHTGBM_SERVER",
    "examples__models__lightgbm_custom_server__model_seldon_v2.yaml": "LIGHTGBM_SERVER",
}


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml", ".json"))


def test_valid_corpus_has_no_errors(conformance_dir: Path) -> None:
    files = _files(conformance_dir / "valid")
    assert len(files) > 100, "the conformance corpus looks truncated"
    documents = 0
    for path in files:
        report = validator.validate_paths([str(path)])
        documents += report.documents
        errors = {(f.rule, f.path) for f in report.findings if f.severity == "error"}
        expected = KNOWN_REJECTS.get(path.name, set()) | FAILS_LATER.get(path.name, set())
        if path.name in NEEDS_SERVER:  # refused by an operator with the chart's default servers
            expected = {("unknown-server", "spec.predictors[0].graph.implementation")}
        assert errors == expected, f"{path.name}: " + "; ".join(
            f"{f.location()} {f.rule} {f.path}: {f.message}" for f in report.findings if f.severity == "error"
        )
    assert documents >= 150, f"only {documents} SeldonDeployment documents were checked"


# Upstream's Kubeflow pipeline example is a template: Argo renders {{workflow.name}} when it submits the
# resource. As written, upstream's API server refuses the name (the corpus's README counts it among the
# refused files); `validate` names the placeholder in a warning, and the rest of the name is valid.
KUBEFLOW_TEMPLATE = "examples__kubeflow__deploy_pipeline__seldon_production_pipeline.yaml"


def test_the_kubeflow_template_is_told_its_name_waits_for_a_rendering(conformance_dir: Path) -> None:
    [finding] = validator.validate_paths([str(conformance_dir / "valid" / KUBEFLOW_TEMPLATE)]).findings
    assert (finding.rule, finding.severity, finding.path) == ("name-placeholder", "warning", "metadata.name")
    assert "'{{workflow.name}}'" in finding.message and finding.line == 7


@pytest.mark.parametrize("name", sorted(NEEDS_SERVER))
def test_custom_server_examples_need_their_server_configured(conformance_dir: Path, name: str) -> None:
    path = str(conformance_dir / "valid" / name)
    found = [(f.rule, f.severity, f.path) for f in validator.validate_paths([path]).findings]
    assert found == [("unknown-server", "error", "spec.predictors[0].graph.implementation")]
    values = {"seldon-core-operator": {"predictor_servers": {NEEDS_SERVER[name]: {"protocols": {}}}}}
    configured = predictor_servers.values_server_names(values)
    assert validator.validate_paths([path], servers=configured).findings == []


def test_invalid_corpus_rejected_at_the_expected_field(conformance_dir: Path) -> None:
    expected_text = (conformance_dir / "invalid" / "EXPECTED.txt").read_text(encoding="utf-8")
    # what EXPECTED.txt describes, as the finding that must be reported
    wanted = {
        "notebooks__resources__model_invalid1.json": (
            "schema-type",
            "spec.predictors[0].componentSpecs[0].spec.containers[0].imagePullPolicy",
        ),
        "testing__resources__bad_duplicate_predictor_name.json": (
            "webhook-duplicate-predictor",
            "spec.predictors[1].name",
        ),
    }
    described = set(re.findall(r"^(\S+):", expected_text, flags=re.M))
    assert described == set(wanted), "EXPECTED.txt lists other files: extend this test"
    for name, (rule, field) in wanted.items():
        report = validator.validate_paths([str(conformance_dir / "invalid" / name)])
        hits = [f for f in report.findings if f.rule == rule and f.path == field]
        assert hits and hits[0].severity == "error", f"{name}: no {rule} at {field}: {report.findings}"
        assert hits[0].line > 0


def test_user_guide_example_is_accepted() -> None:
    if not SEED_GUIDE.is_file():
        pytest.skip(f"user guide not present at {SEED_GUIDE} (it sits beside the project with the corpus)")
    text = SEED_GUIDE.read_text(encoding="utf-8")
    blocks = [
        b for b in re.findall(r"```(?:yaml)?\n(.*?)```", text, flags=re.S) if "kind: SeldonDeployment" in b
    ]
    assert blocks, "the user guide's SeldonDeployment example was not found"
    for block in blocks:
        report = validator.validate_text(block, source="user-guide.yaml")
        assert report.documents == 1
        assert report.errors == 0 and report.warnings == 0, report.findings
