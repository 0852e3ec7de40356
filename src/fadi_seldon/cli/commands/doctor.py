"""`fadi-seldon doctor`: check a cluster's Seldon installation and print each problem with its fix."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HELP = "diagnose a cluster's Seldon installation"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", help="kubeconfig to use (default: KUBECONFIG or ~/.kube/config)")
    parser.add_argument("--context", help="kubeconfig context to use")
    parser.add_argument("--output", choices=("text", "json"), default="text")
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

    try:
        kubectl = doctor.Kubectl(kubeconfig=args.kubeconfig, context=args.context)
        snap = doctor.gather(kubectl, _operator_states(args.operator_state), args.stale_after)
    except doctor.DoctorError as err:
        print(f"error: cannot read the cluster: {err}", file=sys.stderr)
        return 2
    findings = doctor.diagnose(snap)
    counts = doctor.summary(findings)
    if args.output == "json":
        print(
            json.dumps(
                {"server": kubectl.server(), **counts, "findings": [f.to_json() for f in findings]}, indent=2
            )
        )
    else:
        print(f"fadi-seldon doctor: {kubectl.server()}")
        for f in findings:
            if f.severity == doctor.OK and not args.all:
                continue
            print(f"  {f.severity.upper():<8} {f.check:<24} {f.subject}")
            print(f"           {f.message}")
            if f.fix:
                print(f"           fix: {f.fix}")
        print(f"{counts['errors']} error(s), {counts['warnings']} warning(s), {counts['ok']} check(s) passed")
    if counts["errors"] or (args.strict and counts["warnings"]):
        return 1
    return 0
