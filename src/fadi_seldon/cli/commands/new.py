"""`fadi-seldon new`: generate a SeldonDeployment from flags or from a compact graph spec.

Flags cover the common shapes (one model, a transformer chain, an A/B test, a combiner, a canary,
a shadow); `--from SPEC.yaml` covers everything else (docs/graphs.md). This module only turns the
flags into fadi_seldon.sdep.options.DeploymentOptions; the domain builds the deployment. The result
is checked by the offline validator before it is printed, so what this command emits is what the
operator accepts.
"""

from __future__ import annotations

import argparse
import sys

from fadi_seldon.cli import exit_codes, output, server_options
from fadi_seldon.cli.errors import CliError, usage
from fadi_seldon.cli.exit_codes import ExitCode
from fadi_seldon.sdep import graph, options
from fadi_seldon.sdep.graph import GraphError

EPILOG = """\
component references (--image/--model/--transformer/--router/...):
  [NAME=]IMAGE         a custom container, e.g. clf=seldonio/mock_classifier:1.0
  [NAME=]SERVER:URI    a prepackaged server with its model, e.g. iris=SKLEARN_SERVER:gs://seldon-models/sklearn/iris
  RANDOM_ABTEST        the engine's built-in A/B router (with --ratio-a)

examples:
  fadi-seldon new iris --server SKLEARN_SERVER --model-uri gs://seldon-models/sklearn/iris
  fadi-seldon new iris --server SKLEARN_SERVER --model-uri s3://models/iris/v1 --env-secret seldon-rclone-secret
  fadi-seldon new ab --model a=repo/a:1 --model b=repo/b:1 --router RANDOM_ABTEST --ratio-a 0.7
  fadi-seldon new ens --model a=repo/a:1 --model b=repo/b:1 --combiner avg=repo/avg:1
  fadi-seldon new m --image repo/m:1 --canary repo/m:2 --canary-traffic 20 --output-file m.yaml
  fadi-seldon new --from graph.yaml -o json

""" + exit_codes.notes(
    {
        ExitCode.OK: "printed (or written); validator warnings are shown on stderr",
        ExitCode.FAILED: "the validator found errors (nothing printed), or --output-file exists (no --force)",
        ExitCode.USAGE: "the flags or the spec do not describe a valid graph, a flag without the one it "
        "needs, a bad --values/--servers, or an --output-file in no folder or read-only",
    }
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("name", nargs="?", help="metadata.name of the SeldonDeployment (DNS label)")
    parser.add_argument(
        "--from", dest="spec", metavar="SPEC", help="build from a graph spec file (docs/graphs.md)"
    )
    _add_graph_arguments(parser.add_argument_group("graph"))
    d = parser.add_argument_group("deployment")
    d.add_argument("--predictor", default="default", metavar="NAME", help="main predictor name (default)")
    d.add_argument("--replicas", type=int, metavar="N", help="replicas of every predictor")
    d.add_argument("--requests", metavar="Q", help="container requests, e.g. cpu=100m,memory=256Mi")
    d.add_argument("--limits", metavar="Q", help="container limits, e.g. cpu=1,memory=1Gi")
    d.add_argument("--protocol", choices=graph.PROTOCOLS, help="spec.protocol (operator default: seldon)")
    d.add_argument("--transport", choices=graph.TRANSPORTS, help="spec.transport (operator default: rest)")
    d.add_argument("--endpoint-type", choices=graph.ENDPOINT_TYPES, help="graph endpoint.type on every node")
    d.add_argument("--api-version", choices=graph.API_VERSIONS, help="machinelearning.seldon.io version (v1)")
    d.add_argument("--namespace", "-n", help="metadata.namespace")
    d.add_argument(
        "--label", dest="labels", action="append", default=[], metavar="K=V", help="metadata label"
    )
    d.add_argument("--annotation", dest="annotations", action="append", default=[], metavar="K=V")
    d.add_argument("--spec-name", help="spec.name (deprecated upstream; kept for old manifests)")
    server_options.add_arguments(parser.add_argument_group("predictor servers the validator knows"))
    o = parser.add_argument_group("output")
    output.add_output_argument(o, output.DOCUMENT_FORMATS, file_hint=True)
    output.add_output_file_argument(o, "the SeldonDeployment")


def _add_graph_arguments(g) -> None:
    """The graph's nodes; each role's help names the method its class defines (docs/graphs.md)."""
    g.add_argument("--image", help="image of the single model")
    g.add_argument(
        "--server", metavar="SERVER", help="prepackaged server of the single model (SKLEARN_SERVER, ...)"
    )
    g.add_argument(
        "--model-uri", metavar="URI", help="model location for --server (gs://, s3://, pvc://, https://)"
    )
    g.add_argument(
        "--env-secret",
        metavar="NAME",
        help="with --server: the node's envSecretRefName, the Secret whose RCLONE_CONFIG_* keys let the "
        "storage initializer read --model-uri (s3://...: `fadi-seldon upload --print-secret NAME`)",
    )
    g.add_argument("--model-name", metavar="NAME", help="graph node (and container) name of --image/--server")
    g.add_argument(
        "--model",
        dest="models",
        action="append",
        default=[],
        metavar="REF",
        help="a model (repeat); an image's class defines predict()",
    )
    g.add_argument("--transformer", dest="transformers", action="append", default=[], metavar="REF",
                   help="input transformer, applied in the order given; its class defines transform_input() (repeat)")  # fmt: skip
    g.add_argument("--output-transformer", dest="output_transformers", action="append", default=[], metavar="REF",
                   help="output transformer, applied to the response in the order given; its class defines "
                        "transform_output() (repeat)")  # fmt: skip
    g.add_argument(
        "--router",
        metavar="REF",
        help="route between the models: RANDOM_ABTEST, or NAME=IMAGE whose class defines route()",
    )
    g.add_argument("--ratio-a", type=float, metavar="R", help="RANDOM_ABTEST share for the first model, 0..1")
    g.add_argument(
        "--combiner",
        metavar="REF",
        help="combine the outputs of all models: NAME=IMAGE whose class defines aggregate()",
    )
    g.add_argument("--param", dest="params", action="append", default=[], metavar="NODE.NAME=VALUE",
                   help="a node parameter; the type follows the value (1 INT, 0.5 FLOAT, true BOOL)")  # fmt: skip
    g.add_argument("--canary", metavar="REF", help="a canary predictor running this model instead")
    g.add_argument(
        "--canary-traffic", type=int, metavar="PCT", help="with --canary: the canary's share of traffic (10)"
    )
    g.add_argument("--shadow", metavar="REF", help="a shadow predictor that gets a copy of every request")


def to_options(args: argparse.Namespace) -> options.DeploymentOptions:
    """The parsed flags as the domain's options (every destination is named after its option; a
    flag not given, None, leaves the domain's default where it has one)."""
    given = {name: getattr(args, name) for name in options.option_names()}
    if given.get("canary_traffic") is None:
        given.pop("canary_traffic", None)
    return options.DeploymentOptions(**given)


def check_usage(args: argparse.Namespace) -> None:
    """Flags that mean something only with another one: refused alone rather than ignored."""
    if args.canary_traffic is not None and not args.canary:
        raise usage("--canary-traffic needs --canary REF (the canary predictor it gives traffic to)")
    output.check_output_file_arguments(args)


def run(args: argparse.Namespace) -> int:
    check_usage(args)
    servers = server_options.servers(args)
    try:
        manifest = graph.to_manifest(options.build(to_options(args)), servers)
    except GraphError as err:
        # the validator refusing what the flags built is a finding; anything else is bad usage
        refused = getattr(graph, "ManifestRefused", ())
        code = ExitCode.FAILED if refused and isinstance(err, refused) else ExitCode.USAGE
        raise CliError(str(err), code) from None
    _validate(manifest, servers)
    return output.deliver(output.render(manifest, args.output), args.output_file, args.force)


def _validate(manifest: dict, servers: set[str] | None) -> None:
    """Run the offline validator: warnings go to stderr, errors fail the command (nothing printed,
    the findings in one line, and as a list under -o json)."""
    from fadi_seldon.sdep.validator import validate_object

    found = validate_object(manifest, servers)
    for f in found:
        if f.severity != "error":
            print(f"{f.severity}: {f.path}: {f.message} [{f.rule}]", file=sys.stderr)
    errors = [f for f in found if f.severity == "error"]
    if errors:
        words = "; ".join(f"{f.path}: {f.message} [{f.rule}]" for f in errors)
        findings = [{"path": f.path, "message": f.message, "rule": f.rule} for f in errors]
        raise CliError(f"the validator refuses what was built: {words}", details={"findings": findings})
