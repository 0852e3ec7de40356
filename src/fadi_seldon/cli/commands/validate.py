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
    parser.add_argument(
        "--jobs",
        type=output.count_of("processes (0 for one per core)"),
        default=1,
        metavar="N",
        help="check with N processes, large files cut at document starts (0: one per core; default 1); "
        "the findings and their order are the same",
    )
    server_options.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from fadi_seldon.sdep import validator
    from fadi_seldon.sdep.validator import parallel

    try:
        servers = server_options.load(args)
    except server_options.ServersOptionError:
        return ExitCode.USAGE
    jobs = args.jobs or parallel.default_jobs()
    report = validator.Report()
    # text is printed as documents are checked (memory stays flat); json and yaml are one document
    streaming = args.output == "text"
    for part in validator.stream_paths(args.paths, servers=servers, jobs=jobs):
        if streaming and part.findings:
            output.emit(part, "text", _lines)
        report.merge(part, keep=not streaming)
    if streaming:
        _summary(report)
    else:
        output.emit(report.as_dict(), args.output)
    # a file that does not parse is unreadable input, as for every other command: its findings
    # (file:line of the syntax error) are printed like the others, the exit code says "unusable"
    if report.unreadable or report.rules() & UNPARSABLE:
        return ExitCode.USAGE
    if report.errors or (args.strict and report.warnings):
        return ExitCode.FAILED
    return ExitCode.OK


def _lines(report) -> str:
    """One line per finding on stdout (greppable)."""
    lines = []
    for f in report.findings:
        where = f"{f.location()}: " if f.file else ""
        field = f"{f.path}: " if f.path else ""
        lines.append(f"{where}{f.severity} [{f.rule}] {field}{f.message}\n")
    return "".join(lines)


def _summary(report) -> None:
    """With text findings, a summary on stderr (stdout stays greppable)."""
    summary = (
        f"{report.documents} SeldonDeployment document(s): {report.errors} error(s), "
        f"{report.warnings} warning(s); {report.skipped} document(s) of other kinds skipped"
    )
    print(summary, file=sys.stderr)
    if report.documents == 0 and not report.errors and not report.warnings:
        print("note: no SeldonDeployment found in the given paths", file=sys.stderr)
