"""Check an object against a structural CRD schema the way the API server does.

The schema dict is compiled once into a tree of small checker closures (no per-document schema
walking, no generic JSON-schema engine), which is what makes validating hundreds of documents a
second possible. Semantics follow apiextensions: a null field is pruned (treated as absent), unknown
fields are reported (kubectl's default strict field validation rejects them), int-or-string accepts
integers and strings, preserve-unknown-fields accepts anything it does not describe.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any, NamedTuple


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
    if schema.get("x-kubernetes-int-or-string"):
        return _int_or_string
    kind = schema.get("type")
    preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
    if kind is None:
        return _anything
    test = _TYPE_TEST[kind]
    enum = tuple(schema.get("enum") or ())
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


def _anything(value: Any, path: tuple, out: list[Issue]) -> None:
    return None


def _int_or_string(value: Any, path: tuple, out: list[Issue]) -> None:
    if value is None or isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return
    hint = f'; quote it: "{value:g}"' if isinstance(value, float) else ""
    out.append(Issue(path, "schema-type", f"must be an integer or a string, got {_describe(value)}{hint}"))


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
                        f'unknown field "{key}" (kubectl apply rejects it; clients without strict field validation '
                        f"have it dropped silently){hint}",
                    )
                )
        for name in required:
            if value.get(name) is None:
                out.append(Issue((*path, name), "schema-required", f"Required value: add {name}"))

    return check
