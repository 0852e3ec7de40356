"""`fadi-seldon status` and `fadi-seldon logs` against a fake kubectl returning recorded objects.

The SeldonDeployment `iris` in `models`: one predictor `default` with the executor and a classifier,
two pods (one ready, one whose classifier waits on ErrImagePull), its Service, Warning events about
it and about an unrelated pod. The real cluster runs the same commands in tests/cluster.
"""

from __future__ import annotations

import copy
import json

import pytest

from conftest import run_cli
from fadi_seldon import doctor
from fadi_seldon.cli.exit_codes import ExitCode
from fadi_seldon.doctor import model_status

NS = "models"
DEP = "iris-default-0-classifier"
IMAGE = "example.org/iris:1.0"
ENGINE_IMAGE = "docker.io/seldonio/seldon-core-executor:1.17.1"


def _pod(name: str, ready: bool) -> dict:
    classifier = {"name": "classifier", "image": IMAGE, "ready": ready, "restartCount": 0}
    classifier["state"] = (
        {"running": {}} if ready else {"waiting": {"reason": "ErrImagePull", "message": "not found"}}
    )
    if ready:
        classifier["imageID"] = "sha256:abc"
    engine = {"name": "seldon-container-engine", "image": ENGINE_IMAGE, "ready": ready, "restartCount": 1,
              "state": {"running": {}}, "imageID": "sha256:def"}  # fmt: skip
    return {
        "metadata": {"name": name, "namespace": NS, "labels": {"seldon-deployment-id": "iris"}},
        "spec": {
            "containers": [
                {"name": "classifier", "image": IMAGE},
                {"name": "seldon-container-engine", "image": ENGINE_IMAGE},
            ]
        },  # fmt: skip
        "status": {"phase": "Running" if ready else "Pending", "containerStatuses": [classifier, engine]},
    }


SDEP = {
    "metadata": {"name": "iris", "namespace": NS},
    "spec": {"predictors": [{"name": "default", "graph": {"name": "classifier", "type": "MODEL"}}]},
    "status": {
        "state": "Creating",
        "description": "Deployment is not yet available",
        "deploymentStatus": {DEP: {"name": DEP, "replicas": 2, "availableReplicas": 1}},
    },
}
OBJECTS = {
    "seldondeployments.machinelearning.seldon.io iris": SDEP,
    "deployments": {"items": [{"metadata": {"name": DEP}, "spec": {"replicas": 2}, "status": {"readyReplicas": 1}}]},
    "pods": {"items": [_pod(f"{DEP}-5d9c7b-abcde", True), _pod(f"{DEP}-5d9c7b-fghij", False)]},
    "service iris-default": {
        "metadata": {"name": "iris-default"},
        "spec": {"clusterIP": "10.96.0.42", "ports": [{"name": "http", "port": 8000}, {"name": "grpc", "port": 5001}]},
    },
    "events": {"items": [
        {"involvedObject": {"kind": "Pod", "name": f"{DEP}-5d9c7b-fghij"}, "reason": "Failed",
         "message": f'Failed to pull image "{IMAGE}": not found', "count": 3, "lastTimestamp": "2024-05-01T10:02:00Z"},
        {"involvedObject": {"kind": "SeldonDeployment", "name": "iris"}, "reason": "InternalError",
         "message": "Deployment is not yet available", "count": 1, "lastTimestamp": "2024-05-01T10:01:00Z"},
        {"involvedObject": {"kind": "Pod", "name": "somebody-else"}, "reason": "BackOff",
         "message": "not ours", "count": 1, "lastTimestamp": "2024-05-01T10:03:00Z"},
    ]},
}  # fmt: skip
LOGS = {"classifier": "loaded model\nserving on 9000\n", "seldon-container-engine": "executor up\n"}


