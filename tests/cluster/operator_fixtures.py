"""Helpers of the operator tests: run the real operator for a release, and watch what it builds."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import yaml

from cluster.kube import RELEASE, RELEASE_NS, Kube, set_webhook, wait_until
from conftest import ROOT, TOOLS_BIN
from fadi_seldon.localkube.operator import OperatorRunner, StartOptions

EXAMPLES = ROOT / "examples"
# The operator's webhook names the object by spec.name in its refusal (upstream quirk); the API
# server's own validation names metadata.name. A spec.name marker therefore shows who refused.
WEBHOOK_MARKER = "refused-by-the-operator"
RECONCILE_TIMEOUT = 180  # seconds; 2 busy cores run the control plane, kwok and the operator


# On a cluster that runs containers (kind, `make e2e-kind`) the chart's own operator pods do the
# work; the API server there cannot reach a webhook on this host's loopback anyway.
IN_CLUSTER = bool(os.environ.get("FADI_TEST_KUBECONFIG"))


@contextlib.contextmanager
def running_operator(kube: Kube, state_dir: Path, release: str, namespace: str, *sets: str) -> Iterator[dict]:
    """The operator chart installed as `release` (CRD left to FADI's release) and its real operator running.

    Locally the operator is a host process (`fadi-seldon cluster operator start`). FADI's own release
    keeps its webhook off meanwhile: no operator serves it, and with failurePolicy Fail it would
    refuse every SeldonDeployment of the namespaces it covers.
    """
    if kube.helm("status", RELEASE, "-n", RELEASE_NS, check=False).returncode == 0:
        set_webhook(kube, False)
    values = ["crd.create=false", *sets]
    if IN_CLUSTER:
        kube.install(release, namespace, "charts/seldon-core-operator", *values)
        try:
            yield {"release": release, "namespace": namespace, "processes": []}
        finally:
            kube.helm("uninstall", release, "-n", namespace, "--wait", check=False)
        return
    runner, opts = host_operator(kube, state_dir, release, namespace, values)
    try:
        yield runner.start(opts)
    finally:
        runner.stop(uninstall=True)


def host_operator(
    kube: Kube, state_dir: Path, release: str, namespace: str, values: list[str]
) -> tuple[OperatorRunner, StartOptions]:
    """The runner and start options of a host-process operator for `release` (not started yet).

    The release's namespace sends its pods to the simulated nodes: the chart's own controller
    Deployment must not run a second, real operator on the real node (its image is loaded there
    under upstream's name) beside the host process."""
    Kube(kube.kubeconfig, kube.env, kube.charts, simulated=True).namespace(namespace)
    runner = OperatorRunner(kube.kubeconfig, state_dir, bin_dir=TOOLS_BIN, out=sys.stderr)
    opts = StartOptions(
        release=release,
        namespace=namespace,
        chart=Path(kube.chart("charts/seldon-core-operator")),
        set_values=values,
        timeout=120,
    )
    return runner, opts


@contextlib.contextmanager
def host_operator_target(kube: Kube, state_dir: Path, release: str, namespace: str, values: list[str]):
    """The operator of `release` as a host process, as the searches' target (machinery.crash_search
    .HostOperator: requests through `kubectl proxy`, restarts, its log); uninstalled afterwards."""
    from cluster.kube import Proxy
    from machinery.crash_search import HostOperator

    runner, opts = host_operator(kube, state_dir, release, namespace, values)
    proxy = Proxy(kube)
    try:
        yield HostOperator(runner, opts, proxy)
    finally:
        proxy.close()
        runner.stop(uninstall=True)


def seldon_webhooks(kube: Kube) -> list[str]:
    """The names of the SeldonDeployment validating webhooks registered in the cluster."""
    return [
        w["name"]
        for c in kube.get("validatingwebhookconfigurations")["items"]
        for w in c.get("webhooks") or []
        if "seldondeployment" in w["name"]
    ]


def operator_deployments(kube: Kube, namespace: str) -> dict[str, dict]:
    """The chart's controller Deployments in the release namespace, by name."""
    found = kube.get("deployments", "-n", namespace, "-l", "control-plane=seldon-controller-manager") or {}
    return {d["metadata"]["name"]: d for d in found.get("items", [])}


def load_example(relative: str) -> dict:
    return yaml.safe_load((EXAMPLES / relative).read_text(encoding="utf-8"))


def wait_available(kube: Kube, name: str, namespace: str) -> dict:
    def available():
        sdep = kube.get("seldondeployment", name, "-n", namespace)
        state = ((sdep or {}).get("status") or {}).get("state")
        return sdep if state == "Available" else None

    return wait_until(
        f"SeldonDeployment {namespace}/{name} to be Available", available, timeout=RECONCILE_TIMEOUT
    )


def names(kube: Kube, kind: str, namespace: str, sdep: str) -> set[str]:
    """Objects of `kind` the operator created for `sdep` (its seldon-deployment-id label)."""
    found = kube.get(kind, "-n", namespace, "-l", f"seldon-deployment-id={sdep}") or {}
    return {item["metadata"]["name"] for item in found.get("items", [])}


def restart_count(kube: Kube, namespace: str, selector: str) -> int:
    """How many times the containers of the pods `selector` picks have restarted, all together."""
    pods = kube.get("pods", "-n", namespace, "-l", selector)["items"]
    return sum(
        c["restartCount"] for p in pods for c in (p.get("status") or {}).get("containerStatuses") or []
    )


class PodOperator:
    """The searches' target (machinery.crash_search.Target) when the operator runs as the chart's pod:
    requests through `kubectl proxy`; a crash is its container restarted by the kubelet, whose
    previous log names the panic; "restarting" it is waiting for the kubelet's restart to be ready."""

    def __init__(self, kube: Kube, namespace: str, selector: str, proxy) -> None:
        self.kube, self.namespace, self.selector, self.proxy = kube, namespace, selector, proxy
        self.restarts = self.restart_count()

    def pods(self) -> list[dict]:
        return self.kube.get("pods", "-n", self.namespace, "-l", self.selector)["items"]

    def restart_count(self) -> int:
        return restart_count(self.kube, self.namespace, self.selector)

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, dict]:
        return self.proxy.request(method, path, body)

    def operator_alive(self) -> bool:
        return self.restart_count() == self.restarts

    def operator_log(self) -> str:
        argv = ["logs", "-n", self.namespace, "-l", self.selector, "--tail=-1"]
        previous = self.kube.kubectl(*argv, "--previous", check=False)
        return previous.stdout if previous.returncode == 0 else self.kube.kubectl(*argv).stdout

    def restart_operator(self) -> None:
        def ready() -> bool:
            statuses = [
                c for p in self.pods() for c in (p.get("status") or {}).get("containerStatuses") or []
            ]
            return bool(statuses) and all(c.get("ready") for c in statuses)

        wait_until("the operator's container to be restarted and ready", ready, timeout=180)
        self.restarts = self.restart_count()
