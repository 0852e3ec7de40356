"""Check a FADI values file against the umbrella chart's values.schema.json, with line numbers.

`helm install` rejects the same mistakes, but names no line and only after the chart is
fetched; this check runs offline on the file the user edits. The values are read as Helm reads
them (YAML 1.1 booleans, nulls remove a default), and the user's file is checked on its own:
keys the chart's defaults provide are not required in it.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import jsonschema

from fadi_seldon.runtime import versions
from fadi_seldon.values.document import SELDON_KEY, ValuesDocument, format_path, location, to_plain

SCHEMA_IN_CHECKOUT = Path("fadi") / "values.schema.json"
SCHEMA_PACKAGED = Path(__file__).parents[1].joinpath("data") / "fadi-values.schema.json"


@dataclass
class Finding:
    file: str
    line: int
    column: int
    path: str
    severity: str  # "error" or "warning"
    message: str

    def text(self) -> str:
        where = f" {self.path}:" if self.path else ""
        return f"{self.file}:{self.line}:{self.column}: {self.severity}:{where} {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def schema_path() -> Path:
    """The umbrella schema of the checkout, or the copy shipped in the package."""
    root = versions.repo_root()
    if root is not None and (root / SCHEMA_IN_CHECKOUT).is_file():
        return root / SCHEMA_IN_CHECKOUT
    return SCHEMA_PACKAGED


def load_schema(path: Path | None = None) -> dict[str, Any]:
    path = path or schema_path()
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise FileNotFoundError(f"{path}: cannot read the values schema: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: the values schema is not UTF-8 text (a JSON Schema file)") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}:{err.lineno}: the values schema is not valid JSON: {err.msg}") from None
    if not isinstance(schema, dict):  # jsonschema would fail on it with a traceback
        names = {list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
        kind = names.get(type(schema), "a number")
        raise ValueError(f"{path}:1: the values schema must be a JSON object (a JSON Schema), got {kind}")
    return schema


def check(doc: ValuesDocument, schema: dict[str, Any]) -> list[Finding]:
    """Every schema violation in the file, plus warnings for top-level keys the chart does not use."""
    instance = to_plain(doc.data)
    validator = jsonschema.Draft7Validator(schema)
    findings: list[Finding] = []
    for error in validator.iter_errors(instance):
        findings.extend(_findings(doc, error))
    findings.extend(_top_level(doc, schema))
    unique = {(f.line, f.column, f.path, f.severity, f.message): f for f in findings}
    return sorted(unique.values(), key=lambda f: (f.line, f.column, f.path, f.message))


def operator_errors(doc: ValuesDocument, schema: dict[str, Any]) -> list[Finding]:
    """The errors that concern the operator chart's values, in a FADI file (under
    `seldon-core-operator`, and the `global` Helm hands down) or in the operator chart's own file
    (checked against the umbrella's `seldon-core-operator` schema). For readers of those values
    (`fadi-seldon images`): a value of the wrong type would otherwise end up in what they print."""
    operator = (schema.get("properties") or {}).get(SELDON_KEY)
    if SELDON_KEY in doc.data or not isinstance(operator, dict):
        found = [f for f in check(doc, schema) if f.path.split(".")[0] in (SELDON_KEY, "global")]
    else:
        validator = jsonschema.Draft7Validator(operator)
        found = [f for e in validator.iter_errors(to_plain(doc.data)) for f in _findings(doc, e)]
    return sorted((f for f in found if f.severity == "error"), key=lambda f: (f.line, f.column, f.path))


def _findings(doc: ValuesDocument, error: jsonschema.ValidationError) -> list[Finding]:
    path = list(error.absolute_path)
    if error.validator == "required":
        return []  # the chart's own defaults provide required keys
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = sorted((error.schema.get("properties") or {}).keys())
        out = []
        for key in _extra_keys(error.instance, error.schema):
            line, col = location(doc.data, [*path, key])
            out.append(
                Finding(
                    str(doc.path),
                    line,
                    col,
                    format_path([*path, key]),
                    "error",
                    f"unknown key {key!r}{_did_you_mean(key, known)}",
                )
            )
        return out
    line, col = location(doc.data, path)
    return [Finding(str(doc.path), line, col, format_path(path), "error", _message(error))]


def _extra_keys(instance: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    props = schema.get("properties") or {}
    patterns = [re.compile(p) for p in (schema.get("patternProperties") or {})]
    return [k for k in instance if k not in props and not any(p.search(k) for p in patterns)]


def _did_you_mean(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    if known and len(known) <= 12:
        return f"; known keys here: {', '.join(known)}"
    return ""


def _message(error: jsonschema.ValidationError) -> str:
    value = error.instance
    if error.validator == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        return f"expected {expected}, got {_json_type(value)} {json.dumps(value)[:80]}"
    if error.validator == "enum":
        allowed = ", ".join(json.dumps(v) for v in error.validator_value)
        return f"{json.dumps(value)[:80]} is not allowed; use one of: {allowed}"
    return error.message


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _top_level(doc: ValuesDocument, schema: dict[str, Any]) -> list[Finding]:
    """Keys for services this chart does not package are ignored by Helm: say so, and catch typos."""
    if schema.get("additionalProperties") is False:
        return []  # the schema itself reports them
    known = sorted((schema.get("properties") or {}).keys())
    out = []
    for key in doc.data:
        key = str(key)
        if key in known:
            continue
        line, col = location(doc.data, [key])
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.85)
        if close:
            out.append(
                Finding(
                    str(doc.path),
                    line,
                    col,
                    key,
                    "error",
                    f"unknown service {key!r} (did you mean {close[0]!r}?)",
                )
            )
        else:
            out.append(
                Finding(
                    str(doc.path),
                    line,
                    col,
                    key,
                    "warning",
                    "not a service of this chart; Helm ignores it",
                )
            )
    return out
