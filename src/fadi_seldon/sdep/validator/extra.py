"""Checks beyond the CRD and the webhook: what the cluster would only report later.

The API server accepts these manifests, then the operator fails while reconciling (a Service name
that is not a DNS label, a label key too long) or the graph misbehaves at request time (a router
without children). Catching them before `kubectl apply` is the point of validating offline. Also here,
with the name checks: a metadata.name that still holds a template's placeholder, which the API server
refuses until the template is rendered (name-placeholder).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from fadi_seldon.sdep import schema
from fadi_seldon.sdep.validator.structural import Issue
from fadi_seldon.sdep.validator.webhook import (
    as_dict,
    as_list,
    as_str,
    containers,
    is_prepackaged,
    predictors,
    walk_graph,
)

MAX_NAME = 63  # DNS label, label value
# The operator labels per-container Services `seldon-app-svc-<container>`; a label key's name part
# is at most 63 characters, which leaves 48 for the container name.
MAX_GRAPH_CONTAINER_NAME = MAX_NAME - len("seldon-app-svc-")
DNS_1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# a complete placeholder of Argo or Helm ({{...}}), envsubst (${...}) or kubectl ($(...))
PLACEHOLDER = re.compile(r"\{\{.*?\}\}|\$\{[^}]*\}|\$\([^)]*\)")
# a modelUri names a storage scheme (gs://, s3://, pvc://, https://...) or an rclone remote (remote:path)
MODEL_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-_]*:\S*$")
# containers the operator itself adds or recognises in componentSpecs (not graph nodes)
OPERATOR_CONTAINERS = frozenset({"seldon-container-engine", "tfserving"})
ROUTERS = ("ROUTER",)
ROUTER_IMPLEMENTATIONS = ("SIMPLE_ROUTER", "RANDOM_ABTEST")
COMBINER_IMPLEMENTATIONS = ("AVERAGE_COMBINER",)
BUILTINS = (*ROUTER_IMPLEMENTATIONS, *COMBINER_IMPLEMENTATIONS, "SIMPLE_MODEL")


def check(obj: dict) -> list[Issue]:
    out: list[Issue] = []
    out.extend(_check_metadata(obj))
    for i, predictor in predictors(obj):
        out.extend(_check_predictor(obj, i, predictor))
    return out


def _check_metadata(obj: dict) -> Iterator[Issue]:
    if obj.get("apiVersion") not in schema.API_VERSIONS:
        yield Issue(
            ("apiVersion",),
            "api-version",
            f'apiVersion "{obj.get("apiVersion")}" does not serve SeldonDeployment; use one of '
            + ", ".join(schema.API_VERSIONS),
        )
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        yield Issue(("metadata",), "metadata-name", "metadata with a name is required: add metadata.name")
        return
    name = meta.get("name")
    if name is None:
        if not isinstance(meta.get("generateName"), str):
            yield Issue(("metadata", "name"), "metadata-name", "Required value: add metadata.name")
        return
    yield from _check_name(name)


def _check_name(name: object) -> Iterator[Issue]:
    """metadata.name as the API server and the operator's Services take it. A template's name is
    checked for what its literal text already decides, its placeholders standing for any valid text."""
    literal = name
    if is_placeholder(name):
        yield _placeholder_issue(str(name))
        literal = PLACEHOLDER.sub("x", str(name))
    whatever = " whatever its placeholders become" if literal != name else ""
    if not isinstance(literal, str) or len(literal) > 253 or not DNS_1123_SUBDOMAIN.match(literal):
        yield Issue(
            ("metadata", "name"),
            "metadata-name",
            f"{name!r} is not a valid name{whatever}: use lower-case letters, digits and '-', starting and "
            "ending with a letter or digit",
        )
    elif not literal[0].isalpha() or "." in literal:
        yield Issue(
            ("metadata", "name"),
            "invalid-name",
            f'"{name}" cannot prefix the Services the operator creates{whatever} (<name>-<predictor> must be '
            "a DNS-1035 label: start with a letter, no dots); rename it",
        )


def _placeholder_issue(name: str) -> Issue:
    """The file is a template, not yet a manifest: name what keeps the API server from taking it."""
    found = PLACEHOLDER.findall(name) or [name]
    return Issue(
        ("metadata", "name"),
        "name-placeholder",
        f'metadata.name "{name}" holds the template placeholder {", ".join(map(repr, found))}: the API server '
        "refuses the name until the template is rendered (a name is lower-case letters, digits, '-' and "
        "'.'). Apply it only through the tool that renders it, and validate the rendered manifest "
        "(`helm template ... | fadi-seldon validate -`)",
    )


def is_placeholder(value: object) -> bool:
    """A value a template engine fills in later (Argo, Helm, envsubst, kubectl $(VAR))."""
    return isinstance(value, str) and ("{{" in value or "${" in value or "$(" in value)


def _check_predictor(obj: dict, i: int, predictor: dict) -> Iterator[Issue]:
    base = ("spec", "predictors", i)
    sdep = as_str(as_dict(obj.get("metadata")).get("name"))
    labelled = "version" in as_dict(predictor.get("labels"))
    yield from _check_predictor_name(base, sdep, predictor.get("name"), labelled)
    yield from _check_svc_name(base, as_dict(predictor.get("annotations")).get("seldon.io/svc-name"))
    graph_names: dict[str, tuple] = {}
    for node, path, depth in walk_graph(predictor.get("graph"), (*base, "graph")):
        yield from _check_node(node, path, depth, graph_names)
    named = set()
    for container, rel in containers(predictor):
        named.add(as_str(container.get("name")))
        yield from _check_container(container, (*base, *rel, "name"), graph_names)
    # a prepackaged-server node without a container gets one named after it: the same name rules
    for node, path, _ in walk_graph(predictor.get("graph"), (*base, "graph")):
        name = node.get("name")
        if is_prepackaged(as_str(node.get("implementation"))) and isinstance(name, str) and name not in named:
            yield from _container_name_issues(name, (*path, "name"), runs_node=True)


def _check_predictor_name(base: tuple, sdep: str, pname: object, labelled: bool) -> Iterator[Issue]:
    """`labelled`: the predictor sets labels.version itself, so its name is not that label's value."""
    if not isinstance(pname, str) or is_placeholder(pname):
        return
    if len(pname) > MAX_NAME and not labelled:
        yield Issue(
            (*base, "name"),
            "name-too-long",
            f"predictor name is {len(pname)} characters; the operator uses it as the value of the "
            f"version label (at most {MAX_NAME}): shorten it, or set labels.version yourself",
        )
    elif not DNS_1123_LABEL.match(pname):
        yield Issue(
            (*base, "name"),
            "invalid-name",
            f'predictor name "{pname}" becomes part of Service names: use lower-case letters, digits and "-"',
        )
    elif sdep and len(f"{sdep}-{pname}") > MAX_NAME:
        yield Issue(
            (*base, "name"),
            "hashed-name",
            f'Service name "{sdep}-{pname}" is over {MAX_NAME} characters: the operator will name it '
            "seldon-<md5 hash>; shorten metadata.name or the predictor name for readable names",
        )


