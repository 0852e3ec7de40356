"""The control plane as a list of component objects: flags, probes, stages, lookup by name.

No control-plane binary is needed: the flags are compared with what `cluster up` has always passed,
and ControlPlane is driven with components played by Python interpreters.
"""

from __future__ import annotations

import io
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from fadi_seldon.localkube import ClusterError, ControlPlane, components, pki, stages
from fadi_seldon.localkube.components import API_SERVER, Component, Context
from fadi_seldon.localkube.controlplane import COMPONENTS
from fadi_seldon.localkube.layout import Layout
from fadi_seldon.runtime import processes

PORTS = {
    "etcd": 1000,
    "kube-apiserver": 1001,
    "kube-controller-manager": 1002,
    "kube-scheduler": 1003,
    "kwok": 1004,
    "etcd-peer": 1005,
}


def test_components_in_start_order_with_unique_names():
    assert components.NAMES == COMPONENTS
    assert COMPONENTS == ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
    assert [[c.name for c in stage] for stage in components.stages_of(components.COMPONENTS)] == [
        ["etcd"],
        ["kube-apiserver"],
        ["kube-controller-manager", "kube-scheduler", "kwok"],
    ]
    assert components.port_names(components.COMPONENTS) == list(PORTS)


def test_components_are_found_by_name():
    assert components.get(API_SERVER).name == "kube-apiserver"
    assert isinstance(components.get("etcd"), components.Etcd)
    with pytest.raises(KeyError, match="kubelet"):
        components.get("kubelet")
    assert ControlPlane(Path("/nonexistent")).component("kwok") is components.get("kwok")


def test_each_component_owns_its_timeout_log_and_identity(tmp_path):
    layout = Layout(tmp_path)
    timeouts = {c.name: c.start_timeout for c in components.COMPONENTS}
    assert timeouts == {
        "etcd": 30,
        "kube-apiserver": 120,
        "kube-controller-manager": 60,
        "kube-scheduler": 60,
        "kwok": 60,
    }
    for comp in components.COMPONENTS:
        assert comp.log(layout) == tmp_path / "logs" / f"{comp.name}.log"
        assert comp.program == comp.name
        assert comp.identity is None or comp.identity in pki.IDENTITIES
    talks_to_api = [c.name for c in components.COMPONENTS if c.identity]
    assert talks_to_api == ["kube-controller-manager", "kube-scheduler", "kwok"]


def test_flags_are_what_cluster_up_has_always_passed(tmp_path):
    r = tmp_path
    ctx = Context(Layout(r), pki.PKI(r / "pki"), PORTS)
    flags = {c.name: c.args(ctx) for c in components.COMPONENTS}
    assert flags["etcd"] == [
        "--name=default",
        f"--data-dir={r}/etcd",
        "--listen-client-urls=http://127.0.0.1:1000",
        "--advertise-client-urls=http://127.0.0.1:1000",
        "--listen-peer-urls=http://127.0.0.1:1005",
        "--initial-advertise-peer-urls=http://127.0.0.1:1005",
        "--initial-cluster=default=http://127.0.0.1:1005",
        "--unsafe-no-fsync",
        "--log-level=warn",
    ]
    assert flags["kube-apiserver"] == [
        "--etcd-servers=http://127.0.0.1:1000",
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        "--secure-port=1001",
        f"--cert-dir={r}/pki",
        f"--tls-cert-file={r}/pki/apiserver.crt",
        f"--tls-private-key-file={r}/pki/apiserver.key",
        f"--client-ca-file={r}/pki/ca.crt",
        f"--token-auth-file={r}/pki/tokens.csv",
        "--authorization-mode=RBAC",
        "--anonymous-auth=true",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={r}/pki/sa.pub",
        f"--service-account-signing-key-file={r}/pki/sa.key",
        "--service-cluster-ip-range=10.96.0.0/16",
        "--enable-admission-plugins=NamespaceLifecycle,ServiceAccount,PodSecurity,MutatingAdmissionWebhook,"
        "ValidatingAdmissionWebhook,ValidatingAdmissionPolicy,ResourceQuota",
        "--allow-privileged=true",
        "--enable-priority-and-fairness=false",
        "--profiling=false",
        "--event-ttl=15m",
    ]
    assert flags["kube-controller-manager"] == [
        f"--kubeconfig={r}/config/kube-controller-manager.kubeconfig",
        "--bind-address=127.0.0.1",
        "--secure-port=1002",
        f"--cert-dir={r}/kube-controller-manager",
        "--leader-elect=false",
        "--use-service-account-credentials=true",
        f"--service-account-private-key-file={r}/pki/sa.key",
        f"--root-ca-file={r}/pki/ca.crt",
        f"--cluster-signing-cert-file={r}/pki/ca.crt",
        f"--cluster-signing-key-file={r}/pki/ca.key",
        "--profiling=false",
    ]
    assert flags["kube-scheduler"] == [
        f"--config={r}/config/kube-scheduler.yaml",
        "--bind-address=127.0.0.1",
        "--secure-port=1003",
        f"--cert-dir={r}/kube-scheduler",
    ]
    assert flags["kwok"] == [
        f"--kubeconfig={r}/config/kwok.kubeconfig",
        f"--config={r}/config/kwok.yaml",
        "--manage-nodes-with-label-selector=type=kwok",  # never the real node
        "--node-ip=127.0.0.1",
        "--cidr=10.244.0.1/16",
        "--server-address=127.0.0.1:1004",
        "--node-lease-duration-seconds=40",
    ]


