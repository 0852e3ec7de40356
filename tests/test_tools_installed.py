"""The installed tools work and report their pinned versions (`make tools` runs before the tests)."""

from __future__ import annotations

import subprocess
import time

import pytest

from conftest import TOOLS_DIR, tool
from fadi_seldon import tools as toolchain
from fadi_seldon.runtime import versions


def run(env, *argv: str) -> str:
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"{' '.join(argv)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


def test_helm_versions_are_stamped(tools_env):
    assert run(tools_env, tool("helm"), "version", "--template", "{{.Version}}") == versions.get(
        "HELM_VERSION"
    )
    assert run(tools_env, tool("helm4"), "version", "--template", "{{.Version}}") == versions.get(
        "HELM4_VERSION"
    )


def test_ct_version_and_its_config_files(tools_env):
    assert f"Version:\t {versions.get('CT_VERSION')}" in run(tools_env, tool("ct"), "version")
    etc = TOOLS_DIR / "ct" / "etc"
    assert (etc / "lintconf.yaml").is_file() and (etc / "chart_schema.yaml").is_file()


def test_helm_unittest_is_a_plugin_of_both_helms(tools_env):
    for helm in ("helm", "helm4"):
        assert "Running chart unittest" in run(tools_env, tool(helm), "unittest", "--help")
    plugins = run(tools_env, tool("helm"), "plugin", "list")
    assert "unittest" in plugins and versions.get("HELM_UNITTEST_VERSION").lstrip("v") in plugins


def test_helm3_default_kubernetes_is_current(tools_env, tmp_path):
    """Unstamped helm v3 assumes Kubernetes 1.20 and refuses charts requiring >=1.25."""
    chart = tmp_path / "kv"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text('apiVersion: v2\nname: kv\nversion: 0.1.0\nkubeVersion: ">=1.25.0-0"\n')
    (chart / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kv\ndata:\n  kube: {{ .Capabilities.KubeVersion.Version | quote }}\n"
    )
    for helm in ("helm", "helm4"):
        out = run(tools_env, tool(helm), "template", str(chart))
        minor = int(out.split('kube: "v1.')[1].split(".")[0])
        assert minor >= 25, out


def test_second_install_is_fast_and_changes_nothing(tools_env):
    chain = toolchain.Toolchain()
    start = time.monotonic()
    results = chain.install(toolchain.select(["chart"]))
    assert all(not r.changed and r.source == "cached" for r in results)
    assert time.monotonic() - start < 10


# The node's tools are installed by `make test-cluster` (TOOLS_test-cluster has `node`), not by
# `make test-unit`: these checks run with the cluster suite.
@pytest.mark.cluster
def test_node_tools_report_their_pinned_versions(tools_env):
    kubernetes = versions.get("KUBERNETES_VERSION")
    containerd = versions.get("CONTAINERD_VERSION")
    for exe in ("kubelet", "kube-proxy"):
        assert f"Kubernetes {kubernetes}" in run(tools_env, tool(exe), "--version")
    assert f"containerd github.com/containerd/containerd/v2 {containerd}" in run(
        tools_env, tool("containerd"), "--version"
    )
    assert containerd in run(tools_env, tool("ctr"), "--version")
    assert f"Version:  {containerd}" in run(tools_env, tool("containerd-shim-runc-v2"), "-v")
    assert f"CoreDNS-{versions.get('COREDNS_VERSION').lstrip('v')}" in run(
        tools_env, tool("coredns"), "-version"
    )


@pytest.mark.cluster
def test_coredns_has_the_plugins_cluster_dns_uses(tools_env):
    plugins = set(run(tools_env, tool("coredns"), "-plugins").split())
    wanted = {"kubernetes", "forward", "cache", "errors", "health", "ready", "loop", "reload"}
    assert wanted <= plugins, sorted(wanted - plugins)


@pytest.mark.cluster
def test_node_system_packages_are_present():
    for name in toolchain.system_registry():
        assert toolchain.system_path(name).startswith("/"), name
    assert toolchain.system_path("cni") == "/usr/lib/cni"


# The operator group (built from Seldon's source release) is installed by `make test-cluster` and
# `make test`, not by `make test-unit`: checked with the cluster suite.
@pytest.mark.cluster
def test_seldon_operator_and_executor_are_the_pinned_release_and_start(tools_env):
    version = f"v{versions.get('SELDON_CORE_VERSION')}"
    binaries = {
        "seldon-operator": ("github.com/seldonio/seldon-core/operator", "-webhook-port", "CGO_ENABLED=0"),
        "seldon-executor": ("github.com/seldonio/seldon-core/executor", "-http_port", "CGO_ENABLED=1"),
    }
    for exe, (module, flag, cgo) in binaries.items():
        path = tool(exe)
        info = run(tools_env, "go", "version", "-m", path)
        assert f"\tmod\t{module}\t{version}\n" in info, info
        assert cgo in info, "the executor needs cgo (confluent-kafka-go), the operator not"
        assert flag in run(tools_env, path, "--help"), f"{exe} does not start"
    assert f"\tdep\tgithub.com/seldonio/seldon-core/operator\t{version}\n" in run(
        tools_env, "go", "version", "-m", tool("seldon-executor")
    )
    results = toolchain.Toolchain().install(toolchain.select(["operator"]))
    assert all(not r.changed and r.source == "cached" for r in results), "a second install builds nothing"
