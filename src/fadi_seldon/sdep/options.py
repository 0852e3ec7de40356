"""A SeldonDeployment from a flat set of options: what `fadi-seldon new` builds from its flags.

The options cover the common shapes (one model, a transformer chain, an A/B test, a combiner, a
canary, a shadow); `spec` names a graph spec file (docs/graphs.md) for everything else, and the
deployment options (name, namespace, labels, replicas...) then override or complete it. The command
line only turns its arguments into a `DeploymentOptions`; `build` does the rest. Error messages name
the command's flags (FLAGS), since that is how a user gives these options.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from fadi_seldon.sdep import graph
from fadi_seldon.sdep.graph import Deployment, GraphError, Node, Parameter, Predictor, Resources


@dataclass
class DeploymentOptions:
    """Everything `fadi-seldon new` accepts, as plain values (component references are text: NAME=IMAGE...)."""

    name: str | None = None
    spec: str | None = None  # a graph spec file; replaces every graph option
    # the graph
    image: str | None = None
    server: str | None = None
    model_uri: str | None = None
    env_secret: str | None = None  # the --server node's envSecretRefName
    model_name: str | None = None
    models: list[str] = field(default_factory=list)
    transformers: list[str] = field(default_factory=list)
    output_transformers: list[str] = field(default_factory=list)
    router: str | None = None
    ratio_a: float | None = None
    combiner: str | None = None
    params: list[str] = field(default_factory=list)  # NODE.NAME=VALUE
    canary: str | None = None
    canary_traffic: int = 10
    shadow: str | None = None
    # the deployment
    predictor: str = "default"
    replicas: int | None = None
    requests: str | None = None  # cpu=100m,memory=256Mi
    limits: str | None = None
    protocol: str | None = None
    transport: str | None = None
    endpoint_type: str | None = None
    api_version: str | None = None
    namespace: str | None = None
    labels: list[str] = field(default_factory=list)  # K=V
    annotations: list[str] = field(default_factory=list)
    spec_name: str | None = None


# the command-line flag of each option (its long spelling), as error messages and examples name them
FLAGS: dict[str, str] = {
    "--from": "spec",
    "--image": "image",
    "--server": "server",
    "--model-uri": "model_uri",
    "--env-secret": "env_secret",
    "--model-name": "model_name",
    "--model": "models",
    "--transformer": "transformers",
    "--output-transformer": "output_transformers",
    "--router": "router",
    "--ratio-a": "ratio_a",
    "--combiner": "combiner",
    "--param": "params",
    "--canary": "canary",
    "--canary-traffic": "canary_traffic",
    "--shadow": "shadow",
    "--predictor": "predictor",
    "--replicas": "replicas",
    "--requests": "requests",
    "--limits": "limits",
    "--protocol": "protocol",
    "--transport": "transport",
    "--endpoint-type": "endpoint_type",
    "--api-version": "api_version",
    "--namespace": "namespace",
    "--label": "labels",
    "--annotation": "annotations",
    "--spec-name": "spec_name",
}
# options that describe the graph itself; a spec replaces all of them
GRAPH_OPTIONS = (
    "image",
    "server",
    "model_uri",
    "env_secret",
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
_NUMBERS = {"ratio_a": float, "canary_traffic": int, "replicas": int}


def flag(option: str) -> str:
    return next(f for f, o in FLAGS.items() if o == option)


def set_flag(opts: DeploymentOptions, name: str, text: str) -> None:
    """Give the option of flag `name` its value written as text (a repeatable flag appends)."""
    if name not in FLAGS:
        raise GraphError(f"unknown option {name!r}; known: {', '.join(FLAGS)}")
    option = FLAGS[name]
    current = getattr(opts, option)
    if isinstance(current, list):
        current.append(text)
        return
    try:
        setattr(opts, option, _NUMBERS.get(option, str)(text))
    except ValueError:
        raise GraphError(f"{name} expects a number, got {text!r}") from None


def from_words(words: list[str]) -> DeploymentOptions:
    """Options from `fadi-seldon new` words: an optional NAME, then `--flag VALUE` pairs."""
    opts = DeploymentOptions()
    rest = list(words)
    if rest and not rest[0].startswith("--"):
        opts.name = rest.pop(0)
    if len(rest) % 2:
        raise GraphError(f"expected --flag VALUE pairs, got {rest!r}")
    for name, text in zip(rest[::2], rest[1::2], strict=True):
        set_flag(opts, name, text)
    return opts


def option_names() -> set[str]:
    return {f.name for f in fields(DeploymentOptions)}


# --------------------------------------------------------------------------- building


def build(opts: DeploymentOptions) -> Deployment:
    """The Deployment the options describe; GraphError says which option is wrong and why."""
    return _from_spec(opts, opts.spec) if opts.spec else from_flags(opts)


def _from_spec(opts: DeploymentOptions, spec: str) -> Deployment:
    used = [flag(o) for o in GRAPH_OPTIONS if getattr(opts, o) not in (None, [])]
    if used:
        raise GraphError(
            f"--from describes the whole graph; drop {', '.join(used)} or move them into the spec"
        )
    from fadi_seldon.sdep import graph_spec

    dep = graph_spec.load(Path(spec))
    apply_deployment_options(dep, opts)
    if not dep.name:
        raise GraphError(f"{opts.spec}: no name: set `name:` in the spec or pass NAME on the command line")
    return dep


def from_flags(opts: DeploymentOptions) -> Deployment:
    """The graph options (see `fadi-seldon new --help` for the shapes) as a Deployment."""
    if not opts.name:
        raise GraphError("give the deployment a NAME (or use --from SPEC)")
    models = _models(opts)
    main = Predictor(name=opts.predictor, graph=_chain(opts, _core(opts, models)))
    predictors = [main, *_other_predictors(opts, models, main)]
    _apply_params(opts, predictors)
    dep = Deployment(name=opts.name, predictors=predictors)
    apply_deployment_options(dep, opts)
    return dep


def _models(opts: DeploymentOptions) -> list[Node]:
    models = [graph.parse_component(ref, "MODEL", f"--model {ref}") for ref in opts.models]
    if opts.image and opts.server:
        raise GraphError("--image and --server are two ways to give the model: choose one")
    for option in ("model_uri", "env_secret"):
        if getattr(opts, option) and not opts.server:
            raise GraphError(f"{flag(option)} goes with --server (e.g. --server SKLEARN_SERVER)")
    if opts.image:
        models.insert(0, graph.parse_component(opts.image, "MODEL", "--image", name=opts.model_name))
    elif opts.server:
        ref = f"{opts.server}:{opts.model_uri}" if opts.model_uri else opts.server
        node = graph.parse_component(ref, "MODEL", "--server", name=opts.model_name)
        if not node.implementation:
            raise GraphError(
                f"--server expects an upper-case server name such as SKLEARN_SERVER, got {opts.server!r}"
            )
        node.env_secret_ref_name = opts.env_secret
        models.insert(0, node)
    elif opts.model_name:
        raise GraphError("--model-name names the model of --image or --server; with --model use NAME=REF")
    if not models:
        raise GraphError("no model: give --image IMAGE, --server SERVER --model-uri URI, or --model REF")
    return models


def _core(opts: DeploymentOptions, models: list[Node]) -> Node:
    """The models joined by a router or a combiner, or the single model."""
    if opts.router and opts.combiner:
        raise GraphError("use either --router or --combiner on the flags; nest them with --from SPEC")
    if opts.router:
        router = graph.parse_component(opts.router, "ROUTER", "--router")
        router.children = models
        if router.implementation == "RANDOM_ABTEST":
            ratio = 0.5 if opts.ratio_a is None else opts.ratio_a
            router.parameters.append(Parameter("ratioA", repr(float(ratio)), "FLOAT"))
        elif opts.ratio_a is not None:
            raise GraphError("--ratio-a only applies to --router RANDOM_ABTEST")
        return router
    if opts.ratio_a is not None:
        raise GraphError("--ratio-a needs --router RANDOM_ABTEST")
    if opts.combiner:
        combiner = graph.parse_component(opts.combiner, "COMBINER", "--combiner")
        combiner.children = models
        return combiner
    if len(models) > 1:
        raise GraphError(f"{len(models)} models need a --router or a --combiner to join them")
    return models[0]


def _chain(opts: DeploymentOptions, core: Node) -> Node:
    """Nest the chain: output transformers outermost (the last applied is the root), then input ones."""
    node = core
    for ref in reversed(opts.transformers):
        transformer = graph.parse_component(ref, "TRANSFORMER", "--transformer")
        transformer.children = [node]
        node = transformer
    for ref in opts.output_transformers:
        output = graph.parse_component(ref, "OUTPUT_TRANSFORMER", "--output-transformer")
        output.children = [node]
        node = output
    return node


def _other_predictors(opts: DeploymentOptions, models: list[Node], main: Predictor) -> list[Predictor]:
    """The canary and shadow predictors: the main graph with its single model replaced."""
    out = []
    for name, ref in (("--canary", opts.canary), ("--shadow", opts.shadow)):
        if not ref:
            continue
        if len(models) != 1 or opts.router or opts.combiner:
            raise GraphError(
                f"{name} replaces the single model of the main graph; for larger graphs use --from SPEC"
            )
        # without NAME= the node keeps the main model's name: the canary is a new version of it
        explicit, _ = graph.split_name(ref)
        other = graph.parse_component(ref, "MODEL", name, name=explicit or models[0].name)
        if name == "--canary":
            if not 0 < opts.canary_traffic < 100:
                raise GraphError(f"--canary-traffic must be between 1 and 99, got {opts.canary_traffic}")
            main.traffic = 100 - opts.canary_traffic
            out.append(Predictor(name="canary", graph=_chain(opts, other), traffic=opts.canary_traffic))
        else:
            out.append(Predictor(name="shadow", graph=_chain(opts, other), shadow=True))
    return out


def _parse_value(text: str) -> Any:
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, bool | int | float) else text


def _apply_params(opts: DeploymentOptions, predictors: list[Predictor]) -> None:
    for item in opts.params:
        target, sep, value = item.partition("=")
        node_name, dot, pname = target.partition(".")
        if not sep or not dot or not pname:
            raise GraphError(f"--param expects NODE.NAME=VALUE, got {item!r}")
        nodes = [n for p in predictors for n in p.graph.walk() if n.name == node_name]
        if not nodes:
            raise GraphError(f"--param {item!r}: no graph node named {node_name!r}")
        for node in nodes:
            node.parameters.append(Parameter.infer(pname, _parse_value(value), "--param"))


def _pairs(items: list[str], name: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise GraphError(f"{name} expects KEY=VALUE, got {item!r}")
        out[key] = value
    return out


def apply_deployment_options(dep: Deployment, opts: DeploymentOptions) -> None:
    """Options that may override or complete a spec: name, namespace, labels, api version, resources."""
    for attr in ("name", "namespace", "api_version", "protocol", "transport", "spec_name"):
        value = getattr(opts, attr)
        if value:
            setattr(dep, attr, value)
    dep.labels.update(_pairs(opts.labels, "--label"))
    dep.annotations.update(_pairs(opts.annotations, "--annotation"))
    if opts.requests or opts.limits:
        dep.resources = Resources(
            requests=graph.parse_quantity_map(opts.requests or "", "--requests"),
            limits=graph.parse_quantity_map(opts.limits or "", "--limits"),
        )
    for pred in dep.predictors:
        if opts.replicas is not None:
            pred.replicas = opts.replicas
        if opts.endpoint_type:
            for node in pred.graph.walk():
                node.endpoint_type = opts.endpoint_type
