"""Helpers the cluster suite shares: run kubectl and helm against one cluster, wait for things."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from conftest import ROOT, tool
from fadi_seldon.localkube import nodes
from machinery import proxy

RELEASE, RELEASE_NS = "fadi", "fadi"
CRD = "seldondeployments.machinelearning.seldon.io"


class CommandFailed(AssertionError):
    pass


class Kube:
    """kubectl and helm bound to one kubeconfig, with the project's Helm state folders."""

    def __init__(
        self, kubeconfig: Path, env: dict[str, str], charts: Path, *, simulated: bool = False
    ) -> None:
        self.kubeconfig = kubeconfig
        self.simulated = simulated
        self.env = {**env, "KUBECONFIG": str(kubeconfig)}
        self.charts = charts  # a private copy of fadi/ and charts/ (dependency builds write into it)
        self.kubectl_exe = tool("kubectl")
        self.helm_exe = tool("helm")

    def run(self, argv: list[str], *, check: bool = True, input: str | None = None, timeout: float = 300):
        started = time.monotonic()
        proc = subprocess.run(
            argv, capture_output=True, text=True, env=self.env, input=input, timeout=timeout
        )
        took = time.monotonic() - started
        if took > 10:  # progress for long steps (pytest -s shows it; the log keeps it otherwise)
            print(f"[cluster-suite] {' '.join(argv[:4])} ... took {took:.0f}s", file=sys.stderr)
        if check and proc.returncode != 0:
            raise CommandFailed(
                f"`{' '.join(argv)}` exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
            )
        return proc

    def kubectl(self, *args: str, check: bool = True, input: str | None = None, timeout: float = 120):
        return self.run([self.kubectl_exe, *args], check=check, input=input, timeout=timeout)

    def helm(self, *args: str, check: bool = True, timeout: float = 400):
        return self.run([self.helm_exe, *args], check=check, timeout=timeout)

    def get(self, *args: str) -> dict | None:
        proc = self.kubectl("get", *args, "-o", "json", check=False)
        if proc.returncode != 0:
            if "NotFound" in proc.stderr or "not found" in proc.stderr:
                return None
            raise CommandFailed(proc.stderr)
        return json.loads(proc.stdout)

    def service_url(self, name: str, namespace: str, timeout: float = 90, port: str | None = None) -> str:
        """The URL of a Service's ClusterIP once calling it reaches a ready endpoint: the one wait every
        test and bench goes through before calling a ClusterIP (kube-proxy's rules checked on the
        local real node; against FADI_TEST_KUBECONFIG's cluster, ready endpoints)."""
        from fadi_seldon.localkube import services

        local = not os.environ.get("FADI_TEST_KUBECONFIG")
        return services.wait_ready(self, namespace, name, port=port, timeout=timeout, local_proxy=local).url

    def apply(self, docs: list[dict] | str, *args: str, check: bool = True):
        text = docs if isinstance(docs, str) else yaml.safe_dump_all(docs)
        return self.kubectl("apply", "-f", "-", *args, input=text, check=check)

    def namespace(self, name: str, labels: dict[str, str] | None = None) -> str:
        """A namespace; with `simulated`, its pods go to the kwok nodes (the real node, if any, has only
        the images the project builds: the upstream ones these tests use cannot be pulled here)."""
        meta: dict = {"name": name, "labels": labels or {}}
        if self.simulated:
            meta["annotations"] = nodes.simulated_namespace_annotations()
        self.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": meta}])
        return name

    def chart(self, name: str) -> str:
        return str(self.charts / name)

    def install(
        self, release: str, namespace: str, chart: str, *values: str, wait: bool = True, upgrade: bool = True
    ):
        """`helm upgrade --install` (or plain install) with --wait and a timeout; values as `k=v` or files."""
        argv = ["upgrade", "--install"] if upgrade else ["install"]
        if self.simulated and self.get("namespace", namespace) is None:
            self.namespace(namespace)
        argv += [release, self.chart(chart), "--namespace", namespace, "--create-namespace"]
        for v in values:
            argv += ["--values", v] if v.endswith(".yaml") else ["--set", v]
        if wait:
            argv += ["--wait", "--timeout", "180s"]
        return self.helm(*argv)

    def manifest(self, release: str, namespace: str) -> list[dict]:
        text = self.helm("get", "manifest", release, "--namespace", namespace).stdout
        return [d for d in yaml.safe_load_all(text) if d]

    def values(self, release: str, namespace: str) -> dict:
        return json.loads(self.helm("get", "values", release, "-n", namespace, "-o", "json").stdout) or {}

    def can_i(self, sa: str, verb: str, resource: str, namespace: str | None = None) -> bool:
        argv = ["auth", "can-i", verb, resource, f"--as={sa}"]
        argv += ["--namespace", namespace] if namespace else ["--all-namespaces"]
        proc = self.kubectl(*argv, check=False)
        answer = proc.stdout.strip()
        if answer not in ("yes", "no"):
            raise CommandFailed(f"kubectl auth can-i answered {answer!r}: {proc.stderr}")
        return answer == "yes"


def set_webhook(kube: Kube, enabled: bool) -> None:
    """The admission webhook on or off on the main release. No operator process runs on the
    local cluster, so with the webhook on (failurePolicy Fail) no SeldonDeployment is admitted."""
    current = (
        kube.values(RELEASE, RELEASE_NS)
        .get("seldon-core-operator", {})
        .get("webhook", {})
        .get("enabled", True)
    )
    if current != enabled:
        kube.helm("upgrade", RELEASE, kube.chart("fadi"), "-n", RELEASE_NS, "--reuse-values",
                  "--set", f"seldon-core-operator.webhook.enabled={str(enabled).lower()}", "--wait", "--timeout", "180s")  # fmt: skip


def wait_until(what: str, cond: Callable[[], object], timeout: float = 120, every: float = 0.5):
    """Poll `cond` until truthy; fail with `what` and the last value after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = cond()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


def copy_charts(dest: Path) -> Path:
    """fadi/, charts/ and the ct configuration side by side, as in the checkout (the umbrella's
    file://../charts dependency resolves); dependency builds then never touch the checkout."""
    for name in ("fadi", "charts"):
        shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("*.tgz"))
    for name in ("ct.yaml", "lintconf.yaml"):
        shutil.copy2(ROOT / name, dest / name)
    return dest


def condition(obj: dict | None, kind: str) -> str | None:
    for c in ((obj or {}).get("status") or {}).get("conditions") or []:
        if c.get("type") == kind:
            return c.get("status")
    return None


def Proxy(kube: Kube) -> proxy.Proxy:  # noqa: N802 - kept as the constructor it replaced
    """`kubectl proxy` bound to the suite's cluster (tests/machinery/proxy.py)."""
    return proxy.Proxy(kube.kubectl_exe, kube.env)


def doctor_report(kube, *args: str) -> dict:
    """`fadi-seldon doctor --output json` against the cluster; exit 1 exactly when it reports errors."""
    proc = subprocess.run(
        [sys.executable, "-m", "fadi_seldon", "doctor", "--output", "json", *args],
        capture_output=True,
        text=True,
        env=kube.env,
    )
    assert proc.returncode in (0, 1), proc.stderr
    report = json.loads(proc.stdout)
    assert (proc.returncode == 1) == (report["errors"] > 0)
    return report
