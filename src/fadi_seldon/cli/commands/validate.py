"""`fadi-seldon validate`: check SeldonDeployment manifests offline, before the cluster does."""

from __future__ import annotations

import argparse
import sys

from fadi_seldon.cli import exit_codes, output, server_options
from fadi_seldon.cli.exit_codes import ExitCode

EPILOG = """\
Checks the CRD schema (the same one `fadi-seldon crd` prints), the operator's admission webhook
rules, and problems the cluster would only report later. Each finding has a rule id documented in
docs/validation-rules.md.

""" + exit_codes.notes(
    {
        ExitCode.OK: "no errors (warnings allowed unless --strict)",
        ExitCode.FAILED: "errors (or warnings, with --strict)",
        ExitCode.USAGE: "usage error or unreadable input (a missing path, a binary file, a YAML or JSON "
        "syntax error, a bad --servers or --values)",
    }
)


# rules of a file that cannot be parsed at all (the loader's), as opposed to findings in its content
UNPARSABLE = frozenset({"yaml-syntax", "unreadable"})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="manifest files, directories (searched for *.yaml, *.yml, *.json) or - for stdin",
    )
    output.add_output_argument(parser)
    parser.add_argument("--strict", action="store_true", help="fail (exit 1) on warnings too")
    server_options.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from fadi_seldon.sdep import validator

    try:
        servers = server_options.load(args)
    except server_options.ServersOptionError:
        return ExitCode.USAGE
    report = validator.validate_paths(args.paths, servers=servers)
    output.emit(report.as_dict(), args.output, lambda _: _text(report))
    # a file that does not parse is unreadable input, as for every other command: its findings
    # (file:line of the syntax error) are printed like the others, the exit code says "unusable"
    if report.unreadable or any(f.rule in UNPARSABLE for f in report.findings):
        return ExitCode.USAGE
    if report.errors or (args.strict and report.warnings):
        return ExitCode.FAILED
    return ExitCode.OK


def _text(report) -> str:
    """One line per finding on stdout; the summary goes to stderr (stdout stays greppable)."""
    lines = []
    for f in report.findings:
        where = f"{f.location()}: " if f.file else ""
        field = f"{f.path}: " if f.path else ""
        lines.append(f"{where}{f.severity} [{f.rule}] {field}{f.message}\n")
    summary = (
        f"{report.documents} SeldonDeployment document(s): {report.errors} error(s), "
        f"{report.warnings} warning(s); {report.skipped} document(s) of other kinds skipped"
    )
    print(summary, file=sys.stderr)
    if report.documents == 0 and not report.findings:
        print("note: no SeldonDeployment found in the given paths", file=sys.stderr)
    return "".join(lines)
