"""`fadi-seldon cluster up|down|status|env`: the local Kubernetes control plane (no containers)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

HELP = "start, stop and inspect the local Kubernetes control plane"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-dir",
        help="folder for the cluster's state, keys and logs (default: .cluster in the checkout, or FADI_CLUSTER_DIR)",
    )
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    up = sub.add_parser(
        "up", help="start etcd, kube-apiserver, controller-manager, scheduler and kwok (idempotent)"
    )
    up.add_argument(
        "--timeout-scale", type=float, default=1.0, help="multiply every start-up timeout (slow machines)"
    )
    up.add_argument("--output", choices=("text", "json"), default="text")
    down = sub.add_parser("down", help="stop every process `up` started and remove the state folder")
    down.add_argument(
        "--keep-state", action="store_true", help="stop the processes but keep keys, data and logs"
    )
    down.add_argument("--output", choices=("text", "json"), default="text")
    status = sub.add_parser("status", help="each component's pid, port, health and log file")
    status.add_argument("--output", choices=("text", "json"), default="text")
    env = sub.add_parser("env", help="print the `export KUBECONFIG=...` line for the local cluster")
    env.add_argument("--output", choices=("sh", "json"), default="sh")
    from fadi_seldon.cli.commands import cluster_operator

    cluster_operator.add_arguments(sub.add_parser("operator", help=cluster_operator.HELP))


def run(args: argparse.Namespace) -> int:
    from fadi_seldon.localkube import ClusterError, ControlPlane
    from fadi_seldon.localkube.pki import PKIError

    plane = ControlPlane(Path(args.state_dir) if args.state_dir else None)
    if args.action == "operator":
        from fadi_seldon.cli.commands import cluster_operator

        return cluster_operator.run(args, plane)
    try:
        if args.action == "up":
            return _print_status(plane.up(timeout_scale=args.timeout_scale), args.output, quiet_text=True)
        if args.action == "down":
            # also stops the host operator processes of `cluster operator start` (ControlPlane.down)
            stopped = plane.down(keep_state=args.keep_state)
            if args.output == "json":
                print(
                    json.dumps(
                        {
                            "stopped": stopped,
                            "state_dir": str(plane.layout.root),
                            "removed": not args.keep_state,
                        }
                    )
                )
            else:
                what = ", ".join(stopped) if stopped else "nothing was running"
                print(f"[cluster] stopped: {what}")
                if not args.keep_state:
                    print(f"[cluster] removed {plane.layout.root}")
            return 0
        if args.action == "status":
            return _print_status(plane.status(), args.output)
        return _env(plane, args.output)
    except (ClusterError, PKIError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


def _print_status(status: dict, output: str, quiet_text: bool = False) -> int:
    if output == "json":
        print(json.dumps(status, indent=2))
    elif not quiet_text:
        state = "ready" if status["ready"] else ("NOT READY" if status["started"] else "not started")
        print(f"local cluster: {state}  (state {status['state_dir']})")
        print(f"  kubeconfig: {status['kubeconfig']}  server: {status['server'] or '-'}")
        print(f"  {'COMPONENT':<24} {'PID':<8} {'PORT':<6} {'HEALTHY':<8} LOG")
        for c in status["components"]:
            healthy = "yes" if c["healthy"] else "no"
            print(f"  {c['name']:<24} {c['pid'] or '-':<8} {c['port'] or '-':<6} {healthy:<8} {c['log']}")
            if c["running"] and not c["healthy"]:
                print(f"      {c['detail']}")
        node = status["node"]
        print(f"  node {node['name']}: {'Ready' if node['ready'] else 'not ready (' + node['detail'] + ')'}")
    # 0 ready, 3 not started (like `systemctl status`), 1 started but unhealthy
    if status["ready"]:
        return 0
    return 1 if status["started"] else 3


def _env(plane, output: str) -> int:
    path = plane.layout.kubeconfig
    if not path.is_file():
        print(
            f"error: no local cluster in {plane.layout.root}: run `fadi-seldon cluster up` (or `make cluster-up`)",
            file=sys.stderr,
        )
        return 3
    if output == "json":
        print(json.dumps({"KUBECONFIG": str(path)}))
    else:
        print(f"export KUBECONFIG={shlex.quote(str(path))}")
    return 0
