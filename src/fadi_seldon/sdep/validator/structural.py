"""Check an object against a structural CRD schema the way the API server does.

The schema dict is compiled once into a tree of small checker closures (no per-document schema
walking, no generic JSON-schema engine), which is what makes validating hundreds of documents a
second possible. Semantics follow apiextensions: a null field is pruned (treated as absent), unknown
fields are reported (kubectl's default strict field validation rejects them), int-or-string accepts
integers and strings, preserve-unknown-fields accepts anything it does not describe.

Two marks that never appear in the CRD add what the operator checks beyond it (validator.embedded
places them): `QUANTITY_MARK` on an int-or-string that is a Kubernetes quantity (schema-quantity),
`KUBERNETES_MARK` holding the full definition of a Kubernetes type the CRD keeps open (k8s-*).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any, NamedTuple

from fadi_seldon.sdep import quantity

# Marks an int-or-string node that is a Kubernetes Quantity (validator-only, see validator.embedded)
QUANTITY_MARK = "x-fadi-quantity"
# On a Kubernetes type the CRD keeps open: its full definition, checked on top (validator-only)
KUBERNETES_MARK = "x-fadi-kubernetes"
# On a string field of a Kubernetes type: the values the API server accepts on the objects the operator
# builds (the CRD does not list them: k8s-enum, validator-only)
ENUM_MARK = "x-fadi-k8s-enum"
_STRICT_NOTE = "(kubectl apply rejects it; clients without strict field validation have it dropped silently)"
_OPEN_NOTE = (
    "(this CRD keeps the Kubernetes type open, so its API server accepts it, but the operator drops it: "
    "it has no effect; upstream's CRD refuses it)"
)
# what a finding in the full definition of an open Kubernetes type is reported as
_KUBERNETES_RULES = {"schema-type": "k8s-type", "schema-unknown-field": "k8s-unknown-field"}


class Issue(NamedTuple):
    """A rule violation before it is located in a file."""

    path: tuple
    rule: str
    message: str


Checker = Callable[[Any, tuple, list[Issue]], None]


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"number {value:g}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f'string "{shown}"'
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


_TYPE_TEST: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
}

_HINT = {
    "integer": "write a whole number without quotes",
    "string": "quote the value",
    "boolean": "write true or false without quotes",
    "array": "write a YAML list (items starting with '- ')",
    "object": "write a mapping of field: value",
}


def _type_message(kind: str, value: Any) -> str:
    hint = _HINT.get(kind, "")
    if kind == "integer" and isinstance(value, str) and value.strip().lstrip("-").isdigit():
        hint = f"write {value.strip()} without quotes"
    if kind == "string" and isinstance(value, int | float | bool):
        hint = f'quote it: "{value if not isinstance(value, bool) else str(value).lower()}"'
    article = "an" if kind[0] in "aeiou" else "a"
    return f"must be {article} {kind}, got {_describe(value)}" + (f"; {hint}" if hint else "")


def compile_schema(schema: dict[str, Any], root: bool = False) -> Checker:
    """Compile a structural schema into a checker(value, path, issues).

    At the root, `metadata` is the object's ObjectMeta: the API server validates it with its own
    code, not with the schema (which may only say `type: object`), so it is left to other rules.
    """
    if KUBERNETES_MARK in schema:
        crd = compile_schema({k: v for k, v in schema.items() if k != KUBERNETES_MARK}, root)
        return _with_full_definition(crd, _compile_full(schema[KUBERNETES_MARK]))
    if schema.get("x-kubernetes-int-or-string"):
        return _quantity if schema.get(QUANTITY_MARK) else _int_or_string
    kind = schema.get("type")
    preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
    if kind is None:
        return _anything
    test = _TYPE_TEST[kind]
    enum = tuple(schema.get("enum") or ())
    if kind == "string" and ENUM_MARK in schema:
        return _k8s_enum(_scalar(kind, test, enum, schema.get("maxLength")), tuple(schema[ENUM_MARK]))
    if kind == "array":
        return _array(
            test,
            compile_schema(schema.get("items") or {"x-kubernetes-preserve-unknown-fields": True}),
            schema.get("maxItems"),
        )
    if kind == "object":
        props = {key: compile_schema(s) for key, s in (schema.get("properties") or {}).items()}
        if root and "metadata" in props:
            props["metadata"] = _anything
        extra = schema.get("additionalProperties")
        values = compile_schema(extra) if isinstance(extra, dict) else None
        required = tuple(schema.get("required") or ())
        return _object(props, values, required, preserve)
    return _scalar(kind, test, enum, schema.get("maxLength"))


_COMPILED: dict[int, tuple[dict, Checker]] = {}


def _compile_full(full: dict[str, Any]) -> Checker:
    """Full definitions are shared dicts (validator.embedded): compile each once, however often it occurs."""
    hit = _COMPILED.get(id(full))
    if hit is None or hit[0] is not full:
        hit = _COMPILED[id(full)] = (full, compile_schema(full))
    return hit[1]


def _with_full_definition(crd: Checker, full: Checker) -> Checker:
    """The CRD's checks, then the full Kubernetes definition's, reported under the k8s-* rule ids."""

    def check(value: Any, path: tuple, out: list[Issue]) -> None:
        crd(value, path, out)
        if not isinstance(value, dict):
            return  # the CRD's schema reported it
        found: list[Issue] = []
        full(value, path, found)
        for issue in found:
            rule = _KUBERNETES_RULES.get(issue.rule, issue.rule)
            out.append(Issue(issue.path, rule, issue.message.replace(_STRICT_NOTE, _OPEN_NOTE)))

    return check


def _anything(value: Any, path: tuple, out: list[Issue]) -> None:
    return None


def _int_or_string(value: Any, path: tuple, out: list[Issue]) -> None:
    if value is None or isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return
    hint = f'; quote it: "{value:g}"' if isinstance(value, float) else ""
    out.append(Issue(path, "schema-type", f"must be an integer or a string, got {_describe(value)}{hint}"))


def _quantity(value: Any, path: tuple, out: list[Issue]) -> None:
    if not isinstance(value, str) or quantity.is_quantity(value):
        _int_or_string(value, path, out)
        return
    name = str(path[-1]) if path else ""
    examples = {"cpu": "500m or 2", "memory": "512Mi or 1Gi", "ephemeral-storage": "1Gi"}.get(name)
    fix = quantity.hint(value)
    fix = f"did you mean {fix}? " if fix else ""
    example = f"e.g. {examples}" if examples else quantity.EXAMPLES
    out.append(
        Issue(
            path,
            "schema-quantity",
            f"{_describe(value)} is not a Kubernetes quantity: the operator's webhook refuses it "
            f"({quantity.UPSTREAM_MESSAGE}); {fix}write a number with an optional suffix, {example}",
        )
    )


def _scalar(kind: str, test: Callable[[Any], bool], enum: tuple, max_length: int | None) -> Checker:
    allowed = ", ".join(f'"{e}"' for e in enum if e)

    def check(value: Any, path: tuple, out: list[Issue]) -> None:
        if value is None:
            return
        if not test(value):
            out.append(Issue(path, "schema-type", _type_message(kind, value)))
        elif max_length is not None and len(value) > max_length:
            out.append(
                Issue(
                    path,
                    "schema-limit",
                    f"Too long: may not be more than {max_length} characters (got {len(value)}); shorten it",
                )
            )
        elif enum and value not in enum:
            close = difflib.get_close_matches(
                str(value).upper(), [e.upper() for e in enum if e], n=1, cutoff=0.6
            )
            hint = ""
            if close:
                hint = "; did you mean " + next(f'"{e}"' for e in enum if e.upper() == close[0]) + "?"
            out.append(
                Issue(path, "schema-enum", f'Unsupported value "{value}": supported values: {allowed}{hint}')
            )

    return check


def _k8s_enum(scalar: Checker, values: tuple) -> Checker:
    """The CRD's own check, then the enum the API server applies to the operator's Deployment
    ("" is the unset value Kubernetes defaults)."""
    allowed = ", ".join(f'"{v}"' for v in values if v)

    def check(value: Any, path: tuple, out: list[Issue]) -> None:
        scalar(value, path, out)
        if isinstance(value, str) and value and value not in values:
            by_upper = {v.upper(): v for v in values if v}
            close = difflib.get_close_matches(value.upper(), list(by_upper), n=1, cutoff=0.6)
            hint = f'; did you mean "{by_upper[close[0]]}"?' if close else ""
            out.append(
                Issue(
                    path,
                    "k8s-enum",
                    f'Unsupported value: "{value}": supported values: {allowed}{hint} (the CRD accepts it; the '
                    "API server refuses the Deployment the operator builds, and the SeldonDeployment ends Failed)",
                )
            )

    return check


def _array(test: Callable[[Any], bool], items: Checker, max_items: int | None) -> Checker:
    def check(value: Any, path: tuple, out: list[Issue]) -> None:
        if value is None:
            return
        if not test(value):
            out.append(Issue(path, "schema-type", _type_message("array", value)))
            return
        if max_items is not None and len(value) > max_items:
            out.append(
                Issue(
                    path,
                    "schema-limit",
                    f"Too many: {len(value)}: must have at most {max_items} items; split the deployment",
                )
            )
        for i, item in enumerate(value):
            if item is None:
                out.append(
                    Issue((*path, i), "schema-type", "a list item must not be null; remove the empty '-'")
                )
            else:
                items(item, (*path, i), out)

    return check


def _object(props: dict[str, Checker], values: Checker | None, required: tuple, preserve: bool) -> Checker:
    known = sorted(props)

    def check(value: Any, path: tuple, out: list[Issue]) -> None:
        if value is None:
            return
        if not isinstance(value, dict):
            out.append(Issue(path, "schema-type", _type_message("object", value)))
            return
        for key, sub in value.items():
            checker = props.get(key) if isinstance(key, str) else None
            if checker is not None:
                checker(sub, (*path, key), out)
            elif values is not None:
                values(sub, (*path, str(key)), out)
            elif not preserve:
                close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.7)
                hint = f'; did you mean "{close[0]}"?' if close else ""
                if not known:
                    hint = "; this object has no fields"
                out.append(
                    Issue(
                        (*path, str(key)),
                        "schema-unknown-field",
                        f'unknown field "{key}" {_STRICT_NOTE}{hint}',
                    )
                )
        for name in required:
            if value.get(name) is None:
                out.append(Issue((*path, name), "schema-required", f"Required value: add {name}"))

    return check
