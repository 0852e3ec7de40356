"""`fadi-seldon values`: switch Seldon Core on or off in a FADI values file, read, set and check it.

Edits change only the lines they must (see fadi_seldon.values.document), refuse to leave the file
invalid against the umbrella schema, and keep the previous content in FILE.bak.
Exit codes: 0 done, 1 check found errors / key not set / edit refused, 2 unusable input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from fadi_seldon.values import check as values_check
from fadi_seldon.values import document as vf

HELP = "enable, disable, get, set or check Seldon in a FADI values file"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        "Keys are dotted paths under seldon-core-operator (image.tag, singleNamespace). "
        "Example: fadi-seldon values enable --file values.yaml --dry-run"
    )
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    enable = sub.add_parser(
        "enable", help="set seldon-core-operator.enabled: true (adds the block if missing)"
    )
    disable = sub.add_parser("disable", help="set seldon-core-operator.enabled: false (keeps its settings)")
    setp = sub.add_parser("set", help="set KEY=VALUE under seldon-core-operator (VALUE typed as YAML)")
    setp.add_argument(
        "assignments", nargs="+", metavar="KEY=VALUE", help="e.g. singleNamespace=true image.tag=1.17.1"
    )
    get = sub.add_parser("get", help="print a key under seldon-core-operator (default: the whole block)")
    get.add_argument("key", nargs="?", metavar="KEY", help="dotted path, e.g. usageMetrics.enabled")
    check = sub.add_parser("check", help="validate the file against the umbrella chart's values.schema.json")
    check.add_argument("--strict", action="store_true", help="warnings (unused top-level keys) fail too")
    for p in (enable, disable, setp, get, check):
        p.add_argument(
            "-f", "--file", required=True, type=Path, metavar="VALUES", help="the FADI values file"
        )
        p.add_argument("--schema", type=Path, help="umbrella values.schema.json (default: the chart's)")
    for p in (enable, disable, setp):
        p.add_argument("--dry-run", action="store_true", help="print the diff, write nothing")
        p.add_argument("--no-backup", dest="backup", action="store_false", help="do not keep FILE.bak")
        p.add_argument("--force", action="store_true", help="write even if the result fails the schema check")
    for p in (get, check):
        p.add_argument("--output", choices=("text", "json"), default="text")


def run(args: argparse.Namespace) -> int:
    try:
        if args.action == "check":
            return _check(args)
        if args.action == "get":
            return _get(args)
        return _edit(args)
    except vf.ValuesFileError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except (FileNotFoundError, ValueError) as err:  # an unreadable or broken schema file
        print(f"error: {err}", file=sys.stderr)
        return 2


def _schema(args) -> dict[str, Any]:
    return values_check.load_schema(args.schema)


def _edit(args) -> int:
    doc = vf.read(args.file)
    schema = _schema(args)
    before = {_key(f) for f in values_check.check(doc, schema) if f.severity == "error"}
    if not args.dry_run:
        vf.check_writable(args.file)  # fail before any work, the file untouched
    edits = _apply(doc, args)
    if not any(e.changed for e in edits):
        for e in edits:
            print(e.summary)
        print(f"{args.file}: nothing to change")
        return 0
    new_text = vf.render(doc)
    introduced = [
        f
        for f in values_check.check(vf.read_text(doc, new_text), schema)
        if f.severity == "error" and _key(f) not in before
    ]
    if args.dry_run:
        sys.stdout.write(vf.unified_diff(doc, new_text))
        for f in introduced:
            print(f"would be invalid: {f.text()}", file=sys.stderr)
        print(f"(dry run: {args.file} not written)", file=sys.stderr)
        return 1 if introduced and not args.force else 0
    if introduced and not args.force:
        for f in introduced:
            print(f"error: {f.text()}", file=sys.stderr)
        print(
            f"error: {args.file} left unchanged: the edit would fail the chart's schema (--force to write anyway)",
            file=sys.stderr,
        )
        return 1
    backup = vf.write(doc, new_text, backup=args.backup)
    for e in edits:
        print(e.summary)
    note = f" (previous content in {backup})" if backup else ""
    print(f"wrote {args.file}{note}")
    if args.action == "enable":
        print(f"next: make install VALUES={args.file}   (helm upgrade --install fadi ./fadi -f {args.file})")
    return 0


def _apply(doc: vf.ValuesDocument, args) -> list[vf.Edit]:
    if args.action == "enable":
        return [vf.enable(doc)]
    if args.action == "disable":
        return [vf.disable(doc)]
    edits = []
    for assignment in args.assignments:
        key, sep, raw = assignment.partition("=")
        if not sep or not key:
            raise vf.ValuesFileError(f"{assignment!r}: expected KEY=VALUE, e.g. singleNamespace=true")
        edits.append(vf.set_value(doc, vf.seldon_path(key), vf.parse_scalar(raw)))
    return edits


def _key(f: values_check.Finding) -> tuple[str, str]:
    return (f.path, f.message)


def _get(args) -> int:
    doc = vf.read(args.file)
    path = vf.seldon_path(args.key)
    node = vf.lookup(doc.data, path)
    dotted = vf.format_path(path)
    found = not vf.is_missing(node)
    default = _schema_default(_schema(args), path) if not found else None
    if args.output == "json":
        out = {
            "file": str(args.file),
            "path": dotted,
            "found": found,
            "value": vf.to_plain(node) if found else None,
        }
        if not found:
            out["default"] = default
        print(json.dumps(out, indent=2))
        return 0 if found else 1
    if not found:
        hint = f"; the chart default applies: {json.dumps(default)}" if default is not None else ""
        print(f"{dotted} is not set in {args.file}{hint}", file=sys.stderr)
        return 1
    plain = vf.to_plain(node)
    if isinstance(plain, dict | list):
        sys.stdout.write(
            yaml.safe_dump(plain, sort_keys=False, allow_unicode=True) if plain else json.dumps(plain) + "\n"
        )
    else:
        print(json.dumps(plain) if not isinstance(plain, str) else plain)
    return 0


def _schema_default(schema: dict[str, Any], path: list[str]) -> Any:
    node = schema
    for key in path:
        node = (node.get("properties") or {}).get(key)
        if not isinstance(node, dict):
            return None
    return node.get("default")


def _check(args) -> int:
    doc = vf.read(args.file)
    findings = values_check.check(doc, _schema(args))
    errors = sum(f.severity == "error" for f in findings)
    warnings = len(findings) - errors
    if args.output == "json":
        out = {
            "file": str(args.file),
            "schema": str(args.schema or values_check.schema_path()),
            "errors": errors,
            "warnings": warnings,
            "findings": [f.as_dict() for f in findings],
        }
        print(json.dumps(out, indent=2))
    else:
        for f in findings:
            print(f.text())
        status = "invalid" if errors else "valid"
        print(f"{args.file}: {status} ({errors} error(s), {warnings} warning(s))")
    return 1 if errors or (args.strict and warnings) else 0