def test_components_write_their_own_configuration_files(tmp_path):
    ctx = Context(Layout(tmp_path), pki.PKI(tmp_path / "pki"), PORTS)
    files = {path.name: text for c in components.COMPONENTS for path, text in c.files(ctx).items()}
    assert set(files) == {"kube-scheduler.yaml", "kwok.yaml"}
    assert files["kwok.yaml"] == stages.render()
    scheduler = yaml.safe_load(files["kube-scheduler.yaml"])
    assert scheduler["clientConnection"]["kubeconfig"] == str(
        tmp_path / "config" / "kube-scheduler.kubeconfig"
    )
    assert scheduler["leaderElection"] == {"leaderElect": False}


def test_the_environment_points_components_nowhere_else(monkeypatch):
    monkeypatch.setenv("ETCD_DATA_DIR", "/elsewhere")
    monkeypatch.setenv("KUBECONFIG", "/elsewhere")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy:3128")
    env = components.component_env()
    assert not {"ETCD_DATA_DIR", "KUBECONFIG", "HTTPS_PROXY"} & set(env)
    assert env["NO_PROXY"] == env["no_proxy"] == "127.0.0.1,localhost"


# ------------------------------------------------------------------ a control plane of added components
# Listens on its port once started; with --after=PORT, first checks that PORT already listens (the
# stage before it is healthy), else exits 3.
LISTENER = """
import socket, sys, time
args = dict(a.split("=", 1) for a in sys.argv[1:] if a.startswith("--"))
if "--after" in args:
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", int(args["--after"]))) != 0:
            sys.exit(3)
if args.get("--exit"):
    sys.exit(int(args["--exit"]))
s = socket.socket()
s.bind(("127.0.0.1", int(args["--port"])))
s.listen()
time.sleep(120)
"""


@dataclass(frozen=True)
class Listener(Component):
    """A component added to the list: one object, nothing else to change."""

    after: str | None = None
    exit_code: int | None = None
    healthy: bool = True

    @property
    def program(self) -> str:
        return f"fake-{self.name}"

    def args(self, ctx: Context) -> list[str]:
        argv = ["-c", LISTENER, f"--port={ctx.ports[self.name]}", f"--state={ctx.layout.root}"]
        if self.after:
            argv.append(f"--after={ctx.ports[self.after]}")
        if self.exit_code is not None:
            argv.append(f"--exit={self.exit_code}")
        return argv

    def files(self, ctx: Context) -> dict[Path, str]:
        return {ctx.layout.config / f"{self.name}.conf": f"port={ctx.ports[self.name]}\n"}

    def probe(self, ctx: Context, port: int) -> tuple[bool, str]:
        return (self.healthy and processes.port_open(port)), "listening"


