"""Seeded mutants of real SeldonDeployments, for searching what the cluster and the operator do with them.

The crash search (tests/cluster/test_08_crash_search.py, bench/bench_crash_search.py) applies these
to a real API server and the real operator. Mutations follow the shapes that make Go code fail:
empty lists (`x[0]`), missing optional structs (nil pointers), duplicated items, enum values the
operator switches on, boundary integers, and the Seldon-specific fields (implementation, modelUri,
shadow, traffic, annotations). The same seed always gives the same mutants, so a failure found
in CI is reproduced by its seed and index.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

from fadi_seldon.sdep import predictor_servers, schema

# values the operator branches on, per field name (any level of the spec)
FIELD_VALUES: dict[str, tuple] = {
    "type": (*schema.PREDICTIVE_UNIT_TYPES, "REST", "GRPC"),
    "implementation": (*schema.BUILTIN_IMPLEMENTATIONS, *predictor_servers.DEFAULT_SERVERS),
    "protocol": ("", *schema.PROTOCOLS),
    "transport": ("", *schema.TRANSPORTS),
    "serverType": ("", "rpc"),
    "mode": schema.LOGGER_MODES,
    "modelUri": ("", "gs://seldon-models/sklearn/iris", "s3://bucket/model", "pvc://claim/model"),
    "shadow": (True, False),
    "traffic": (-1, 0, 1, 50, 100, 101),
    "replicas": (0, 1, 2, 3),
    "minReplicas": (0, 1, 5),
    "maxReplicas": (0, 1, 3),
    "name": ("x", "default", "classifier", "a-b"),
}
# fields added where the CRD defines them (an unknown field is only a refusal, already well covered)
ADDED_FIELDS = {
    "node": ("type", "implementation", "modelUri"),
    "predictor": ("shadow", "traffic", "replicas"),
    "spec": ("protocol", "transport", "serverType", "replicas"),
}
# annotations the operator reads (research/upstream-operator.md)
ANNOTATIONS = (
    ("seldon.io/no-engine", "true"),
    ("seldon.io/engine-separate-pod", "true"),
    ("seldon.io/svc-name", "shared"),
    ("seldon.io/headless-svc", "true"),
    ("seldon.io/executor", "false"),
    ("seldon.io/rest-timeout", "abc"),
    ("seldon.io/ambassador-header", "x-user"),
    ("seldon.io/ambassador-header", "x-user:alice"),
    ("seldon.io/ambassador-regex-header", "x-user:.*"),
)
# optional structures added whole: the places an operator dereferences without a nil check
INSERTS: dict[str, tuple] = {
    "predictor": (
        {"explainer": {"type": "AnchorTabular"}},
        {"explainer": {"type": "AnchorTabular", "modelUri": "gs://seldon-models/explainer"}},
        {"svcOrchSpec": {}},
        {"svcOrchSpec": {"env": [{"name": "SELDON_LOG_LEVEL", "value": "DEBUG"}]}},
        {"engineResources": {}},
        {"ssl": {}},
        {"ssl": {"certSecretName": "model-tls"}},
        {"componentSpecs": [{}]},
        {"componentSpecs": [{"spec": {"containers": []}}]},
        {"componentSpecs": [{"hpaSpec": {"maxReplicas": 2}}]},
        {"componentSpecs": [{"hpaSpec": {"maxReplicas": 2, "metrics": [{"type": "Resource"}]}}]},
        {"componentSpecs": [{"pdbSpec": {}}]},
        {"componentSpecs": [{"kedaSpec": {"triggers": []}}]},
    ),
    "node": (
        {"logger": {"mode": "all"}},
        {"endpoint": {}},
        {"endpoint": {"type": "GRPC"}},
        {"parameters": []},
        {"parameters": [{"name": "p", "value": "1", "type": "INT"}]},
        {"children": []},
        {"children": [{"name": "child"}]},
        {"methods": []},
    ),
}


# pod-level pieces for the differential test: what the API server refuses only on the Deployment the
# operator builds (volume mounts, port and env names, requests above limits, probe handlers)
POD_PIECES: dict[str, tuple] = {
    "volumeMounts": (
        {"name": "models", "mountPath": "/mnt/models-x"},
        {"name": "seldon-podinfo", "mountPath": "/etc/podinfo-x"},
        {"name": "data", "mountPath": "/data"},
    ),
    "volumes": ({"name": "data", "emptyDir": {}}, {"name": "Data_1", "emptyDir": {}}),
    "ports": (
        {"name": "http", "containerPort": 9000},
        {"name": "custom", "containerPort": 9100},
        {"name": "a-too-long-port-name", "containerPort": 9101},
        {"name": "p--q", "containerPort": 9102},
    ),
    "env": (
        {"name": "MODEL_NAME", "value": "x"},
        {"name": "A=B", "value": "x"},
        {"name": "my.var", "value": "1"},
    ),
    "resources": (
        {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}},
        {"requests": {"memory": "1Gi"}, "limits": {"memory": "512Mi"}},
        {"requests": {"cpu": "100m"}, "limits": {"cpu": "1"}},
    ),
    "readinessProbe": (
        {"tcpSocket": {"port": 9000}},
        {"tcpSocket": {"port": 9000}, "httpGet": {"path": "/ready", "port": 9000}},
    ),
}


# names for `rename`: fine, not a DNS label, long enough to be hashed or refused in derived names
NAMES = ("model-b", "Bad_Name", "x" * 50, "y" * 64)


def seeds_from(paths: Iterable[Path]) -> list[tuple[str, dict]]:
    """The SeldonDeployment documents of YAML/JSON files, with their file names (unreadable files skipped)."""
    out = []
    for path in paths:
        try:
            docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        for doc in docs:
            if isinstance(doc, dict) and doc.get("kind") == schema.KIND and isinstance(doc.get("spec"), dict):
                out.append((path.name, doc))
    return out


def checkout_seeds(root: Path) -> list[tuple[str, dict]]:
    """The SeldonDeployments of a checkout's examples/ and, when it sits beside the checkout, of the
    conformance corpus (../shared/conformance/valid): what the crash search mutates."""
    files = sorted((root / "examples").rglob("*.yaml"))
    corpus = root.parent / "shared" / "conformance" / "valid"
    if corpus.is_dir():
        files += sorted(p for p in corpus.iterdir() if p.suffix in (".yaml", ".yml", ".json"))
    return seeds_from(files)


def _nodes(value: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """Every mapping and list under `value`, with its path, in a fixed order."""
    if isinstance(value, dict):
        yield path, value
        for key in sorted(value, key=str):
            yield from _nodes(value[key], (*path, key))
    elif isinstance(value, list):
        yield path, value
        for i, item in enumerate(value):
            yield from _nodes(item, (*path, i))


def _graph_nodes(spec: dict) -> list[dict]:
    found = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            found.append(node)
            for child in node.get("children") or []:
                walk(child)

    for predictor in spec.get("predictors") or []:
        if isinstance(predictor, dict):
            walk(predictor.get("graph"))
    return found


def _predictors(spec: dict) -> list[dict]:
    return [p for p in spec.get("predictors") or [] if isinstance(p, dict)]


def _containers(predictor: dict) -> list[tuple[int, dict]]:
    """(componentSpec index, container) of a predictor's pod specs."""
    return [
        (j, c)
        for j, cs in enumerate(predictor.get("componentSpecs") or [])
        if isinstance(cs, dict) and isinstance(cs.get("spec"), dict)
        for c in cs["spec"].get("containers") or []
        if isinstance(c, dict)
    ]


