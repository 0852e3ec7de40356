"""`fadi-seldon logs NAME`: the logs of a SeldonDeployment's pods, every container or one component's."""

from __future__ import annotations

import argparse

from fadi_seldon.cli import cluster_access, exit_codes, output
from fadi_seldon.cli.commands.status import NOT_FOUND_HINT
from fadi_seldon.cli.errors import CliError, usage
from fadi_seldon.cli.exit_codes import ExitCode

EPILOG = """\
examples:
  fadi-seldon logs iris -n models                      # every container, [pod/container] before each line
  fadi-seldon logs iris -n models --component executor --tail 20
  fadi-seldon logs iris -n models --component classifier -o json | jq -r '.[].lines[]'

""" + exit_codes.notes(
    {
        ExitCode.OK: "the logs were read (a container not started yet has none)",
        ExitCode.USAGE: "bad flags (--tail below 0, a --component the pods do not have), or access refused",
        ExitCode.NOTHING: "no cluster configured or answering, or no SeldonDeployment NAME in the namespace",
    }
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("name", metavar="NAME", help="the SeldonDeployment's name")
    parser.add_argument("-n", "--namespace", default="default", help="its namespace (default: default)")
    parser.add_argument(
        "--component",
        metavar="C",
        help="one container: a graph node's name, or `executor` (seldon-container-engine); default: all",
    )
    parser.add_argument(
        "--tail",
        type=output.count_of("lines (0 or more)"),
        default=100,
        metavar="N",
        help="last N lines (default 100)",
    )
    cluster_access.add_arguments(parser)
    output.add_output_argument(parser)


def text(logs: list[dict]) -> str:
    return "\n".join(
        f"[{entry['pod']}/{entry['container']}] {line}" for entry in logs for line in entry["lines"]
    )


def run(args: argparse.Namespace) -> int:
    from fadi_seldon import doctor
    from fadi_seldon.doctor import model_status

    cluster_access.check(args, "read")
    try:
        kubectl = doctor.Kubectl(kubeconfig=args.kubeconfig, context=args.context)
        logs = model_status.read_logs(kubectl, args.name, args.namespace, args.component, args.tail)
    except doctor.DoctorError as err:
        raise cluster_access.error(err) from None
    except model_status.ModelNotFound as err:
        raise CliError(str(err), ExitCode.NOTHING, hint=NOT_FOUND_HINT) from None
    except model_status.UnknownComponent as err:
        raise usage(str(err)) from None
    output.emit(logs, args.output, text)
    return ExitCode.OK
