"""`fadi-seldon validate`: check SeldonDeployment manifests offline, before the cluster does."""

from __future__ import annotations

import argparse
import json
import sys

HELP = "validate SeldonDeployment manifests offline"

EPILOG = """\
Checks the CRD schema (the same one `fadi-seldon crd` prints), the operator's admission webhook
rules, and problems the cluster would only report later. Each finding has a rule id documented in
docs/validation-rules.md.

exit codes: 0 no errors (warnings allowed unless --strict), 1 errors, 2 usage error or unreadable input
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="manifest files, directories (searched for *.yaml, *.yml, *.json) or - for stdin",
    )
    parser.add_argument("--output", "-o", choices=("text", "json"), default="text", help="report format")
    parser.add_argument("--strict", action="store_true", help="fail (exit 1) on warnings too")
    parser.add_argument(
        "--servers",
        metavar="FILE",
        help="predictor servers your operator is configured with: the chart's values file, a seldon-config "
        "ConfigMap, a predictor_servers map or a list of names (default: the chart's defaults)",
    )


def run(args: argparse.Namespace) -> int:
    from fadi_seldon.sdep import predictor_servers, validator

    servers = None
    if args.servers:
        try:
            servers = predictor_servers.load_servers_file(args.servers)
        except predictor_servers.ServersFileError as err:
            print(f"error: --servers {err}", file=sys.stderr)
            return 2
    report = validator.validate_paths(args.paths, servers=servers)
    if args.output == "json":
        json.dump(report.as_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print_text(report)
    if report.unreadable:
        return 2
    if report.errors or (args.strict and report.warnings):
        return 1
    return 0


def _print_text(report) -> None:
    for f in report.findings:
        where = f"{f.location()}: " if f.file else ""
        field = f"{f.path}: " if f.path else ""
        print(f"{where}{f.severity} [{f.rule}] {field}{f.message}")
    summary = (
        f"{report.documents} SeldonDeployment document(s): {report.errors} error(s), "
        f"{report.warnings} warning(s); {report.skipped} document(s) of other kinds skipped"
    )
    print(summary, file=sys.stderr)
    if report.documents == 0 and not report.findings:
        print("note: no SeldonDeployment found in the given paths", file=sys.stderr)
