"""The simulated nodes without a cluster: the Node objects, the spec's checks, `up`'s arguments,
and the add/resize/remove of `cluster up --nodes N` against a fake API client."""

from __future__ import annotations

import pytest

from fadi_seldon.cli import main
from fadi_seldon.localkube import ControlPlane, api, nodes, stages
from fadi_seldon.localkube.nodes import NodeSpec


def test_default_spec_is_one_node_with_room_for_pods_asking_500m_each():
    spec = NodeSpec()
    assert spec.names == ["kwok-node-0"]
    assert spec.capacity == {"cpu": "128", "memory": "512Gi", "pods": "250"}
    # pods run out before CPU does with the executor's default request
    assert spec.pods * 0.5 <= float(spec.cpu)


def test_node_objects_carry_capacity_labels_and_the_simulated_annotation():
    spec = NodeSpec(count=3, cpu="32", memory="256Gi", pods=110)
    assert spec.names == ["kwok-node-0", "kwok-node-1", "kwok-node-2"]
    node = nodes.node_object("kwok-node-2", spec)
    meta = node["metadata"]
    assert meta["name"] == "kwok-node-2"
    assert meta["labels"]["type"] == "kwok" and meta["labels"]["kubernetes.io/hostname"] == "kwok-node-2"
    assert meta["annotations"]["kwok.x-k8s.io/node"] == "fake"
    want = {"cpu": "32", "memory": "256Gi", "pods": "110"}
    assert node["status"] == {"capacity": want, "allocatable": want}
    assert nodes.is_ours(node)
    real = {"metadata": {"name": "kwok-node-9", "labels": {"type": "kwok"}}}  # no simulated annotation
    assert not nodes.is_ours(real)


def test_kwok_keeps_the_capacity_a_node_already_has():
    """The node stage only makes up capacity for a node without one (else ours would be replaced)."""
    node_stage = next(s for s in stages.stages() if s["metadata"]["name"] == "fadi-node-ready")
    template = node_stage["spec"]["next"]["statusTemplate"]
    assert "{{ with .status.capacity }}{{ YAML . 1 }}" in template
    assert "{{ with .status.allocatable }}{{ YAML . 1 }}" in template


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"count": 0}, "--nodes must be a whole number >= 1"),
        ({"count": -2}, "--nodes"),
        ({"pods": 0}, "--node-pods"),
        ({"cpu": "0"}, "--node-cpu must be a positive"),
        ({"cpu": "0.0m"}, "--node-cpu"),
        ({"cpu": "-1"}, "--node-cpu"),
        ({"cpu": "lots"}, "--node-cpu"),
        ({"memory": "1GB"}, "did you mean 1G or 1Gi"),
        ({"memory": ""}, "--node-memory"),
    ],
)
def test_unusable_specs_are_refused_naming_the_option(fields, message):
    with pytest.raises(ValueError, match=message):
        NodeSpec(**fields)


@pytest.mark.parametrize("fields", [{"cpu": "500m"}, {"cpu": "1.5"}, {"memory": "64G"}, {"count": 10}])
def test_usable_specs(fields):
    assert NodeSpec(**fields)


def test_recorded_spec_is_kept_unless_overridden():
    recorded = NodeSpec(count=3, cpu="4").to_json()
    assert NodeSpec.from_json(recorded) == NodeSpec(count=3, cpu="4")
    assert NodeSpec.from_json(recorded, count=None, cpu="8") == NodeSpec(count=3, cpu="8")
    assert NodeSpec.from_json(None) == NodeSpec()


@pytest.mark.parametrize(
    "argv",
    [
        ["--nodes", "0"],
        ["--nodes", "-1"],
        ["--node-cpu", "0"],
        ["--node-memory", "lots"],
        ["--node-pods", "0"],
    ],
)
def test_up_refuses_bad_node_arguments_with_exit_2_before_starting_anything(tmp_path, argv, capsys):
    state = tmp_path / "state"
    assert main(["cluster", "--state-dir", str(state), "up", *argv]) == 2
    assert argv[0] in capsys.readouterr().err
    assert not (state / "state.json").exists()


def test_up_refuses_a_node_count_that_is_not_a_number(tmp_path):
    with pytest.raises(SystemExit) as caught:
        main(["cluster", "--state-dir", str(tmp_path / "state"), "up", "--nodes", "two"])
    assert caught.value.code == 2


