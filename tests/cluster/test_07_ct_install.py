"""`ct install` of both charts against the local cluster: install --wait, helm test (kwok completes
the test pods), uninstall, namespace deletion. Runs last: it needs the cluster without our CRD."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cluster.kube import CRD, RELEASE, RELEASE_NS, wait_until
from conftest import tool


@pytest.fixture(scope="module")
def bare(kube, umbrella):
    """No Seldon release and no CRD: each `ct install` owns the CRD while it runs (crd.keep=false)."""
    kube.helm("uninstall", RELEASE, "-n", RELEASE_NS, "--wait", "--timeout", "180s", check=False)
    kube.kubectl("delete", "crd", CRD, "--ignore-not-found", "--wait=true", timeout=180)
    wait_until("the CRD to be gone", lambda: kube.get("crd", CRD) is None)
    return kube


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


def ct_install(kube, chart: str, keep_key: str):
    argv = [
        tool("ct"), "install",
        "--config", "ct.yaml",
        "--charts", chart,
        "--helm-extra-args", "--timeout 180s",
        "--helm-extra-set-args", f"--set={keep_key}=false",
        "--skip-clean-up=false",
    ]  # fmt: skip
    proc = subprocess.run(argv, cwd=kube.charts, capture_output=True, text=True, env=kube.env, timeout=900)
    assert proc.returncode == 0, f"ct install {chart} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc


def test_ct_install_operator_chart(bare):
    proc = ct_install(bare, "charts/seldon-core-operator", "crd.keep")
    assert "All charts installed successfully" in proc.stdout + proc.stderr


def test_ct_install_umbrella_chart(bare):
    proc = ct_install(bare, "fadi", "seldon-core-operator.crd.keep")
    assert "All charts installed successfully" in proc.stdout + proc.stderr
