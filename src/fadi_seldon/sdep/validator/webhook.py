"""The Seldon Core operator's admission webhook rules, evaluated offline.

Same conditions, same order and the same message text as the 1.17.1 webhook (clients and people
search for those strings); each message is followed by what to do about it. Paths point at the
field at fault rather than at `spec` as upstream does. Upstream rules 1-3 (protocol, transport and
serverType values) are the CRD enums here and are reported by the schema check (schema-enum).

The object may not match the schema (the schema check reports that); every accessor below
tolerates wrong types so that a broken manifest yields findings, never an exception.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fadi_seldon.sdep import predictor_servers, schema
from fadi_seldon.sdep.validator.structural import Issue

KAFKA_ENV = ("KAFKA_BROKER", "KAFKA_INPUT_TOPIC", "KAFKA_OUTPUT_TOPIC")
ANNOTATION_SVC_NAME = "seldon.io/svc-name"
ANNOTATION_NO_ENGINE = schema.ANNOTATION_NO_ENGINE
_NO_CONTAINER_NEEDED = frozenset(schema.BUILTIN_IMPLEMENTATIONS) - {"UNKNOWN_IMPLEMENTATION"}


def as_dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else []


def as_str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def predictors(obj: dict) -> list[tuple[int, dict]]:
    return [
        (i, p)
        for i, p in enumerate(as_list(as_dict(obj.get("spec")).get("predictors")))
        if isinstance(p, dict)
    ]


def walk_graph(
    node: Any, path: tuple, depth: int = 1, found: list | None = None
) -> list[tuple[dict, tuple, int]]:
    """Every graph node with its field path and level (root = 1), depth first (a list: every check
    walks every graph, a generator per level costs more than the walk)."""
    out = [] if found is None else found
    if isinstance(node, dict):
        out.append((node, path, depth))
        children = node.get("children")
        if children and isinstance(children, list):
            for i, child in enumerate(children):
                walk_graph(child, (*path, "children", i), depth + 1, out)
    return out


def containers(predictor: dict) -> Iterator[tuple[dict, tuple]]:
    """Containers of a predictor's componentSpecs, with their paths relative to the predictor."""
    for j, spec in enumerate(as_list(predictor.get("componentSpecs"))):
        pod = as_dict(as_dict(spec).get("spec"))
        for k, container in enumerate(as_list(pod.get("containers"))):
            if isinstance(container, dict):
                yield container, ("componentSpecs", j, "spec", "containers", k)


def find_container(predictor: dict, name: str) -> dict | None:
    for container, _ in containers(predictor):
        if container.get("name") == name:
            return container
    return None


def is_prepackaged(implementation: str) -> bool:
    return bool(implementation) and implementation not in schema.BUILTIN_IMPLEMENTATIONS


def check(obj: dict, servers: set[str]) -> list[Issue]:
    """All webhook findings for one SeldonDeployment, in the webhook's order."""
    out: list[Issue] = []
    spec = as_dict(obj.get("spec"))
    preds = predictors(obj)
    out.extend(_check_kafka(spec, preds))
    out.extend(_check_lone_shadow(preds))
    out.extend(_check_svc_names(preds))
    if isinstance(spec.get("predictors"), list) and not spec["predictors"]:
        out.append(
            Issue(
                ("spec", "predictors"),
                "webhook-no-predictors",
                "Graph contains no predictors; add a predictor",
            )
        )
    seen_names: dict[str, int] = {}
    for i, p in preds:
        out.extend(_check_predictor(i, p, seen_names))
        out.extend(_check_units(p, (*_BASE, i, "graph"), as_str(spec.get("protocol")), servers))
    out.extend(_check_transports(spec, preds))
    out.extend(_check_traffic(preds))
    return out


_BASE = ("spec", "predictors")


