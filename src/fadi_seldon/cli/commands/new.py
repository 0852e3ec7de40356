"""`fadi-seldon new`: generate a SeldonDeployment from flags or from a compact graph spec.

Flags cover the common shapes (one model, a transformer chain, an A/B test, a combiner, a canary,
a shadow); `--from SPEC.yaml` covers everything else (docs/graphs.md). The result is checked by
the offline validator before it is printed, so what this command emits is what the operator accepts.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fadi_seldon.sdep import graph
from fadi_seldon.sdep.graph import Deployment, GraphError, Node, Parameter, Predictor, Resources

HELP = "generate a SeldonDeployment (models, routers, combiners, canaries...)"

EPILOG = """\
component references (--image/--model/--transformer/--router/...):
  [NAME=]IMAGE         a custom container, e.g. clf=seldonio/mock_classifier:1.0
  [NAME=]SERVER:URI    a prepackaged server with its model, e.g. iris=SKLEARN_SERVER:gs://seldon-models/sklearn/iris
  RANDOM_ABTEST        the engine's built-in A/B router (with --ratio-a)

examples:
  fadi-seldon new iris --server SKLEARN_SERVER --model-uri gs://seldon-models/sklearn/iris
  fadi-seldon new ab --model a=repo/a:1 --model b=repo/b:1 --router RANDOM_ABTEST --ratio-a 0.7
  fadi-seldon new ens --model a=repo/a:1 --model b=repo/b:1 --combiner avg=repo/avg:1
  fadi-seldon new m --image repo/m:1 --canary repo/m:2 --canary-traffic 20 -o m.yaml
  fadi-seldon new --from graph.yaml --output json
