"""`ct install` of both charts against the local cluster: install --wait, helm test (kwok completes
the test pods), uninstall, namespace deletion. Runs last: it needs the cluster without our CRD."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cluster.kube import CRD, RELEASE, RELEASE_NS, wait_until
from conftest import tool
from fadi_seldon.localkube import nodes


def stub_crd(group: str, kind: str, plural: str) -> dict:
    """A schemaless CRD standing in for a third-party API (no controller behind it)."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}", "labels": {"fadi-seldon.test/stub": "true"}},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"kind": kind, "plural": plural, "singular": kind.lower(), "listKind": f"{kind}List"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                    },
                }
            ],
        },
    }


def _ci_values(charts: Path) -> list[dict]:
    """Each ci/*-values.yaml of both charts, as the operator chart sees it (umbrella: its subchart key)."""
    out = []
    for path in [*charts.glob("charts/*/ci/*-values.yaml"), *charts.glob("fadi/ci/*-values.yaml")]:
        values = yaml.safe_load(path.read_text()) or {}
        out += [values, values.get("seldon-core-operator") or {}]
    return out


def _find_key(tree, key: str) -> list:
    if isinstance(tree, dict):
        return [v for k, v in tree.items() if k == key] + [
            x for v in tree.values() for x in _find_key(v, key)
        ]
    if isinstance(tree, list):
        return [x for v in tree for x in _find_key(v, key)]
    return []


def prerequisites(charts: Path) -> list[dict]:
    """What the ci values sets expect the cluster to have already, as a cluster admin provides it:
    the namespaces they point at (`watchNamespaces`, `namespaceOverride`) and the PriorityClasses
    they name."""
    namespaces, classes = set(), set()
    for values in _ci_values(charts):
        namespaces.update(values.get("watchNamespaces") or [])
        if values.get("namespaceOverride"):
            namespaces.add(values["namespaceOverride"])
        # system-* classes are built into every cluster
        classes.update(c for c in _find_key(values, "priorityClassName") if c and not c.startswith("system-"))
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in sorted(namespaces)
    ] + [
        {
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": {"name": c},
            "value": 1000,
        }
        for c in sorted(classes)
    ]


@pytest.fixture(scope="module")
def bare(kube, umbrella):
    """No Seldon release and no CRD: each `ct install` owns the CRD while it runs (crd.keep=false).

    The operator chart's cert-manager values set renders an Issuer and a Certificate: without a
    cert-manager (the local cluster), its APIs are stubbed; kwok runs the pods whether or not their
    Secret exists. `make e2e-kind` installs the real cert-manager."""
    stubs = [
        stub_crd("cert-manager.io", "Issuer", "issuers"),
        stub_crd("cert-manager.io", "Certificate", "certificates"),
        # the Prometheus Operator's, for the operator chart's monitoring values set
        stub_crd("monitoring.coreos.com", "ServiceMonitor", "servicemonitors"),
        stub_crd("monitoring.coreos.com", "PodMonitor", "podmonitors"),
        stub_crd("monitoring.coreos.com", "PrometheusRule", "prometheusrules"),
    ]
    # a real cert-manager or Prometheus Operator (kind) is kept: only absent APIs are stubbed
    absent = [s for s in stubs if kube.get("crd", s["metadata"]["name"]) is None]
    if absent:
        kube.apply(absent)
    for doc in prerequisites(kube.charts):
        if doc["kind"] == "Namespace":
            kube.namespace(
                doc["metadata"]["name"]
            )  # the simulated nodes' annotations, as kube.namespace adds
        else:
            kube.apply([doc])
    kube.helm("uninstall", RELEASE, "-n", RELEASE_NS, "--wait", "--timeout", "180s", check=False)
    kube.kubectl("delete", "crd", CRD, "--ignore-not-found", "--wait=true", timeout=180)
    wait_until("the CRD to be gone", lambda: kube.get("crd", CRD) is None)
    yield kube
    # leave the cluster as the session fixture made it, for any suite that runs after this one
    kube.install(RELEASE, RELEASE_NS, "fadi", kube.chart("fadi/ci/seldon-on-values.yaml"))