class FakeKubectl:
    """`get` answers from OBJECTS (kind, or kind and name); `logs` from LOGS, recording each call."""

    objects: dict = OBJECTS
    calls: list = []

    def __init__(self, **kwargs) -> None:
        FakeKubectl.calls = []

    def get(self, kind: str, *args: str, missing_ok: bool = True):
        name = args[0] if args and not args[0].startswith("-") else ""
        assert args[args.index("-n") + 1] == NS, args
        if "-l" in args and args[args.index("-l") + 1] != "seldon-deployment-id=iris":
            return {"items": []}
        return copy.deepcopy(self.objects.get(f"{kind} {name}".strip()))

    def logs(self, pod: dict, *, previous: bool, tail: str, container: str | None = None, since=None) -> str:
        FakeKubectl.calls.append((pod["metadata"]["name"], container, tail))
        return LOGS.get(container or "", "")


@pytest.fixture
def cluster(tmp_path, monkeypatch):
    (tmp_path / "kubeconfig").write_text("apiVersion: v1\nkind: Config\n")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    monkeypatch.setattr(doctor, "Kubectl", FakeKubectl)
    monkeypatch.setattr(model_status, "node_images", lambda kubeconfig: None)  # no real node here
    FakeKubectl.objects = OBJECTS
    return tmp_path


def test_summary_of_a_creating_model():
    raw = model_status.gather(FakeKubectl(), "iris", NS)
    result = model_status.summarize(raw, None)
    assert (result["state"], result["reason"]) == ("Creating", "Deployment is not yet available")
    assert result["predictors"] == [{"name": "default", "wanted": 2, "ready": 1, "deployments": [DEP]}]
    ready, waiting = result["pods"]
    assert ready["deployment"] == waiting["deployment"] == DEP
    assert [(c["component"], c["ready"], c["image_on_node"]) for c in ready["containers"]] == [
        ("classifier", True, "present"), ("executor", True, "present")]  # fmt: skip
    classifier = waiting["containers"][0]
    assert (classifier["waiting"], classifier["image_on_node"]) == ("ErrImagePull", "missing")
    assert "fadi-seldon package DIR --build --load" in classifier["fix"]
    assert result["urls"] == [{
        "predictor": "default", "service": "iris-default", "http": "http://10.96.0.42:8000",
        "grpc": "10.96.0.42:5001",
        "in_cluster": "http://iris-default.models.svc.cluster.local:8000/api/v1.0/predictions",
    }]  # fmt: skip
    assert [e["reason"] for e in result["events"]] == ["InternalError", "Failed"]  # ours, oldest first


def test_the_real_nodes_image_list_decides_when_there_is_one():
    raw = model_status.gather(FakeKubectl(), "iris", NS)
    on_node = {"example.org/iris:1.0"}  # the executor's image is not there, whatever its pod says
    containers = model_status.summarize(raw, on_node)["pods"][0]["containers"]
    assert [c["image_on_node"] for c in containers] == ["present", "missing"]
    assert "cluster load --executor" in containers[1]["fix"]


def test_status_text_and_json(capsys, cluster):
    code, out, err = run_cli(capsys, ["status", "iris", "-n", NS])
    assert code == ExitCode.FAILED, err  # Creating: not available yet
    assert out.startswith("models/iris: Creating\n  reason: Deployment is not yet available\n")
    assert "  default          1/2 ready" in out
    assert f"classifier       not ready (ErrImagePull)     image {IMAGE} (missing)" in out
    assert "executor         ready" in out and "http http://10.96.0.42:8000  grpc 10.96.0.42:5001" in out
    assert "Pod/iris-default-0-classifier-5d9c7b-fghij Failed" in out and "not ours" not in out
    code, out, _ = run_cli(capsys, ["status", "iris", "-n", NS, "-o", "json"])
    result = json.loads(out)
    assert code == ExitCode.FAILED and result["state"] == "Creating" and len(result["events"]) == 2


def test_an_available_model_exits_0(capsys, cluster):
    sdep = copy.deepcopy(SDEP)
    sdep["status"] = {"state": "Available"}
    FakeKubectl.objects = {**OBJECTS, "seldondeployments.machinelearning.seldon.io iris": sdep}
    code, out, _ = run_cli(capsys, ["status", "iris", "-n", NS])
    assert code == ExitCode.OK and out.startswith("models/iris: Available\npredictors:")


