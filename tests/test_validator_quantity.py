"""Kubernetes quantities: one grammar (sdep/quantity.py) for `new` and the validator's schema-quantity."""

from __future__ import annotations

import pytest

from fadi_seldon.sdep import quantity, schema
from fadi_seldon.sdep.validator import embedded, structural, validate_object

VALID = [
    "500m",
    "2",
    "0.5",
    ".5",
    "1.",
    "1e3",
    "1E-3",
    "1e+3",
    "1Gi",
    "512Mi",
    "1k",
    "1M",
    "1E",
    "1Ei",
    "10n",
    "10u",
    "+1",
    "-1",
    " 1Gi ",
    "1.5Gi",
    0,
    4,
]
INVALID = ["one", "", ".", "1e", "1K", "1GB", "1ki", "1 Gi", "Gi", "1Gi1", "1..5", "0x10", True, 1.5, None]


@pytest.mark.parametrize("value", VALID, ids=repr)
def test_quantity_grammar_accepts(value) -> None:
    assert quantity.is_quantity(value)


@pytest.mark.parametrize("value", INVALID, ids=repr)
def test_quantity_grammar_refuses(value) -> None:
    assert not quantity.is_quantity(value)


def test_negative_quantities_parse_but_builders_can_refuse_them() -> None:
    assert quantity.is_quantity("-1") and not quantity.is_quantity("-1", negative_ok=False)
    assert not quantity.is_quantity(-1, negative_ok=False)


@pytest.mark.parametrize(
    ("value", "fix"), [("1GB", "1G or 1Gi"), ("1K", "1k or 1Ki"), ("2MiB", "2Mi"), ("x", "")]
)
def test_quantity_hint(value, fix) -> None:
    assert quantity.hint(value) == fix


def _deployment(resources: dict, probe_port="http") -> dict:
    container = {
        "name": "classifier",
        "image": "seldonio/mock_classifier:1.0",
        "resources": resources,
        "livenessProbe": {"httpGet": {"path": "/live", "port": probe_port}},
    }
    return {
        "apiVersion": "machinelearning.seldon.io/v1",
        "kind": "SeldonDeployment",
        "metadata": {"name": "iris"},
        "spec": {
            "predictors": [
                {
                    "name": "default",
                    "graph": {"name": "classifier"},
                    "componentSpecs": [{"spec": {"containers": [container]}}],
                    "svcOrchSpec": {"resources": resources},
                }
            ]
        },
    }


def test_schema_quantity_finding_names_field_and_fix() -> None:
    findings = validate_object(_deployment({"requests": {"cpu": "one"}}))
    assert [(f.rule, f.severity, f.path) for f in findings] == [
        (
            "schema-quantity",
            "error",
            "spec.predictors[0].componentSpecs[0].spec.containers[0].resources.requests.cpu",
        ),
        ("schema-quantity", "error", "spec.predictors[0].svcOrchSpec.resources.requests.cpu"),
    ]
    assert (
        "500m" in findings[0].message
        and "quantities must match the regular expression" in findings[0].message
    )


def test_valid_quantities_and_port_names_pass() -> None:
    assert (
        validate_object(_deployment({"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": 2}}))
        == []
    )


def test_float_quantity_stays_a_type_error() -> None:
    findings = validate_object(_deployment({"requests": {"cpu": 0.5}}))
    assert {f.rule for f in findings} == {"schema-type"}


def test_marks_leave_the_crd_schema_unchanged() -> None:
    """The validator's schema is the CRD's plus marks: the API server's part cannot drift."""

    def strip(node):
        if isinstance(node, dict):
            marks = (structural.QUANTITY_MARK, structural.KUBERNETES_MARK, structural.ENUM_MARK)
            return {k: strip(v) for k, v in node.items() if k not in marks}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    marked = embedded.validator_schema()
    assert strip(marked) == schema.openapi_schema()
    assert structural.QUANTITY_MARK not in str(schema.openapi_schema())
    assert structural.KUBERNETES_MARK not in str(schema.openapi_schema())
    assert structural.ENUM_MARK in str(marked) and structural.ENUM_MARK not in str(schema.openapi_schema())
    container = marked["properties"]["spec"]["properties"]["predictors"]["items"]["properties"][
        "componentSpecs"
    ]
    container = container["items"]["properties"]["spec"]["properties"]["containers"]["items"]["properties"]
    assert container["resources"]["properties"]["limits"]["additionalProperties"][structural.QUANTITY_MARK]
    assert (
        structural.QUANTITY_MARK
        not in container["livenessProbe"]["properties"]["httpGet"]["properties"]["port"]
    )
