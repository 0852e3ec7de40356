"""`make install` (scripts/install.sh) refuses before touching any cluster when it should."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import TOOLS_BIN, tool
from fadi_seldon import cli


def _install(
    repo_root: Path, tools_env: dict[str, str], tmp_path: Path, kubeconfig: str, values: Path | None
):
    env = dict(tools_env, KUBECONFIG=kubeconfig, HOME=str(tmp_path))
    if values is not None:
        env["VALUES"] = str(values)
    return subprocess.run(
        [str(repo_root / "scripts" / "install.sh")], env=env, capture_output=True, text=True, timeout=120
    )


def test_refuses_without_a_current_context(repo_root, tools_env, tmp_path):
    empty = tmp_path / "kubeconfig"
    empty.write_text("apiVersion: v1\nkind: Config\ncurrent-context: ''\n")
    for kubeconfig in (str(empty), str(tmp_path / "missing")):
        run = _install(repo_root, tools_env, tmp_path, kubeconfig, None)
        assert run.returncode == 1
        assert "no current kube context: nothing was installed" in run.stderr
        assert "helm upgrade" not in run.stdout


def test_refuses_values_that_fail_the_schema(repo_root, tools_env, tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: dev\n"
        "contexts: [{name: dev, context: {cluster: dev, user: dev}}]\n"
        "clusters: [{name: dev, cluster: {server: 'https://127.0.0.1:1'}}]\nusers: [{name: dev, user: {}}]\n"
    )
    values = tmp_path / "values.yaml"
    values.write_text("seldon-core-operator:\n  enabled: true\n  usageMetric:\n    enabled: false\n")
    run = _install(repo_root, tools_env, tmp_path, str(kubeconfig), values)
    assert run.returncode == 1
    assert "[install] kube context: dev" in run.stdout
    assert f"{values}:3:3: error: seldon-core-operator.usageMetric: unknown key" in run.stderr
    assert "nothing was installed" in run.stderr
    assert "helm upgrade" not in run.stdout


def test_refuses_a_missing_values_file(repo_root, tools_env, tmp_path):
    run = _install(repo_root, tools_env, tmp_path, str(tmp_path / "missing"), tmp_path / "nope.yaml")
    assert run.returncode == 1
    assert "nope.yaml not found" in run.stderr


@pytest.mark.cluster
def test_installs_then_upgrades_fadi_into_the_current_context(repo_root, tools_env, tmp_path):
    """`make install` against a private local control plane: install, then upgrade with Seldon on."""
    from fadi_seldon.localkube import ControlPlane

    plane = ControlPlane(tmp_path / "state", bin_dir=TOOLS_BIN, out=sys.stderr)
    try:
        plane.up(timeout_scale=2.0)
        kubeconfig = str(plane.layout.kubeconfig)
        first = _install(repo_root, tools_env, tmp_path, kubeconfig, repo_root / "fadi" / "values.yaml")
        assert first.returncode == 0, first.stderr
        assert "helm upgrade --install fadi ./fadi -n fadi --create-namespace" in first.stdout
        values = tmp_path / "values.yaml"
        values.write_bytes((repo_root / "fadi" / "values.yaml").read_bytes())
        assert cli.main(["values", "enable", "--file", str(values)]) == 0
        second = _install(repo_root, tools_env, tmp_path, kubeconfig, values)
        assert second.returncode == 0, second.stderr
        env = dict(tools_env, KUBECONFIG=kubeconfig)
        status = subprocess.run(
            [tool("helm"), "status", "fadi", "-n", "fadi", "-o", "json"],
            env=env,
            capture_output=True,
            text=True,
        )
        assert status.returncode == 0, status.stderr
        release = json.loads(status.stdout)
        assert (release["version"], release["info"]["status"]) == (2, "deployed")
        crd = subprocess.run(
            [tool("kubectl"), "get", "crd", "seldondeployments.machinelearning.seldon.io", "-o", "name"],
            env=env,
            capture_output=True,
            text=True,
        )
        assert crd.returncode == 0, crd.stderr
    finally:
        plane.down()