def _check_kafka(spec: dict, preds: list[tuple[int, dict]]) -> Iterator[Issue]:
    if spec.get("serverType") != "kafka":
        return
    for i, p in preds:
        env = as_list(as_dict(p.get("svcOrchSpec")).get("env"))
        found = sum(1 for e in env if isinstance(e, dict) and e.get("name") in KAFKA_ENV)
        if not env or found < len(KAFKA_ENV):
            yield Issue(
                (*_BASE, i, "svcOrchSpec", "env"),
                "webhook-kafka-env",
                "For kafka please supply svcOrchSpec envs KAFKA_BROKER, KAFKA_INPUT_TOPIC, KAFKA_OUTPUT_TOPIC",
            )


def _check_lone_shadow(preds: list[tuple[int, dict]]) -> Iterator[Issue]:
    if len(preds) == 1 and preds[0][1].get("shadow") is True:
        yield Issue(
            (*_BASE, preds[0][0], "shadow"),
            "webhook-lone-shadow",
            "Shadow can not exist as only predictor; add the main predictor or remove shadow: true",
        )


def _check_svc_names(preds: list[tuple[int, dict]]) -> Iterator[Issue]:
    svc_names: dict[str, int] = {}
    for i, p in preds:
        name = as_dict(p.get("annotations")).get(ANNOTATION_SVC_NAME)
        if not isinstance(name, str):
            continue
        if name in svc_names:
            yield Issue(
                (*_BASE, i, "annotations", ANNOTATION_SVC_NAME),
                "webhook-duplicate-svc-name",
                f"Found duplicate service name in seldon.io/svc-name with value {name}; "
                f"predictor {svc_names[name]} uses it already",
            )
        svc_names.setdefault(name, i)


def _check_predictor(i: int, p: dict, seen_names: dict[str, int]) -> Iterator[Issue]:
    if ANNOTATION_NO_ENGINE in as_dict(p.get("annotations")) and len(
        as_list(as_dict(p.get("graph")).get("children"))
    ):
        yield Issue(
            (*_BASE, i, "annotations", ANNOTATION_NO_ENGINE),
            "webhook-no-engine-graph",
            "Running without engine only valid for single element graphs; remove the annotation",
        )
    name = p.get("name")
    if isinstance(name, str):
        if name in seen_names:
            yield Issue(
                (*_BASE, i, "name"),
                "webhook-duplicate-predictor",
                f'Duplicate predictor name "{name}" (also predictor {seen_names[name]}); rename one',
            )
        seen_names.setdefault(name, i)


def _check_units(predictor: dict, graph_path: tuple, protocol: str, servers: set[str]) -> Iterator[Issue]:
    by_name: dict[str, dict] = {}  # find_container for every node, in one pass
    for container, _ in containers(predictor):
        if isinstance(container.get("name"), str):  # node names are strings: no other name matches
            by_name.setdefault(container["name"], container)
    for node, path, _ in walk_graph(predictor.get("graph"), graph_path):
        name = as_str(node.get("name"))
        impl = node.get("implementation")
        impl = impl if isinstance(impl, str) else None
        if impl is None or impl == "UNKNOWN_IMPLEMENTATION":
            if by_name.get(name) is None:
                yield Issue(
                    path,
                    "webhook-no-container",
                    f'Can\'t find container for Predictive Unit "{name}": add a container named "{name}" to '
                    "componentSpecs, or set implementation to a prepackaged server (with modelUri)",
                )
            methods = node.get("methods")
            if node.get("type") == "UNKNOWN_TYPE" and not methods:
                yield Issue(
                    (*path, "type"),
                    "webhook-no-methods",
                    "Predictive Unit has no implementation methods defined. "
                    "Change to a known type or add what methods it defines",
                )
        elif is_prepackaged(impl):
            if not as_str(node.get("modelUri")) and impl not in predictor_servers.MODEL_URI_OPTIONAL:
                yield Issue(
                    path,
                    "webhook-model-uri",
                    f"Predictive unit modelUri required when using standalone servers: the {impl} node needs a modelUri "
                    "(gs://bucket/path, s3://..., pvc://...)",
                )
            if protocol == "tensorflow" and impl in predictor_servers.NO_TENSORFLOW_PROTOCOL:
                yield Issue(
                    (*path, "implementation"),
                    "webhook-tensorflow-protocol",
                    f"Prepackaged server does not handle tensorflow protocol {impl}; use protocol seldon or v2",
                )
            served_by = by_name.get(name)
            if (served_by is None or not as_str(served_by.get("image"))) and impl not in servers:
                yield Issue(
                    (*path, "implementation"), "unknown-server", unknown_server_message(impl, name, servers)
                )
        logger = node.get("logger")
        if isinstance(logger, dict) and not logger.get("mode"):
            yield Issue((*path, "logger"), "webhook-logger-mode", "No logger mode specified; add mode: all")


