"""The tools of a real node (kubelet, kube-proxy, containerd, CoreDNS) and its system packages
(runc, iptables, CNI plugins), with a fake `which` and a fake apt runner: no real apt here."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import Recorder, run_cli
from fadi_seldon import tools as toolchain
from fadi_seldon.runtime import versions
from fadi_seldon.tools import BuildContext, SystemPackage, SystemPackages, Toolchain, ToolError, recipes
from fadi_seldon.tools import system as system_mod


@pytest.fixture
def progress():
    return toolchain.Progress(stream=Recorder(), heartbeat=0.05)


def tool(name: str) -> toolchain.Tool:
    return toolchain.registry()[name]


def build_ctx(name: str) -> BuildContext:
    t = tool(name)
    return BuildContext(t, t.version, Path("/nonexistent"), "module x\n\ngo 1.26.0\n")


# --------------------------------------------------------------------------- the node's tools


def test_node_group_order_and_pins():
    assert "node" in toolchain.GROUPS
    assert [t.name for t in toolchain.select(["node"])] == [
        "kubernetes-node",
        "containerd",
        "coredns",
        "rclone",
        "traefik",
    ]
    assert tool("rclone").version == versions.get("RCLONE_VERSION")
    assert tool("kubernetes-node").version == versions.get("KUBERNETES_VERSION") == tool("kubernetes").version
    assert tool("containerd").version == versions.get("CONTAINERD_VERSION")
    assert tool("containerd").version.startswith("v2."), "Kubernetes 1.36 needs containerd 2.x"
    assert tool("coredns").version == versions.get("COREDNS_VERSION")


def test_kubernetes_node_is_built_like_the_control_plane_but_apart_from_it():
    node, control = tool("kubernetes-node"), tool("kubernetes")
    assert node.executables == ("kubelet", "kube-proxy")
    assert set(node.executables).isdisjoint(control.executables), "the control plane must not be rebuilt"
    assert node.go.module == control.go.module == "k8s.io/kubernetes"
    assert node.go.binaries == {
        "kubelet": "k8s.io/kubernetes/cmd/kubelet",
        "kube-proxy": "k8s.io/kubernetes/cmd/kube-proxy",
    }
    assert node.go.ldflags is recipes.k8s_ldflags and node.go.replaces is recipes.k8s_replaces
    urls = [a.url for a in node.release(node.version, "linux", "amd64")]
    assert urls == [
        f"https://dl.k8s.io/release/{node.version}/bin/linux/amd64/{exe}" for exe in node.executables
    ]


def test_containerd_tags_and_version_stamp():
    containerd = tool("containerd")
    module = "github.com/containerd/containerd/v2"
    assert containerd.go.module == module
    assert containerd.go.binaries == {exe: f"{module}/cmd/{exe}" for exe in containerd.executables}
    assert containerd.go.tags == {
        "containerd": ("urfave_cli_no_docs", "no_btrfs", "no_devmapper", "no_zfs"),
        "containerd-shim-runc-v2": ("urfave_cli_no_docs", "no_grpc"),
        "ctr": ("urfave_cli_no_docs", "no_btrfs", "no_devmapper", "no_zfs"),
    }
    assert containerd.go.ldflags(build_ctx("containerd")) == [
        f"-X {module}/version.Version={containerd.version}"
    ]
    (art,) = containerd.release(containerd.version, "linux", "amd64")
    v = containerd.version
    assert art.url == (
        f"https://github.com/containerd/containerd/releases/download/{v}/containerd-{v[1:]}-linux-amd64.tar.gz"
    )
    assert art.members == {f"bin/{exe}": exe for exe in containerd.executables}
    assert art.sha256_url == art.url + ".sha256sum"


def test_coredns_is_the_module_root_and_needs_no_stamp():
    coredns = tool("coredns")
    assert coredns.go.binaries == {"coredns": "github.com/coredns/coredns"}
    assert coredns.go.ldflags(build_ctx("coredns")) == [] and coredns.go.tags == {}
    (art,) = coredns.release(coredns.version, "linux", "amd64")
    assert art.url.endswith(f"/{coredns.version}/coredns_{coredns.version[1:]}_linux_amd64.tgz")


@pytest.mark.parametrize(
    ("name", "output", "reported"),
    [
        ("kubernetes-node", "Kubernetes v1.36.3\n", "v1.36.3"),
        ("containerd", "containerd github.com/containerd/containerd/v2 v2.4.2 \n", "v2.4.2"),
        ("coredns", "CoreDNS-1.15.0\nlinux/amd64, go1.26.8, \n", "1.15.0"),
    ],
)
def test_version_probes_read_what_the_binaries_print(name, output, reported):
    assert re.search(tool(name).version_pattern, output, re.M).group(1) == reported
    pinned = toolchain.Tool(**{**tool(name).__dict__, "pin": "v" + reported.lstrip("v")})
    assert pinned.matches(reported)


# --------------------------------------------------------------------------- system packages


class FakeHost:
    """A machine with some executables and files; `apt-get install` adds those of a package."""

    def __init__(self, present: set[str], provides: dict[str, set[str]], *, apt_fails: int = 0):
        self.present = set(present)
        self.provides = provides
        self.apt_fails = apt_fails  # how many apt-get install calls fail first (no package lists)
        self.calls: list[list[str]] = []

    def which(self, name: str) -> str | None:
        return f"/usr/sbin/{name}" if name in self.present else None

    def glob(self, pattern: str) -> list[str]:
        return sorted(p for p in self.present if p.startswith("/") and Path(p).match(pattern))

    def run(self, label: str, argv: list[str]) -> int:
        self.calls.append(argv)
        if argv[1] == "install":
            if self.apt_fails:
                self.apt_fails -= 1
                return 100
            for deb in argv[4:]:
                self.present |= self.provides.get(deb, set())
        return 0


PROVIDES = {
    "runc": {"runc"},
    "iptables": {
        "iptables",
        "iptables-save",
        "iptables-restore",
        "ip6tables",
        "ip6tables-save",
        "ip6tables-restore",
    },
    "containernetworking-plugins": {
        f"/usr/lib/cni/{p}" for p in ("bridge", "host-local", "loopback", "portmap")
    },
    "nftables": {"nft"},
    "iproute2": {"ip"},
    "debootstrap": {"debootstrap"},
    "gcc": {"gcc"},
    "libc6-dev": {"/usr/lib/x86_64-linux-gnu/libc.a"},
}
EVERYTHING = set().union(*PROVIDES.values())
NODE = toolchain.select_system(["node"])
CHART = toolchain.select_system(["chart"])


def system_for(host: FakeHost, progress, tmp_path, *, root: bool = True) -> SystemPackages:
    return SystemPackages(
        progress,
        tmp_path / "apt.log",
        which=host.which,
        glob=host.glob,
        run=host.run,
        is_root=lambda: root,
        dpkg=lambda deb: "1.0-1",
    )


def test_node_system_packages():
    assert [p.name for p in NODE] == [
        "runc", "iptables", "ip6tables", "cni", "nft", "ip", "debootstrap", "gcc", "libc.a"
    ]  # fmt: skip
    assert {p.debian_package for p in NODE} == set(PROVIDES)
    assert toolchain.select_system(["cluster", "operator"]) == []
    assert toolchain.select_system(["all"]) == NODE + CHART == toolchain.select_system([])
    assert [p.name for p in toolchain.select_system(["runc"])] == ["runc"] and toolchain.select(
        ["runc"]
    ) == []


def test_everything_present_runs_no_apt(tmp_path, progress):
    host = FakeHost(EVERYTHING | {"apt-get"}, PROVIDES)
    system = system_for(host, progress, tmp_path)
    assert system.ensure(NODE) == []
    assert host.calls == []
    cni = toolchain.system_registry()["cni"]
    assert system.find(cni) == "/usr/lib/cni", "the CNI entry answers its folder, not a plugin"
    assert system.find(toolchain.system_registry()["libc.a"]) == "/usr/lib/x86_64-linux-gnu/libc.a"


def test_missing_packages_are_installed_once_each_with_apt(tmp_path, progress):
    host = FakeHost(
        {"apt-get", "gcc", "debootstrap", "nft", "ip", "/usr/lib/x86_64-linux-gnu/libc.a"}, PROVIDES
    )
    installed = system_for(host, progress, tmp_path).ensure(NODE)
    assert installed == ["runc", "iptables", "ip6tables", "cni"]
    assert host.calls == [
        [
            "/usr/sbin/apt-get",
            "install",
            "-y",
            "--no-install-recommends",
            "runc",
            "iptables",
            "containernetworking-plugins",
        ]
    ], "iptables once for both iptables and ip6tables; no apt-get update when the install works"
    assert "apt-get install runc iptables containernetworking-plugins" in progress.stream.text


def test_a_failed_install_updates_the_lists_and_tries_once_more(tmp_path, progress):
    host = FakeHost(EVERYTHING - {"runc"} | {"apt-get"}, PROVIDES, apt_fails=1)
    assert system_for(host, progress, tmp_path).ensure(NODE) == ["runc"]
    install = ["/usr/sbin/apt-get", "install", "-y", "--no-install-recommends", "runc"]
    assert host.calls == [install, ["/usr/sbin/apt-get", "update"], install]


def test_apt_failing_twice_is_an_error_naming_the_packages(tmp_path, progress):
    host = FakeHost(EVERYTHING - {"runc"} | {"apt-get"}, PROVIDES, apt_fails=2)
    with pytest.raises(ToolError, match="apt-get failed") as err:
        system_for(host, progress, tmp_path).ensure(NODE)
    assert "apt-get install -y --no-install-recommends runc`" in str(err.value)


@pytest.mark.parametrize(("root", "apt", "why"), [(False, True, "not root"), (True, False, "no apt-get")])
def test_without_root_or_apt_the_error_names_exactly_the_packages(tmp_path, progress, root, apt, why):
    present = {"gcc", "debootstrap", "nft", "ip", "iptables", "iptables-save", "iptables-restore"} | (
        {"apt-get"} if apt else set()
    )
    host = FakeHost(present, PROVIDES)
    with pytest.raises(ToolError) as err:
        system_for(host, progress, tmp_path, root=root).ensure(NODE)
    msg = str(err.value)
    assert host.calls == []
    assert why in msg
    assert (
        "apt-get install -y --no-install-recommends runc iptables containernetworking-plugins libc6-dev`"
        in msg
    )
    assert "ip6tables: ip6tables, ip6tables-save, ip6tables-restore" in msg
    assert "/usr/lib/cni/portmap" in msg


def test_a_package_that_installs_but_is_still_missing_is_an_error(tmp_path, progress):
    host = FakeHost(EVERYTHING - {"runc"} | {"apt-get"}, {**PROVIDES, "runc": set()})
    with pytest.raises(ToolError, match="still missing after apt-get install"):
        system_for(host, progress, tmp_path).ensure(NODE)


def test_toolchain_reports_system_packages_like_tools(tmp_path, progress):
    host = FakeHost(EVERYTHING - {"runc"} | {"apt-get"}, PROVIDES)
    chain = Toolchain(tmp_path / "tools", progress=progress, system=system_for(host, progress, tmp_path))
    before = {r["tool"]: r for r in chain.system_status(NODE)}
    assert not before["runc"]["installed"] and before["cni"]["executables"] == ["/usr/lib/cni"]
    results = {r.tool: r for r in chain.install_system(NODE)}
    assert results["runc"].source == "apt" and results["runc"].changed
    assert results["runc"].location == "/usr/sbin/runc" and results["runc"].version == "1.0-1"
    assert results["gcc"].source == "system" and not results["gcc"].changed
    assert all(r["installed"] for r in chain.system_status(NODE))


def test_system_path_answers_the_location_or_the_install_hint(monkeypatch):
    host = FakeHost(EVERYTHING - {"/usr/lib/cni/portmap"}, PROVIDES)
    monkeypatch.setattr(system_mod, "default_which", host.which)
    monkeypatch.setattr(system_mod, "default_glob", host.glob)
    assert toolchain.system_path("runc") == "/usr/sbin/runc"
    assert toolchain.system_path("ip6tables") == "/usr/sbin/ip6tables"
    with pytest.raises(ToolError) as err:
        toolchain.system_path("cni")
    assert "/usr/lib/cni/portmap" in str(err.value)
    assert "apt-get install -y --no-install-recommends containernetworking-plugins" in str(err.value)
    with pytest.raises(ToolError, match="unknown system package 'docker'"):
        toolchain.system_path("docker")


def test_tools_status_lists_system_packages(capsys, monkeypatch, tmp_path):
    host = FakeHost(EVERYTHING - {"runc"}, PROVIDES)
    monkeypatch.setattr(system_mod, "default_which", host.which)
    monkeypatch.setattr(system_mod, "default_glob", host.glob)
    code, out, _ = run_cli(
        capsys, ["tools", "status", "runc", "cni", "--tools-dir", str(tmp_path), "-o", "json"]
    )
    rows = {r["tool"]: r for r in json.loads(out)}
    assert code == 1, "runc is missing"
    assert rows["cni"]["installed"] and rows["cni"]["executables"] == ["/usr/lib/cni"]
    assert not rows["runc"]["installed"] and rows["runc"]["pinned"] == "(debian runc)"


def test_system_package_entries_are_well_formed():
    for pkg in toolchain.system_registry().values():
        assert isinstance(pkg, SystemPackage) and pkg.group in toolchain.GROUPS and pkg.needs, pkg.name
        assert all(n.startswith("/") or "/" not in n for n in pkg.needs), pkg.name


def test_chart_system_packages_are_promtool_from_debians_prometheus(tmp_path, progress):
    assert [(p.name, p.debian_package, p.needs) for p in CHART] == [("promtool", "prometheus", ("promtool",))]
    assert toolchain.select_system(["chart", "cluster", "operator"]) == CHART
    assert toolchain.select(["promtool"]) == [], "a system package, not a built tool"
    host = FakeHost({"apt-get"}, {"prometheus": {"promtool"}})
    system = system_for(host, progress, tmp_path)
    assert system.ensure(CHART) == ["promtool"]
    assert host.calls == [["/usr/sbin/apt-get", "install", "-y", "--no-install-recommends", "prometheus"]]
    assert system.find(CHART[0]) == "/usr/sbin/promtool"
