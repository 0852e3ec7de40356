"""The in-process API other parts of fadi-seldon use (generator, cluster tests)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from fadi_seldon.sdep import validator
from fadi_seldon.sdep.validator import Finding, Report

VALID_DIR = Path(__file__).parent / "data" / "valid"
VALID = sorted(VALID_DIR.iterdir())


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", VALID, ids=[p.name for p in VALID])
def test_valid_manifests_have_no_findings(path: Path) -> None:
    assert validator.validate_object(load(path)) == []
    report = validator.validate_paths([str(path)])
    assert (report.documents, report.errors, report.warnings) == (1, 0, 0)


def test_validate_object_reports_path_and_rule_without_position() -> None:
    obj = load(VALID_DIR / "router_combiner.yaml")
    obj["spec"]["predictors"][0]["graph"]["children"][0]["children"][1]["type"] = "COMBINE"
    (finding,) = validator.validate_object(obj)
    assert isinstance(finding, Finding)
    assert finding.rule == "schema-enum" and finding.severity == "error"
    assert finding.path == "spec.predictors[0].graph.children[0].children[1].type"
    assert 'did you mean "COMBINER"' in finding.message
    assert (finding.file, finding.line) == ("<object>", 0)


def test_validate_object_does_not_modify_its_input() -> None:
    obj = load(VALID_DIR / "canary_and_shadow.yaml")
    obj["spec"]["predictors"][0]["traffic"] = "ninety"
    before = copy.deepcopy(obj)
    assert validator.validate_object(obj)
    assert obj == before


def test_validate_text_locates_findings_in_multi_document_text() -> None:
    text = (VALID_DIR / "router_combiner.yaml").read_text() + "---\n" + "apiVersion: v1\nkind: Secret\n"
    text += "---\n" + text.split("---\n")[0].replace(
        "name: model-b\n            type: MODEL", "name: model-b"
    )
    report = validator.validate_text(text, source="graph.yaml")
    assert isinstance(report, Report)
    assert (report.documents, report.skipped) == (2, 1)
    assert report.errors == 0  # a node without type is a MODEL
    text_err = text.replace('value: "0.5"', "value: 0.5")
    report = validator.validate_text(text_err, source="graph.yaml")
    docs = sorted({f.document for f in report.findings})
    assert docs == [1, 3]
    lines = text_err.splitlines()
    for f in report.findings:
        assert f.rule == "schema-type" and f.path.endswith("parameters[0].value")
        assert lines[f.line - 1].strip() == "value: 0.5"


def test_servers_argument_replaces_the_defaults() -> None:
    obj = load(VALID_DIR / "explainer.json")
    assert validator.validate_object(obj, servers={"SKLEARN_SERVER"}) == []
    (finding,) = validator.validate_object(obj, servers={"MY_SERVER"})
    assert finding.rule == "unknown-server" and finding.severity == "error"
    assert "MY_SERVER" in finding.message


def test_placeholder_names_are_named_and_their_literal_text_checked() -> None:
    """The API server refuses a name with a placeholder until the template is rendered: a warning that
    names it. What the literal text already breaks, no rendering fixes: an error."""
    obj = load(VALID_DIR / "explainer.json")
    obj["metadata"]["name"] = "income-{{workflow.name}}"
    [finding] = validator.validate_object(obj)
    assert (finding.rule, finding.severity, finding.path) == ("name-placeholder", "warning", "metadata.name")
    assert "'{{workflow.name}}'" in finding.message and "until the template is rendered" in finding.message
    for name in ("${NAME}", "$(NAME)-model", "{{ .Release.Name }}-{{ .Values.name }}"):
        obj["metadata"]["name"] = name
        assert [f.rule for f in validator.validate_object(obj)] == ["name-placeholder"], name
    obj["metadata"]["name"] = "Income_{{workflow.name}}"
    assert [f.rule for f in validator.validate_object(obj)] == ["name-placeholder", "metadata-name"]
    obj["metadata"]["name"] = "{{a}}.income"  # a dot: not a prefix for the operator's Services
    assert [f.rule for f in validator.validate_object(obj)] == ["name-placeholder", "invalid-name"]
    obj["metadata"]["name"] = "income-{{unclosed"
    assert [f.rule for f in validator.validate_object(obj)] == ["name-placeholder", "metadata-name"]
    obj["metadata"]["name"] = "Income"
    assert [f.rule for f in validator.validate_object(obj)] == ["metadata-name"]


def test_timestamps_stay_strings_and_null_means_absent() -> None:
    text = (
        (VALID_DIR / "router_combiner.yaml")
        .read_text()
        .replace("metadata:\n  name: ensemble\n", "metadata:\n  name: ensemble\n  creationTimestamp: null\n")
    )
    text = text.replace("    svcOrchSpec:", "    replicas: null\n    svcOrchSpec:")
    text = text.replace('value: "0.5"', "value: 2024-01-01")  # YAML 1.1 would build a date
    report = validator.validate_text(text, source="t.yaml")
    assert report.errors == 0 and report.warnings == 0, report.findings


def test_trimmed_kubernetes_types_keep_their_scalar_checks() -> None:
    """Affinity and a projected volume's sources are open in the CRD (size): the API server passes an
    unknown field there, the validator refuses it (k8s-unknown-field, from the full definition); their
    scalar fields, and everything of a volume, are checked by the CRD itself."""
    obj = load(VALID_DIR / "canary_and_shadow.yaml")
    pod = obj["spec"]["predictors"][0]["componentSpecs"][0]["spec"]
    base = "spec.predictors[0].componentSpecs[0].spec"
    pod["volumes"] = [{"name": "models", "projected": {"sources": [{"someFutureSource": {}}]}}]
    pod["affinity"] = {"nodeAfinity": {}}
    pod["containers"][0]["securityContext"] = {"runAsUser": 1000, "capabilities": {"drop": ["ALL"]}}
    assert {(f.rule, f.severity, f.path) for f in validator.validate_object(obj)} == {
        ("k8s-unknown-field", "error", f"{base}.affinity.nodeAfinity"),
        ("k8s-unknown-field", "error", f"{base}.volumes[0].projected.sources[0].someFutureSource"),
    }
    pod["volumes"] = [{"emptyDir": {}, "volumeSource": {"hostPath": {"path": "/x"}}}]
    pod["affinity"] = {}
    pod["containers"][0]["securityContext"]["runAsUser"] = "root"
    found = {(f.rule, f.path) for f in validator.validate_object(obj)}
    assert found == {
        ("schema-required", f"{base}.volumes[0].name"),
        ("schema-unknown-field", f"{base}.volumes[0].volumeSource"),
        ("schema-type", f"{base}.containers[0].securityContext.runAsUser"),
    }


def test_open_kubernetes_types_are_checked_in_full_beside_the_crd() -> None:
    """Fields the CRD types keep their schema-* ids (the API server's); the rest is k8s-* or schema-quantity."""
    obj = load(VALID_DIR / "canary_and_shadow.yaml")
    pod = obj["spec"]["predictors"][0]["componentSpecs"][0]["spec"]
    base = "spec.predictors[0].componentSpecs[0].spec"
    pod["volumes"] = [{"name": 3, "emptyDir": {"sizeLimit": "lots", "medium": 1}}]
    pod["affinity"] = {"nodeAffinity": "gpu"}
    pod["containers"][0]["lifecycle"] = {"preStop": {"httpGet": {"port": "http", "path": "/stop"}}}
    found = {(f.rule, f.path) for f in validator.validate_object(obj)}
    assert found == {
        ("schema-type", f"{base}.volumes[0].name"),
        ("schema-quantity", f"{base}.volumes[0].emptyDir.sizeLimit"),
        ("schema-type", f"{base}.volumes[0].emptyDir.medium"),  # Volume is typed in the CRD
        ("k8s-type", f"{base}.affinity.nodeAffinity"),
    }
    pod["affinity"] = ["not", "a", "mapping"]  # the CRD's own type check only, reported once
    assert ("schema-type", f"{base}.affinity") in {(f.rule, f.path) for f in validator.validate_object(obj)}
