"""`fadi-seldon routes`: the Gateway API routes of SeldonDeployments, printed (`render`) or kept in step
by the route controller (`controller`, what the chart's gatewayRoutes Deployment runs)."""

from __future__ import annotations

import argparse

from fadi_seldon.cli import exit_codes, output
from fadi_seldon.cli.errors import CliError, usage
from fadi_seldon.cli.exit_codes import ExitCode

EPILOG = """\
examples:
  fadi-seldon routes render -f canary.yaml                      # the HTTPRoute and GRPCRoute, YAML
  fadi-seldon routes render -f canary.yaml --public-url http://gw.example:8000 -o json
  fadi-seldon routes controller --gateway fadi --gateway-namespace fadi-gateway --section http
  fadi-seldon routes controller --namespace models --namespace team-b --controller-id team

The controller needs the `routes` extra (pip install 'fadi-seldon[routes]': kopf). It writes the URL
to the annotation fadi.cetic.be/url of each SeldonDeployment and posts a RouteReady Event
(docs/gateway-routes.md). controller -o json logs JSON lines (kopf's JSON log format) instead of
text: it runs until stopped and has no other result.

""" + exit_codes.notes(
    {
        ExitCode.OK: "render: the routes were printed; controller: stopped by a signal",
        ExitCode.FAILED: "controller: kopf stopped on an error, or the routes extra is not installed",
        ExitCode.USAGE: "bad flags, or a file that is no SeldonDeployment (file:line and field named)",
    }
)


def _gateway_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gateway", default="fadi", metavar="NAME", help="the Gateway's name (fadi)")
    parser.add_argument(
        "--gateway-namespace", default="fadi-gateway", metavar="NS", help="its namespace (fadi-gateway)"
    )
    parser.add_argument(
        "--section", default="", metavar="LISTENER", help="the listener to attach to (default: any)"
    )
    parser.add_argument(
        "--public-url",
        default="",
        metavar="URL",
        help="where clients reach the Gateway (DNS, load balancer); default: its status address and port",
    )
    parser.add_argument("--no-grpc", action="store_true", help="no GRPCRoutes (HTTPRoutes only)")
    parser.add_argument(
        "--mirror",
        choices=("request-mirror", "traefik-service", "none"),
        default="request-mirror",
        help="how shadow predictors get a copy of each request: the Gateway API's RequestMirror filter "
        "(default), Traefik's mirroring TraefikService (Traefik 3.6 and 3.7 have no RequestMirror and "
        "refuse a route holding one; needs Traefik's CRD provider), or none",
    )
    parser.add_argument(
        "--executor-port", type=int, default=8000, metavar="PORT", help="the executor's REST port (8000)"
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    render = sub.add_parser("render", help="print the routes the controller would make for SeldonDeployments")
    render.add_argument("-f", "--file", required=True, metavar="FILE", help="SeldonDeployment manifests")
    _gateway_arguments(render)
    output.add_output_argument(render, output.DOCUMENT_FORMATS)
    ctl = sub.add_parser("controller", help="run the route controller (kopf, standalone) until stopped")
    _gateway_arguments(ctl)
    ctl.add_argument(
        "--namespace",
        action="append",
        default=[],
        metavar="NS",
        help="watch this namespace (repeat; default: every namespace)",
    )
    ctl.add_argument(
        "--controller-id",
        default="",
        metavar="ID",
        help="only SeldonDeployments labelled seldon.io/controller-id=ID",
    )
    ctl.add_argument(
        "--liveness",
        default="",
        metavar="URL",
        help="kopf's liveness endpoint, e.g. http://0.0.0.0:8080/healthz",
    )
    ctl.add_argument("--verbose", action="store_true", help="kopf's verbose logging")
    output.add_output_argument(ctl)


def settings(args: argparse.Namespace):
    from fadi_seldon.gateway import reconcile
    from fadi_seldon.sdep import routes

    if args.public_url and not args.public_url.startswith(("http://", "https://")):
        raise usage(f"--public-url {args.public_url!r} is no http(s) URL, e.g. http://gateway.example:8000")
    if not 0 < args.executor_port < 65536:
        raise usage(f"--executor-port {args.executor_port} is no port (1-65535)")
    scope = reconcile.Scope(tuple(getattr(args, "namespace", []) or ()), getattr(args, "controller_id", ""))
    gateway = routes.GatewayRef(args.gateway, args.gateway_namespace, args.section)
    return reconcile.Settings(
        gateway, args.public_url, not args.no_grpc, args.executor_port, scope, args.mirror
    )


def run(args: argparse.Namespace) -> int:
    config = settings(args)
    if args.action == "render":
        return _render(args, config)
    if args.output == "yaml":
        raise usage("controller logs as it goes, as text or (-o json) as JSON lines; not YAML")
    try:
        from fadi_seldon.gateway import controller
    except ImportError as err:
        raise CliError(
            f"the route controller needs the routes extra ({err.name} is missing)",
            hint="pip install 'fadi-seldon[routes]'",
        ) from None
    controller.run(config, args.liveness or None, args.verbose, json_logs=args.output == "json")
    return ExitCode.OK


def _render(args: argparse.Namespace, config) -> int:
    from fadi_seldon.runtime.yamlfile import YamlFileError
    from fadi_seldon.sdep import routes

    try:
        docs = routes.load_documents(args.file)
    except YamlFileError as err:
        raise usage(err.problem, file=err.file, line=err.line) from None
    objects = []
    for _, doc in docs:
        url = routes.prediction_url(doc, config.public_url) if config.public_url else None
        objects += routes.routes(
            doc, config.gateway, grpc=config.grpc, http_port=config.http_port, url=url, mirror=config.mirror
        )
    result = {"apiVersion": "v1", "kind": "List", "items": objects}
    output.emit(result, args.output)
    return ExitCode.OK
