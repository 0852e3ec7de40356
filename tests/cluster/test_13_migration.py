"""Moving a release from upstream's chart to ours, with traffic: the documented steps, while a client
keeps calling the user guide's model through its executor.

Upstream's chart comes from Seldon's 1.17.1 source release (`helm-charts/seldon-core-operator`,
extracted at test time), its images are the ones built here from the same release. The release holds
three SeldonDeployments; the steps are docs/operator-chart.md's "In-place upgrade of a release
installed with upstream's chart": delete the old controller Deployment, then `helm upgrade` with
this chart. Every SeldonDeployment must be kept, and every request answered: model pods and their
Services do not depend on the operator, and the new operator must not disturb them.
"""

from __future__ import annotations

import sys
import tarfile
import time
from pathlib import Path

import pytest
import yaml

from cluster.kube import Kube, wait_until
from cluster.traffic import Traffic
from conftest import ROOT

RELEASE, NS, MODELS = "seldon-moving", "seldon-moving", "models-moving"
NAMES = ("seldon-model", "seldon-model-b", "seldon-model-c")
GUIDE = ROOT / "examples" / "user-guide" / "seldon-model.yaml"
# the session's release keeps the CRD (test_01); neither chart may take it over. The executors ask
# 100m CPU (upstream's default 500m would not fit three models beside the rest on a 2-core node);
# both charts get the same values, so the move itself changes no model's pod template.
SETS = ("crd.create=false", "usageMetrics.enabled=false", "executor.resources.cpuRequest=100m",
        "executor.resources.memoryRequest=128Mi")  # fmt: skip


def upstream_chart(dest: Path) -> Path:
    """Upstream's operator chart, read from the source release (never copied into the repository)."""
    from fadi_seldon.images import executor

    prefix = "seldon-core-1.17.1/helm-charts/seldon-core-operator/"
    with tarfile.open(executor.seldon_source()) as tar:
        members = [m for m in tar.getmembers() if m.name.startswith(prefix)]
        tar.extractall(dest, members=members, filter="data")
    return dest / prefix


def states(kube: Kube) -> dict[str, str]:
    items = (kube.get("sdep", "-n", MODELS) or {}).get("items") or []
    return {i["metadata"]["name"]: (i.get("status") or {}).get("state", "") for i in items}


@pytest.fixture(scope="module")
def moving(kube: Kube, webhook_off, operator_image, seldon_images, tmp_path_factory) -> Kube:
    k = Kube(kube.kubeconfig, kube.env, kube.charts, simulated=False)
    k.namespace(NS)
    k.namespace(MODELS)
    chart = upstream_chart(tmp_path_factory.mktemp("upstream"))
    k.helm(
        "install",
        RELEASE,
        str(chart),
        "-n",
        NS,
        *[a for s in SETS for a in ("--set", s)],
        "--wait",
        "--timeout",
        "300s",
    )
    guide = yaml.safe_load(GUIDE.read_text())
    for name in NAMES:
        k.apply([{**guide, "metadata": {"name": name, "namespace": MODELS}}])
    wait_until("the three SeldonDeployments to be Available",
               lambda: states(k) == dict.fromkeys(NAMES, "Available"), timeout=240)  # fmt: skip
    yield k
    k.helm("uninstall", RELEASE, "-n", NS, "--wait", "--timeout", "180s", check=False)
    k.kubectl(
        "delete", "namespace", MODELS, NS, "--ignore-not-found", "--wait=true", check=False, timeout=240
    )


def test_moving_to_our_chart_keeps_every_model_and_every_request(moving: Kube):
    upstream = moving.get("deployment", "seldon-controller-manager", "-n", NS)
    assert upstream["spec"]["selector"]["matchLabels"].get("control-plane") == "seldon-controller-manager"
    client = Traffic(moving.service_url("seldon-model-example", MODELS))
    client.start()
    try:
        time.sleep(3)
        started = time.monotonic()
        # the documented steps (docs/operator-chart.md)
        moving.kubectl("-n", NS, "delete", "deployment", "seldon-controller-manager")
        sets = [a for s in (*SETS, "image.pullPolicy=IfNotPresent") for a in ("--set", s)]
        moving.helm("upgrade", RELEASE, moving.chart("charts/seldon-core-operator"), "-n", NS, *sets,
                    "--wait", "--timeout", "300s")  # fmt: skip
        moved = time.monotonic() - started
        # the new operator reconciles every model: let any rollout it starts finish under traffic
        time.sleep(10)
        wait_until("the models to be Available after the move",
                   lambda: states(moving) == dict.fromkeys(NAMES, "Available"), timeout=240)  # fmt: skip
        time.sleep(5)
    finally:
        client.stopping.set()
        client.join(timeout=30)
    print(f"[migration] moved in {moved:.1f}s; {client.ok} requests answered, {client.failed} failed "
          f"{client.errors[:5]}", file=sys.stderr)  # fmt: skip
    chart = moving.get("deployment", "-n", NS, "-l", "app.kubernetes.io/instance=" + RELEASE)["items"]
    assert chart and chart[0]["metadata"]["labels"]["helm.sh/chart"].startswith("seldon-core-operator-")
    assert states(moving) == dict.fromkeys(NAMES, "Available")
    assert client.ok > 100
    assert client.failed == 0, client.errors[:10]
