"""`fadi-seldon doctor`: check a cluster's Seldon installation and print each problem with its fix."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from fadi_seldon.cli import exit_codes, output
from fadi_seldon.cli.errors import CliError, usage
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
    add_cluster_arguments(parser)
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


def _kubeconfig_found(args: argparse.Namespace) -> bool:
    """Whether kubectl has a cluster to talk to: --kubeconfig, a KUBECONFIG file, ~/.kube/config, or
    the service account of a pod. Without any, kubectl would try localhost:8080, whatever listens there."""
    env = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    found = any(Path(p).is_file() for p in env) if env else (Path.home() / ".kube" / "config").is_file()
    return bool(args.kubeconfig or found or os.environ.get("KUBERNETES_SERVICE_HOST"))


def check_kubeconfig(path: str) -> None:
    """A --kubeconfig must at least be a YAML mapping: kubectl's and helm's own complaints come later,
    after other work, and in their words. FILE:LINE and plain words here, exit 2."""
    from fadi_seldon.runtime import yamlfile

    try:
        yamlfile.load(path, "a kubeconfig", mapping=True)
    except yamlfile.YamlFileError as err:
        raise usage(err.problem, file=err.file, line=err.line) from None


NO_KUBECONFIG_HINT = (
    'pass --kubeconfig or set KUBECONFIG (the local cluster\'s: eval "$(fadi-seldon cluster env)")'
)


def check_cluster(args: argparse.Namespace, purpose: str) -> None:
    """Before any kubectl: a --kubeconfig that is there and a mapping (exit 2), and some kubeconfig at
    all (exit 3, `no cluster to PURPOSE`). Shared by every command reading a cluster (`status`, `logs`)."""
    if args.kubeconfig and not Path(args.kubeconfig).is_file():
        raise usage(f"cannot read the cluster: no kubeconfig at {args.kubeconfig}")
    if args.kubeconfig:
        check_kubeconfig(args.kubeconfig)
    if not _kubeconfig_found(args):
        where = os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
        raise CliError(
            f"no cluster to {purpose}: no kubeconfig ({where} names no file)",
            ExitCode.NOTHING,
            hint=NO_KUBECONFIG_HINT,
        )


def cluster_error(err: Exception) -> CliError:
    """A DoctorError as the CLI says it: nothing answering is nothing to act on (3), a refusal 2."""
    if getattr(err, "unreachable", False):
        return CliError(str(err), ExitCode.NOTHING)
    return usage(f"cannot read the cluster: {err}")


def add_cluster_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", help="kubeconfig to use (default: KUBECONFIG or ~/.kube/config)")
    parser.add_argument("--context", help="kubeconfig context to use")


def run(args: argparse.Namespace) -> int:
    from fadi_seldon import doctor

    check_cluster(args, "diagnose")
    try:
        kubectl = doctor.Kubectl(kubeconfig=args.kubeconfig, context=args.context)
        snap = doctor.gather(kubectl, _operator_states(args.operator_state), args.stale_after)
    except doctor.DoctorError as err:
        raise cluster_error(err) from None
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
