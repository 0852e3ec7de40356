"""Prepackaged servers on the real node, with models from an object store: the data scientist's path.

The user's four commands, run as the README writes them: train (examples/*-iris/train.py, in the venv
`serve --setup` makes), `fadi-seldon upload` to the local S3 store (`rclone serve s3` in a pod, standing
in for FADI's MinIO), `fadi-seldon new --server ... --model-uri s3://... --env-secret`, `kubectl apply`.
Each server runs in the image built here under the name the chart's predictor_servers give it, with
Seldon's 1.17.1 executor in front and the rclone storage initializer fetching the model; every answer
is checked against the model's own prediction computed on the host. Then what goes wrong: a wrong
bucket, wrong keys, a missing Secret, each named by `fadi-seldon status` and `doctor`.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from cluster.kube import Kube, wait_until
from conftest import ROOT
from fadi_seldon.localkube import object_store

RELEASE, NS, MODELS = "seldon-prepackaged", "seldon-prepackaged", "models"
SETS = ("crd.create=false", "usageMetrics.enabled=false", "executor.resources.cpuRequest=100m",
        "executor.resources.memoryRequest=128Mi")  # fmt: skip
SECRET = "models-s3"
BUCKET = "models"
MODEL = "classifier"  # the graph node, and the model's name under protocol v2
ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]
# server -> its training script (examples/), run in the venv `serve --setup` makes for it
SERVERS = {
    "SKLEARN_SERVER": "examples/sklearn-iris/train.py",
    "XGBOOST_SERVER": "examples/xgboost-iris/train.py",
    "MLFLOW_SERVER": "examples/mlflow-iris/train.py",
}
PROTOCOLS = ("seldon", "v2")
# what each server computes, run on the host on the same artifact: (server, protocol) -> code
# printing the answer for the rows in sys.argv[2], the model folder being sys.argv[1]
LOCAL = {
    (
        "SKLEARN_SERVER",
        "seldon",
    ): "joblib.load(folder + '/model.joblib').predict_proba(X)",  # SKLearnServer's default method
    ("SKLEARN_SERVER", "v2"): "joblib.load(folder + '/model.joblib').predict(X)",  # MLServer's default output
    (
        "XGBOOST_SERVER",
        "seldon",
    ): "xgboost.Booster(model_file=folder + '/model.bst').predict(xgboost.DMatrix(X))",
    (
        "XGBOOST_SERVER",
        "v2",
    ): "mlserver_xgboost.xgboost._load_sklearn_interface(folder + '/model.bst').predict(X)",
    ("MLFLOW_SERVER", "seldon"): "mlflow.pyfunc.load_model(folder).predict(X)",
    ("MLFLOW_SERVER", "v2"): "mlflow.pyfunc.load_model(folder).predict(X)",
}
IMPORTS = {
    "SKLEARN_SERVER": "joblib",
    "XGBOOST_SERVER": "xgboost, mlserver_xgboost.xgboost",
    "MLFLOW_SERVER": "mlflow.pyfunc",
}


def cli(*argv: str, timeout: float = 600) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "fadi_seldon", *argv], capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, (argv, proc.stdout[-2000:], proc.stderr[-4000:])
    return proc.stdout


def train(server: str, out: Path) -> str:
    """Train with the venv `serve --setup` makes (the framework versions every server image carries)."""
    python = cli("serve", "--setup", "--server", server, "--protocol", "v2").strip().splitlines()[-1]
    subprocess.run([python, str(ROOT / SERVERS[server]), str(out)], check=True, timeout=600)
    return python


def local_answer(python: str, server: str, protocol: str, folder: Path, rows: list) -> list[float]:
    """The model's own answer on the host, flattened: what the server must return."""
    code = (
        f"import json, sys, numpy, {IMPORTS[server]}; folder = sys.argv[1]; X = numpy.array(json.loads(sys.argv[2]));"
        f"print(json.dumps(numpy.asarray({LOCAL[server, protocol]}).ravel().tolist()))"
    )
    out = subprocess.run(
        [python, "-c", code, str(folder), json.dumps(rows)], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def flat(value) -> list[float]:
    """A nested list of numbers, flattened (answers of any shape compared element by element)."""
    return [y for x in value for y in flat(x)] if isinstance(value, list) else [float(value)]


def post(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as resp:
        return json.loads(resp.read())


def state(kube: Kube, name: str) -> str:
    obj = kube.get("sdep", name, "-n", MODELS) or {}
    return (obj.get("status") or {}).get("state", "")


def as_user(k: Kube, cluster_kubeconfig, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """A command run as a user of the local cluster runs it (`eval "$(fadi-seldon cluster env)"`)."""
    env = {**k.env, "KUBECONFIG": str(k.kubeconfig), "FADI_CLUSTER_DIR": str(cluster_kubeconfig.parent)}
    return subprocess.run([sys.executable, "-m", "fadi_seldon", *argv], capture_output=True, text=True,
                          timeout=timeout, env=env)  # fmt: skip


@pytest.fixture(scope="module")
def store(kube: Kube, webhook_off, operator_image, seldon_images, cluster_kubeconfig) -> dict:
    """The operator chart on the real node, the servers' images built and loaded (`cluster load
    --server ... --storage-initializer`), and the object store running with its model Secret in the
    models' namespace (`cluster object-store`)."""
    k = Kube(kube.kubeconfig, kube.env, kube.charts, simulated=False)
    k.namespace(NS)
    k.namespace(MODELS)
    started = time.monotonic()
    servers = [arg for server in SERVERS for arg in ("--server", server)]
    loaded = as_user(k, cluster_kubeconfig, "cluster", "load", *servers, "--storage-initializer", "-o", "json",
                     timeout=1800)  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    assert len(json.loads(loaded.stdout)) == 1 + len(SERVERS) * len(PROTOCOLS)
    print(f"[prepackaged] images built and loaded in {time.monotonic() - started:.1f}s", file=sys.stderr)
    k.install(RELEASE, NS, "charts/seldon-core-operator", *SETS, *operator_image)
    proc = as_user(k, cluster_kubeconfig, "cluster", "object-store", "-n", MODELS, "--secret", SECRET, "-o", "json",
                   "--wait", "180", timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert found["endpoint_in_cluster"] == object_store.endpoint(MODELS) and found["secret"] == SECRET
    yield {
        "kube": k,
        "url": found["endpoint"],
        "access": found["access_key_id"],
        "secret": found["secret_access_key"],
    }
    k.kubectl("delete", "namespace", MODELS, "--ignore-not-found", "--wait=true", check=False, timeout=240)
    k.helm("uninstall", RELEASE, "-n", NS, "--wait", "--timeout", "180s", check=False)
    k.kubectl("delete", "namespace", NS, "--ignore-not-found", "--wait=true", check=False, timeout=180)


@pytest.fixture(scope="module")
def models(store, tmp_path_factory) -> dict:
    """Each server's model trained, then uploaded with `fadi-seldon upload`: server -> its facts."""
    keys = {"AWS_ACCESS_KEY_ID": store["access"], "AWS_SECRET_ACCESS_KEY": store["secret"]}
    trained = {}
    for server in SERVERS:
        folder = tmp_path_factory.mktemp(server.lower()) / "model"  # MLflow refuses an existing folder
        python = train(server, folder)
        uri = f"s3://{BUCKET}/{server.lower()}"
        proc = subprocess.run(
            [sys.executable, "-m", "fadi_seldon", "upload", str(folder), uri, "--endpoint", store["url"], "-o", "json"],
            capture_output=True, text=True, timeout=300, env={**os.environ, **keys},
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["modelUri"] == uri
        answers = {p: local_answer(python, server, p, folder, ROWS) for p in PROTOCOLS}
        trained[server] = {"folder": folder, "uri": uri, "answers": answers}
    return trained


def name_of(server: str, protocol: str) -> str:
    return f"{server.split('_')[0].lower()}-{protocol}"


def manifest(server: str, protocol: str, uri: str, name: str | None = None, secret: str = SECRET) -> dict:
    """What `new --server --model-uri --env-secret` writes."""
    return json.loads(
        cli(
            "new",
            name or name_of(server, protocol),
            "--server",
            server,
            "--model-uri",
            uri,
            "--env-secret",
            secret,
            "--model-name",
            MODEL,
            "--protocol",
            protocol,
            "-n",
            MODELS,
            "-o",
            "json",
        )  # fmt: skip
    )


def request_of(protocol: str) -> tuple[str, dict]:
    """The path and body of one prediction of ROWS in a protocol."""
    if protocol == "seldon":
        return "/api/v1.0/predictions", {"data": {"ndarray": ROWS}}
    data = [x for row in ROWS for x in row]
    tensor = {"name": "predict", "shape": [len(ROWS), 4], "datatype": "FP64", "data": data}
    return f"/v2/models/{MODEL}/infer", {"inputs": [tensor]}


def first_answer(k: Kube, name: str, protocol: str, started: float, timeout: float = 420) -> float:
    """Seconds from `started` (the apply) to the first answer through the predictor's Service."""
    path, body = request_of(protocol)
    deadline = started + timeout
    while time.monotonic() < deadline:
        try:
            url = k.service_url(f"{name}-default", MODELS, timeout=max(1.0, deadline - time.monotonic()))
            post(url + path, body)
            return time.monotonic() - started
        except (OSError, AssertionError, ValueError):
            time.sleep(0.5)
    raise AssertionError(f"{name}: no answer {timeout:.0f} s after the apply (state {state(k, name)})")


@pytest.fixture(scope="module")
def deployed(store, models) -> dict:
    """Every server with both protocols, applied together (one at a time with FADI_BENCH_ONE_AT_A_TIME=1,
    for bench/bench_prepackaged.py): name -> (server, protocol, seconds from apply to first answer)."""
    k = store["kube"]
    names = {name_of(s, p): (s, p) for s in SERVERS for p in PROTOCOLS}
    one_at_a_time = os.environ.get("FADI_BENCH_ONE_AT_A_TIME") == "1"
    timed, started = {}, time.monotonic()
    if not one_at_a_time:
        k.apply([manifest(s, p, models[s]["uri"]) for s, p in names.values()])
    for name, (server, protocol) in names.items():
        if one_at_a_time:
            started = time.monotonic()
            k.apply([manifest(server, protocol, models[server]["uri"])])
        timed[name] = (server, protocol, first_answer(k, name, protocol, started))
        print(f"[prepackaged] {name}: first answer {timed[name][2]:.1f} s after the apply", file=sys.stderr)
    wait_until("every prepackaged server to be Available",
               lambda: all(state(k, n) == "Available" for n in names), timeout=120)  # fmt: skip
    return timed


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("server", sorted(SERVERS))
def test_a_prepackaged_server_answers_as_the_model_does(store, models, deployed, server, protocol):
    name = name_of(server, protocol)
    url = store["kube"].service_url(f"{name}-default", MODELS)
    expected = models[server]["answers"][protocol]
    path, body = request_of(protocol)
    reply = post(url + path, body)
    answer = flat(reply["data"]["ndarray"] if protocol == "seldon" else reply["outputs"][0]["data"])
    assert answer == pytest.approx(expected, rel=1e-5), (name, answer, expected)
    print(f"[prepackaged] {name} answered {json.dumps(reply)}", file=sys.stderr)
    pod = store["kube"].get("pods", "-n", MODELS, "-l", f"seldon-deployment-id={name}")["items"][0]
    (init,) = pod["status"]["initContainerStatuses"]
    assert init["image"] == "docker.io/seldonio/rclone-storage-initializer:1.17.1"
    assert init["state"]["terminated"]["exitCode"] == 0
    images = {c["name"]: c["image"] for c in pod["status"]["containerStatuses"]}
    from fadi_seldon.images import servers

    assert images[MODEL] == servers.image_ref(server, protocol)


WRONG_KEYS = "models-s3-wrong-keys"
# name -> (the model's URI, or None for the uploaded sklearn model; the Secret; what status and doctor say)
FAILURES = {
    "wrong-bucket": ("s3://no-such-bucket/sklearn_server", SECRET, "model-not-found"),
    "wrong-keys": (None, WRONG_KEYS, "model-access-denied"),
    "no-secret": (None, "no-such-secret", "model-secret-missing"),
}


def download_checks(store, cluster_kubeconfig, name: str) -> list[str]:
    proc = as_user(store["kube"], cluster_kubeconfig, "status", name, "-n", MODELS, "-o", "json")
    assert proc.returncode == 1, proc.stderr  # not Available
    return [d["check"] for d in json.loads(proc.stdout)["model_downloads"]]


def test_a_model_that_cannot_be_fetched_says_why(store, models, deployed, cluster_kubeconfig):
    """A wrong bucket, wrong keys, a missing Secret: each stays Creating, and `status` and `doctor` name
    the cause from the initializer's own log or status."""
    k = store["kube"]
    wrong = object_store.model_secret(
        WRONG_KEYS, MODELS, object_store.endpoint(MODELS), store["access"], "x" * 32
    )
    k.apply([wrong])
    uri = models["SKLEARN_SERVER"]["uri"]
    k.apply(
        [
            manifest("SKLEARN_SERVER", "seldon", u or uri, name, secret)
            for name, (u, secret, _) in FAILURES.items()
        ]
    )
    for name, (_, _, check) in FAILURES.items():
        wait_until(f"status to say why {name} has no model",
                   lambda n=name, c=check: download_checks(store, cluster_kubeconfig, n) == [c], timeout=180)  # fmt: skip
        assert state(k, name) == "Creating"
    text = as_user(store["kube"], cluster_kubeconfig, "status", "wrong-bucket", "-n", MODELS).stdout
    assert "does not exist in the object store" in text and "directory not found" in text
    proc = as_user(store["kube"], cluster_kubeconfig, "doctor", "-o", "json")
    findings = {(f["check"], f["subject"]) for f in json.loads(proc.stdout)["findings"]}
    for name, (_, _, check) in FAILURES.items():
        assert (check, f"SeldonDeployment {MODELS}/{name}") in findings
    k.kubectl("delete", "sdep", *FAILURES, "-n", MODELS, "--wait=true")


def latencies(url: str, path: str, body: dict, count: int = 200) -> list[float]:
    """Milliseconds of `count` sequential requests on one kept-alive connection (concurrency 1)."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    data, out = json.dumps(body), []
    for _ in range(count):
        started = time.perf_counter()
        conn.request("POST", path, data, {"Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200, resp.status
        out.append((time.perf_counter() - started) * 1000)
    conn.close()
    return sorted(out)


def test_each_server_is_timed_beside_a_custom_image(store, deployed, cluster_kubeconfig):
    """Figures for bench/bench_prepackaged.py (printed, not asserted): each server's p50/p99 at
    concurrency 1 through its Service, and the same for the custom-image path (examples/iris-model,
    packaged and built here) behind the same executor."""
    from fadi_seldon.dev import examples
    from fadi_seldon.images import model
    from fadi_seldon.localkube import node_images
    from fadi_seldon.localkube.layout import Layout

    k = store["kube"]
    built = model.build(ROOT / examples.IRIS_MODEL_DIR, examples.IRIS_MODEL_IMAGE)
    node_images.import_archive(built.archive, Layout(cluster_kubeconfig.parent))
    custom = json.loads(cli("new", "custom", "--image", examples.IRIS_MODEL_IMAGE, "--model-name", MODEL,
                            "-n", MODELS, "-o", "json"))  # fmt: skip
    started = time.monotonic()
    k.apply([custom])
    rows = {"custom": ("custom image", "seldon", first_answer(k, "custom", "seldon", started))}
    for name, (server, protocol, seconds) in {**deployed, **rows}.items():
        path, body = request_of(protocol)
        times = latencies(k.service_url(f"{name}-default", MODELS), path, body)
        p50, p99 = times[len(times) // 2], times[int(len(times) * 0.99) - 1]
        print(f"[prepackaged] timing {name}: {server} {protocol}, first answer {seconds:.1f} s, "
              f"p50 {p50:.2f} ms, p99 {p99:.2f} ms", file=sys.stderr)  # fmt: skip
        assert p50 > 0
    k.kubectl("delete", "sdep", "custom", "-n", MODELS, "--wait=true")


def volume_objects(folder: Path) -> list[dict]:
    """A PersistentVolume on the real node (a host folder) and the claim bound to it."""
    pv = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": "fadi-test-models"},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadOnlyMany"], "storageClassName": "manual",
                 "persistentVolumeReclaimPolicy": "Retain", "hostPath": {"path": str(folder), "type": "Directory"},
                 "claimRef": {"namespace": MODELS, "name": "models"}},
    }  # fmt: skip
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "models", "namespace": MODELS},
        "spec": {"accessModes": ["ReadOnlyMany"], "storageClassName": "manual", "volumeName": "fadi-test-models",
                 "resources": {"requests": {"storage": "1Gi"}}},
    }  # fmt: skip
    return [pv, claim]


def test_a_model_on_a_persistent_volume(store, models, deployed, tmp_path_factory):
    """`modelUri: pvc://CLAIM/PATH`: the initializer copies from the claim, mounted at /mnt/pvc."""
    k = store["kube"]
    volume = tmp_path_factory.mktemp("volume")
    volume.chmod(0o755)
    shutil.copytree(models["SKLEARN_SERVER"]["folder"], volume / "iris")
    k.apply(volume_objects(volume))
    try:
        k.apply([manifest("SKLEARN_SERVER", "seldon", "pvc://models/iris", "from-volume")])
        first_answer(k, "from-volume", "seldon", time.monotonic(), timeout=240)
        path, body = request_of("seldon")
        reply = post(k.service_url("from-volume-default", MODELS) + path, body)
        expected = models["SKLEARN_SERVER"]["answers"]["seldon"]
        assert flat(reply["data"]["ndarray"]) == pytest.approx(expected, rel=1e-5)
        pod = k.get("pods", "-n", MODELS, "-l", "seldon-deployment-id=from-volume")["items"][0]
        claims = [
            v["persistentVolumeClaim"]["claimName"]
            for v in pod["spec"]["volumes"]
            if "persistentVolumeClaim" in v
        ]
        assert claims == ["models"]
    finally:
        k.kubectl(
            "delete", "sdep", "from-volume", "-n", MODELS, "--ignore-not-found", "--wait=true", check=False
        )
        k.kubectl("delete", "pvc", "models", "-n", MODELS, "--ignore-not-found", "--wait=true", check=False)
        k.kubectl("delete", "pv", "fadi-test-models", "--ignore-not-found", "--wait=true", check=False)
