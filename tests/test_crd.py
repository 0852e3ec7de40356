"""The generated CRD: shape, size, the Kubernetes structural-schema rules, and the chart template."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from fadi_seldon import cli
from fadi_seldon.dev import generate
from fadi_seldon.sdep import crd, k8s_openapi, schema

FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_COMPACT_JSON = 200 * 1024  # kubectl's last-applied annotation must hold it (262144 bytes)

# keywords a CRD schema may use (apiextensions.k8s.io/v1 JSONSchemaProps minus the forbidden ones)
ALLOWED_KEYWORDS = {
    "description", "type", "format", "title", "default", "maximum", "exclusiveMaximum", "minimum",
    "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems",
    "multipleOf", "enum", "maxProperties", "minProperties", "required", "items", "allOf", "oneOf", "anyOf",
    "not", "properties", "additionalProperties", "nullable", "example", "externalDocs",
    "x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource", "x-kubernetes-int-or-string",
    "x-kubernetes-list-map-keys", "x-kubernetes-list-type", "x-kubernetes-map-type", "x-kubernetes-validations",
}  # fmt: skip
FORBIDDEN = {"$ref", "$schema", "id", "definitions", "dependencies", "patternProperties", "additionalItems"}
TYPES = {"object", "array", "string", "integer", "number", "boolean"}


def structural_violations(node: Any, path: str = "", root: bool = True) -> list[str]:
    """The Kubernetes structural-schema rules (apiextensions validation), as a list of violations."""
    bad: list[str] = []
    if not isinstance(node, dict):
        return [f"{path}: schema is not an object"]
    for key in node:
        if key in FORBIDDEN or key not in ALLOWED_KEYWORDS:
            bad.append(f"{path}: keyword {key} is not allowed")
    for key in ("allOf", "oneOf", "anyOf", "not"):
        if key in node:
            bad.append(
                f"{path}: {key} is not used by this CRD (value validation only, hard to keep structural)"
            )
    int_or_string = node.get("x-kubernetes-int-or-string") is True
    preserve = node.get("x-kubernetes-preserve-unknown-fields")
    if preserve is not None and preserve is not True:
        bad.append(f"{path}: x-kubernetes-preserve-unknown-fields must be true or absent")
    if "type" not in node and not int_or_string and preserve is not True:
        bad.append(f"{path}: type is required")
    if "type" in node and node["type"] not in TYPES:
        bad.append(f"{path}: unknown type {node['type']!r}")
    if int_or_string and "type" in node:
        bad.append(f"{path}: x-kubernetes-int-or-string must not set a type")
    if node.get("uniqueItems") is True:
        bad.append(f"{path}: uniqueItems true is forbidden")
    if "properties" in node and "additionalProperties" in node:
        bad.append(f"{path}: properties and additionalProperties are mutually exclusive")
    if node.get("additionalProperties") is False:
        bad.append(f"{path}: additionalProperties false is forbidden")
    if "items" in node and node.get("type") != "array":
        bad.append(f"{path}: items on a non-array")
    if node.get("type") == "array" and not isinstance(node.get("items"), dict):
        bad.append(f"{path}: an array must have one items schema")
    for req in node.get("required", []):
        if req not in node.get("properties", {}):
            bad.append(f"{path}: required {req} is not a property")
    for key, sub in (node.get("properties") or {}).items():
        if root and key == "metadata" and set(sub) - {"type", "description", "properties"}:
            bad.append(f"{path}.metadata: only type and name/generateName restrictions are allowed")
        if root and key == "metadata" and set(sub.get("properties", {})) - {"name", "generateName"}:
            bad.append(f"{path}.metadata: only name and generateName may be restricted")
        bad += structural_violations(sub, f"{path}.{key}", root=False)
    if isinstance(node.get("items"), dict):
        bad += structural_violations(node["items"], f"{path}[]", root=False)
    if isinstance(node.get("additionalProperties"), dict):
        bad += structural_violations(node["additionalProperties"], f"{path}{{}}", root=False)
    return bad


@pytest.fixture(scope="module")
def built() -> dict:
    return crd.build()


def test_compact_json_fits_the_annotation_limit(built: dict) -> None:
    size = len(crd.to_json(built, compact=True).encode())
    assert size <= MAX_COMPACT_JSON, f"CRD is {size} bytes as compact JSON (limit {MAX_COMPACT_JSON})"


def test_schema_is_structural(built: dict) -> None:
    for version in built["spec"]["versions"]:
        violations = structural_violations(version["schema"]["openAPIV3Schema"], version["name"])
        assert not violations, violations[:20]


def test_structural_checker_catches_violations() -> None:
    assert structural_violations({"type": "object", "properties": {"a": {"description": "no type"}}})
    assert structural_violations({"type": "object", "properties": {"a": {"$ref": "#/x", "type": "object"}}})
    assert structural_violations(
        {
            "type": "object",
            "properties": {"a": {"type": "object", "properties": {}, "additionalProperties": {}}},
        }
    )
    assert structural_violations({"type": "object", "properties": {"metadata": {"type": "object", "properties": {"labels": {"type": "object"}}}}})  # fmt: skip
    assert structural_violations({"type": "object", "properties": {"a": {"type": "array"}}})
    assert not structural_violations(
        {"type": "object", "properties": {"a": {"x-kubernetes-int-or-string": True}}}
    )


def test_versions_names_and_subresources(built: dict) -> None:
    spec = built["spec"]
    assert built["apiVersion"] == "apiextensions.k8s.io/v1"
    assert built["metadata"]["name"] == "seldondeployments.machinelearning.seldon.io"
    assert spec["names"]["shortNames"] == ["sdep"] and spec["names"]["categories"]
    assert spec["scope"] == "Namespaced" and spec["conversion"] == {"strategy": "None"}
    versions = {v["name"]: v for v in spec["versions"]}
    assert set(versions) == {"v1", "v1alpha2", "v1alpha3"}
    assert [n for n, v in versions.items() if v["storage"]] == ["v1"]
    assert all(v["served"] for v in versions.values())
    schemas = [json.dumps(v["schema"], sort_keys=True) for v in versions.values()]
    assert len(set(schemas)) == 1, "every version must serve the same schema"
    for v in versions.values():
        assert v["subresources"]["status"] == {}
        assert v["subresources"]["scale"] == {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"}  # fmt: skip
        columns = {c["name"]: c for c in v["additionalPrinterColumns"]}
        assert {"State", "Replicas", "Age"} <= set(columns)
        assert columns["Age"]["type"] == "date"


def test_enums_are_in_the_schema(built: dict) -> None:
    root = built["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    spec = root["properties"]["spec"]["properties"]
    graph = spec["predictors"]["items"]["properties"]["graph"]["properties"]
    assert graph["type"]["enum"] == list(schema.PREDICTIVE_UNIT_TYPES)
    assert graph["endpoint"]["properties"]["type"]["enum"] == ["REST", "GRPC"]
    assert graph["parameters"]["items"]["properties"]["type"]["enum"] == list(schema.PARAMETER_TYPES)
    assert "enum" not in graph["implementation"], "implementation stays open: operators add their own servers"
    assert set(spec["protocol"]["enum"]) == {"", "seldon", "tensorflow", "kfserving", "v2"}
    assert set(spec["transport"]["enum"]) == {"", "rest", "grpc"}


def test_graph_children_are_typed_to_the_documented_depth(built: dict) -> None:
    node = built["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    node = node["predictors"]["items"]["properties"]["graph"]
    depth = 1
    while "properties" in node["properties"]["children"]["items"]:
        node = node["properties"]["children"]["items"]
        depth += 1
    assert depth == schema.GRAPH_DEPTH
    assert node["properties"]["children"]["items"] == {
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
    }


def test_pod_and_container_come_from_the_pinned_kubernetes(built: dict) -> None:
    pod = schema.openapi_schema()["properties"]["spec"]["properties"]["predictors"]["items"]["properties"]
    pod = pod["componentSpecs"]["items"]["properties"]["spec"]
    container = pod["properties"]["containers"]["items"]
    assert pod["required"] == ["containers"] and container["required"] == ["name"]
    defs = k8s_openapi.definitions()
    assert set(container["properties"]) == set(defs["io.k8s.api.core.v1.Container"]["properties"])
    assert container["properties"]["ports"]["items"]["properties"]["containerPort"]["type"] == "integer"
    assert container["properties"]["resources"]["properties"]["limits"]["additionalProperties"] == {
        "x-kubernetes-int-or-string": True
    }


def test_volumes_are_typed_so_a_misspelt_source_is_refused(built: dict) -> None:
    """Upstream's CRD refuses `volumes[0].volumeSource` under strict field validation; an open Volume
    would keep it and the operator's pod would get an emptyDir. The two largest sources stay open (size):
    `validate` checks those (k8s-unknown-field)."""
    root = built["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    pod = root["properties"]["spec"]["properties"]["predictors"]["items"]["properties"]["componentSpecs"]
    volume = pod["items"]["properties"]["spec"]["properties"]["volumes"]["items"]
    assert "x-kubernetes-preserve-unknown-fields" not in volume
    assert set(volume["properties"]) == set(
        k8s_openapi.definitions()["io.k8s.api.core.v1.Volume"]["properties"]
    )
    assert volume["required"] == ["name"]
    pvc = volume["properties"]["persistentVolumeClaim"]
    assert "x-kubernetes-preserve-unknown-fields" not in pvc and pvc["required"] == ["claimName"]
    for source in ("ephemeral", "projected"):
        assert volume["properties"][source]["x-kubernetes-preserve-unknown-fields"] is True


def test_missing_kubernetes_release_is_a_clear_error() -> None:
    with pytest.raises(k8s_openapi.KubernetesSchemaError, match="bump PY_KUBERNETES_VALIDATE"):
        k8s_openapi.definitions_dir("1.99.0")


def test_chart_template_contract(repo_root: Path) -> None:
    text = crd.chart_template()
    assert text.splitlines()[0] == "{{- if .Values.crd.create }}" and text.rstrip().endswith("{{- end }}")
    assert '{{- include "seldon-core-operator.labels" . | nindent 4 }}' in text
    assert "{{- if .Values.crd.keep }}\n    helm.sh/resource-policy: keep" in text
    assert "{{- with .Values.crd.annotations }}" in text
    body = "spec:\n" + text.split("\nspec:\n", 1)[1].rsplit("{{- end }}", 1)[0]
    assert "{{" not in body, "the schema must not contain Helm template markers"
    rendered = yaml.load(body, Loader=FAST_LOADER)
    assert rendered["spec"] == crd.build()["spec"]


def test_escape_helm_keeps_braces_literal() -> None:
    assert crd.escape_helm("a {{ b") == 'a {{ "{{" }} b'


def test_committed_template_is_current(repo_root: Path) -> None:
    stale = generate.stale(repo_root)
    assert crd.CHART_TEMPLATE_PATH in generate.generators()
    assert crd.CHART_TEMPLATE_PATH not in stale, (
        "run `make generate`:\n" + stale.get(crd.CHART_TEMPLATE_PATH, "")[:2000]
    )


def test_cli_prints_yaml_and_json(capsys) -> None:
    assert cli.main(["crd"]) == 0
    as_yaml = yaml.load(capsys.readouterr().out, Loader=FAST_LOADER)
    assert cli.main(["crd", "--output", "json"]) == 0
    as_json = json.loads(capsys.readouterr().out)
    assert as_yaml == as_json == crd.build()
    assert cli.main(["crd", "-o", "json", "--compact"]) == 0
    assert capsys.readouterr().out.count("\n") == 1


def test_cli_chart_template(capsys) -> None:
    assert cli.main(["crd", "--chart-template"]) == 0
    assert capsys.readouterr().out == crd.chart_template()


def test_cli_yaml_round_trips_in_a_fresh_process() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "fadi_seldon", "crd"], capture_output=True, text=True, check=True
    )
    assert yaml.load(proc.stdout, Loader=FAST_LOADER)["kind"] == "CustomResourceDefinition"