def _check_svc_name(base: tuple, svc: object) -> Iterator[Issue]:
    if isinstance(svc, str) and (
        len(svc) > MAX_NAME or not DNS_1123_LABEL.match(svc) or not svc[:1].isalpha()
    ):
        yield Issue(
            (*base, "annotations", "seldon.io/svc-name"),
            "name-too-long" if len(svc) > MAX_NAME else "invalid-name",
            f'seldon.io/svc-name "{svc}" is used verbatim as a Service name: at most {MAX_NAME} lower-case '
            "letters, digits and '-', starting with a letter",
        )


def _check_container(container: dict, path: tuple, graph_names: dict[str, tuple]) -> Iterator[Issue]:
    cname = container.get("name")
    if not isinstance(cname, str) or is_placeholder(cname):
        return
    yield from _container_name_issues(cname, path, runs_node=cname in graph_names)
    if cname not in graph_names and cname not in OPERATOR_CONTAINERS:
        yield Issue(
            path,
            "unused-container",
            f'container "{cname}" is not a node of the graph; it runs as a sidecar. If it should serve '
            "a node, name the node after it",
        )


def _container_name_issues(cname: str, path: tuple, runs_node: bool) -> Iterator[Issue]:
    """A container name becomes a Service name part and, for graph containers, a label key."""
    if is_placeholder(cname):
        return
    if not DNS_1123_LABEL.match(cname) or len(cname) > MAX_NAME:
        yield Issue(
            path,
            "invalid-name",
            f'container name "{cname}" is not a DNS label: at most {MAX_NAME} lower-case letters, digits and "-"',
        )
    elif runs_node and len(cname) > MAX_GRAPH_CONTAINER_NAME:
        yield Issue(
            path,
            "container-name-too-long",
            f'container "{cname}" runs a graph node and is {len(cname)} characters; the operator labels its '
            f"Service seldon-app-svc-<name>, so at most {MAX_GRAPH_CONTAINER_NAME} fit: shorten it "
            "(and the graph node name)",
        )


def _check_node(node: dict, path: tuple, depth: int, seen: dict[str, tuple]) -> Iterator[Issue]:
    name = node.get("name")
    if isinstance(name, str):
        if name in seen:
            yield Issue(
                (*path, "name"),
                "duplicate-node-name",
                f'graph node name "{name}" is used twice in this predictor; nodes are matched to containers '
                "by name, so give each node its own name",
            )
        seen.setdefault(name, path)
    if depth == schema.GRAPH_DEPTH + 1:
        yield Issue(
            path,
            "graph-depth",
            f"graph is deeper than {schema.GRAPH_DEPTH} levels: the API server does not check nodes below "
            "this one against the schema (the webhook rules still apply); consider a flatter graph",
        )
    kind = node.get("type")
    impl = node.get("implementation")
    children = as_list(node.get("children"))
    if kind in ROUTERS or impl in ROUTER_IMPLEMENTATIONS:
        need = 2 if impl == "RANDOM_ABTEST" else 1
        if (len(children) != need) if impl == "RANDOM_ABTEST" else (len(children) < need):
            yield Issue(
                (*path, "children"),
                "graph-children",
                f"a router ({impl or kind}) chooses among its children but has {len(children)}; "
                + ("RANDOM_ABTEST needs exactly 2" if impl == "RANDOM_ABTEST" else "add at least one child"),
            )
    elif (kind == "COMBINER" or impl in COMBINER_IMPLEMENTATIONS) and not children:
        yield Issue(
            (*path, "children"),
            "graph-children",
            f"a combiner ({impl or kind}) merges the outputs of its children but has none; add children",
        )
    if impl in BUILTINS and kind is not None:
        yield Issue(
            (*path, "type"),
            "builtin-with-type",
            f"{impl} runs inside the executor and has no container, but `type: {kind}` makes the executor "
            "call this node's container (its requests fail): remove `type` from the node",
        )
    uri = node.get("modelUri")
    if isinstance(uri, str) and uri and not MODEL_URI.match(uri):
        yield Issue(
            (*path, "modelUri"),
            "model-uri-scheme",
            f'modelUri "{uri}" names no storage: write scheme://path (gs://, s3://, pvc://, https://) '
            "or an rclone remote (remote:path)",
        )
