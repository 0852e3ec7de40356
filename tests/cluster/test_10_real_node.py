"""The user's path on the real node: FADI with Seldon, its operator running as a pod from the chart,
the webhook answering through its Service, the restricted profile enforced by the runtime,
`helm test` running its pod, and the packaged example model answering through the cluster.

The session's own FADI release (test_01 onwards) runs its pods on the simulated nodes and keeps
the CRD; this module installs a second FADI release whose operator runs for real, with the CRD
left to the first (`crd.create=false`) and the first's webhook off (no operator serves it).
Seldon's own images (operator, executor, the guide's mock_classifier) are built here from Seldon's
1.17.1 source release: the user guide's SeldonDeployment, applied as the guide prints it, answers
through the real executor. The packaged iris model keeps `seldon.io/no-engine: "true"` here (the
no-engine path; `make demo` runs it with the executor).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from cluster.kube import Kube, wait_until
from conftest import ROOT
from fadi_seldon.localkube import node
from test_images_mock_classifier import expected_answer

RELEASE, NS, MODELS = "fadi-real", "seldon-real", "models-real"
RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
}
OPERATOR = "control-plane=seldon-controller-manager"
IRIS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]


@pytest.fixture(scope="module")
def real(kube: Kube, webhook_off, operator_image) -> Kube:
    """FADI installed as the user guide says, its operator image the local build (a real pod)."""
    k = Kube(kube.kubeconfig, kube.env, kube.charts, simulated=False)
    k.namespace(NS, RESTRICTED)
    sets = [f"seldon-core-operator.{s}" for s in operator_image]
    sets += ["seldon-core-operator.enabled=true", "seldon-core-operator.crd.create=false",
             "seldon-core-operator.usageMetrics.enabled=false"]  # fmt: skip
    started = time.monotonic()
    k.install(RELEASE, NS, "fadi", *sets)
    print(
        f"[real-node] FADI with the operator pod ready in {time.monotonic() - started:.1f}s", file=sys.stderr
    )
    yield k
    k.kubectl(
        "delete", "namespace", MODELS, GUIDE_NS, "--ignore-not-found", "--wait=true", check=False, timeout=180
    )
    k.helm("uninstall", RELEASE, "-n", NS, "--wait", "--timeout", "180s", check=False)


def operator_pod(k: Kube) -> dict:
    pods = k.get("pods", "-n", NS, "-l", OPERATOR)["items"]
    assert len(pods) == 1, [p["metadata"]["name"] for p in pods]
    return pods[0]


def test_the_operator_runs_as_a_real_pod_from_the_chart(real):
    pod = operator_pod(real)
    assert pod["spec"]["nodeName"] == node.NODE_NAME
    assert pod["spec"]["containers"][0]["image"] == "docker.io/seldonio/seldon-core-operator:1.17.1"
    status = pod["status"]
    assert status["phase"] == "Running" and status["podIP"].startswith("10.88.")
    assert status["containerStatuses"][0]["containerID"].startswith("containerd://")
    assert status["containerStatuses"][0]["ready"]


def test_the_restricted_profile_is_enforced_by_the_runtime(real):
    name = operator_pod(real)["metadata"]["name"]
    proc = real.kubectl("exec", "-n", NS, name, "--", "sh", "-c", "touch /written-by-a-test", check=False)
    assert proc.returncode != 0 and "Read-only file system" in proc.stderr
    who = real.kubectl(
        "exec", "-n", NS, name, "--", "sh", "-c", "id -u; grep CapEff /proc/self/status"
    ).stdout
    uid, caps = who.split("\n", 1)
    assert uid.strip() == "8888" and caps.split()[-1] == "0000000000000000"


def test_the_webhook_answers_through_its_service(real):
    configs = [c for c in real.get("validatingwebhookconfigurations")["items"]
               if c["metadata"].get("annotations", {}).get("meta.helm.sh/release-name") == RELEASE]  # fmt: skip
    assert configs, "the release has no ValidatingWebhookConfiguration"
    client = configs[0]["webhooks"][0]["clientConfig"]
    assert "url" not in client and client["service"]["namespace"] == NS
    real.namespace(MODELS)
    bad = {
        "apiVersion": "machinelearning.seldon.io/v1",
        "kind": "SeldonDeployment",
        "metadata": {"name": "split", "namespace": MODELS},
        "spec": {"predictors": [
            {"name": p, "traffic": 30, "graph": {"name": "m", "implementation": "SKLEARN_SERVER", "modelUri": "gs://m"}}
            for p in ("a", "b")
        ]},
    }  # fmt: skip
    proc = real.apply([bad], "--dry-run=server", check=False)
    assert proc.returncode != 0 and "Traffic must sum to 100 for multiple predictors" in proc.stderr
    bad["spec"]["predictors"][0]["traffic"] = 70
    assert real.apply([bad], "--dry-run=server").returncode == 0
    log = real.kubectl("logs", "-n", NS, "-l", OPERATOR, "--tail=-1").stdout
    assert "Validating v1 Webhook called" in log


def test_helm_test_runs_its_pod_on_the_real_node(real):
    real.helm("test", RELEASE, "-n", NS, "--timeout", "120s")
    jobs = real.get("pods", "-n", NS, "-l", "app.kubernetes.io/component=test")["items"]
    assert jobs and all(p["spec"]["nodeName"] == node.NODE_NAME for p in jobs)
    assert jobs[-1]["status"]["phase"] == "Succeeded"
    log = real.kubectl("logs", "-n", NS, jobs[-1]["metadata"]["name"]).stdout
    assert "webhook answered HTTP" in log


@pytest.fixture(scope="module")
def iris(real, tmp_path_factory, cluster_kubeconfig) -> dict:
    """The example model, packaged, built without Docker, loaded, and deployed without the executor."""
    from fadi_seldon.images import model
    from fadi_seldon.localkube import node_images
    from fadi_seldon.localkube.layout import Layout

    folder = tmp_path_factory.mktemp("model") / "iris-model"
    shutil.copytree(ROOT / "examples" / "iris-model", folder)
    sdep = yaml.safe_load((folder / "deployment.yaml").read_text())
    image = sdep["spec"]["predictors"][0]["componentSpecs"][0]["spec"]["containers"][0]["image"]
    built = model.build(folder, image)
    node_images.import_archive(built.archive, Layout(cluster_kubeconfig.parent))
    predictor = sdep["spec"]["predictors"][0]
    predictor["annotations"] = {"seldon.io/no-engine": "true"}
    sdep["metadata"]["namespace"] = MODELS
    real.namespace(MODELS)
    started = time.monotonic()
    real.apply([sdep])
    wait_until("the model's SeldonDeployment to be Available",
               lambda: (real.get("sdep", sdep["metadata"]["name"], "-n", MODELS).get("status") or {}).get("state")
               == "Available", timeout=180)  # fmt: skip
    print(f"[real-node] model applied -> Available in {time.monotonic() - started:.1f}s", file=sys.stderr)
    return sdep


def test_the_model_runs_in_a_real_pod_and_answers_through_its_service(real, iris):
    name = iris["metadata"]["name"]
    pods = real.get("pods", "-n", MODELS, "-l", f"seldon-deployment-id={name}")["items"]
    assert pods and all(p["spec"]["nodeName"] == node.NODE_NAME for p in pods)
    assert all(c["ready"] for p in pods for c in p["status"]["containerStatuses"])
    url = real.service_url(f"{name}-{iris['spec']['predictors'][0]['name']}", MODELS)
    # --wait as well: the first request a user sends may find the model still starting
    proc = subprocess.run(
        [sys.executable, "-m", "fadi_seldon", "predict", url, "--ndarray", json.dumps(IRIS), "-o", "json",
         "--wait", "30"],
        capture_output=True, text=True, timeout=60, env=real.env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    rows = answer["data"]["ndarray"]
    assert len(rows) == 2 and all(abs(sum(r) - 1) < 1e-6 for r in rows)
    assert rows[0].index(max(rows[0])) == 0 and rows[1].index(max(rows[1])) == 2  # setosa, virginica
    log = real.kubectl("logs", "-n", MODELS, pods[0]["metadata"]["name"], "-c", name).stdout
    assert "seldon_core" in log or "seldon-core-microservice" in log


def test_doctor_names_an_image_the_node_does_not_have(real):
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "needs-a-registry", "namespace": MODELS},
        "spec": {
            "containers": [
                {"name": "m", "image": "seldonio/mock_classifier:1.0"},
                {"name": "other", "image": "fadi/never-built:0.0.1"},
            ]
        },
    }
    real.namespace(MODELS)
    real.apply([pod])
    wait_until("the pod to wait for its image",
               lambda: "Image" in json.dumps((real.get("pod", "needs-a-registry", "-n", MODELS) or {}).get("status")))  # fmt: skip
    proc = subprocess.run([sys.executable, "-m", "fadi_seldon", "doctor", "-o", "json"],
                          capture_output=True, text=True, env=real.env, timeout=120)  # fmt: skip
    findings = [f for f in json.loads(proc.stdout)["findings"] if f["check"] == "image-missing"]
    fixes = {f["subject"]: f["fix"] for f in findings}
    assert "--build --load" in fixes["fadi/never-built:0.0.1"]  # a model of the user's: package it
    # Seldon's own image (loaded only later, by seldon_images): the two ways to provide it
    assert "cluster load --mock-classifier" in fixes["seldonio/mock_classifier:1.0"]
    assert "SELDON_CORE_SOURCE" in fixes["seldonio/mock_classifier:1.0"]


def test_a_custom_mlserver_runtime_answers_the_v2_protocol_through_the_cluster(
    real, tmp_path, cluster_kubeconfig
):
    """`package --runtime mlserver --no-engine --build --load`, a `protocol: v2` SeldonDeployment, and
    `predict --protocol v2` through its Service: MLServer running in a pod of the node."""
    folder = tmp_path / "runtime"
    shutil.copytree(ROOT / "examples" / "sklearn-iris" / "runtime", folder)
    env = {**real.env, "FADI_CLUSTER_DIR": str(cluster_kubeconfig.parent)}
    image = "fadi-seldon/iris-v2:0.1.0"
    proc = subprocess.run(
        [sys.executable, "-m", "fadi_seldon", "package", str(folder), "--runtime", "mlserver", "--image", image,
         "--no-engine", "--build", "--load", "-o", "json"],
        capture_output=True, text=True, timeout=900, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    sdep = yaml.safe_load((folder / "deployment.yaml").read_text())
    assert sdep["spec"]["protocol"] == "v2"
    name = sdep["metadata"]["name"]
    sdep["metadata"]["namespace"] = MODELS
    real.namespace(MODELS)
    real.apply([sdep])
    wait_until("the v2 SeldonDeployment to be Available",
               lambda: (real.get("sdep", name, "-n", MODELS).get("status") or {}).get("state") == "Available",
               timeout=180)  # fmt: skip
    url = real.service_url(f"{name}-default", MODELS)
    proc = subprocess.run(
        [sys.executable, "-m", "fadi_seldon", "predict", url, "--protocol", "v2", "--model", name, "--wait", "30",
         "--ndarray", json.dumps(IRIS), "-o", "json"],
        capture_output=True, text=True, timeout=120, env=real.env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    output = json.loads(proc.stdout)["outputs"][0]
    assert output["name"] == "probabilities" and output["shape"] == [2, 3]
    rows = [output["data"][:3], output["data"][3:]] if len(output["data"]) == 6 else output["data"]
    assert rows[0].index(max(rows[0])) == 0 and rows[1].index(max(rows[1])) == 2
    pods = real.get("pods", "-n", MODELS, "-l", f"seldon-deployment-id={name}")["items"]
    assert pods and all(p["spec"]["nodeName"] == node.NODE_NAME for p in pods)


# ------------------------------------------------------------------ the user guide's example, for real

GUIDE_NS = "guide-real"
GUIDE = ROOT / "examples" / "user-guide" / "seldon-model.yaml"
OPERATOR_MODULE = "github.com/seldonio/seldon-core/operator"
EXECUTOR_MODULE = "github.com/seldonio/seldon-core/executor"


def running_version(cluster_kubeconfig, container_status: dict, module: str) -> str | None:
    """The version the running binary of a container records in its Go build info: /proc/PID/exe, read
    as the file itself (its link target is a path in the container's mount namespace), copied aside."""
    from fadi_seldon.localkube import node_images
    from fadi_seldon.localkube.layout import Layout
    from fadi_seldon.tools.probe import buildinfo_version

    container_id = container_status["containerID"].split("://", 1)[1]
    for line in node_images.ctr(Layout(cluster_kubeconfig.parent), "tasks", "ls").splitlines()[1:]:
        task, pid = line.split()[:2]
        if task == container_id:
            with tempfile.NamedTemporaryFile() as copy:
                copy.write(Path(f"/proc/{pid}/exe").read_bytes())
                copy.flush()
                return buildinfo_version(Path(copy.name), module)
    raise AssertionError(f"no running task for container {container_id}")


def test_the_operator_pod_runs_seldon_1_17_1_built_from_its_source(real, cluster_kubeconfig):
    status = operator_pod(real)["status"]["containerStatuses"][0]
    assert status["image"] == "docker.io/seldonio/seldon-core-operator:1.17.1"
    assert running_version(cluster_kubeconfig, status, OPERATOR_MODULE) == "v1.17.1"


def test_the_user_guide_example_answers_through_the_executor(real, seldon_images, cluster_kubeconfig):
    """The guide's steps with its YAML unmodified: apply, get (Available), a prediction through the
    executor on the predictor's Service, delete and the pods gone."""
    real.namespace(GUIDE_NS)
    real.kubectl("apply", "-n", GUIDE_NS, "-f", str(GUIDE))
    wait_until("the guide's SeldonDeployment to be Available",
               lambda: (real.get("sdep", "seldon-model", "-n", GUIDE_NS).get("status") or {}).get("state")
               == "Available", timeout=180)  # fmt: skip
    listing = real.kubectl("get", "seldondeployment", "-n", GUIDE_NS).stdout
    assert "seldon-model" in listing and "Available" in listing
    (pod,) = real.get("pods", "-n", GUIDE_NS, "-l", "seldon-deployment-id=seldon-model")["items"]
    statuses = {c["name"]: c for c in pod["status"]["containerStatuses"]}
    assert set(statuses) == {"classifier", "seldon-container-engine"} and all(
        c["ready"] for c in statuses.values()
    )
    assert pod["spec"]["nodeName"] == node.NODE_NAME
    engine = statuses["seldon-container-engine"]
    assert engine["image"] == "docker.io/seldonio/seldon-core-executor:1.17.1"
    assert running_version(cluster_kubeconfig, engine, EXECUTOR_MODULE) == "v1.17.1"
    url = real.service_url("seldon-model-example", GUIDE_NS)
    assert url.endswith(":8000")  # the executor's port, not the model's 9000
    rows = [[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]]
    proc = subprocess.run(
        [sys.executable, "-m", "fadi_seldon", "predict", url, "--ndarray", json.dumps(rows), "-o", "json", "--wait", "30"],
        capture_output=True, text=True, timeout=60, env=real.env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    from fadi_seldon.images import executor, mock_classifier

    model_npy = executor.source_member(executor.seldon_source(), f"{mock_classifier.SOURCE_FOLDER}/model.npy")
    expected = [[expected_answer(model_npy, row)] for row in rows]
    assert [row[0] for row in answer["data"]["ndarray"]] == pytest.approx(
        [row[0] for row in expected], abs=1e-9
    )
    assert answer["meta"]["requestPath"] == {"classifier": "seldonio/mock_classifier:1.0"}  # the executor's
    real.kubectl("delete", "seldondeployment", "seldon-model", "-n", GUIDE_NS)
    wait_until("the guide's model pods to be gone",
               lambda: not real.get("pods", "-n", GUIDE_NS, "-l", "seldon-deployment-id=seldon-model")["items"],
               timeout=120)  # fmt: skip
    assert "No resources found" in real.kubectl("get", "seldondeployment", "-n", GUIDE_NS).stderr