def _plane(tmp_path: Path, *parts: Component) -> tuple[ControlPlane, io.StringIO]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for part in parts:
        (bin_dir / part.program).symlink_to(os.path.realpath(sys.executable))
    out = io.StringIO()
    return ControlPlane(tmp_path / "state", bin_dir=bin_dir, out=out, parts=parts), out


def test_added_components_start_stage_by_stage_and_nothing_is_left_after_a_failure(tmp_path):
    first = Listener("first", stage=0, start_timeout=20, extra_ports=("first-peer",))
    second = Listener(API_SERVER, stage=1, start_timeout=20, after="first")
    plane, out = _plane(tmp_path, first, second)
    # without a component that talks to the API server, the cluster cannot bootstrap
    with pytest.raises(ClusterError, match="no component talks to the API server"):
        plane.up(timeout_scale=1.0)
    log = out.getvalue()
    assert log.index("first ") < log.index(f"{API_SERVER} ") and "ready in" in log
    state = json.loads(plane.layout.state_file.read_text())
    assert state["version"] == 1 and set(state["ports"]) == {"first", API_SERVER, "first-peer"}
    assert set(state["components"]) == {"first", API_SERVER}
    assert (plane.layout.config / "first.conf").read_text() == f"port={state['ports']['first']}\n"
    for rec in plane.records().values():
        assert not processes.is_running(rec.pid, rec.start_time), f"{rec.name} was left running"
    status = plane.status()
    assert [c["name"] for c in status["components"]] == ["first", API_SERVER]
    assert status["node"]["detail"] == "no API server"
    assert plane.down() == []


def test_a_control_plane_needs_an_api_server(tmp_path):
    plane, _ = _plane(tmp_path, Listener("alone", stage=0, start_timeout=20))
    with pytest.raises(ClusterError, match="no kube-apiserver component"):
        plane.up()


def test_a_component_that_exits_names_its_log(tmp_path):
    api_server = Listener(API_SERVER, stage=1, start_timeout=20)
    plane, _ = _plane(tmp_path, Listener("crashy", stage=0, start_timeout=20, exit_code=7), api_server)
    with pytest.raises(ClusterError, match=r"crashy exited during start-up; its log is .*crashy\.log"):
        plane.up()


def test_a_component_that_never_gets_healthy_times_out_with_its_log(tmp_path):
    api_server = Listener(API_SERVER, stage=1, start_timeout=20)
    plane, _ = _plane(tmp_path, Listener("slow", stage=0, start_timeout=1, healthy=False), api_server)
    with pytest.raises(ClusterError, match=r"slow did not become healthy within 1s; its log is .*slow\.log"):
        plane.up()
    assert all(not processes.is_running(r.pid, r.start_time) for r in plane.records().values())


@dataclass(frozen=True)
class Healthy(Component):
    def probe(self, ctx: Context, port: int) -> tuple[bool, str]:
        return True, "ok"


def test_status_finds_the_api_server_by_name_not_by_position(tmp_path):
    """The API server listed last: status still asks it about the node (and finds no node there)."""
    parts = [Healthy(c.name, stage=c.stage, start_timeout=1) for c in reversed(components.COMPONENTS)]
    plane, _ = _plane(tmp_path, *parts)
    plane.layout.ensure()
    assert plane.pki.ensure() is True
    pki.ensure_tokens(plane.pki.tokens_csv)
    sleeper = tmp_path / "bin" / "sleeper"
    sleeper.symlink_to(os.path.realpath(sys.executable))
    recs = {}
    try:
        for part in parts:
            recs[part.name] = processes.spawn(part.name, [str(sleeper), "-c", "import time; time.sleep(60)"],
                                              part.log(plane.layout), port=processes.free_port())  # fmt: skip
        ports = {name: rec.port for name, rec in recs.items()}
        plane.save_state({"ports": ports, "components": {n: r.to_json() for n, r in recs.items()}})
        status = plane.status()
        assert [c["name"] for c in status["components"]] == [p.name for p in parts]
        assert all(c["healthy"] for c in status["components"])
        assert status["ready"] is False
        assert status["node"]["detail"] != "no API server", "the API server was not found by its name"
    finally:
        for rec in recs.values():
            processes.stop(rec, timeout=5)
