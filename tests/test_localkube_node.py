"""The real node's configuration and host bookkeeping, without starting anything."""

from __future__ import annotations

import json

from fadi_seldon.localkube import host, node, nodes
from fadi_seldon.localkube.components import Context
from fadi_seldon.localkube.layout import Layout, containerd_socket
from fadi_seldon.localkube.pki import PKI


def test_sockets_fit_in_a_unix_socket_path_whatever_the_state_folder(tmp_path):
    deep = Layout(tmp_path / ("a-rather-long-folder-name-" * 8) / "state")
    sock = containerd_socket(deep)
    assert len(str(sock) + ".ttrpc") <= 104  # containerd's limit
    assert containerd_socket(deep) == sock != containerd_socket(Layout(tmp_path / "other"))
    assert f'address = "{sock}"' in node.containerd_config(deep, "pause:1", "/usr/sbin/runc", "/usr/lib/cni")


def test_containerd_keeps_oom_score_adj_restricted_and_its_paths_ours(tmp_path):
    layout = Layout(tmp_path / "state")
    text = node.containerd_config(layout, "localhost/fadi-seldon/pause:1", "/usr/sbin/runc", "/usr/lib/cni")
    assert "restrict_oom_score_adj = true" in text
    assert 'sandbox = "localhost/fadi-seldon/pause:1"' in text
    assert f'root = "{tmp_path}/state/node/containerd/root"' in text
    assert f'Root = "{tmp_path}/state/node/containerd/runc"' in text  # not /run/containerd/runc
    cni = node.cni_config(layout)
    assert cni["plugins"][0]["bridge"] == node.BRIDGE
    assert cni["plugins"][0]["ipam"]["dataDir"].startswith(str(tmp_path))  # not /var/lib/cni/networks


def test_the_kubelet_takes_no_anonymous_request_and_asks_the_api_server(tmp_path):
    ctx = Context(
        Layout(tmp_path / "state"), PKI(tmp_path / "pki"), {"kube-apiserver": 6443}, api_host=node.GATEWAY
    )
    config = node.kubelet_config(ctx, (tmp_path / "crt", tmp_path / "key"))
    assert config["authentication"]["anonymous"] == {"enabled": False}
    assert config["authentication"]["webhook"] == {"enabled": True}
    assert config["authorization"] == {"mode": "Webhook"}
    assert config["readOnlyPort"] == 0
    assert config["imageGCHighThresholdPercent"] == 100  # a shared machine: never delete images
    assert config["clusterDNS"] == [node.GATEWAY]


def test_simulated_namespaces_tolerate_the_taint_simulated_nodes_carry():
    annotations = nodes.simulated_namespace_annotations()
    assert annotations["scheduler.alpha.kubernetes.io/node-selector"] == nodes.LABEL
    assert json.loads(annotations["scheduler.alpha.kubernetes.io/defaultTolerations"]) == [nodes.TOLERATION]
    assert nodes.TOLERATION["key"] == nodes.TAINT["key"]
    spec = nodes.NodeSpec()
    assert nodes.node_object("kwok-node-0", spec, taint=True)["spec"]["taints"] == [nodes.TAINT]
    assert nodes.node_object("kwok-node-0", spec)["spec"] == {}


def test_differences_name_what_appeared_and_what_went():
    before = {"links": ["eth0", "lo"], "sysctls": ["kernel.panic=1"]}
    after = {"links": ["eth0", "fadi0", "lo"], "sysctls": ["kernel.panic=10"]}
    assert host.differences(before, after) == [
        "links: + fadi0",
        "sysctls: + kernel.panic=10",
        "sysctls: - kernel.panic=1",
    ]
    assert host.differences(before, before) == []


def test_a_record_left_by_a_crash_is_kept(tmp_path, monkeypatch):
    path = tmp_path / "host.json"
    path.write_text(json.dumps({"sysctls": {"kernel.panic": "1"}, "snapshot": {}}))
    monkeypatch.setattr(host, "read_sysctls", lambda keys=host.SYSCTLS: {"kernel.panic": "10"})
    assert host.record(path)["sysctls"] == {"kernel.panic": "1"}  # the host as it was before the first run
    path.unlink()
    monkeypatch.setattr(host, "snapshot", lambda: {})
    assert host.record(path)["sysctls"] == {"kernel.panic": "10"}


def test_restore_writes_back_only_what_changed(tmp_path, monkeypatch):
    files = {"kernel.panic": tmp_path / "panic", "vm.overcommit_memory": tmp_path / "overcommit"}
    files["kernel.panic"].write_text("10\n")
    files["vm.overcommit_memory"].write_text("0\n")
    monkeypatch.setattr(host, "_sysctl_path", lambda key: files[key])
    changed = host.restore_sysctls({"kernel.panic": "1", "vm.overcommit_memory": "0"})
    assert changed == ["kernel.panic=1 (was 10)"]
    assert files["kernel.panic"].read_text() == "1\n"


def test_a_host_without_runc_is_told_what_to_install(monkeypatch, tmp_path):
    from fadi_seldon import tools
    from fadi_seldon.localkube import node_lifecycle

    def system_path(name):
        if name == "runc":
            raise tools.ToolError("runc: not found; install it: apt-get install runc")
        return "/usr/sbin/" + name

    monkeypatch.setattr(tools, "system_path", system_path)
    monkeypatch.setattr(node_lifecycle.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(tools, "find_executable", lambda name, bin_dir=None: None)  # no tools built
    problems = node_lifecycle.host_problems(tmp_path)
    assert "not root (a kubelet and containerd need root)" in problems
    assert "runc: not found; install it: apt-get install runc" in problems
    assert any("containerd" in p and "make tools TOOLS=node" in p for p in problems)


def test_a_pause_image_that_cannot_be_built_means_simulated_nodes_with_the_reason(monkeypatch, tmp_path):
    import io

    import pytest

    from fadi_seldon.images import ImageError, pause
    from fadi_seldon.localkube import ClusterError, ControlPlane, node_lifecycle

    def no_gcc(progress=None):
        raise ImageError("gcc is missing: install the Debian package gcc")

    monkeypatch.setattr(node_lifecycle, "host_problems", lambda bin_dir: [])
    monkeypatch.setattr(pause, "build", no_gcc)
    out = io.StringIO()
    plane = ControlPlane(tmp_path / "state", bin_dir=tmp_path, out=out)
    plane._choose_node("auto")
    assert not plane.real_node
    assert "the pause image cannot be built: gcc is missing" in out.getvalue()
    with pytest.raises(ClusterError, match="cannot run a real node: the pause image cannot be built"):
        plane._choose_node("real")
