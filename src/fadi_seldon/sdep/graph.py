"""Build SeldonDeployment manifests from a small, typed description of an inference graph.

`fadi-seldon new`, the `--from` spec format and `fadi-seldon package` all describe a graph with
the dataclasses below and call `to_manifest`. Keeping one builder means the rules that make a
manifest acceptable to the operator (a container named after every custom node, a modelUri on
every prepackaged server, traffic that sums to 100) are encoded once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from fadi_seldon.sdep import quantity, schema

# Enums come from the schema (the one declaration the CRD and the validator are built from).
GROUP = schema.GROUP
API_VERSIONS = schema.VERSIONS
PROTOCOLS = schema.PROTOCOLS
TRANSPORTS = schema.TRANSPORTS
ENDPOINT_TYPES = schema.ENDPOINT_TYPES
PARAMETER_TYPES = schema.PARAMETER_TYPES
# Roles a node can take here (UNKNOWN_TYPE needs hand-written `methods`: use a manifest for that).
NODE_TYPES = tuple(t for t in schema.PREDICTIVE_UNIT_TYPES if t != "UNKNOWN_TYPE")
# Implementations the engine runs itself (no container, no modelUri), and the role each plays.
BUILTIN_IMPLEMENTATIONS = {
    "SIMPLE_MODEL": "MODEL",
    "SIMPLE_ROUTER": "ROUTER",
    "RANDOM_ABTEST": "ROUTER",
    "AVERAGE_COMBINER": "COMBINER",
}

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SERVER_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


class GraphError(ValueError):
    """A graph description that cannot become a valid SeldonDeployment; `where` names the place."""

    def __init__(self, message: str, where: str = ""):
        super().__init__(f"{where}: {message}" if where else message)
        self.where = where
        self.reason = message


@dataclass
class Parameter:
    """A PredictiveUnit parameter; the operator passes it to the component as a typed value."""

    name: str
    value: str
    type: str = "STRING"

    @classmethod
    def infer(cls, name: str, value: Any, where: str = "") -> Parameter:
        """Parameter whose type follows the Python value (True -> BOOL, 3 -> INT, 0.5 -> FLOAT)."""
        if isinstance(value, bool):
            return cls(name, "true" if value else "false", "BOOL")
        if isinstance(value, int):
            return cls(name, str(value), "INT")
        if isinstance(value, float):
            return cls(name, repr(value), "FLOAT")
        if isinstance(value, str):
            return cls(name, value, "STRING")
        raise GraphError(
            f"parameter {name!r} must be a string, number or boolean, got {type(value).__name__}", where
        )


@dataclass
class Resources:
    """Container requests and limits, e.g. {"cpu": "100m", "memory": "256Mi"}."""

    requests: dict[str, str] = field(default_factory=dict)
    limits: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        if self.requests:
            out["requests"] = dict(self.requests)
        if self.limits:
            out["limits"] = dict(self.limits)
        return out

    def __bool__(self) -> bool:
        return bool(self.requests or self.limits)


@dataclass
class Node:
    """One PredictiveUnit: a custom image, a prepackaged server (implementation + modelUri) or a built-in."""

    name: str
    type: str = "MODEL"
    image: str | None = None
    implementation: str | None = None
    model_uri: str | None = None
    env_secret_ref_name: str | None = None  # the Secret whose keys the storage initializer gets
    parameters: list[Parameter] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    resources: Resources | None = None
    endpoint_type: str | None = None

    def walk(self):
        """This node and all its descendants, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass
class Predictor:
    name: str
    graph: Node
    replicas: int | None = None
    traffic: int | None = None
    shadow: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)  # e.g. seldon.io/no-engine


@dataclass
class Deployment:
    name: str
    predictors: list[Predictor]
    namespace: str | None = None
    api_version: str = "v1"
    protocol: str | None = None
    transport: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    spec_name: str | None = None
    resources: Resources | None = None  # default for every container without its own


def parse_quantity_map(text: str, where: str) -> dict[str, str]:
    """'cpu=100m,memory=256Mi' -> {'cpu': '100m', 'memory': '256Mi'} with each quantity checked."""
    out: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise GraphError(f"expected NAME=QUANTITY pairs like cpu=100m,memory=256Mi, got {item!r}", where)
        check_quantity(value, f"{where} {key}")
        out[key.strip()] = value.strip()
    return out


