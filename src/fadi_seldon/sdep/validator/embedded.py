"""The CRD schema as the validator compiles it: the API server's schema plus what only the operator checks.

The CRD spells a Kubernetes `Quantity` (resources, overhead) as int-or-string, like `IntOrString`
(ports, maxUnavailable): the API server accepts `cpu: one`, and the operator's webhook, decoding the
object into its Go types, refuses it ("quantities must match the regular expression ..."). To check
quantities here, the schema's int-or-string nodes that are quantities get the mark `QUANTITY_MARK`.
They are found by walking the schema's types (`schema.SELDON_DEPLOYMENT`) beside the rendered schema,
and each embedded Kubernetes type beside its definition in kubernetes-validate. The rendered CRD
itself is not changed (`fadi-seldon crd` and the chart stay byte-identical); the walk copies the
nodes it marks.

The same walk finds the Kubernetes types the CRD keeps open (`k8s_openapi.OPAQUE`: affinity, volumes,
lifecycle, ...: `x-kubernetes-preserve-unknown-fields`, to keep the CRD small) and marks each with
its *full* definition (`KUBERNETES_MARK`), which the validator checks on top of the CRD's schema
(rules `k8s-unknown-field`, `k8s-type`). The fields the CRD types itself are left to the CRD's
schema, so the API server's rules keep their ids.
"""

from __future__ import annotations

from typing import Any

from fadi_seldon.sdep import k8s_openapi, schema
from fadi_seldon.sdep.validator.structural import KUBERNETES_MARK, QUANTITY_MARK

Schema = dict[str, Any]
QUANTITY_DEFINITION = "io.k8s.apimachinery.pkg.api.resource.Quantity"
INT_OR_STRING_DEFINITION = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
ANYTHING: Schema = {}  # compiles to a checker that accepts any value


def validator_schema() -> Schema:
    """The CRD's structural schema with quantities and open types marked (a new dict; the CRD's is shared)."""
    return _mark_type(schema.openapi_schema(), schema.SELDON_DEPLOYMENT)


def _mark_type(node: Schema, t: schema.Type) -> Schema:
    """Follow a SeldonDeployment type and its rendered schema down to the embedded Kubernetes types."""
    if isinstance(t, schema.K8s):
        return _mark_k8s(node, {"$ref": "#/$defs/" + t.definition}, k8s_openapi.definitions(), ())
    if isinstance(t, schema.Obj) and isinstance(node.get("properties"), dict):
        props = {k: _mark_type(v, t.fields[k]) if k in t.fields else v for k, v in node["properties"].items()}
        return {**node, "properties": props}
    if isinstance(t, schema.ListOf) and isinstance(node.get("items"), dict):
        return {**node, "items": _mark_type(node["items"], t.items)}
    if isinstance(t, schema.MapOf) and isinstance(node.get("additionalProperties"), dict):
        return {**node, "additionalProperties": _mark_type(node["additionalProperties"], t.values)}
    if (
        isinstance(t, schema.Children)
        and isinstance(node.get("items"), dict)
        and "properties" in node["items"]
    ):
        return {**node, "items": _mark_type(node["items"], schema.PREDICTIVE_UNIT)}
    return node


def _mark_k8s(node: Schema, source: Schema, defs: dict[str, Schema], stack: tuple[str, ...]) -> Schema:
    """Walk a converted Kubernetes schema beside its definition; mark the int-or-string quantities."""
    if "$ref" in source:
        name = source["$ref"].rsplit("/", 1)[-1]
        if name == QUANTITY_DEFINITION:
            return {**node, QUANTITY_MARK: True} if node.get("x-kubernetes-int-or-string") else node
        if name in stack or name not in defs:
            return node
        if name in k8s_openapi.OPAQUE and node.get("x-kubernetes-preserve-unknown-fields"):
            typed = frozenset(node.get("properties") or ())
            return {**node, KUBERNETES_MARK: full_definition(name, typed)}
        source, stack = defs[name], (*stack, name)
    out = node
    source_props = source.get("properties") or {}
    if isinstance(node.get("properties"), dict):
        props = {
            key: _mark_k8s(sub, source_props[key], defs, stack) if key in source_props else sub
            for key, sub in node["properties"].items()
        }
        out = {**out, "properties": props}
    if isinstance(node.get("items"), dict) and isinstance(source.get("items"), dict):
        out = {**out, "items": _mark_k8s(node["items"], source["items"], defs, stack)}
    extra, source_extra = node.get("additionalProperties"), source.get("additionalProperties")
    if isinstance(extra, dict) and isinstance(source_extra, dict):
        out = {**out, "additionalProperties": _mark_k8s(extra, source_extra, defs, stack)}
    return out


_FULL: dict[str, Schema] = {}


def full_definition(name: str, typed: frozenset[str] = frozenset()) -> Schema:
    """A Kubernetes definition in full (no trimming), its fields in `typed` left to the CRD's schema."""
    full = _full_ref(name, k8s_openapi.definitions())
    if not typed or "properties" not in full:
        return full
    key = f"{name}/{','.join(sorted(typed))}"
    if key not in _FULL:
        props = {k: ANYTHING if k in typed else v for k, v in full["properties"].items()}
        _FULL[key] = {**full, "properties": props}
    return _FULL[key]


def _full_ref(name: str, defs: dict[str, Schema]) -> Schema:
    """One definition converted once per process (shared: callers must not mutate it)."""
    if name == QUANTITY_DEFINITION:
        return {"x-kubernetes-int-or-string": True, QUANTITY_MARK: True}
    if name == INT_OR_STRING_DEFINITION:
        return {"x-kubernetes-int-or-string": True}
    if name not in _FULL:
        _FULL[name] = ANYTHING  # a recursive reference accepts anything rather than loop
        _FULL[name] = _full(defs.get(name) or {}, defs)
    return _FULL[name]


def _full(source: Schema, defs: dict[str, Schema]) -> Schema:
    """JSON schema of kubernetes-validate -> the structural form compile_schema reads; nothing dropped."""
    if "$ref" in source:
        return _full_ref(source["$ref"].rsplit("/", 1)[-1], defs)
    kinds = source.get("type")
    kinds = [k for k in kinds if k != "null"] if isinstance(kinds, list) else [kinds]
    if "oneOf" in source or "anyOf" in source or len(kinds) != 1 or kinds[0] is None:
        return ANYTHING
    out: Schema = {"type": kinds[0]}  # enums: the pinned definitions have them for apiVersion/kind only
    if kinds[0] == "array":
        out["items"] = _full(source.get("items") or {}, defs)
    elif kinds[0] == "object":
        props, extra = source.get("properties"), source.get("additionalProperties")
        if props:
            out["properties"] = {key: _full(sub, defs) for key, sub in props.items()}
        elif isinstance(extra, dict):
            out["additionalProperties"] = _full(extra, defs)
        else:
            out["x-kubernetes-preserve-unknown-fields"] = True
    return out