"""

# flags that describe the graph itself; --from replaces all of them
_GRAPH_FLAGS = (
    "image",
    "server",
    "model_uri",
    "models",
    "transformers",
    "output_transformers",
    "router",
    "ratio_a",
    "combiner",
    "canary",
    "shadow",
    "params",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("name", nargs="?", help="metadata.name of the SeldonDeployment (DNS label)")
    parser.add_argument(
        "--from", dest="spec", metavar="SPEC", help="build from a graph spec file (docs/graphs.md)"
    )
    g = parser.add_argument_group("graph")
    g.add_argument("--image", help="image of the single model")
    g.add_argument(
        "--server", metavar="SERVER", help="prepackaged server of the single model (SKLEARN_SERVER, ...)"
    )
    g.add_argument(
        "--model-uri", metavar="URI", help="model location for --server (gs://, s3://, pvc://, https://)"
    )
    g.add_argument("--model-name", metavar="NAME", help="graph node (and container) name of --image/--server")
    g.add_argument(
        "--model", dest="models", action="append", default=[], metavar="REF", help="a model (repeat)"
    )
    g.add_argument("--transformer", dest="transformers", action="append", default=[], metavar="REF",
                   help="input transformer, applied in the order given (repeat)")  # fmt: skip
    g.add_argument("--output-transformer", dest="output_transformers", action="append", default=[], metavar="REF",
                   help="output transformer, applied to the response in the order given (repeat)")  # fmt: skip
    g.add_argument("--router", metavar="REF", help="route between the models: RANDOM_ABTEST or NAME=IMAGE")
    g.add_argument("--ratio-a", type=float, metavar="R", help="RANDOM_ABTEST share for the first model, 0..1")
    g.add_argument("--combiner", metavar="REF", help="combine the outputs of all models: NAME=IMAGE")
    g.add_argument("--param", dest="params", action="append", default=[], metavar="NODE.NAME=VALUE",
                   help="a node parameter; the type follows the value (1 INT, 0.5 FLOAT, true BOOL)")  # fmt: skip
    g.add_argument("--canary", metavar="REF", help="a canary predictor running this model instead")
    g.add_argument(
        "--canary-traffic", type=int, default=10, metavar="PCT", help="canary share of traffic (10)"
    )
    g.add_argument("--shadow", metavar="REF", help="a shadow predictor that gets a copy of every request")
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
    o = parser.add_argument_group("output")
    o.add_argument("--output", choices=("yaml", "json"), default="yaml", help="format (yaml)")
    o.add_argument("-o", "--output-file", metavar="FILE", help="write to FILE instead of stdout")
    o.add_argument("--force", action="store_true", help="overwrite FILE (a backup FILE.bak is kept)")


def run(args: argparse.Namespace) -> int:
    try:
        dep = _from_spec(args) if args.spec else from_flags(args)
        manifest = graph.to_manifest(dep)
    except GraphError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    problems = _validate(manifest)
    if problems:
        return 1
    text = graph.dump(manifest, args.output)
    if not args.output_file:
        sys.stdout.write(text)
        return 0
    from fadi_seldon.model.packaging import FileExistsRefused, write_text_safely

    try:
        backup = write_text_safely(Path(args.output_file), text, force=args.force)
    except FileExistsRefused as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"error: cannot write {args.output_file}: {err.strerror or err}", file=sys.stderr)
        return 1
    note = f" (previous content kept in {backup})" if backup else ""
    print(f"wrote {args.output_file}{note}", file=sys.stderr)
    return 0


def _validate(manifest: dict) -> int:
    """Run the offline validator; print its findings. Returns the number of errors."""
    try:
        from fadi_seldon.sdep.validator import validate_object
    except ImportError:  # the validator ships in the same package; only a broken install lacks it
        return 0
    errors = 0
    for f in validate_object(manifest):
        print(f"{f.severity}: {f.path}: {f.message} [{f.rule}]", file=sys.stderr)
        errors += f.severity == "error"
    return errors


def _from_spec(args: argparse.Namespace) -> Deployment:
    used = [f"--{flag.replace('_', '-')}" for flag in _GRAPH_FLAGS if getattr(args, flag) not in (None, [])]
    if used:
        raise GraphError(
            f"--from describes the whole graph; drop {', '.join(used)} or move them into the spec"
        )
    from fadi_seldon.sdep import graph_spec

    dep = graph_spec.load(Path(args.spec))
    _apply_deployment_flags(dep, args)
    if not dep.name:
        raise GraphError(f"{args.spec}: no name: set `name:` in the spec or pass NAME on the command line")
    return dep


def _pairs(items: list[str], flag: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise GraphError(f"{flag} expects KEY=VALUE, got {item!r}")
        out[key] = value
    return out


def _apply_deployment_flags(dep: Deployment, args: argparse.Namespace) -> None:
    """Flags that may override or complete a spec: name, namespace, labels, api version, output shape."""
    for attr in ("name", "namespace", "api_version", "protocol", "transport", "spec_name"):
        value = getattr(args, attr)
        if value:
            setattr(dep, attr, value)
    dep.labels.update(_pairs(args.labels, "--label"))
    dep.annotations.update(_pairs(args.annotations, "--annotation"))
    if args.requests or args.limits:
        dep.resources = Resources(
            requests=graph.parse_quantity_map(args.requests or "", "--requests"),
            limits=graph.parse_quantity_map(args.limits or "", "--limits"),
        )
    for pred in dep.predictors:
        if args.replicas is not None:
            pred.replicas = args.replicas
        if args.endpoint_type:
            for node in pred.graph.walk():
                node.endpoint_type = args.endpoint_type


def _parse_value(text: str):
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, bool | int | float) else text


def _wrap(core: Node, transformers: list[Node], output_transformers: list[Node]) -> Node:
    """Nest the chain: output transformers outermost (last applied is the root), then input transformers."""
    node = core
    for t in reversed(transformers):
        t.children = [node]
        node = t
    for o in output_transformers:
        o.children = [node]
        node = o
    return node


def _core(args: argparse.Namespace, models: list[Node]) -> Node:
    if args.router and args.combiner:
        raise GraphError("use either --router or --combiner on the flags; nest them with --from SPEC")
    if args.router:
        router = graph.parse_component(args.router, "ROUTER", "--router")
        router.children = models
        if router.implementation == "RANDOM_ABTEST":
            ratio = 0.5 if args.ratio_a is None else args.ratio_a
            router.parameters.append(Parameter("ratioA", repr(float(ratio)), "FLOAT"))
        elif args.ratio_a is not None:
            raise GraphError("--ratio-a only applies to --router RANDOM_ABTEST")
        return router
    if args.ratio_a is not None:
        raise GraphError("--ratio-a needs --router RANDOM_ABTEST")
    if args.combiner:
        combiner = graph.parse_component(args.combiner, "COMBINER", "--combiner")
        combiner.children = models
        return combiner
    if len(models) > 1:
        raise GraphError(f"{len(models)} models need a --router or a --combiner to join them")
    return models[0]


def from_flags(args: argparse.Namespace) -> Deployment:
    """Translate the graph flags into a Deployment (see EPILOG for the shapes)."""
    if not args.name:
        raise GraphError("give the deployment a NAME (or use --from SPEC)")
    models = [graph.parse_component(ref, "MODEL", f"--model {ref}") for ref in args.models]
    if args.image and args.server:
        raise GraphError("--image and --server are two ways to give the model: choose one")
    if args.model_uri and not args.server:
        raise GraphError("--model-uri goes with --server (e.g. --server SKLEARN_SERVER)")
    if args.image:
        models.insert(0, graph.parse_component(args.image, "MODEL", "--image", name=args.model_name))
    elif args.server:
        ref = f"{args.server}:{args.model_uri}" if args.model_uri else args.server
        node = graph.parse_component(ref, "MODEL", "--server", name=args.model_name)
        if not node.implementation:
            raise GraphError(
                f"--server expects an upper-case server name such as SKLEARN_SERVER, got {args.server!r}"
            )
        models.insert(0, node)
    elif args.model_name:
        raise GraphError("--model-name names the model of --image or --server; with --model use NAME=REF")
    if not models:
        raise GraphError("no model: give --image IMAGE, --server SERVER --model-uri URI, or --model REF")

    def chain(core: Node) -> Node:
        transformers = [graph.parse_component(r, "TRANSFORMER", "--transformer") for r in args.transformers]
        outputs = [graph.parse_component(r, "OUTPUT_TRANSFORMER", "--output-transformer") for r in args.output_transformers]  # fmt: skip
        return _wrap(core, transformers, outputs)

    main = Predictor(name=args.predictor, graph=chain(_core(args, models)))
    predictors = [main]
    for flag, ref in (("--canary", args.canary), ("--shadow", args.shadow)):
        if not ref:
            continue
        if len(models) != 1 or args.router or args.combiner:
            raise GraphError(
                f"{flag} replaces the single model of the main graph; for larger graphs use --from SPEC"
            )
        # without NAME= the node keeps the main model's name: the canary is a new version of it
        explicit, _ = graph.split_name(ref)
        other = graph.parse_component(ref, "MODEL", flag, name=explicit or models[0].name)
        if flag == "--canary":
            if not 0 < args.canary_traffic < 100:
                raise GraphError(f"--canary-traffic must be between 1 and 99, got {args.canary_traffic}")
            main.traffic = 100 - args.canary_traffic
            predictors.append(Predictor(name="canary", graph=chain(other), traffic=args.canary_traffic))
        else:
            predictors.append(Predictor(name="shadow", graph=chain(other), shadow=True))
    for item in args.params:
        target, sep, value = item.partition("=")
        node_name, dot, pname = target.partition(".")
        if not sep or not dot or not pname:
            raise GraphError(f"--param expects NODE.NAME=VALUE, got {item!r}")
        nodes = [n for p in predictors for n in p.graph.walk() if n.name == node_name]
        if not nodes:
            raise GraphError(f"--param {item!r}: no graph node named {node_name!r}")
        for node in nodes:
            node.parameters.append(Parameter.infer(pname, _parse_value(value), "--param"))
    dep = Deployment(name=args.name, predictors=predictors)
    _apply_deployment_flags(dep, args)
    return dep