class Mutator:
    """One operation per call, chosen by the seeded generator; each returns a short label."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def empty_list(self, spec: dict) -> str:
        lists = [(p, n) for p, n in _nodes(spec) if isinstance(n, list) and n]
        if not lists:
            return "none"
        path, node = self.rng.choice(lists)
        node.clear()
        return f"empty {_dotted(path)}"

    def drop_key(self, spec: dict) -> str:
        maps = [(p, n) for p, n in _nodes(spec) if isinstance(n, dict) and n]
        if not maps:
            return "none"
        path, node = self.rng.choice(maps)
        key = self.rng.choice(sorted(node, key=str))
        del node[key]
        return f"drop {_dotted((*path, key))}"

    def duplicate_item(self, spec: dict) -> str:
        lists = [(p, n) for p, n in _nodes(spec) if isinstance(n, list) and n]
        if not lists:
            return "none"
        path, node = self.rng.choice(lists)
        node.append(copy.deepcopy(self.rng.choice(node)))
        return f"duplicate an item of {_dotted(path)}"

    def set_field(self, spec: dict) -> str:
        maps = [(p, n) for p, n in _nodes(spec) if isinstance(n, dict) and set(n) & set(FIELD_VALUES)]
        if not maps:
            return "none"
        path, node = self.rng.choice(maps)
        key = self.rng.choice(sorted(set(node) & set(FIELD_VALUES)))
        node[key] = self.rng.choice(FIELD_VALUES[key])
        return f"set {_dotted((*path, key))}={node[key]!r}"

    def add_field(self, spec: dict) -> str:
        choices = [(n, ADDED_FIELDS["node"]) for n in _graph_nodes(spec)]
        choices += [(p, ADDED_FIELDS["predictor"]) for p in _predictors(spec)]
        node, keys = self.rng.choice([*choices, (spec, ADDED_FIELDS["spec"])])
        key = self.rng.choice(keys)
        node[key] = self.rng.choice(FIELD_VALUES[key])
        return f"add {key}={node[key]!r}"

    def annotate(self, spec: dict) -> str:
        target = self.rng.choice([*_predictors(spec), spec])
        key, value = self.rng.choice(ANNOTATIONS)
        annotations = target.setdefault("annotations", {})
        if isinstance(annotations, dict):
            annotations[key] = value
        return f"annotate {key}={value}"

    def insert(self, spec: dict) -> str:
        kind = self.rng.choice(sorted(INSERTS))
        targets = _predictors(spec) if kind == "predictor" else _graph_nodes(spec)
        if not targets:
            return "none"
        target = self.rng.choice(targets)
        piece = copy.deepcopy(self.rng.choice(INSERTS[kind]))
        target.update(piece)
        return f"insert into a {kind}: {sorted(piece)[0]}"

    def pod_piece(self, spec: dict) -> str:
        """A container or pod field the CRD keeps and only the Deployment's validation judges."""
        pods = [
            (i, j, c["spec"])
            for i, p in enumerate(_predictors(spec))
            for j, c in enumerate(p.get("componentSpecs") or [])
            if isinstance(c, dict) and isinstance(c.get("spec"), dict)
        ]
        if not pods:
            return "none"
        i, j, pod = self.rng.choice(pods)
        key = self.rng.choice(sorted(POD_PIECES))
        piece = copy.deepcopy(self.rng.choice(POD_PIECES[key]))
        where = f"spec.predictors[{i}].componentSpecs[{j}].spec"
        target = pod
        if key != "volumes":
            containers = [c for c in pod.get("containers") or [] if isinstance(c, dict)]
            if not containers:
                return "none"
            target = self.rng.choice(containers)
            where += f" container {target.get('name')!r}"
        if key in ("resources", "readinessProbe"):
            target[key] = piece
        elif isinstance(target.setdefault(key, []), list):
            target[key].append(piece)
        else:
            return "none"
        return f"pod {where} {key}: {piece}"

    def rename(self, spec: dict) -> str:
        """A predictor, graph node or container renamed: names the operator turns into object names."""
        named = [*_predictors(spec), *_graph_nodes(spec)]
        named += [c for p in _predictors(spec) for _, c in _containers(p)]
        named = [n for n in named if isinstance(n.get("name"), str)]
        if not named:
            return "none"
        target = self.rng.choice(named)
        old, target["name"] = target["name"], self.rng.choice(NAMES)
        return f"rename {old!r} to {target['name']!r}"

    OPERATIONS = ("empty_list", "drop_key", "duplicate_item", "set_field", "add_field", "annotate", "insert")
    POD_OPERATIONS = ("pod_piece", "rename")

    def mutate(self, spec: dict, operations: tuple[str, ...] = OPERATIONS) -> list[str]:
        labels = []
        for _ in range(self.rng.randint(1, 3)):
            labels.append(getattr(self, self.rng.choice(operations))(spec))
        return labels


def _dotted(path: tuple) -> str:
    return "spec" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


def mutants(
    seeds: list[tuple[str, dict]], count: int, seed: int, *, pods: bool = False
) -> Iterator[tuple[str, dict, list[str]]]:
    """`count` mutants: (origin "file#index", manifest named m-<seed>-<i>, mutation labels).

    `pods` adds the pod-level operations (the differential test's); without it the crash search's
    mutants stay what they were for a given seed."""
    operations = Mutator.OPERATIONS + (Mutator.POD_OPERATIONS * 3 if pods else ())
    if not seeds:
        raise ValueError("no SeldonDeployment to mutate")
    rng = random.Random(seed)
    mutator = Mutator(rng)
    for i in range(count):
        source, doc = seeds[rng.randrange(len(seeds))]
        spec = copy.deepcopy(doc["spec"])
        labels = mutator.mutate(spec, operations)
        manifest = {
            "apiVersion": doc.get("apiVersion")
            if doc.get("apiVersion") in schema.API_VERSIONS
            else schema.API_VERSIONS[0],
            "kind": schema.KIND,
            "metadata": {"name": f"m-{seed}-{i}"},
            "spec": spec,
        }
        yield f"{source}#{i}", manifest, labels