def unknown_server_message(impl: str, node: str, servers: set[str]) -> str:
    """The webhook's message, and the two ways out: configure the server, or give the node an image."""
    known = ", ".join(sorted(servers)) or "none"
    umbrella, key = predictor_servers.UMBRELLA_KEY, predictor_servers.VALUES_KEY
    return (
        f"No entry in predictors map for {impl} (configured servers: {known}). Add the server to the chart "
        f"values: {umbrella}.{key}.{impl} in a FADI values file, or {key}.{impl} in the operator chart's "
        f"values (protocols: {{<protocol>: {{image: ..., defaultImageVersion: ...}}}}), and check with "
        f'--values FILE; or give the node a container named "{node}" with an image'
    )


def _check_transports(spec: dict, preds: list[tuple[int, dict]]) -> Iterator[Issue]:
    types: dict[str, tuple] = {}
    for i, p in preds:
        for node, path, _ in walk_graph(p.get("graph"), ("spec", "predictors", i, "graph")):
            kind = as_dict(node.get("endpoint")).get("type")
            if isinstance(kind, str) and kind:
                types.setdefault(kind, (*path, "endpoint", "type"))
    if len(types) > 1:
        yield Issue(
            list(types.values())[-1],
            "webhook-endpoint-types",
            "Multiple endpoint.types found - can only have 1 type in graph. Please use spec.transport",
        )
    elif len(types) == 1:
        kind, path = next(iter(types.items()))
        transport = as_str(spec.get("transport"))
        if transport and kind.lower() != transport:
            yield Issue(
                path,
                "webhook-mixed-transport",
                "Mixed transport types found. Remove graph endpoint.types if transport set at deployment level",
            )


def _check_traffic(preds: list[tuple[int, dict]]) -> Iterator[Issue]:
    shadows = 0
    total = 0
    regular: list[tuple[int, dict]] = []
    for i, p in preds:
        traffic = p.get("traffic")
        traffic = traffic if isinstance(traffic, int) and not isinstance(traffic, bool) else 0
        if p.get("shadow") is True:
            shadows += 1
            if shadows > 1:
                yield Issue(
                    ("spec", "predictors", i, "shadow"),
                    "webhook-multiple-shadows",
                    "Multiple shadows are not allowed; keep one shadow predictor",
                )
            if not 0 <= traffic <= 100:
                yield Issue(
                    ("spec", "predictors", i, "traffic"),
                    "webhook-shadow-traffic",
                    "shadow traffic is illegal, the traffic number should be between [0, 100]",
                )
        else:
            total += traffic
            regular.append((i, p))
    if not regular:
        return
    first = regular[0][0]
    split = ", ".join(f"{as_str(p.get('name')) or i}={p.get('traffic', 0)}" for i, p in regular)
    if total != 100 and len(regular) > 1:
        yield Issue(
            ("spec", "predictors", first, "traffic"),
            "webhook-traffic-sum",
            f"Traffic must sum to 100 for multiple predictors (got {total}: {split}); adjust the traffic values",
        )
    if 0 < total < 100 and len(preds) == 1:
        yield Issue(
            ("spec", "predictors", first, "traffic"),
            "webhook-single-traffic",
            f"Traffic must sum be 100 for a single predictor when set (got {total}); set 100 or remove traffic",
        )
