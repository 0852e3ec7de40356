"""The simulated nodes: how many, how big, and keeping the cluster's Node objects in line with that.

kwok plays the kubelet of every Node annotated `kwok.x-k8s.io/node: fake`: its node stage
(stages.py) keeps the `status.capacity`/`allocatable` a Node already has and only makes up its own
when there is none. So the capacity is written into each Node at creation (a Node's POST keeps its
status, as a kubelet's registration does) and, when `cluster up` is asked for another size, through
the status subresource; the scheduler then places pods by those figures.

Nodes are `kwok-node-0` .. `kwok-node-<N-1>`, labelled `type=kwok` and annotated as simulated, so
a real node added later (a kubelet) is never taken for one of ours, nor removed when scaling down.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from dataclasses import asdict, dataclass

from fadi_seldon.localkube import api
from fadi_seldon.sdep import quantity

PREFIX = "kwok-node-"
LABEL = "type=kwok"
SIMULATED = {"kwok.x-k8s.io/node": "fake"}
# one default node holds what kwok's stock node held (250 pods) and more CPU than those pods ask
# for with the executor's default request (500m each: 250 x 0.5 = 125 <= 128), so pods, not CPU,
# are what runs out first
DEFAULT_COUNT = 1
DEFAULT_CPU = "128"
DEFAULT_MEMORY = "512Gi"
DEFAULT_PODS = 250
_ZERO = re.compile(r"^\+?(0*\.?0*)([a-zA-Z]*|[eE][+-]?\d+)$")


@dataclass(frozen=True)
class NodeSpec:
    """How many simulated nodes, and each one's capacity (what is also allocatable)."""

    count: int = DEFAULT_COUNT
    cpu: str = DEFAULT_CPU
    memory: str = DEFAULT_MEMORY
    pods: int = DEFAULT_PODS

    def __post_init__(self) -> None:
        problems = validate(self)
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def names(self) -> list[str]:
        return [f"{PREFIX}{i}" for i in range(self.count)]

    @property
    def capacity(self) -> dict[str, str]:
        return {"cpu": self.cpu, "memory": self.memory, "pods": str(self.pods)}

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict | None, **overrides) -> NodeSpec:
        """The recorded spec (or the defaults) with the values given on the command line on top."""
        fields = {k: v for k, v in (data or {}).items() if k in ("count", "cpu", "memory", "pods")}
        fields.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**fields)


def validate(spec: NodeSpec) -> list[str]:
    """What is wrong with a spec, as messages naming the option: empty when it is usable."""
    problems = []
    if not _positive_int(spec.count):
        problems.append(f"--nodes must be a whole number >= 1, not {spec.count!r}")
    if not _positive_int(spec.pods):
        problems.append(f"--node-pods must be a whole number >= 1, not {spec.pods!r}")
    for option, value in (("--node-cpu", spec.cpu), ("--node-memory", spec.memory)):
        if not _positive_quantity(value):
            fix = quantity.hint(value)
            problems.append(
                f"{option} must be a positive Kubernetes quantity ({quantity.EXAMPLES}), not {value!r}"
                + (f"; did you mean {fix}?" if fix else "")
            )
    return problems


def _positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _positive_quantity(value) -> bool:
    return (
        isinstance(value, str)
        and quantity.is_quantity(value, negative_ok=False)
        and not _ZERO.match(value.strip())
    )


# beside a real node, simulated nodes take only the pods that tolerate this taint (many-pod tests)
TAINT = {"key": "kwok.x-k8s.io/node", "value": "fake", "effect": "NoSchedule"}
TOLERATION = {"key": TAINT["key"], "operator": "Exists", "effect": "NoSchedule"}


def simulated_namespace_annotations() -> dict[str, str]:
    """Annotations that send every pod of a namespace to the simulated nodes, beside a real node:
    many-pod tests, and images the real node does not have (API server admission plugins
    PodNodeSelector and PodTolerationRestriction apply them to each pod)."""
    return {
        "scheduler.alpha.kubernetes.io/node-selector": LABEL,
        "scheduler.alpha.kubernetes.io/defaultTolerations": json.dumps([TOLERATION]),
    }