# ------------------------------------------------------------------ sync against a fake API
class FakeAPI:
    """Nodes kept in a dict; the calls `nodes.sync` makes, recorded."""

    def __init__(self, *existing: dict) -> None:
        self.nodes = {n["metadata"]["name"]: n for n in existing}
        self.calls: list[tuple[str, str]] = []

    def get(self, path: str):
        if path.startswith("/api/v1/pods?fieldSelector=spec.nodeName%3D"):
            node = path.rsplit("%3D", 1)[1]
            return {"items": [{"metadata": {"namespace": "ns", "name": f"pod-on-{node}"}}]}
        assert path.startswith("/api/v1/nodes?labelSelector=type%3Dkwok"), path
        return {"items": list(self.nodes.values())}

    def create(self, path: str, body: dict):
        self.calls.append(("create", body["metadata"]["name"]))
        self.nodes[body["metadata"]["name"]] = body
        return body

    def delete(self, path: str) -> bool:
        self.calls.append(("delete", path))
        return self.nodes.pop(path.rsplit("/", 1)[1], None) is not None or "leases" in path

    def request(self, method: str, path: str, body=None, content_type=""):
        self.calls.append((method, path))
        if method == "DELETE":
            assert body["gracePeriodSeconds"] == 0
            return
        self.nodes[path.split("/")[4]]["status"].update(body["status"])


def test_sync_adds_resizes_and_removes_only_our_nodes():
    small = NodeSpec(count=3, cpu="4")
    foreign = {"metadata": {"name": "real-node", "labels": {"type": "kwok"}}, "status": {}}
    fake = FakeAPI(*(nodes.node_object(n, small) for n in small.names), foreign)
    assert nodes.sync(fake, small) == {"added": [], "resized": [], "removed": []}
    assert fake.calls == []
    bigger = NodeSpec(count=2, cpu="8")
    changes = nodes.sync(fake, bigger)
    assert changes == {"added": [], "resized": ["kwok-node-0", "kwok-node-1"], "removed": ["kwok-node-2"]}
    assert ("PATCH", "/api/v1/nodes/kwok-node-0/status") in fake.calls
    assert ("delete", nodes.lease_path("kwok-node-2")) in fake.calls
    # its pods go at once (their controllers recreate them on the nodes left)
    assert ("DELETE", "/api/v1/namespaces/ns/pods/pod-on-kwok-node-2") in fake.calls
    assert not any("pod-on-kwok-node-0" in path for _, path in fake.calls)
    assert sorted(fake.nodes) == ["kwok-node-0", "kwok-node-1", "real-node"]
    assert fake.nodes["kwok-node-1"]["status"]["allocatable"]["cpu"] == "8"
    grown = NodeSpec(count=12, cpu="8")
    assert nodes.sync(fake, grown)["added"] == [f"kwok-node-{i}" for i in range(2, 12)]
    assert [n["metadata"]["name"] for n in nodes.listed(fake)] == grown.names  # numeric order


def test_rows_report_readiness_capacity_and_missing_nodes():
    spec = NodeSpec(count=2, cpu="4")
    ready = nodes.node_object("kwok-node-0", spec)
    ready["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
    rows = nodes.rows(FakeAPI(ready), spec)
    assert rows == [
        {"name": "kwok-node-0", "ready": True, "detail": "Ready=True", "capacity": spec.capacity},
        {"name": "kwok-node-1", "ready": False, "detail": "missing", "capacity": {}},
    ]


def test_status_of_a_cluster_never_started_lists_the_recorded_nodes(tmp_path):
    plane = ControlPlane(tmp_path / "c")
    plane.layout.ensure()
    plane.save_state({"nodes": NodeSpec(count=2).to_json()})
    status = plane.status()
    assert [n["name"] for n in status["nodes"]] == ["kwok-node-0", "kwok-node-1"]
    assert status["node"]["name"] == "kwok-node-0" and status["node"]["detail"] == "no API server"
    assert status["node_spec"]["count"] == 2
    assert plane.node_spec(cpu="2") == NodeSpec(count=2, cpu="2")


def test_api_errors_while_listing_nodes_are_reported_not_raised(tmp_path):
    class Broken:
        def get(self, path):
            raise api.APIError(500, "etcd is gone")

    rows = ControlPlane._node_rows(Broken(), NodeSpec())
    assert rows[0]["ready"] is False and "etcd is gone" in rows[0]["detail"]
