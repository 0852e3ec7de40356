"""`fadi-seldon cluster up|down|status|env|service|load|object-store|gateway|operator`: the local Kubernetes (control plane,
real or simulated nodes) and what runs beside it."""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable
from pathlib import Path

from fadi_seldon.cli import exit_codes, output
from fadi_seldon.cli.errors import CliError, usage
from fadi_seldon.cli.exit_codes import ExitCode

EPILOG = exit_codes.notes(
    {
        ExitCode.OK: "ready / stopped / exported (`down` with nothing running is fine too)",
        ExitCode.FAILED: "start-up failed, or the cluster is started but not healthy",
        ExitCode.USAGE: "usage error (e.g. `operator start` without a chart, `up --nodes 0`, `load` of a "
        "file that is not there)",
        ExitCode.NOTHING: "no local cluster (`status`, `env`, `service`, `gateway`, `operator start`), no "
        "real node (`load`, `gateway`), or no operator started (`operator status`)",
    }
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument(
        "--state-dir",
        help="folder for the cluster's state, keys and logs (default: .cluster in the checkout, or FADI_CLUSTER_DIR)",
    )
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    up = sub.add_parser(
        "up",
        help="start etcd, kube-apiserver, controller-manager, scheduler, kwok and, where the host can, "
        "a real node: containerd, kubelet, kube-proxy, CoreDNS (idempotent)",
    )
    up.add_argument(
        "--node",
        choices=("auto", "real", "simulated"),
        default="auto",
        help="the node pods run on: real (kubelet + containerd; root, runc and `make tools TOOLS=node`), "
        "simulated (kwok only), or auto: real where the host can, else simulated with the reason "
        "(default: auto)",
    )
    up.add_argument(
        "--timeout-scale", type=float, default=1.0, help="multiply every start-up timeout (slow machines)"
    )
    up.add_argument(
        "--pod-egress",
        action="store_true",
        help="let pods reach beyond this machine, resolve names outside the cluster, and the node pull images "
        "from registries; off by default: "
        "pods reach each other, Services and this host only, so nothing a pod runs sends traffic off "
        "the machine (docs/local-cluster.md, 'What may leave the host')",
    )
    up.add_argument(
        "--no-gateway",
        action="store_true",
        help="do not bring up the gateway (Traefik, Gateway API) that a real node otherwise gets; "
        "`cluster gateway` adds it later",
    )
    _add_node_arguments(up)
    down = sub.add_parser("down", help="stop every process `up` started and remove the state folder")
    down.add_argument(
        "--keep-state", action="store_true", help="stop the processes but keep keys, data and logs"
    )
    status = sub.add_parser("status", help="each component's pid, port, health and log file")
    service = _add_service_parser(sub)
    store = _add_object_store_parser(sub)
    gateway = _add_gateway_parser(sub)
    env = sub.add_parser("env", help="print the `export KUBECONFIG=...` line for the local cluster")
    load = _add_load_parser(sub)
    for p in (up, down, status, load, service, store, gateway):
        output.add_output_argument(p)
    # `--output sh` was the name of the exports format before -o became text|yaml|json everywhere
    output.add_output_argument(env, aliases={"sh": "text"})
    from fadi_seldon.cli.commands import cluster_operator

    cluster_operator.add_arguments(sub.add_parser("operator", help=cluster_operator.HELP))


def _add_load_parser(sub) -> argparse.ArgumentParser:
    """`cluster load`: archives, and the images built here (the operator's, Seldon's from its source)."""
    load = sub.add_parser(
        "load",
        help="import OCI image archives into the real node (no registry here: pods use what is loaded)",
    )
    load.add_argument("archives", nargs="*", metavar="ARCHIVE", help="an OCI image archive (.oci.tar)")
    load.add_argument(
        "--operator",
        action="store_true",
        help="build the Seldon operator's image from the operator binary `make tools` builds (cached) and "
        "load it; prints the chart values that run it",
    )
    load.add_argument(
        "--executor",
        action="store_true",
        help="build the Seldon executor's image (docker.io/seldonio/seldon-core-executor, the chart's "
        "default) from the seldon-executor binary `make tools` builds out of Seldon's source release "
        "(cached) and load it",
    )
    load.add_argument(
        "--mock-classifier",
        action="store_true",
        help="build docker.io/seldonio/mock_classifier:1.0, the user guide's example model, from the "
        "mean_classifier example of Seldon's source release (SELDON_CORE_SOURCE; cached) and load it",
    )
    load.add_argument(
        "--server",
        action="append",
        default=[],
        choices=("SKLEARN_SERVER", "XGBOOST_SERVER", "MLFLOW_SERVER"),
        metavar="SERVER",
        help="build the images of a prepackaged server (SKLEARN_SERVER, XGBOOST_SERVER, MLFLOW_SERVER; "
        "repeat) under the names the chart's predictor_servers give: the Seldon-protocol server from "
        "Seldon's source release, the MLServer image (protocol v2) from PyPI; cached",
    )
    load.add_argument(
        "--protocol",
        choices=("seldon", "v2"),
        help="with --server: only the image of this protocol (default: both)",
    )
    load.add_argument(
        "--storage-initializer",
        action="store_true",
        help="build the chart's storage initializer (docker.io/seldonio/rclone-storage-initializer, rclone "
        "from `make tools`) and load it: prepackaged servers fetch their modelUri with it",
    )
    load.add_argument(
        "--traefik",
        action="store_true",
        help="build the gateway's image (docker.io/library/traefik, traefik from `make tools`) and load it "
        "(`cluster gateway` does this itself)",
    )
    load.add_argument(
        "--routes-controller",
        action="store_true",
        help="build the route controller's image (the chart's gatewayRoutes.image: fadi-seldon with its "
        "routes extra, from this checkout; cached) and load it",
    )
    return load


def _add_object_store_parser(sub) -> argparse.ArgumentParser:
    store = sub.add_parser(
        "object-store",
        help="run an S3 object store in the local cluster (`rclone serve s3`, standing in for FADI's MinIO), "
        "with the rclone Secret models name in envSecretRefName; prints its URL and keys for `upload`",
    )
    store.add_argument(
        "-n", "--namespace", default="models", help="namespace of the store and the Secret (default: models)"
    )
    store.add_argument(
        "--secret", default="models-s3", metavar="NAME", help="the model Secret's name (default: models-s3)"
    )
    store.add_argument(
        "--wait", type=float, default=120.0, metavar="SECONDS", help="how long to wait (default: 120)"
    )
    return store


def _add_gateway_parser(sub) -> argparse.ArgumentParser:
    gateway = sub.add_parser(
        "gateway",
        help="deploy (or redeploy) the gateway on the real node: the Gateway API CRDs, Traefik with its "
        "Kubernetes Gateway provider and the Gateway fadi-gateway/fadi; prints its URL from this host",
    )
    gateway.add_argument(
        "--wait",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="how long to wait for each step (default: 120)",
    )
    return gateway


def _add_service_parser(sub) -> argparse.ArgumentParser:
    service = sub.add_parser(
        "service",
        help="wait until a Service can be called from this host (ready endpoints, and kube-proxy's rules "
        "on the real node), then print its URL; the one wait before calling a ClusterIP",
    )
    service.add_argument("name", metavar="NAME", help="the Service, e.g. iris-model-default")
    service.add_argument("-n", "--namespace", default="default", help="its namespace (default: default)")
    service.add_argument("--port", help="the Service port's name or number (default: its first port)")
    service.add_argument(
        "--wait", type=float, default=60.0, metavar="SECONDS", help="how long to wait (default: 60)"
    )
    return service


def _add_node_arguments(up: argparse.ArgumentParser) -> None:
    """The simulated nodes; every default is "as recorded by the last `up`, else the built-in one"."""
    up.add_argument(
        "--nodes",
        type=int,
        metavar="N",
        help="number of simulated nodes, kwok-node-0..N-1 (default: as before, else 1); "
        "on a running cluster, nodes are added or removed to match",
    )
    up.add_argument(
        "--node-cpu", metavar="QUANTITY", help="each node's CPU capacity (default: as before, else 128)"
    )
    up.add_argument(
        "--node-memory", metavar="QUANTITY", help="each node's memory (default: as before, else 512Gi)"
    )
    up.add_argument(
        "--node-pods", type=int, metavar="N", help="the most pods a node takes (default: as before, else 250)"
    )


def run(args: argparse.Namespace) -> int:
    from fadi_seldon.localkube import ClusterError, ControlPlane
    from fadi_seldon.localkube.pki import PKIError

    plane = ControlPlane(Path(args.state_dir) if args.state_dir else None)
    if args.action == "operator":
        from fadi_seldon.cli.commands import cluster_operator

        return cluster_operator.run(args, plane)
    try:
        if args.action == "up":
            try:
                spec = plane.node_spec(
                    count=args.nodes, cpu=args.node_cpu, memory=args.node_memory, pods=args.node_pods
                )
            except ValueError as err:
                raise usage(str(err)) from None
            status = plane.up(
                timeout_scale=args.timeout_scale, nodes=spec, node_kind=args.node, pod_egress=args.pod_egress
            )
            if plane.real_node and not args.no_gateway:
                status["gateway"] = _gateway_after_up(plane, 120.0 * args.timeout_scale)
            output.emit(status, args.output, lambda _: "")  # text: `up` reported its progress on stderr
            return _status_code(status)
        if args.action == "down":
            return _down(plane, args)
        if args.action == "load":
            return _load(plane, args)
        if args.action == "service":
            return _service(plane, args)
        if args.action == "object-store":
            return _object_store(plane, args)
        if args.action == "gateway":
            return _gateway(plane, args)
        if args.action == "status":
            return _status(plane, args.output)
        return _env(plane, args.output)
    except (ClusterError, PKIError) as err:
        raise CliError(str(err)) from None


def _status(plane, fmt: str) -> int:
    """The cluster's status; a cluster never started is nothing to report on (exit 3, one line)."""
    status = plane.status()
    if not status["started"]:
        raise CliError(
            f"no local cluster in {status['state_dir']}: run `fadi-seldon cluster up` (or `make cluster-up`)",
            ExitCode.NOTHING,
            details={key: status[key] for key in ("state_dir", "kubeconfig", "started", "ready")},
        )
    output.emit(status, fmt, _status_text)
    return _status_code(status)


def _object_store(plane, args: argparse.Namespace) -> int:
    """The store's image on the real node (built once, cached), the store and the model Secret applied,
    then the wait for its Service; prints the URL to `upload` to and the keys, as exports in text."""
    from fadi_seldon.doctor import DoctorError, Kubectl
    from fadi_seldon.images import ImageError, storage_initializer
    from fadi_seldon.localkube import node_images, object_store, services

    if not plane.layout.kubeconfig.is_file():
        raise CliError(f"no local cluster in {plane.layout.root} (make cluster-up)", ExitCode.NOTHING)
    try:
        if plane.real_node:
            node_images.import_archive(storage_initializer.build().archive, plane.layout)
        kubectl = Kubectl(kubeconfig=str(plane.layout.kubeconfig))
        result = object_store.deploy(kubectl, args.namespace, args.secret)
        ready = services.wait_ready(
            kubectl, args.namespace, object_store.NAME, timeout=args.wait, local_proxy=plane.real_node
        )
    except (services.ServiceError, DoctorError, ImageError, node_images.ImageError) as err:
        raise CliError(str(err)) from None
    result["endpoint"] = ready.url
    output.emit(result, args.output, _object_store_text)
    return ExitCode.OK


def _object_store_text(result: dict) -> str:
    return "\n".join([
        f"# S3 store {result['namespace']}/{result['service']}: {result['endpoint']} (in the cluster: "
        f"{result['endpoint_in_cluster']}); models name the Secret {result['secret']} in envSecretRefName",
        f"export AWS_ACCESS_KEY_ID={result['access_key_id']} AWS_SECRET_ACCESS_KEY={result['secret_access_key']}",
        f"export FADI_S3_ENDPOINT={result['endpoint']}",
    ])  # fmt: skip


def _gateway(plane, args: argparse.Namespace) -> int:
    """`cluster gateway`: the gateway deployed (idempotent), its URL printed."""
    if args.wait <= 0:
        raise usage(f"--wait must be a positive number of seconds, not {args.wait:g}")
    if not plane.layout.kubeconfig.is_file():
        raise CliError(f"no local cluster in {plane.layout.root} (make cluster-up)", ExitCode.NOTHING)
    if not plane.real_node:
        raise CliError(
            "the gateway needs the real node (a simulated node runs no pods): "
            "`fadi-seldon cluster up --node real`",
            ExitCode.NOTHING,
        )
    result = _gateway_up(plane, args.wait)
    output.emit(result, args.output, lambda r: r["url"])
    return ExitCode.OK


def _gateway_after_up(plane, timeout: float) -> dict | None:
    """`cluster up`'s last stage: the gateway, unless traefik is not installed (a cluster is still
    useful without it: said, and None in the result, rather than a failed `up`)."""
    from fadi_seldon.tools.layout import find_executable

    if not find_executable("traefik"):
        plane.say(
            "gateway skipped: traefik is not installed (`fadi-seldon tools install traefik`, then "
            "`fadi-seldon cluster gateway`)"
        )
        return None
    return _gateway_up(plane, timeout)


def _gateway_up(plane, timeout: float) -> dict:
    """The gateway up, its progress on stderr with the time it took (`cluster up` and `cluster gateway`)."""
    import time

    from fadi_seldon.doctor import DoctorError, Kubectl
    from fadi_seldon.images import ImageError
    from fadi_seldon.localkube import gateway, node_images
    from fadi_seldon.tools import ToolError

    started = time.monotonic()
    plane.say("gateway: Traefik and the Gateway API (`--no-gateway` skips it)")
    try:
        kubectl = Kubectl(kubeconfig=str(plane.layout.kubeconfig))
        result = gateway.up(kubectl, plane.layout, plane.say, timeout)
    except (gateway.GatewayError, DoctorError, ImageError, node_images.ImageError, ToolError) as err:
        raise CliError(
            f"gateway: {err}\n(the cluster itself is up: `fadi-seldon cluster gateway` tries again, "
            "`cluster up --no-gateway` leaves the gateway out)"
        ) from None
    plane.say(f"gateway ready in {time.monotonic() - started:.1f}s: {result['url']}")
    return result


def _service(plane, args: argparse.Namespace) -> int:
    from fadi_seldon.doctor import DoctorError, Kubectl
    from fadi_seldon.localkube import services

    if not plane.layout.kubeconfig.is_file():
        raise CliError(f"no local cluster in {plane.layout.root} (make cluster-up)", ExitCode.NOTHING)
    try:
        kubectl = Kubectl(kubeconfig=str(plane.layout.kubeconfig))
        state = services.wait_ready(
            kubectl, args.namespace, args.name, port=args.port, timeout=args.wait, local_proxy=plane.real_node
        )
    except (services.ServiceError, DoctorError) as err:
        raise CliError(str(err)) from None
    output.emit(state.to_json(), args.output, lambda s: s["url"])
    return ExitCode.OK


def _load(plane, args: argparse.Namespace) -> int:
    from fadi_seldon.images import (
        ImageError,
        executor,
        mock_classifier,
        operator,
        routes_controller,
        servers,
        storage_initializer,
        traefik,
    )
    from fadi_seldon.localkube import node_images

    if args.protocol and not args.server:
        raise usage("--protocol chooses the image of each --server: name a --server")
    protocols = [args.protocol] if args.protocol else list(servers.PROTOCOLS)
    builders: list[tuple[bool, Callable[[], tuple[Path, list[str]]]]] = [
        (args.operator, lambda: (operator.build().archive, operator.chart_sets())),
        (args.executor, lambda: (executor.build().archive, [])),  # the chart's default image: no --set
        (args.mock_classifier, lambda: (mock_classifier.build().archive, [])),
        (args.storage_initializer, lambda: (storage_initializer.build().archive, [])),
        (args.traefik, lambda: (traefik.build().archive, [])),
        (args.routes_controller, lambda: (routes_controller.build().archive, [])),
    ]
    for server in dict.fromkeys(args.server):
        for protocol in protocols:
            builders.append((True, functools.partial(_server_archive, servers, server, protocol)))
    if not args.archives and not any(wanted for wanted, _ in builders):
        raise usage(
            "nothing to load: name OCI archives, or --operator, --executor, --mock-classifier, "
            "--storage-initializer, --traefik, --routes-controller, --server SERVER"
        )
    try:  # each archive read before anything else: a wrong file is the answer, whatever the node
        for archive in args.archives:
            node_images.archive_names(Path(archive))
    except node_images.BadArchive as err:
        raise usage(str(err)) from None
    try:  # before any build: an image that could not go anywhere is not built
        node_images.check_node(plane.layout)
    except node_images.NoNode as err:
        raise CliError(str(err), ExitCode.NOTHING) from None
    loaded = []
    try:
        archives: list[tuple[Path, list[str]]] = [(Path(a), []) for a in args.archives]
        archives += [build() for wanted, build in builders if wanted]
        for archive, sets in archives:
            names = node_images.import_archive(archive, plane.layout)
            loaded.append({"archive": str(archive), "images": names, "chart_sets": sets})
    except (node_images.ImageError, ImageError) as err:
        raise CliError(str(err), details={"loaded": loaded}) from None
    output.emit(loaded, args.output, _load_text)
    return ExitCode.OK


def _server_archive(servers, server: str, protocol: str) -> tuple[Path, list[str]]:
    """A prepackaged server's image under the chart's default name: no `--set` needed."""
    return servers.build(server, protocol).archive, []


def _load_text(loaded: list[dict]) -> str:
    lines = []
    for item in loaded:
        lines.append(f"loaded {', '.join(item['images'])} from {item['archive']}")
        if item["chart_sets"]:
            lines.append("  run it with the chart: " + " ".join(f"--set {s}" for s in item["chart_sets"]))
    return "\n".join(lines)


def _down(plane, args: argparse.Namespace) -> int:
    # also stops the host operator processes of `cluster operator start` (ControlPlane.down)
    held = plane.layout.root.is_dir() and plane.layout.holds_state()
    stopped = plane.down(keep_state=args.keep_state)
    result = {
        "stopped": stopped,
        "state_dir": str(plane.layout.root),
        "removed": held and not args.keep_state,
    }

    def text(_) -> str:
        lines = [f"[cluster] stopped: {', '.join(stopped) if stopped else 'nothing was running'}"]
        if result["removed"]:
            lines.append(f"[cluster] removed {plane.layout.root}")
        return "\n".join(lines)

    output.emit(result, args.output, text)
    return ExitCode.OK


def _node_kind_text(kind: str | None) -> str:
    if kind == "real":
        return (
            "a real node (containerd, kubelet), and kwok's simulated nodes for pods that tolerate their taint"
        )
    return "kwok's simulated nodes (no container runs)"


def _status_text(status: dict) -> str:
    state = "ready" if status["ready"] else ("NOT READY" if status["started"] else "not started")
    lines = [
        f"local cluster: {state}  (state {status['state_dir']})",
        f"  kubeconfig: {status['kubeconfig']}  server: {status['server'] or '-'}",
        f"  pods run on: {_node_kind_text(status.get('node_kind'))}",
        f"  {'COMPONENT':<24} {'PID':<8} {'PORT':<6} {'HEALTHY':<8} LOG",
    ]
    for c in status["components"]:
        healthy = "yes" if c["healthy"] else "no"
        lines.append(f"  {c['name']:<24} {c['pid'] or '-':<8} {c['port'] or '-':<6} {healthy:<8} {c['log']}")
        if c["running"] and not c["healthy"]:
            lines.append(f"      {c['detail']}")
    lines.append(f"  {'NODE':<24} {'READY':<8} {'CPU':<8} {'MEMORY':<10} PODS")
    for node in status.get("nodes") or [status["node"]]:
        ready = "yes" if node["ready"] else f"no ({node['detail']})"
        capacity = node.get("capacity") or {}
        lines.append(
            f"  {node['name']:<24} {ready:<8} {capacity.get('cpu', '-'):<8} "
            f"{capacity.get('memory', '-'):<10} {capacity.get('pods', '-')}"
        )
    return "\n".join(lines)


def _status_code(status: dict) -> ExitCode:
    """Ready, started but unhealthy, or not started at all (like `systemctl status`)."""
    if status["ready"]:
        return ExitCode.OK
    return ExitCode.FAILED if status["started"] else ExitCode.NOTHING


def _env(plane, fmt: str) -> int:
    path = plane.layout.kubeconfig
    if not path.is_file():
        raise CliError(
            f"no local cluster in {plane.layout.root}: run `fadi-seldon cluster up` (or `make cluster-up`)",
            ExitCode.NOTHING,
        )
    output.emit_exports({"KUBECONFIG": str(path)}, fmt)
    return ExitCode.OK