def check_quantity(value: str, where: str) -> None:
    if not quantity.is_quantity(str(value), negative_ok=False):
        fix = quantity.hint(str(value))
        fix = f"; write {fix}" if fix else ""
        raise GraphError(
            f"{value!r} is not a Kubernetes quantity (examples: 100m, 0.5, 256Mi, 1Gi){fix}", where
        )


def check_dns_label(name: str, where: str, what: str = "name") -> None:
    if not isinstance(name, str) or len(name) > 63 or not _DNS_LABEL.match(name):
        raise GraphError(
            f"{what} {name!r} must be a DNS label: at most 63 lower-case letters, digits or '-', "
            "starting and ending with a letter or digit",
            where,
        )


def is_server_name(text: str) -> bool:
    """True for an implementation name such as SKLEARN_SERVER or RANDOM_ABTEST (upper-case identifier)."""
    return bool(_SERVER_NAME.match(text))


# the operator labels a node's Service `seldon-app-svc-<container name>`, and a label key has 63 characters
MAX_NODE_NAME = 63 - len("seldon-app-svc-")


def _check_node_name(node: Node, where: str) -> None:
    check_dns_label(node.name, where, "node name")
    if len(node.name) > MAX_NODE_NAME:
        raise GraphError(
            f"node name {node.name!r} has {len(node.name)} characters; at most {MAX_NODE_NAME} fit in the "
            "label seldon-app-svc-<name> the operator gives its Service",
            where,
        )


def _check_implementation(node: Node, where: str) -> None:
    impl = node.implementation
    if impl in BUILTIN_IMPLEMENTATIONS:
        if node.image or node.model_uri or node.env_secret_ref_name:
            raise GraphError(
                f"{impl} runs inside the engine: it takes no image, modelUri nor envSecretRefName", where
            )
        if BUILTIN_IMPLEMENTATIONS[impl] != node.type:
            raise GraphError(f"{impl} is a {BUILTIN_IMPLEMENTATIONS[impl]}, not a {node.type}", where)
    elif impl:
        _check_env_secret(node, where)
        if not is_server_name(impl):
            raise GraphError(
                f"implementation {impl!r} must be an upper-case name such as SKLEARN_SERVER", where
            )
        if node.type != "MODEL":
            raise GraphError(f"prepackaged server {impl} can only be a MODEL node (got {node.type})", where)
    elif not node.image:
        raise GraphError("a custom node needs an image (or an implementation such as SKLEARN_SERVER)", where)
    elif node.env_secret_ref_name:
        raise GraphError(
            "envSecretRefName gives a prepackaged server's storage initializer its keys; a custom image "
            "has no modelUri to fetch",
            where,
        )


_SECRET_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _check_env_secret(node: Node, where: str) -> None:
    """A Secret's name (DNS subdomain): the operator adds it as the initializer's envFrom, and a name
    no Secret can have leaves the pod waiting (CreateContainerConfigError) rather than failing here."""
    name = node.env_secret_ref_name
    if name is not None and (len(name) > 253 or not _SECRET_NAME.match(name)):
        raise GraphError(
            f"envSecretRefName {name!r} is not a Secret name: lower-case letters, digits, '-' and '.', "
            "starting and ending with a letter or digit",
            where,
        )


def _check_children(node: Node, where: str) -> None:
    if node.type == "ROUTER" and len(node.children) < 1:
        raise GraphError("a ROUTER needs at least one child to route to", where)
    if node.type == "COMBINER" and len(node.children) < 1:
        raise GraphError("a COMBINER needs children whose outputs it combines", where)
    if node.implementation != "RANDOM_ABTEST":
        return
    if len(node.children) != 2:
        raise GraphError(f"RANDOM_ABTEST routes between exactly 2 children, got {len(node.children)}", where)
    ratio = next((p for p in node.parameters if p.name == "ratioA"), None)
    if ratio is None:
        raise GraphError("RANDOM_ABTEST needs the parameter ratioA (share of traffic for child 0)", where)
    try:
        value = float(ratio.value)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0 or ratio.type not in ("FLOAT", "DOUBLE"):
        raise GraphError(f"ratioA must be a FLOAT between 0 and 1, got {ratio.value!r} ({ratio.type})", where)