def node_object(name: str, spec: NodeSpec, taint: bool = False) -> dict:
    """The Node as kwok expects it: simulated (annotation), labelled, with its capacity in its status."""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {**SIMULATED, "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/os": "linux",
                "kubernetes.io/hostname": name,
                "node-role.kubernetes.io/worker": "",
                "type": "kwok",
            },
        },
        "spec": {"taints": [TAINT]} if taint else {},
        "status": {"capacity": spec.capacity, "allocatable": spec.capacity},
    }


def is_ours(node: dict) -> bool:
    """A simulated node this cluster made: name, label and annotation all say so."""
    meta = node.get("metadata") or {}
    return (
        str(meta.get("name", "")).startswith(PREFIX)
        and (meta.get("labels") or {}).get("type") == "kwok"
        and (meta.get("annotations") or {}).get("kwok.x-k8s.io/node") == "fake"
    )


def listed(client: api.Client) -> list[dict]:
    """Every simulated node of ours in the cluster, by name."""
    query = urllib.parse.urlencode({"labelSelector": LABEL})
    items = (client.get(f"/api/v1/nodes?{query}") or {}).get("items") or []
    return sorted((n for n in items if is_ours(n)), key=lambda n: _index(n["metadata"]["name"]))


def _index(name: str) -> int:
    tail = name[len(PREFIX) :]
    return int(tail) if tail.isdigit() else 1 << 30


def lease_path(name: str) -> str:
    return f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{name}"


def sync(client: api.Client, spec: NodeSpec, taint: bool = False) -> dict[str, list[str]]:
    """Create the missing nodes, resize the others, remove the extra ones: what changed, by kind.

    `taint`: a real node is there, and simulated nodes only take pods that tolerate `TAINT`."""
    changes: dict[str, list[str]] = {"added": [], "resized": [], "removed": []}
    wanted = set(spec.names)
    existing = {n["metadata"]["name"]: n for n in listed(client)}
    for name in spec.names:
        node = existing.get(name)
        if node is None:
            client.create("/api/v1/nodes", node_object(name, spec, taint))
            changes["added"].append(name)
        elif _capacity_of(node) != spec.capacity:
            resize(client, name, spec)
            changes["resized"].append(name)
    for name in existing:
        if name not in wanted:
            client.delete(f"/api/v1/nodes/{name}")
            client.delete(lease_path(name))
            evict(client, name)
            changes["removed"].append(name)
    return changes


def evict(client: api.Client, name: str) -> None:
    """Delete at once the pods bound to a removed node, so that their controllers recreate them
    elsewhere now (the pod garbage collector would take more than a minute)."""
    query = urllib.parse.urlencode({"fieldSelector": f"spec.nodeName={name}"})
    for pod in (client.get(f"/api/v1/pods?{query}") or {}).get("items") or []:
        meta = pod["metadata"]
        path = f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}"
        try:
            client.request(
                "DELETE", path, {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0}
            )
        except api.APIError as err:
            if err.status != 404:
                raise


def resize(client: api.Client, name: str, spec: NodeSpec) -> None:
    """New capacity through the status subresource (kwok's heartbeat patches conditions only)."""
    client.request(
        "PATCH",
        f"/api/v1/nodes/{name}/status",
        {"status": {"capacity": spec.capacity, "allocatable": spec.capacity}},
        content_type="application/strategic-merge-patch+json",
    )


def _capacity_of(node: dict) -> dict[str, str]:
    status = node.get("status") or {}
    keys = ("cpu", "memory", "pods")
    return {k: str(v) for k, v in (status.get("allocatable") or {}).items() if k in keys}


def readiness(node: dict | None) -> tuple[bool, str]:
    if node is None:
        return False, "missing"
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond.get("status") == "True", f"Ready={cond.get('status')}"
    return False, "no Ready condition yet"


def rows(client: api.Client, spec: NodeSpec) -> list[dict]:
    """Each wanted node, and any extra simulated one: name, readiness, capacity (allocatable)."""
    existing = {n["metadata"]["name"]: n for n in listed(client)}
    names = spec.names + [n for n in existing if n not in spec.names]
    out = []
    for name in names:
        node = existing.get(name)
        ready, detail = readiness(node)
        allocatable = _capacity_of(node) if node else {}
        out.append({"name": name, "ready": ready, "detail": detail, "capacity": allocatable})
    return out
