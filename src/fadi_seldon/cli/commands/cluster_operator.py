"""`fadi-seldon cluster operator start|stop|status`: the real Seldon operator beside the local cluster.

Registered as the `operator` action of `fadi-seldon cluster` (commands/cluster.py); the work is
done by fadi_seldon.localkube.operator.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from fadi_seldon.cli import output
from fadi_seldon.cli.errors import CliError, usage
from fadi_seldon.cli.exit_codes import ExitCode

HELP = "run the real Seldon operator as a host process, configured by the installed chart"

KUBECONFIG_HELP = "cluster to use (default: the local cluster's; set it, or KUBECONFIG, for another one)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="operator_action", metavar="ACTION", required=True)
    start = sub.add_parser(
        "start",
        help="helm upgrade --install the release with webhook.url on 127.0.0.1, then run one operator "
        "process per controller Deployment it renders",
    )
    start.add_argument(
        "--release", default="seldon-core-operator", help="Helm release (default: %(default)s)"
    )
    start.add_argument(
        "-n", "--namespace", default="seldon-system", help="release namespace (default: %(default)s)"
    )
    start.add_argument(
        "--chart",
        help="the operator chart, or the FADI umbrella chart (values then go under seldon-core-operator.); "
        "default: charts/seldon-core-operator of the checkout",
    )
    start.add_argument("-f", "--values", action="append", default=[], help="values file (repeatable)")
    start.add_argument("--set", action="append", default=[], help="a value, KEY=VALUE (repeatable)")
    start.add_argument(
        "--no-install",
        action="store_true",
        help="use the release as installed (its webhook.url must already point at 127.0.0.1)",
    )
    start.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for the webhook to serve")
    stop = sub.add_parser("stop", help="stop the operator processes (and, with --uninstall, the release)")
    stop.add_argument("--uninstall", action="store_true", help="also `helm uninstall` the release")
    status = sub.add_parser("status", help="each operator process: pid, webhook, watched namespace, log")
    for p in (start, stop, status):
        p.add_argument("--kubeconfig", help=KUBECONFIG_HELP)
        output.add_output_argument(p)


def run(args: argparse.Namespace, plane) -> int:
    from fadi_seldon.localkube.operator import OperatorError, OperatorRunner

    kubeconfig = Path(args.kubeconfig or os.environ.get("KUBECONFIG") or plane.layout.kubeconfig)
    if args.kubeconfig and not kubeconfig.is_file():  # named, but unusable: as doctor --kubeconfig
        raise usage(f"--kubeconfig {kubeconfig}: {'not a file' if kubeconfig.exists() else 'no such file'}")
    if args.operator_action == "start" and not kubeconfig.is_file():
        raise CliError(
            f"no kubeconfig at {kubeconfig}: start the local cluster (`fadi-seldon cluster up`) "
            "or pass --kubeconfig",
            ExitCode.NOTHING,
        )
    if args.operator_action == "start":
        from fadi_seldon.cli.cluster_access import check_kubeconfig

        check_kubeconfig(str(kubeconfig))
    runner = OperatorRunner(kubeconfig, plane.layout.root / "operator", out=sys.stderr)
    try:
        if args.operator_action == "start":
            return _start(runner, args)
        if args.operator_action == "stop":
            stopped = runner.stop(uninstall=args.uninstall)
            output.emit(
                {"stopped": stopped},
                args.output,
                lambda _: f"[operator] stopped: {', '.join(stopped) if stopped else 'nothing was running'}",
            )
            return ExitCode.OK
        return _print(runner.status(), args.output)
    except OperatorError as err:
        raise CliError(str(err)) from None


def _start(runner, args: argparse.Namespace) -> int:
    from fadi_seldon.localkube.operator import StartOptions
    from fadi_seldon.runtime import versions, yamlfile

    root = versions.repo_root()
    chart = Path(args.chart) if args.chart else (root / "charts" / "seldon-core-operator" if root else None)
    if chart is None or not (chart / "Chart.yaml").is_file():
        raise usage(f"no chart at {chart}: pass --chart PATH")
    for path in args.values:  # helm would say it later, in its words, after the cluster was touched
        try:
            yamlfile.load(path, "a values file", mapping=True)
        except yamlfile.YamlFileError as err:
            raise usage(err.problem, file=err.file, line=err.line) from None
    opts = StartOptions(
        release=args.release,
        namespace=args.namespace,
        chart=chart.resolve(),
        values_files=args.values,
        set_values=args.set,
        install=not args.no_install,
        timeout=args.timeout,
    )
    return _print(runner.start(opts), args.output)


def _text(status: dict) -> str:
    where = f"release {status['release']} in {status['namespace']}" if status["release"] else "not started"
    lines = [f"seldon operator {status['module_version']}: {where}"]
    for p in status["processes"]:
        state = "serving" if p["serving"] else ("running" if p["running"] else "STOPPED")
        watch = p["watch_namespace"] or "all namespaces"
        lines.append(f"  {p['name']:<40} pid {p['pid'] or '-':<8} {state:<8} {p['webhook']}  watches {watch}")
        lines.append(f"      as {p['service_account']}, log {p['log']}")
    return "\n".join(lines)


def _print(status: dict, fmt: str) -> int:
    """The operator's status; none started at all is nothing to report on (exit 3, one line)."""
    if not status["processes"]:
        raise CliError(
            f"no operator started from {status['state_dir']}: `fadi-seldon cluster operator start` runs one",
            ExitCode.NOTHING,
            details=status,
        )
    output.emit(status, fmt, _text)
    return ExitCode.OK if status["running"] else ExitCode.FAILED