def _check_node(node: Node, where: str) -> None:
    """What only a graph description gets wrong (flags, spec files); the manifest's own rules
    (schema enums, the webhook's) are the validator's, applied by to_manifest."""
    _check_node_name(node, where)
    if node.type in NODE_TYPES:  # an unknown type is the schema's finding (schema-enum)
        _check_implementation(node, where)
        _check_children(node, where)


def check(dep: Deployment) -> None:
    """Reject descriptions that would give a manifest the builder cannot write, naming the place.

    The rules of the manifest itself (CRD schema and the webhook's: predictors, traffic, shadows,
    modelUri, enums) are not repeated here: to_manifest runs the validator on what it built.
    """
    check_dns_label(dep.name, "metadata.name", "deployment name")
    if dep.api_version not in API_VERSIONS:
        raise GraphError(
            f"apiVersion {dep.api_version!r} is not one of {', '.join(API_VERSIONS)}", "apiVersion"
        )
    for i, pred in enumerate(dep.predictors):
        where = f"spec.predictors[{i}]"
        check_dns_label(pred.name, where, "predictor name")
        if pred.replicas is not None and pred.replicas < 0:
            raise GraphError(f"replicas must be 0 or more, got {pred.replicas}", f"{where}.replicas")
        if pred.traffic is not None and not 0 <= pred.traffic <= 100:
            raise GraphError(f"traffic must be between 0 and 100, got {pred.traffic}", f"{where}.traffic")
        names: set[str] = set()
        for path, node in _paths(pred.graph, f"{where}.graph"):
            _check_node(node, path)
            if node.name in names:
                raise GraphError(f"node name {node.name!r} is used twice in predictor {pred.name!r}", path)
            names.add(node.name)


class ManifestRefused(GraphError):
    """The description was built, but the validator refuses the manifest (a finding, not bad usage)."""

    def __init__(self, message: str, where: str, rule: str) -> None:
        super().__init__(message, where)
        self.rule = rule


def refuse_findings(manifest: dict[str, Any], servers: set[str] | None = None) -> None:
    """Raise the validator's first error on a manifest the builder wrote (one copy of each rule);
    `servers`: the configured predictor servers (default: the chart's)."""
    from fadi_seldon.sdep import validator

    for finding in validator.validate_object(manifest, servers):
        if finding.severity == validator.ERROR:
            raise ManifestRefused(f"{finding.message} [{finding.rule}]", finding.path, finding.rule)


def _paths(node: Node, path: str):
    yield path, node
    for i, child in enumerate(node.children):
        yield from _paths(child, f"{path}.children[{i}]")


def _node_dict(node: Node) -> dict[str, Any]:
    """The node as the SeldonDeployment's graph; an engine built-in gets no `type`, since the executor
    calls a container for any node with `type: ROUTER` (or COMBINER, MODEL), and a built-in has none."""
    out: dict[str, Any] = {"name": node.name}
    if node.implementation not in BUILTIN_IMPLEMENTATIONS:
        out["type"] = node.type
    if node.implementation:
        out["implementation"] = node.implementation
    if node.model_uri:
        out["modelUri"] = node.model_uri
    if node.env_secret_ref_name:
        out["envSecretRefName"] = node.env_secret_ref_name
    if node.endpoint_type:
        out["endpoint"] = {"type": node.endpoint_type}
    if node.parameters:
        out["parameters"] = [{"name": p.name, "type": p.type, "value": p.value} for p in node.parameters]
    out["children"] = [_node_dict(c) for c in node.children]
    return out


def _containers(graph: Node, default_resources: Resources | None) -> list[dict[str, Any]]:
    """One container per node with an image, named after the node (the operator joins them by name)."""
    containers = []
    for node in graph.walk():
        if not node.image:
            continue
        container: dict[str, Any] = {"name": node.name, "image": node.image}
        if node.env:
            container["env"] = [{"name": k, "value": str(v)} for k, v in node.env.items()]
        resources = node.resources or default_resources
        if resources:
            container["resources"] = resources.to_dict()
        containers.append(container)
    return containers


def _predictor_dict(pred: Predictor, resources: Resources | None) -> dict[str, Any]:
    p: dict[str, Any] = {"name": pred.name}
    if pred.replicas is not None:
        p["replicas"] = pred.replicas
    if pred.traffic is not None:
        p["traffic"] = pred.traffic
    if pred.shadow:
        p["shadow"] = True
    if pred.labels:
        p["labels"] = dict(pred.labels)
    if pred.annotations:
        p["annotations"] = dict(pred.annotations)
    containers = _containers(pred.graph, resources)
    if containers:
        p["componentSpecs"] = [{"spec": {"containers": containers}}]
    p["graph"] = _node_dict(pred.graph)
    return p


