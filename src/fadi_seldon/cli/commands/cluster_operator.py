"""`fadi-seldon cluster operator start|stop|status`: the real Seldon operator beside the local cluster.

Registered as the `operator` action of `fadi-seldon cluster` (commands/cluster.py); the work is
done by fadi_seldon.localkube.operator.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

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
    start.add_argument("--kubeconfig", help=KUBECONFIG_HELP)
    start.add_argument("--output", choices=("text", "json"), default="text")
    stop = sub.add_parser("stop", help="stop the operator processes (and, with --uninstall, the release)")
    stop.add_argument("--uninstall", action="store_true", help="also `helm uninstall` the release")
    stop.add_argument("--kubeconfig", help=KUBECONFIG_HELP)
    stop.add_argument("--output", choices=("text", "json"), default="text")
    status = sub.add_parser("status", help="each operator process: pid, webhook, watched namespace, log")
    status.add_argument("--kubeconfig", help=KUBECONFIG_HELP)
    status.add_argument("--output", choices=("text", "json"), default="text")


def run(args: argparse.Namespace, plane) -> int:
    from fadi_seldon.localkube.operator import OperatorError, OperatorRunner, StartOptions
    from fadi_seldon.runtime import versions

    kubeconfig = Path(args.kubeconfig or os.environ.get("KUBECONFIG") or plane.layout.kubeconfig)
    if args.operator_action == "start" and not kubeconfig.is_file():
        print(
            f"error: no kubeconfig at {kubeconfig}: start the local cluster (`fadi-seldon cluster up`) "
            "or pass --kubeconfig",
            file=sys.stderr,
        )
        return 3
    runner = OperatorRunner(kubeconfig, plane.layout.root / "operator", out=sys.stderr)
    try:
        if args.operator_action == "start":
            root = versions.repo_root()
            chart = (
                Path(args.chart)
                if args.chart
                else (root / "charts" / "seldon-core-operator" if root else None)
            )
            if chart is None or not (chart / "Chart.yaml").is_file():
                print(f"error: no chart at {chart}: pass --chart PATH", file=sys.stderr)
                return 2
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
        if args.operator_action == "stop":
            stopped = runner.stop(uninstall=args.uninstall)
            if args.output == "json":
                print(json.dumps({"stopped": stopped}))
            else:
                print(f"[operator] stopped: {', '.join(stopped) if stopped else 'nothing was running'}")
            return 0
        return _print(runner.status(), args.output)
    except OperatorError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


def _print(status: dict, output: str) -> int:
    if output == "json":
        print(json.dumps(status, indent=2))
    else:
        where = (
            f"release {status['release']} in {status['namespace']}" if status["release"] else "not started"
        )
        print(f"seldon operator {status['module_version']}: {where}")
        for p in status["processes"]:
            state = "serving" if p["serving"] else ("running" if p["running"] else "STOPPED")
            watch = p["watch_namespace"] or "all namespaces"
            print(f"  {p['name']:<40} pid {p['pid'] or '-':<8} {state:<8} {p['webhook']}  watches {watch}")
            print(f"      as {p['service_account']}, log {p['log']}")
    if status["running"]:
        return 0
    return 1 if status["processes"] else 3
