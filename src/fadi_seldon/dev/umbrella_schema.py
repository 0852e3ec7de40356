"""Build the FADI umbrella chart's values.schema.json from its dependencies' schemas.

Helm checks a subchart's values against the subchart's schema only when the subchart is enabled,
so a typo under a disabled service (`seldon-core-operator.enable: true`) would pass unnoticed.
Embedding each `file://` dependency's schema under its key in the umbrella's schema makes
`helm install`/`helm template` reject it either way. One source of truth: the subchart's schema;
this module only copies it (plus `enabled` and `global`), and a test keeps the result current.

Descriptions come from `# --` comments, as for every chart (chart_docs): the umbrella's own keys
(`global`, each `<service>.enabled`) from fadi/values.yaml, which must document them; a service's
other keys from its own values.yaml, through its generated schema, unless fadi/values.yaml
documents the key too (its comment wins there).

Adding a FADI service: list it in fadi/Chart.yaml with `condition: <key>.enabled`, document
`<key>.enabled` in fadi/values.yaml, run `make generate`; its schema (if it ships one) is embedded
the same way.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml

from fadi_seldon.dev import chart_docs

UMBRELLA_DIR = "fadi"
SCHEMA_DRAFT = "http://json-schema.org/draft-07/schema#"

# Keys of the umbrella chart itself (not of a service), described in fadi/values.yaml. Helm hands
# `global` to every subchart.
UMBRELLA_PROPERTIES: dict[str, Any] = {"global": {"type": "object"}}
# A service schema without `global` gets this one: Helm fills it in, it is no key of values.yaml.
SERVICE_GLOBAL: dict[str, Any] = {
    "type": "object",
    "description": "Filled in by Helm from the top-level global.",
}


def dependencies(chart_dir: Path) -> list[dict[str, Any]]:
    """The `dependencies` of a chart's Chart.yaml (empty list when none)."""
    meta = yaml.safe_load((chart_dir / "Chart.yaml").read_text(encoding="utf-8")) or {}
    return list(meta.get("dependencies") or [])


def _subchart_dir(chart_dir: Path, dep: dict[str, Any]) -> Path | None:
    repo = str(dep.get("repository") or "")
    if repo.startswith("file://"):
        return (chart_dir / repo[len("file://") :]).resolve()
    return None


def _pointer(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _embed(schema: dict[str, Any], key: str, definitions: dict[str, Any]) -> dict[str, Any]:
    """The subchart schema, re-rooted under properties/<key>; its definitions move to the root."""
    schema = copy.deepcopy(schema)
    local_defs: dict[str, Any] = {}
    for section in ("definitions", "$defs"):
        for name, body in (schema.pop(section, None) or {}).items():
            local_defs[f"{section}/{name}"] = (f"{key}.{name}", body)
    for drop in ("$schema", "$id"):
        schema.pop(drop, None)

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for k, v in node.items():
                if k == "required":
                    # Helm applies the subchart's own schema, required keys included, when it is enabled;
                    # in the umbrella the chart's defaults may be absent (service disabled), so skip them.
                    continue
                if k == "$ref" and isinstance(v, str):
                    out[k] = _rewrite_ref(v)
                else:
                    out[k] = rewrite(v)
            return out
        if isinstance(node, list):
            return [rewrite(v) for v in node]
        return node

    def _rewrite_ref(ref: str) -> str:
        if ref == "#":
            return f"#/properties/{_pointer(key)}"
        for local, (new_name, _) in local_defs.items():
            if ref == f"#/{local}" or ref.startswith(f"#/{local}/"):
                return f"#/definitions/{_pointer(new_name)}" + ref[len(f"#/{local}") :]
        if ref.startswith("#/"):
            return f"#/properties/{_pointer(key)}/" + ref[2:]
        return ref  # remote refs would fail offline in Helm too; leave them for the subchart to fix

    for new_name, body in local_defs.values():
        definitions[new_name] = rewrite(body)
    return rewrite(schema)


def _service(
    chart_dir: Path, dep: dict[str, Any], values: dict, definitions: dict[str, Any]
) -> dict[str, Any]:
    """The property of one dependency: its schema embedded, plus `enabled` (and `global`)."""
    key = dep.get("alias") or dep["name"]
    sub = _subchart_dir(chart_dir, dep)
    schema_file = sub / "values.schema.json" if sub else None
    if schema_file is not None and schema_file.is_file():
        embedded = _embed(json.loads(schema_file.read_text(encoding="utf-8")), key, definitions)
    else:  # no schema to embed: the service's values stay unchecked, but `enabled` is still typed
        embedded = {"type": "object"}
    embedded.setdefault("type", "object")
    props = embedded.setdefault("properties", {})
    block = values.get(key)
    enabled_default = bool(block.get("enabled")) if isinstance(block, dict) else False
    props["enabled"] = {"type": "boolean", "default": enabled_default}
    props.setdefault("global", copy.deepcopy(SERVICE_GLOBAL))
    return embedded


def build(root: Path, strict: bool = False) -> dict[str, Any]:
    """The umbrella schema for the checkout at `root`. With `strict`, a key of the umbrella without
    a `# --` comment in fadi/values.yaml, or a comment of no schema key, is a ValuesDocError."""
    chart_dir = root / UMBRELLA_DIR
    values_file = chart_dir / "values.yaml"
    values = yaml.safe_load(values_file.read_text(encoding="utf-8")) or {}
    properties: dict[str, Any] = copy.deepcopy(UMBRELLA_PROPERTIES)
    definitions: dict[str, Any] = {}
    inherited: set[chart_docs.KeyPath] = set()  # described by the service's own values.yaml
    for dep in dependencies(chart_dir):
        key = dep.get("alias") or dep["name"]
        properties[key] = _service(chart_dir, dep, values, definitions)
        inherited |= {(key,), *((key, *path) for path, _ in chart_docs.schema_properties(properties[key]))}
        inherited.discard((key, "enabled"))
    schema: dict[str, Any] = {
        "$schema": SCHEMA_DRAFT,
        "$comment": "Generated by `make generate` (fadi_seldon.dev.umbrella_schema) from fadi/Chart.yaml and the "
        "schemas of its dependencies; do not edit.",
        "title": "FADI umbrella chart values",
        "description": "Each FADI service is a dependency switched on by `<service>.enabled`. Keys of services "
        "this chart does not package are allowed (Helm ignores them) so a full FADI values file can be used.",
        "type": "object",
        "properties": properties,
    }
    if definitions:
        schema["definitions"] = definitions
    problems = chart_docs.describe_schema(schema, chart_docs.comments(values_file), inherited)
    if strict and problems:
        raise chart_docs.ValuesDocError(f"{values_file}: " + "; ".join(problems))
    return schema


def render(root: Path) -> str:
    """The file content of fadi/values.schema.json (and of its packaged copy)."""
    return chart_docs.render_json(build(root, strict=True))
