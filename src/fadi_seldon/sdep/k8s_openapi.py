"""Kubernetes types (PodSpec, Container, ...) for the CRD, from the OpenAPI definitions of the pinned release.

A SeldonDeployment embeds Pod templates, containers, env vars and HPA metrics. Writing those
schemas by hand would drift from Kubernetes, so they are taken from the JSON-schema copy of the
Kubernetes OpenAPI definitions that the PyPI package `kubernetes-validate` ships per release, and
converted into the *structural* form a CRD demands: `$ref` inlined, one `type` per node, no
`nullable`/`oneOf`, int-or-string nodes marked `x-kubernetes-int-or-string`.

Embedding every Kubernetes type in full would make the CRD about 1 MB (upstream's problem: too big
for `kubectl apply`'s last-applied annotation). So conversion trims: descriptions, formats and
list/patch-strategy extensions are dropped, and the definitions in `OPAQUE` become objects that keep
their known top-level fields typed but accept unknown ones (`x-kubernetes-preserve-unknown-fields`).
The Kubernetes API server validates their values when the operator creates the Deployment; an
unknown field there is dropped silently, which `validate` reports (k8s-unknown-field).
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import json
from importlib import resources
from pathlib import Path
from typing import Any

from fadi_seldon.runtime import versions

Schema = dict[str, Any]

_PREFIX = "io.k8s."
INT_OR_STRING = {"x-kubernetes-int-or-string": True}
OPAQUE_OBJECT = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}

# Rarely written in a SeldonDeployment and large once expanded: these keep only their scalar top-level
# fields typed; nested objects in them pass through the API server unchecked (`validate` checks them
# against the full definitions: k8s-unknown-field, k8s-type). Every other type is typed in full, so
# the API server refuses an unknown field in it under strict field validation. The CRD has three
# versions of the schema, so each byte here counts three times against the 200 KiB target
# (tests/test_crd.py): Volume is typed (a typo such as `volumeSource` would otherwise make the volume
# an emptyDir) but its two largest sources, ephemeral and projected (ObjectMeta, PVC spec, label
# selectors: 13 KB of the CRD), stay open. Small types (envFrom, host aliases, DNS config, topology
# spread, scheduling gates, ...) are typed: 2 KB together, several smaller typed than open.
OPAQUE: frozenset[str] = frozenset(
    {
        "io.k8s.api.core.v1.Affinity",
        "io.k8s.api.core.v1.EphemeralContainer",
        "io.k8s.api.core.v1.EphemeralVolumeSource",
        "io.k8s.api.core.v1.Lifecycle",
        "io.k8s.api.core.v1.PodSecurityContext",
        "io.k8s.api.core.v1.ProjectedVolumeSource",
        "io.k8s.api.autoscaling.v2.MetricSpec",
    }
)

# Quantity and IntOrString are `oneOf` string/number in the JSON schema; a CRD spells both as
# int-or-string (what controller-gen emits too, so `cpu: 0.5` must be quoted, as upstream requires).
_INT_OR_STRING_DEFS = frozenset(
    {"io.k8s.apimachinery.pkg.util.intstr.IntOrString", "io.k8s.apimachinery.pkg.api.resource.Quantity"}
)


class KubernetesSchemaError(RuntimeError):
    """The bundled definitions are missing or do not contain a type the CRD needs."""


def _schema_root() -> Path:
    """The package's data folder, found without importing the package: its __init__ loads jsonschema,
    which `validate` does not need (30 ms of its start-up)."""
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or not spec.submodule_search_locations:
        return Path(str(resources.files("kubernetes_validate") / "kubernetes-json-schema"))
    return Path(next(iter(spec.submodule_search_locations))) / "kubernetes-json-schema"


def definitions_dir(kubernetes_version: str | None = None) -> Path:
    """Folder of the definitions for the pinned Kubernetes minor (e.g. v1.36.0-local)."""
    version = kubernetes_version or versions.kubernetes_version()
    major, minor = version.lstrip("v").split(".")[:2]
    path = _schema_root() / f"v{major}.{minor}.0-local"
    if not (path / "_definitions.json").is_file():
        have = sorted(p.name for p in _schema_root().glob("v*-local"))
        raise KubernetesSchemaError(
            f"kubernetes-validate {versions.get('PY_KUBERNETES_VALIDATE')} has no schemas for Kubernetes "
            f"{major}.{minor} (it has {', '.join(have) or 'none'}); bump PY_KUBERNETES_VALIDATE in versions.env"
        )
    return path


@functools.cache
def definitions(kubernetes_version: str | None = None) -> dict[str, Schema]:
    """All definitions of one Kubernetes release, keyed by their full name (io.k8s.api.core.v1.Container)."""
    data = json.loads((definitions_dir(kubernetes_version) / "_definitions.json").read_text(encoding="utf-8"))
    return data.get("$defs") or data["definitions"]


def structural(name: str, kubernetes_version: str | None = None) -> Schema:
    """The structural, trimmed CRD schema of one Kubernetes definition (a fresh copy)."""
    defs = definitions(kubernetes_version)
    if name not in defs:
        raise KubernetesSchemaError(
            f"Kubernetes definition {name} not found in {definitions_dir(kubernetes_version)}"
        )
    return copy.deepcopy(_convert_ref(name, defs, (), opaque_ok=False))


def _convert_ref(
    name: str, defs: dict[str, Schema], stack: tuple[str, ...], opaque_ok: bool = True
) -> Schema:
    if name in _INT_OR_STRING_DEFS:
        return dict(INT_OR_STRING)
    if name in stack:  # a recursive type: stop here rather than loop
        return dict(OPAQUE_OBJECT)
    source = defs[name]
    if opaque_ok and name in OPAQUE:
        return _opaque(source, defs)
    return _convert(source, defs, (*stack, name))


def _opaque(source: Schema, defs: dict[str, Schema]) -> Schema:
    """Keep the scalar fields of a trimmed type typed; the rest of it passes through."""
    out: Schema = {"type": "object"}
    props = {}
    for key, sub in (source.get("properties") or {}).items():
        kind = _single_type(sub)
        if kind in ("string", "integer", "number", "boolean") and "$ref" not in sub:
            props[key] = {"type": kind}
    if props:
        out["properties"] = props
    required = [r for r in source.get("required", []) if r in props]
    if required:
        out["required"] = required
    out["x-kubernetes-preserve-unknown-fields"] = True
    return out


def _single_type(schema: Schema) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        return kinds[0] if len(kinds) == 1 else None
    return kind


def _convert(source: Schema, defs: dict[str, Schema], stack: tuple[str, ...]) -> Schema:
    if "$ref" in source:
        return _convert_ref(source["$ref"].rsplit("/", 1)[-1], defs, stack)
    if "oneOf" in source or "anyOf" in source:
        return (
            dict(OPAQUE_OBJECT)
            if source.get("type") == "object"
            else {"x-kubernetes-preserve-unknown-fields": True}
        )
    kind = _single_type(source)
    if kind is None:
        return {"x-kubernetes-preserve-unknown-fields": True}
    out: Schema = {"type": kind}
    if "enum" in source:
        out["enum"] = [v for v in source["enum"] if v is not None]
    if kind == "array":
        out["items"] = _convert(source.get("items") or {}, defs, stack)
    elif kind == "object":
        props = source.get("properties")
        extra = source.get("additionalProperties")
        if props:
            out["properties"] = {key: _convert(sub, defs, stack) for key, sub in props.items()}
            required = [r for r in source.get("required", []) if r in props]
            if required:
                out["required"] = required
        elif isinstance(extra, dict):
            out["additionalProperties"] = _convert(extra, defs, stack)
        else:
            out["x-kubernetes-preserve-unknown-fields"] = True
    return out
