"""`--kubeconfig`/`--context` and the checks made before any kubectl, for every command that reads a
cluster (`doctor`, `status`, `logs`, `cluster operator start`): one wording, one set of exit codes."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from fadi_seldon.cli.errors import CliError, usage
from fadi_seldon.cli.exit_codes import ExitCode


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


def check(args: argparse.Namespace, purpose: str) -> None:
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


def error(err: Exception) -> CliError:
    """A DoctorError as the CLI says it: nothing answering is nothing to act on (3), a refusal 2."""
    if getattr(err, "unreachable", False):
        return CliError(str(err), ExitCode.NOTHING)
    return usage(f"cannot read the cluster: {err}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", help="kubeconfig to use (default: KUBECONFIG or ~/.kube/config)")
    parser.add_argument("--context", help="kubeconfig context to use")
