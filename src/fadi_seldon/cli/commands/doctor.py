"""`fadi-seldon doctor`: check a cluster's Seldon installation and print each problem with its fix."""

from __future__ import annotations

import argparse
from pathlib import Path

from fadi_seldon.cli import cluster_access, exit_codes, output
from fadi_seldon.cli.exit_codes import ExitCode

EPILOG = """\
examples:
  fadi-seldon doctor                                   # the current kube context
  fadi-seldon doctor --all                             # the checks that passed too
  fadi-seldon doctor --kubeconfig .cluster/kubeconfig -o json | jq '.findings[] | select(.severity=="error")'
  fadi-seldon doctor --context prod --strict           # in CI: warnings fail too

""" + exit_codes.notes(
    {
        ExitCode.OK: "no errors (warnings allowed unless --strict)",
        ExitCode.FAILED: "errors (or warnings, with --strict)",
        ExitCode.USAGE: "the cluster cannot be read: no kubectl, --kubeconfig names no file, access refused",
        ExitCode.NOTHING: "no cluster to diagnose: no kubeconfig (kubectl is not even run), or nothing "
        "answers at its address",
    }
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    cluster_access.add_arguments(parser)
    output.add_output_argument(parser)
    parser.add_argument("--all", action="store_true", help="also list the checks that passed")
    parser.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    parser.add_argument(
        "--operator-state",
        action="append",
        default=None,
        metavar="DIR",
        help="state folder of an operator run as a host process (`cluster operator start`); "
        "default: the local cluster's, when it has one",
    )
    parser.add_argument(
        "--stale-after",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="report SeldonDeployments without a state for longer than this (default 120)",
    )


def _operator_states(given: list[str] | None) -> list[Path]:
    if given:
        return [Path(d) for d in given]
    from fadi_seldon.localkube.layout import default_state_dir

    local = default_state_dir() / "operator"
    return [local] if (local / "state.json").is_file() else []


def run(args: argparse.Namespace) -> int:
    from fadi_seldon import doctor

    cluster_access.check(args, "diagnose")
    try:
        kubectl = doctor.Kubectl(kubeconfig=args.kubeconfig, context=args.context)
        snap = doctor.gather(kubectl, _operator_states(args.operator_state), args.stale_after)
    except doctor.DoctorError as err:
        raise cluster_access.error(err) from None
    findings = doctor.diagnose(snap)
    counts = doctor.summary(findings)
    server = kubectl.server()
    result = {"server": server, **counts, "findings": [f.to_json() for f in findings]}

    def text(_) -> str:
        lines = [f"fadi-seldon doctor: {server}"]
        for f in findings:
            if f.severity == doctor.OK and not args.all:
                continue
            lines.append(f"  {f.severity.upper():<8} {f.check:<24} {f.subject}")
            lines.append(f"           {f.message}")
            if f.fix:
                lines.append(f"           fix: {f.fix}")
        lines.append(
            f"{counts['errors']} error(s), {counts['warnings']} warning(s), {counts['ok']} check(s) passed"
        )
        return "\n".join(lines)

    output.emit(result, args.output, text)
    if counts["errors"] or (args.strict and counts["warnings"]):
        return ExitCode.FAILED
    return ExitCode.OK
