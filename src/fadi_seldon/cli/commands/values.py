"""`fadi-seldon values`: switch Seldon Core on or off in a FADI values file, read, set and check it.

Edits change only the lines they must (see fadi_seldon.values.document), refuse to leave the file
invalid against the umbrella schema, and keep the previous content in FILE.bak.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from fadi_seldon.cli import exit_codes, output
from fadi_seldon.cli.errors import CliError, usage
from fadi_seldon.cli.exit_codes import ExitCode
from fadi_seldon.values import check as values_check
from fadi_seldon.values import document as vf

EPILOG = (
    "Keys are dotted paths under seldon-core-operator (image.tag, singleNamespace).\n"
    "example: fadi-seldon values enable --file values.yaml --dry-run\n\n"
    + exit_codes.notes(
        {
            ExitCode.OK: "done (or nothing to change)",
            ExitCode.FAILED: "check found errors, the key is not set, or the edit was refused",
            ExitCode.USAGE: "the values file (or --schema) is missing or unusable, a bad KEY=VALUE, or "
            "--no-backup with --dry-run",
        }
    )
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
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
    for p in (get, check, enable, disable, setp):
        output.add_output_argument(p)


def run(args: argparse.Namespace) -> int:
    try:
        if args.action == "check":
            return _check(args)
        if args.action == "get":
            return _get(args)
        return _edit(args)
    except vf.ValuesFileError as err:
        raise CliError(str(err), ExitCode(err.exit_code)) from None
    except (FileNotFoundError, ValueError) as err:  # an unreadable or broken schema file
        raise usage(str(err)) from None


def _schema(args) -> dict[str, Any]:
    return values_check.load_schema(args.schema)


def _edit(args) -> int:
    if args.dry_run and not args.backup:
        raise usage("--no-backup goes with a write; --dry-run writes nothing (drop one of them)")
    doc = vf.read(args.file)
    schema = _schema(args)
    before = {_key(f) for f in values_check.check(doc, schema) if f.severity == "error"}
    if not args.dry_run:
        vf.check_writable(args.file)  # fail before any work, the file untouched
    edits = _apply(doc, args)
    result: dict[str, Any] = {
        "file": str(args.file),
        "action": args.action,
        "changed": any(e.changed for e in edits),
        "edits": [e.summary for e in edits],
        "dry_run": args.dry_run,
        "written": False,
    }
    if not result["changed"]:
        output.emit(
            result, args.output, lambda _: "\n".join([*result["edits"], f"{args.file}: nothing to change"])
        )
        return ExitCode.OK
    new_text = vf.render(doc)
    introduced = [
        f
        for f in values_check.check(vf.read_text(doc, new_text), schema)
        if f.severity == "error" and _key(f) not in before
    ]
    if args.dry_run:
        return _dry_run(args, result, vf.unified_diff(doc, new_text), introduced)
    if introduced and not args.force:
        raise CliError(
            f"{args.file} left unchanged: the edit would fail the chart's schema: "
            + "; ".join(f.text() for f in introduced),
            hint="--force writes it anyway",
            details={"findings": [f.as_dict() for f in introduced]},
        )
    backup = vf.write(doc, new_text, backup=args.backup)
    result.update(written=True, backup=str(backup) if backup else None)
    output.emit(result, args.output, _edit_text)
    return ExitCode.OK


def _edit_text(result: dict[str, Any]) -> str:
    """What changed, the file written (and its backup), and for `enable` the next step."""
    path = result["file"]
    note = f" (previous content in {result['backup']})" if result.get("backup") else ""
    lines = [*result["edits"], f"wrote {path}{note}"]
    if result["action"] == "enable":
        lines.append(f"next: make install VALUES={path}   (helm upgrade --install fadi ./fadi -f {path})")
    return "\n".join(lines)


def _dry_run(args, result: dict[str, Any], diff: str, introduced: list) -> int:
    """The diff on stdout (in the result under -o json|yaml), what would be invalid on stderr; nothing
    written. Findings the edit would introduce fail it (exit 1) unless --force, as the write would."""
    result.update(diff=diff, invalid=[f.as_dict() for f in introduced])
    for f in introduced:
        print(f"would be invalid: {f.text()}", file=sys.stderr)
    print(f"(dry run: {args.file} not written)", file=sys.stderr)
    output.emit(result, args.output, lambda r: r["diff"])
    return ExitCode.FAILED if introduced and not args.force else ExitCode.OK


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
    result: dict[str, Any] = {
        "file": str(args.file),
        "path": dotted,
        "found": found,
        "value": vf.to_plain(node) if found else None,
    }
    if not found:
        result["default"] = _schema_default(_schema(args), path)
        if args.output == "text":
            default = result["default"]
            hint = f"; the chart default applies: {json.dumps(default)}" if default is not None else ""
            print(f"{dotted} is not set in {args.file}{hint}", file=sys.stderr)
            return ExitCode.FAILED
    output.emit(result, args.output, _value_text)
    return ExitCode.OK if found else ExitCode.FAILED


def _value_text(result: dict[str, Any]) -> str:
    """The value alone, as a shell reads it: a string bare, a scalar in JSON, a block as YAML."""
    plain = result["value"]
    if isinstance(plain, dict | list) and plain:
        return output.render(plain, "yaml")
    return (plain if isinstance(plain, str) else json.dumps(plain)) + "\n"


def _schema_default(schema: dict[str, Any], path: list[str]) -> Any:
    node: Any = schema
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
    result = {
        "file": str(args.file),
        "schema": str(args.schema or values_check.schema_path()),
        "errors": errors,
        "warnings": warnings,
        "findings": [f.as_dict() for f in findings],
    }

    def text(_) -> str:
        status = "invalid" if errors else "valid"
        lines = [f.text() for f in findings]
        return "\n".join([*lines, f"{args.file}: {status} ({errors} error(s), {warnings} warning(s))"])

    output.emit(result, args.output, text)
    return ExitCode.FAILED if errors or (args.strict and warnings) else ExitCode.OK