def test_doctor_reports_the_missing_crd(bare):
    proc = subprocess.run(
        [sys.executable, "-m", "fadi_seldon", "doctor", "--output", "json"],
        capture_output=True,
        text=True,
        env=bare.env,
    )
    assert proc.returncode == 1
    checks = {f["check"] for f in json.loads(proc.stdout)["findings"]}
    assert "crd-missing" in checks


def ct_install(kube, chart: str, keep_key: str, namespace: str, sets: tuple[str, ...] = (), charts=None):
    """`ct install` of every ci values set of `chart`, one after the other, in `namespace`."""
    argv = [
        tool("ct"), "install",
        "--config", "ct.yaml",
        "--charts", chart,
        "--namespace", namespace,
        "--helm-extra-args", "--timeout 180s",
        "--helm-extra-set-args", " ".join(f"--set={s}" for s in (f"{keep_key}=false", *sets)),
        "--skip-clean-up=false",
    ]  # fmt: skip
    proc = subprocess.run(
        argv, cwd=charts or kube.charts, capture_output=True, text=True, env=kube.env, timeout=900
    )
    # ct's output is long (it describes every pod); keep what explains a failure
    lines = (proc.stdout + proc.stderr).splitlines()
    key = [
        ln for i, ln in enumerate(lines) if "Installing chart with" in ln or "FAILED" in ln or "* " in ln[:4]
    ]
    assert proc.returncode == 0, f"ct install {chart} failed:\n" + "\n".join(key[-40:])
    assert "All charts installed successfully" in proc.stdout + proc.stderr
    return proc


# On the simulated nodes: every ci values set, cert-manager's included (its APIs stubbed above).
def test_ct_install_operator_chart(bare):
    ct_install(bare, "charts/seldon-core-operator", "crd.keep", bare.namespace("ct-simulated"))


def test_ct_install_umbrella_chart(bare):
    ct_install(bare, "fadi", "seldon-core-operator.crd.keep", bare.namespace("ct-simulated"))


# On the real node: the operator really runs (the local image) and `helm test` really runs its pod.
# Not the sets that need a third party's controller or CRDs: no cert-manager runs here to issue the
# webhook's Secret, and an operator with istio or keda on watches their APIs and stops without them
# (`make e2e-kind` installs cert-manager).
def needs_third_party(values: dict) -> bool:
    values = values.get("seldon-core-operator", values)
    metrics = values.get("metrics") or {}
    return (
        bool(values.get("certManager", {}).get("enabled"))
        or any((values.get(key) or {}).get("enabled") for key in ("istio", "keda"))
        # ServiceMonitor, PodMonitor, PrometheusRule: the Prometheus Operator's CRDs
        or any(
            (metrics.get(key) or {}).get("enabled")
            for key in ("serviceMonitor", "podMonitor", "modelPodMonitor", "prometheusRule")
        )
    )


@pytest.fixture(scope="module")
def real_charts(bare, operator_image, tmp_path_factory) -> tuple[Path, str]:
    copy = tmp_path_factory.mktemp("ct-real") / "charts"
    shutil.copytree(bare.charts, copy, symlinks=True)
    for found in copy.glob("**/ci/*-values.yaml"):
        if needs_third_party(yaml.safe_load(found.read_text()) or {}):
            found.unlink()
    bare.kubectl("create", "namespace", "ct-real", check=False)  # no annotations: the real node
    for doc in prerequisites(bare.charts):  # namespaceOverride and watchNamespaces: the real node too
        if doc["kind"] == "Namespace":
            bare.kubectl("annotate", "namespace", doc["metadata"]["name"],
                         *(f"{key}-" for key in nodes.simulated_namespace_annotations()))  # fmt: skip
    return copy, "ct-real"


def test_ct_install_operator_chart_on_the_real_node(bare, real_charts, operator_image):
    copy, ns = real_charts
    ct_install(bare, "charts/seldon-core-operator", "crd.keep", ns, tuple(operator_image), charts=copy)


def test_ct_install_umbrella_chart_on_the_real_node(bare, real_charts, operator_image):
    copy, ns = real_charts
    sets = tuple(f"seldon-core-operator.{s}" for s in operator_image)
    ct_install(bare, "fadi", "seldon-core-operator.crd.keep", ns, sets, charts=copy)