@pytest.mark.parametrize("command", [["status"], ["logs"]])
def test_an_unknown_model_is_nothing_to_act_on(capsys, cluster, command):
    code, out, err = run_cli(capsys, [*command, "nope", "-n", NS])
    assert code == ExitCode.NOTHING and out == ""
    assert (
        err == "error: no SeldonDeployment nope in namespace models; list them with `kubectl get sdep -A`\n"
    )
    code, out, _ = run_cli(capsys, [*command, "nope", "-n", NS, "-o", "json"])
    assert json.loads(out)["exit_code"] == 3


@pytest.mark.parametrize("command", [["status", "iris"], ["logs", "iris"]])
def test_an_unreachable_cluster_is_one_line_and_exit_3(capsys, cluster, monkeypatch, command):
    def refuse(self, *args, **kwargs):
        raise doctor.DoctorError("cannot reach the cluster: connection refused", unreachable=True)

    monkeypatch.setattr(FakeKubectl, "get", refuse)
    code, out, err = run_cli(capsys, command)
    assert code == ExitCode.NOTHING and out == ""
    assert err == "error: cannot reach the cluster: connection refused\n"


def test_logs_prefix_every_line_with_pod_and_container(capsys, cluster):
    code, out, err = run_cli(capsys, ["logs", "iris", "-n", NS])
    assert code == ExitCode.OK, err
    first = f"{DEP}-5d9c7b-abcde"
    assert out.splitlines()[:3] == [
        f"[{first}/classifier] loaded model",
        f"[{first}/classifier] serving on 9000",
        f"[{first}/seldon-container-engine] executor up",
    ]
    assert len(out.splitlines()) == 6 and {tail for *_, tail in FakeKubectl.calls} == {"100"}


@pytest.mark.parametrize(
    ("component", "container"), [("executor", "seldon-container-engine"), ("classifier", "classifier")]
)
def test_logs_of_one_component(capsys, cluster, component, container):
    code, out, _ = run_cli(
        capsys, ["logs", "iris", "-n", NS, "--component", component, "--tail", "5", "-o", "json"]
    )
    assert code == ExitCode.OK
    logs = json.loads(out)
    assert [(e["container"], e["lines"]) for e in logs] == [(container, LOGS[container].splitlines())] * 2
    assert [(c, t) for _, c, t in FakeKubectl.calls] == [(container, "5")] * 2


def test_logs_of_a_component_the_pods_do_not_have_is_a_usage_error(capsys, cluster):
    code, out, err = run_cli(capsys, ["logs", "iris", "-n", NS, "--component", "router"])
    assert code == ExitCode.USAGE and out == ""
    assert "no component router in iris's pods (there are: classifier, executor)" in err


@pytest.mark.parametrize(
    "argv", [["status"], ["logs", "iris", "--tail", "-3"], ["status", "iris", "-o", "xml"]]
)
def test_bad_flags_exit_2(capsys, cluster, argv):
    code, out, _ = run_cli(capsys, argv)
    assert code == ExitCode.USAGE and out == ""


def test_the_node_is_asked_only_for_the_local_clusters_kubeconfig(tmp_path, monkeypatch):
    """A real node runs here, but the kubeconfig in use is another cluster's: its image list says
    nothing about that cluster's nodes."""
    from fadi_seldon.localkube import node_images
    from fadi_seldon.localkube.layout import Layout

    state = tmp_path / "state"
    monkeypatch.setenv("FADI_CLUSTER_DIR", str(state))
    monkeypatch.setattr(node_images, "check_node", lambda layout=None: tmp_path / "containerd.sock")
    monkeypatch.setattr(node_images, "present", lambda layout=None: {"docker.io/x/y:1"})
    local = str(Layout(state.resolve()).kubeconfig)
    assert model_status.node_images(local) == {"docker.io/x/y:1"}
    assert model_status.node_images(str(tmp_path / "elsewhere")) is None
    monkeypatch.setenv("KUBECONFIG", local)
    assert model_status.node_images(None) == {"docker.io/x/y:1"}
    monkeypatch.delenv("KUBECONFIG")
    assert model_status.node_images(None) is None
