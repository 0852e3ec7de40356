"""Benchmarks of the real node (plain figures, no assertions).

- control plane + real node: `cluster up --node real` from a fresh state folder to ready (target <= 15 s)
- the operator chart installed with the local operator image, `--wait` (its pod really starting)
- the example model: SeldonDeployment applied -> its pod Ready, and -> Available (target <= 5 s to Ready),
  with the operator's default readiness probe (20 s initial delay) and with a 1 s one of the user's
- a prediction through the model's Service's ClusterIP
- `cluster down` with the host put back

Needs root and `make tools` (the `node` group). Usage: .venv/bin/python bench/bench_real_node.py
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from bench_cluster import BIN, env, figure, run  # noqa: E402

from fadi_seldon.images import model, operator  # noqa: E402
from fadi_seldon.localkube import ControlPlane, host, node_images, node_lifecycle  # noqa: E402

MODELS = "bench-models"
FAST_PROBE = {"tcpSocket": {"port": 9000}, "initialDelaySeconds": 1, "periodSeconds": 1}


def kubectl(plane: ControlPlane, *args: str, **kw) -> subprocess.CompletedProcess:
    return run([str(BIN / "kubectl"), "--kubeconfig", str(plane.layout.kubeconfig), *args], **kw)


def wait_pod_ready(plane: ControlPlane, name: str) -> None:
    kubectl(plane, "wait", "-n", MODELS, "pod", "-l", f"seldon-deployment-id={name}", "--for=condition=Ready",
            "--timeout=180s")  # fmt: skip


def apply_model(plane: ControlPlane, sdep: dict, name: str, probe: dict | None) -> tuple[float, float]:
    """(seconds to the pod Ready, seconds to Available) for one SeldonDeployment applied."""
    doc = json.loads(json.dumps(sdep))
    doc["metadata"]["name"] = name
    container = doc["spec"]["predictors"][0]["componentSpecs"][0]["spec"]["containers"][0]
    if probe:
        container["readinessProbe"] = probe
    t0 = time.perf_counter()
    kubectl(plane, "apply", "-n", MODELS, "-f", "-", input=json.dumps(doc))
    for _ in range(600):  # the operator creates the Deployment a moment after the apply
        if kubectl(
            plane, "get", "pods", "-n", MODELS, "-l", f"seldon-deployment-id={name}", "-o", "name"
        ).stdout:
            break
        time.sleep(0.1)
    wait_pod_ready(plane, name)
    ready = time.perf_counter() - t0
    kubectl(plane, "wait", "-n", MODELS, f"sdep/{name}", "--for=jsonpath={.status.state}=Available",
            "--timeout=180s")  # fmt: skip
    return ready, time.perf_counter() - t0


def predict(plane: ControlPlane, name: str) -> float:
    """Time to the first answer, the Service's readiness on the node included (the one wait)."""
    from fadi_seldon.doctor import Kubectl
    from fadi_seldon.localkube import services

    t0 = time.perf_counter()
    kube = Kubectl(str(BIN / "kubectl"), kubeconfig=str(plane.layout.kubeconfig))
    url = services.wait_ready(kube, MODELS, f"{name}-default", local_proxy=True).url + "/api/v1.0/predictions"
    body = json.dumps({"data": {"ndarray": [[5.1, 3.5, 1.4, 0.2]]}}).encode()
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - a ClusterIP of ours
        json.load(resp)
    return time.perf_counter() - t0


def bench(tmp: Path) -> None:
    plane = ControlPlane(tmp / "cluster", bin_dir=BIN, out=open("/dev/null", "w"))  # noqa: SIM115
    before = host.snapshot()
    t0 = time.perf_counter()
    plane.up(node_kind="real")
    figure(
        "cluster up --node real (control plane + node ready)", f"{time.perf_counter() - t0:.1f} s", "<= 15 s"
    )
    try:
        t0 = time.perf_counter()
        node_images.import_archive(operator.build().archive, plane.layout)
        figure("operator image built (cached) and loaded", f"{time.perf_counter() - t0:.1f} s")
        sets = [a for s in operator.chart_sets() for a in ("--set", s)]
        t0 = time.perf_counter()
        run([str(BIN / "helm"), "install", "seldon", str(ROOT / "charts" / "seldon-core-operator"), "-n", "seldon",
             "--create-namespace", "--wait", "--timeout", "180s", "--set", "usageMetrics.enabled=false", *sets],
            env=env(KUBECONFIG=str(plane.layout.kubeconfig)))  # fmt: skip
        figure("operator chart install --wait (a real pod)", f"{time.perf_counter() - t0:.1f} s")
        folder = tmp / "iris-model"
        shutil.copytree(ROOT / "examples" / "iris-model", folder)
        t0 = time.perf_counter()
        built = model.build(folder, "fadi-seldon/iris-model:0.1.0")
        node_images.import_archive(built.archive, plane.layout)
        figure(
            "model image build (cached layers) and load",
            f"{time.perf_counter() - t0:.1f} s",
            "<= 10 s cached",
        )
        sdep = yaml.safe_load((folder / "deployment.yaml").read_text())
        sdep["spec"]["predictors"][0]["annotations"] = {"seldon.io/no-engine": "true"}
        kubectl(plane, "create", "namespace", MODELS)
        ready, available = apply_model(plane, sdep, "iris-default-probe", None)
        figure("model applied -> pod Ready (operator's default probe)", f"{ready:.1f} s")
        figure("model applied -> Available (operator's default probe)", f"{available:.1f} s")
        ready, available = apply_model(plane, sdep, "iris-fast-probe", FAST_PROBE)
        figure("model applied -> pod Ready (1 s readiness probe)", f"{ready:.1f} s", "<= 5 s")
        figure("model applied -> Available (1 s readiness probe)", f"{available:.1f} s")
        figure(
            "a prediction through the Service's ClusterIP",
            f"{predict(plane, 'iris-fast-probe') * 1000:.0f} ms",
        )
    finally:
        t0 = time.perf_counter()
        plane.down()
        figure("cluster down (host put back)", f"{time.perf_counter() - t0:.1f} s")
        left = host.differences(before, host.snapshot())
        figure("host differences after down", str(len(left)), "0")


def main() -> int:
    problems = node_lifecycle.host_problems(BIN)
    if problems:
        print("[bench] no real node on this host: " + "; ".join(problems))
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-real-node-") as tmp:
        bench(Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