def to_manifest(dep: Deployment, servers: set[str] | None = None) -> dict[str, Any]:
    """The SeldonDeployment as a plain dict (key order is the order a reader expects).

    Refused with a GraphError when the description cannot be built (check) or when what it builds
    breaks a rule of the validator (the CRD schema, the webhook's rules): `new` never writes a
    manifest the cluster would refuse.
    """
    check(dep)
    metadata: dict[str, Any] = {"name": dep.name}
    for key, value in (
        ("namespace", dep.namespace),
        ("labels", dep.labels),
        ("annotations", dep.annotations),
    ):
        if value:
            metadata[key] = dict(value) if isinstance(value, dict) else value
    spec: dict[str, Any] = {}
    for key, value in (("name", dep.spec_name), ("protocol", dep.protocol), ("transport", dep.transport)):
        if value:
            spec[key] = value
    spec["predictors"] = [_predictor_dict(pred, dep.resources) for pred in dep.predictors]
    manifest = {
        "apiVersion": f"{GROUP}/{dep.api_version}",
        "kind": "SeldonDeployment",
        "metadata": metadata,
        "spec": spec,
    }
    refuse_findings(manifest, servers)
    return manifest


def dump(manifest: dict[str, Any], fmt: str = "yaml") -> str:
    """Serialise a manifest as block YAML (key order kept) or indented JSON, ending with a newline."""
    if fmt == "json":
        import json

        return json.dumps(manifest, indent=2) + "\n"
    import yaml

    return yaml.safe_dump(manifest, sort_keys=False, default_flow_style=False, width=1000)


_IMAGE = re.compile(
    r"^[a-z0-9][a-z0-9._-]*(:\d+)?(/[a-z0-9][a-z0-9._-]*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[0-9a-f]{64})?$"
)


def default_name(reference: str) -> str:
    """A node name derived from an image or implementation: seldonio/mock_classifier:1.0 -> mock-classifier."""
    if is_server_name(reference.split(":", 1)[0]):
        base = reference.split(":", 1)[0].lower().replace("_", "-")
        return base.removesuffix("-server") or base
    repo = reference.split("@", 1)[0].rsplit("/", 1)[-1].split(":", 1)[0]
    name = re.sub(r"[^a-z0-9-]+", "-", repo.lower()).strip("-")
    return name[:63].rstrip("-") or "model"


def split_name(text: str) -> tuple[str | None, str]:
    """'clf=repo/img:1' -> ('clf', 'repo/img:1'); a reference without NAME= gives (None, reference)."""
    text = str(text).strip()
    explicit, sep, ref = text.partition("=")
    if sep and "/" not in explicit and ":" not in explicit:
        return explicit.strip(), ref.strip()
    return None, text


def parse_component(text: str, node_type: str, where: str, name: str | None = None) -> Node:
    """Parse a component reference used by flags and the spec format.

    `[NAME=]IMAGE` is a custom container (seldonio/mock_classifier:1.0);
    `[NAME=]SERVER:URI` is a prepackaged server with its model (SKLEARN_SERVER:gs://bucket/iris);
    `[NAME=]BUILTIN` is an engine built-in such as RANDOM_ABTEST.
    """
    explicit, ref = split_name(text)
    name = explicit or name
    if not ref:
        raise GraphError(
            f"empty component reference {str(text)!r}: expected [NAME=]IMAGE or [NAME=]SERVER:URI", where
        )
    head, colon, rest = ref.partition(":")
    if is_server_name(head):
        node = Node(name=name or default_name(head), type=node_type, implementation=head)
        if colon:
            if not rest:
                raise GraphError(f"{head}: the model URI after ':' is empty", where)
            node.model_uri = rest
        return node
    if not is_image(ref):
        raise GraphError(
            f"{ref!r} is neither an image (repo/name:tag, lower-case) nor a SERVER:URI "
            "(e.g. SKLEARN_SERVER:gs://seldon-models/sklearn/iris)",
            where,
        )
    return Node(name=name or default_name(ref), type=node_type, image=ref)


def is_image(ref: str) -> bool:
    """An image reference: [registry[:port]/]path[:tag][@sha256:digest], lower-case path."""
    return bool(_IMAGE.match(ref))
