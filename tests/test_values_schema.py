"""The umbrella schema embeds each dependency's schema so typos under a disabled service are caught."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from fadi_seldon.dev import umbrella_schema
from fadi_seldon.values import check as values_check


def _umbrella(tmp_path: Path, sub_schema: dict | None, values: str = "svc:\n  enabled: false\n") -> Path:
    (tmp_path / "fadi").mkdir()
    (tmp_path / "charts" / "svc").mkdir(parents=True)
    (tmp_path / "fadi" / "Chart.yaml").write_text(
        "apiVersion: v2\nname: fadi\nversion: 0.1.0\ndependencies:\n"
        "  - name: svc\n    version: 1.0.0\n    repository: file://../charts/svc\n    condition: svc.enabled\n"
    )
    (tmp_path / "fadi" / "values.yaml").write_text(values)
    if sub_schema is not None:
        (tmp_path / "charts" / "svc" / "values.schema.json").write_text(json.dumps(sub_schema))
    return tmp_path


SUB = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "$id": "https://example.invalid/svc.json",
    "type": "object",
    "additionalProperties": False,
    "required": ["image"],
    "properties": {
        "image": {"$ref": "#/definitions/image"},
        "replicas": {"type": "integer"},
        "self": {"$ref": "#"},
    },
    "definitions": {
        "image": {
            "type": "object",
            "additionalProperties": False,
            "required": ["tag"],
            "properties": {"tag": {"type": "string"}, "policy": {"$ref": "#/definitions/policy"}},
        },
        "policy": {"enum": ["Always", "IfNotPresent"]},
    },
}


def test_embedding_moves_definitions_and_rewrites_refs(tmp_path):
    schema = umbrella_schema.build(_umbrella(tmp_path, SUB))
    svc = schema["properties"]["svc"]
    assert "$schema" not in svc and "$id" not in svc and "definitions" not in svc
    assert svc["properties"]["image"] == {"$ref": "#/definitions/svc.image"}
    assert svc["properties"]["self"] == {"$ref": "#/properties/svc"}
    assert schema["definitions"]["svc.image"]["properties"]["policy"] == {"$ref": "#/definitions/svc.policy"}
    assert svc["properties"]["enabled"]["type"] == "boolean"
    assert svc["properties"]["enabled"]["default"] is False
    assert "global" in svc["properties"]
    validator = jsonschema.Draft7Validator(schema)
    # required keys are dropped: a disabled service has no defaults in the umbrella's values
    assert list(validator.iter_errors({"svc": {"enabled": False}})) == []
    assert [e.message for e in validator.iter_errors({"svc": {"image": {"policy": "Never"}}})] == [
        "'Never' is not one of ['Always', 'IfNotPresent']"
    ]
    assert list(validator.iter_errors({"svc": {"enable": True}}))
    # services this chart does not package are allowed at the top level
    assert list(validator.iter_errors({"spark": {"enabled": True}})) == []


def test_enabled_default_follows_the_umbrella_values(tmp_path):
    schema = umbrella_schema.build(_umbrella(tmp_path, SUB, values="svc:\n  enabled: true\n"))
    assert schema["properties"]["svc"]["properties"]["enabled"]["default"] is True


def test_a_service_without_schema_still_types_enabled(tmp_path):
    schema = umbrella_schema.build(_umbrella(tmp_path, None))
    validator = jsonschema.Draft7Validator(schema)
    assert list(validator.iter_errors({"svc": {"anything": 1}})) == []
    assert list(validator.iter_errors({"svc": {"enabled": "yes"}}))


def test_committed_schema_embeds_the_operator_schema(repo_root):
    umbrella = json.loads((repo_root / "fadi" / "values.schema.json").read_text())
    operator = json.loads((repo_root / "charts" / "seldon-core-operator" / "values.schema.json").read_text())
    embedded = umbrella["properties"]["seldon-core-operator"]
    assert set(operator["properties"]) <= set(embedded["properties"])
    assert embedded["additionalProperties"] is False
    assert umbrella == json.loads(umbrella_schema.render(repo_root))


def test_packaged_copy_matches_the_chart(repo_root):
    packaged = values_check.SCHEMA_PACKAGED.read_text()
    assert packaged == (repo_root / "fadi" / "values.schema.json").read_text()


@pytest.mark.parametrize(
    ("block", "bad_path"),
    [
        ({"enable": True}, "enable"),
        ({"usageMetric": {"enabled": False}}, "usageMetric"),
        ({"enabled": "true"}, "enabled"),
    ],
)
def test_committed_schema_rejects_typos(repo_root, block, bad_path):
    schema = json.loads((repo_root / "fadi" / "values.schema.json").read_text())
    errors = list(jsonschema.Draft7Validator(schema).iter_errors({"seldon-core-operator": block}))
    assert errors
    assert any(bad_path in (e.message + "/".join(map(str, e.path))) for e in errors)
