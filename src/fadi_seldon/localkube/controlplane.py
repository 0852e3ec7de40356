"""`cluster up|down|status`: the control plane's lifecycle, as one object over a state folder.

Start order is dependency order: etcd, then kube-apiserver, then the controller-manager,
the scheduler and kwok together, then one kwok node. Each process's record (PID, start time,
port, log) is saved in state.json as soon as it starts, so a crash at any point leaves enough
behind for the next `up` or `down` to find and stop what is left.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import yaml

from fadi_seldon import tools as toolchain
from fadi_seldon.localkube import api, kubeconfig, pki, stages
from fadi_seldon.localkube.layout import Layout, default_state_dir
from fadi_seldon.runtime import processes, versions

COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
NODE_NAME = "kwok-node-0"
SERVICE_CIDR = "10.96.0.0/16"
POD_CIDR = "10.244.0.1/16"
SA_ISSUER = "https://kubernetes.default.svc.cluster.local"
STATE_VERSION = 1

# seconds; generous because CI machines have 2 busy cores
START_TIMEOUTS = {
    "etcd": 30,
    "kube-apiserver": 120,
    "kube-controller-manager": 60,
    "kube-scheduler": 60,
    "kwok": 60,
}
BOOTSTRAP_TIMEOUT = 90


class ClusterError(RuntimeError):
    """A problem the user can act on; the message says what and where (log paths)."""


@dataclass
class ComponentStatus:
    name: str
    pid: int | None
    port: int | None
    running: bool
    healthy: bool
    detail: str
    log: str

    def to_json(self) -> dict:
        return self.__dict__.copy()


class ControlPlane:
    def __init__(
        self,
        state_dir: Path | None = None,
        *,
        bin_dir: Path | None = None,
        out: TextIO | None = None,
    ) -> None:
        self.layout = Layout((state_dir or default_state_dir()).resolve())
        self.pki = pki.PKI(self.layout.pki)
        self.bin_dir = bin_dir or toolchain.default_tools_dir() / "bin"
        self.out = out if out is not None else sys.stderr

    # ------------------------------------------------------------------ helpers
    def say(self, message: str) -> None:
        print(message, file=self.out, flush=True)

    def binary(self, name: str) -> str:
        found = toolchain.find_executable(name, self.bin_dir)
        if found:
            return found
        raise ClusterError(
            f"{name} is not installed (looked in {self.bin_dir} and PATH): run `make tools TOOLS=cluster` "
            "(or `fadi-seldon tools install cluster`)"
        )

    def load_state(self) -> dict:
        try:
            data = json.loads(self.layout.state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) and data.get("version") == STATE_VERSION else {}

    def save_state(self, state: dict) -> None:
        state["version"] = STATE_VERSION
        tmp = self.layout.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
        tmp.replace(self.layout.state_file)

    def records(self, state: dict | None = None) -> dict[str, processes.ProcessRecord]:
        state = self.load_state() if state is None else state
        return {
            name: processes.ProcessRecord.from_json(rec)
            for name, rec in (state.get("components") or {}).items()
            if name in COMPONENTS
        }

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """One `up`/`down` at a time per state folder (pytest-xdist, two terminals...)."""
        self.layout.ensure()
        with open(self.layout.lock_file, "w") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self.say(f"[cluster] waiting for another `cluster` command on {self.layout.root} ...")
                fcntl.flock(fh, fcntl.LOCK_EX)
            yield

    def admin_client(self, state: dict | None = None) -> api.Client:
        state = self.load_state() if state is None else state
        tokens = pki.read_tokens(self.pki.tokens_csv)
        return api.Client(
            f"https://127.0.0.1:{state['ports']['kube-apiserver']}", tokens["admin"], self.pki.ca_cert
        )

    # ------------------------------------------------------------------ status
    def _probe(self, name: str, rec: processes.ProcessRecord, state: dict) -> tuple[bool, str]:
        tokens = pki.read_tokens(self.pki.tokens_csv)
        if name == "etcd":
            ok, body = api.probe(f"http://127.0.0.1:{rec.port}/health")
            return ok and '"health":"true"' in body.replace(" ", ""), body
        if name == "kube-apiserver":
            return api.probe(
                f"https://127.0.0.1:{rec.port}/readyz", token=tokens.get("admin"), ca_cert=self.pki.ca_cert
            )
        if name in ("kube-controller-manager", "kube-scheduler"):
            return api.probe(f"https://127.0.0.1:{rec.port}/healthz")
        return api.probe(f"http://127.0.0.1:{rec.port}/healthz")

    def status(self) -> dict:
        state = self.load_state()
        recs = self.records(state)
        rows = []
        for name in COMPONENTS:
            rec = recs.get(name)
            log = str(self.layout.log(name))
            if rec is None:
                rows.append(ComponentStatus(name, None, None, False, False, "not started", log))
                continue
            running = processes.is_running(rec.pid, rec.start_time)
            healthy, detail = self._probe(name, rec, state) if running else (False, "not running")
            rows.append(ComponentStatus(name, rec.pid, rec.port, running, healthy, detail, rec.log))
        node_ready = False
        node_detail = "no API server"
        if rows[1].healthy:
            node_ready, node_detail = self._node_ready(self.admin_client(state))
        ready = all(r.healthy for r in rows) and node_ready
        return {
            "state_dir": str(self.layout.root),
            "kubeconfig": str(self.layout.kubeconfig),
            "server": kubeconfig.server_of(self.layout.kubeconfig),
            "kubernetes_version": versions.get("KUBERNETES_VERSION"),
            "ready": ready,
            "started": bool(recs),
            "node": {"name": NODE_NAME, "ready": node_ready, "detail": node_detail},
            "components": [r.to_json() for r in rows],
        }

    def _node_ready(self, client: api.Client) -> tuple[bool, str]:
        try:
            node = client.get(f"/api/v1/nodes/{NODE_NAME}")
        except api.APIError as err:
            return False, str(err)
        except OSError as err:
            return False, str(err)
        for cond in (node.get("status") or {}).get("conditions") or []:
            if cond.get("type") == "Ready":
                return cond.get("status") == "True", f"Ready={cond.get('status')}"
        return False, "no Ready condition yet"

    # ------------------------------------------------------------------ down
    def down(self, *, keep_state: bool = False) -> list[str]:
        """Stop every process this state folder started; remove the folder. Returns what was stopped."""
        if not self.layout.root.exists():
            return []
        with self.locked():
            stopped = self._stop_companions() + self._stop_all(self.load_state())
        if not keep_state:
            shutil.rmtree(self.layout.root, ignore_errors=True)
        return stopped

    def _stop_companions(self) -> list[str]:
        """Stop processes other tools run against this cluster, before the cluster itself.

        Convention: a tool that starts host processes for this cluster (`cluster operator start`)
        keeps them in `<state>/<tool>/state.json` as `{"processes": [ProcessRecord...]}`, so any
        caller of down(), not only the CLI, leaves nothing running.
        """
        stopped = []
        for state_file in sorted(self.layout.root.glob("*/state.json")):
            try:
                records = json.loads(state_file.read_text(encoding="utf-8")).get("processes", [])
            except (OSError, ValueError, AttributeError):
                continue
            for rec in records:
                record = processes.ProcessRecord.from_json(rec)
                if processes.stop(record):
                    stopped.append(f"{record.name} (pid {record.pid})")
        return stopped

    def _stop_all(self, state: dict) -> list[str]:
        stopped = []
        recs = self.records(state)
        for name in reversed(COMPONENTS):  # dependents first, etcd last
            rec = recs.get(name)
            if rec is not None and processes.stop(rec):
                stopped.append(f"{name} (pid {rec.pid})")
        # leftovers whose record was lost (state.json deleted or written before a crash)
        for pid in processes.processes_mentioning(str(self.layout.root), COMPONENTS):
            if processes.stop_pid(pid):
                stopped.append(f"leftover pid {pid}")
        return stopped

    # ------------------------------------------------------------------ up
    def up(self, *, timeout_scale: float = 1.0) -> dict:
        """Start (or confirm, or repair) the control plane; returns `status()`."""
        t0 = time.monotonic()
        with self.locked():
            state = self.load_state()
            if state.get("components"):
                current = self.status()
                if current["ready"]:
                    self.say(f"[cluster] already running and ready ({self.layout.root})")
                    return current
                stopped = self._stop_all(state)
                what = ", ".join(stopped) if stopped else "no live processes"
                self.say(f"[cluster] previous run is not healthy: stopped {what}; starting again")
            else:
                leftovers = self._stop_all({})
                if leftovers:
                    self.say(f"[cluster] stopped leftovers of a lost run: {', '.join(leftovers)}")
            try:
                self._start(state, t0, timeout_scale)
            except BaseException:
                # never leave half a cluster running behind an error or Ctrl-C
                self._stop_all(self.load_state())
                raise
        result = self.status()
        self.say(
            f"[cluster] ready in {time.monotonic() - t0:.1f}s; use it with: export KUBECONFIG={self.layout.kubeconfig}"
        )
        return result

    def _ports(self, previous: dict) -> dict[str, int]:
        """Reuse the previous ports when free (kubeconfigs stay valid), else pick free ones."""
        ports: dict[str, int] = {}
        for key in (*COMPONENTS, "etcd-peer"):
            old = previous.get(key)
            ports[key] = old if old and not processes.port_open(old) else processes.free_port()
        if len(set(ports.values())) != len(ports):  # extremely unlikely, but a clash is fatal
            return self._ports({})
        return ports

    def _start(self, state: dict, t0: float, scale: float) -> None:
        lay = self.layout
        exe = {name: self.binary(name) for name in COMPONENTS}
        if self.pki.ensure():
            self.say(f"[cluster] generated keys and certificates in {lay.pki}")
        tokens = pki.ensure_tokens(self.pki.tokens_csv)
        ports = self._ports(state.get("ports") or {})
        state = {"ports": ports, "components": {}, "created": state.get("created") or time.time()}
        self.save_state(state)
        server = f"https://127.0.0.1:{ports['kube-apiserver']}"
        for ident in ("kube-controller-manager", "kube-scheduler", "kwok"):
            kubeconfig.write(
                lay.component_kubeconfig(ident),
                kubeconfig.render(server, self.pki.ca_cert, tokens[ident], user=ident),
            )
        kubeconfig.write(
            lay.kubeconfig, kubeconfig.render(server, self.pki.ca_cert, tokens["admin"], namespace="default")
        )
        (lay.config / "kwok.yaml").write_text(stages.render(), encoding="utf-8")
        (lay.config / "kube-scheduler.yaml").write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "kubescheduler.config.k8s.io/v1",
                    "kind": "KubeSchedulerConfiguration",
                    "clientConnection": {"kubeconfig": str(lay.component_kubeconfig("kube-scheduler"))},
                    "leaderElection": {"leaderElect": False},
                }
            ),
            encoding="utf-8",
        )

        def start(name: str) -> processes.ProcessRecord:
            argv = [exe[name], *self._args(name, ports)]
            rec = processes.spawn(name, argv, lay.log(name), env=_component_env(), port=ports[name])
            state["components"][name] = rec.to_json()
            self.save_state(state)
            return rec

        def wait(names: list[str], recs: dict[str, processes.ProcessRecord]) -> None:
            started = time.monotonic()
            pending = list(names)
            last_note = started
            while pending:
                for name in list(pending):
                    rec = recs[name]
                    if not processes.is_running(rec.pid, rec.start_time):
                        raise ClusterError(
                            f"{name} exited during start-up; its log is {rec.log}:\n{processes.tail(rec.log)}"
                        )
                    ok, _ = self._probe(name, rec, state)
                    if ok:
                        pending.remove(name)
                        self.say(
                            f"[cluster]   {name:<24} ready in {time.monotonic() - started:5.1f}s  "
                            f"pid {rec.pid:<7} port {rec.port:<6} log {rec.log}"
                        )
                if not pending:
                    return
                waited = time.monotonic() - started
                if any(waited > START_TIMEOUTS[n] * scale for n in pending):
                    late = pending[0]
                    raise ClusterError(
                        f"{late} did not become healthy within {START_TIMEOUTS[late] * scale:.0f}s; "
                        f"its log is {recs[late].log}:\n{processes.tail(recs[late].log)}"
                    )
                if time.monotonic() - last_note > 10:
                    self.say(f"[cluster]   ... waiting for {', '.join(pending)} ({waited:.0f}s)")
                    last_note = time.monotonic()
                time.sleep(0.1)

        self.say(f"[cluster] starting Kubernetes {versions.get('KUBERNETES_VERSION')} in {lay.root}")
        recs = {"etcd": start("etcd")}
        wait(["etcd"], recs)
        recs["kube-apiserver"] = start("kube-apiserver")
        wait(["kube-apiserver"], recs)
        client = api.Client(server, tokens["admin"], self.pki.ca_cert)
        # a kwok restarted on existing data would wait for its predecessor's node lease to expire
        # (40 s) before touching any pod of the node: hand the lease over at once
        if client.delete(f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{NODE_NAME}"):
            self.say(f"[cluster]   released the node lease of the previous kwok ({NODE_NAME})")
        rest = ["kube-controller-manager", "kube-scheduler", "kwok"]
        for name in rest:
            recs[name] = start(name)
        self._create_node(client)
        wait(rest, recs)
        self._wait_bootstrap(client, scale, recs)

    def _args(self, name: str, ports: dict[str, int]) -> list[str]:
        lay, p = self.layout, self.pki
        if name == "etcd":
            client_url = f"http://127.0.0.1:{ports['etcd']}"
            peer_url = f"http://127.0.0.1:{ports['etcd-peer']}"
            return [
                "--name=default",
                f"--data-dir={lay.etcd_data}",
                f"--listen-client-urls={client_url}",
                f"--advertise-client-urls={client_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=default={peer_url}",
                "--unsafe-no-fsync",  # test cluster: speed over durability
                "--log-level=warn",
            ]
        if name == "kube-apiserver":
            return [
                f"--etcd-servers=http://127.0.0.1:{ports['etcd']}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={ports['kube-apiserver']}",
                f"--cert-dir={lay.pki}",
                f"--tls-cert-file={p.server_cert}",
                f"--tls-private-key-file={p.server_key}",
                f"--client-ca-file={p.ca_cert}",
                f"--token-auth-file={p.tokens_csv}",
                "--authorization-mode=RBAC",
                "--anonymous-auth=true",  # /livez, /readyz for probes; RBAC still denies everything else
                f"--service-account-issuer={SA_ISSUER}",
                f"--service-account-key-file={p.sa_pub}",
                f"--service-account-signing-key-file={p.sa_key}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--enable-admission-plugins=NamespaceLifecycle,ServiceAccount,PodSecurity,"
                "MutatingAdmissionWebhook,ValidatingAdmissionWebhook,ValidatingAdmissionPolicy,ResourceQuota",
                "--allow-privileged=true",
                "--enable-priority-and-fairness=false",
                "--profiling=false",
                "--event-ttl=15m",
            ]
        if name == "kube-controller-manager":
            return [
                f"--kubeconfig={lay.component_kubeconfig('kube-controller-manager')}",
                "--bind-address=127.0.0.1",
                f"--secure-port={ports['kube-controller-manager']}",
                f"--cert-dir={lay.root / 'kube-controller-manager'}",
                "--leader-elect=false",
                "--use-service-account-credentials=true",
                f"--service-account-private-key-file={p.sa_key}",
                f"--root-ca-file={p.ca_cert}",
                f"--cluster-signing-cert-file={p.ca_cert}",
                f"--cluster-signing-key-file={p.ca_key}",
                "--profiling=false",
            ]
        if name == "kube-scheduler":
            return [
                f"--config={lay.config / 'kube-scheduler.yaml'}",
                "--bind-address=127.0.0.1",
                f"--secure-port={ports['kube-scheduler']}",
                f"--cert-dir={lay.root / 'kube-scheduler'}",
            ]
        if name == "kwok":
            return [
                f"--kubeconfig={lay.component_kubeconfig('kwok')}",
                f"--config={lay.config / 'kwok.yaml'}",
                "--manage-all-nodes=true",
                "--node-ip=127.0.0.1",
                f"--cidr={POD_CIDR}",
                f"--server-address=127.0.0.1:{ports['kwok']}",
                "--node-lease-duration-seconds=40",
            ]
        raise KeyError(name)

    def _create_node(self, client: api.Client) -> None:
        client.create(
            "/api/v1/nodes",
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": NODE_NAME,
                    "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
                    "labels": {
                        "kubernetes.io/arch": "amd64",
                        "kubernetes.io/os": "linux",
                        "kubernetes.io/hostname": NODE_NAME,
                        "node-role.kubernetes.io/worker": "",
                        "type": "kwok",
                    },
                },
                "spec": {},
            },
        )

    def _wait_bootstrap(
        self, client: api.Client, scale: float, recs: dict[str, processes.ProcessRecord]
    ) -> None:
        """What `helm install --wait` needs beyond healthy processes: a Ready node, default SA."""
        checks: list[tuple[str, Callable[[], tuple[bool, str]]]] = [
            ("node " + NODE_NAME, lambda: self._node_ready(client)),
            (
                "service account default/default",
                lambda: _exists(client, "/api/v1/namespaces/default/serviceaccounts/default"),
            ),
            (
                "ConfigMap default/kube-root-ca.crt",
                lambda: _exists(client, "/api/v1/namespaces/default/configmaps/kube-root-ca.crt"),
            ),
        ]
        started = time.monotonic()
        last_note = started
        pending = list(checks)
        while pending:
            for item in list(pending):
                ok, _ = item[1]()
                if ok:
                    pending.remove(item)
                    self.say(f"[cluster]   {item[0]:<24} ready in {time.monotonic() - started:5.1f}s")
            if not pending:
                return
            for name, rec in recs.items():
                if not processes.is_running(rec.pid, rec.start_time):
                    raise ClusterError(f"{name} exited; its log is {rec.log}:\n{processes.tail(rec.log)}")
            if time.monotonic() - started > BOOTSTRAP_TIMEOUT * scale:
                names = ", ".join(p[0] for p in pending)
                raise ClusterError(
                    f"timed out waiting for {names}; see the logs in {self.layout.logs} "
                    "(kwok.log for the node, kube-controller-manager.log for service accounts)"
                )
            if time.monotonic() - last_note > 10:
                self.say(f"[cluster]   ... waiting for {', '.join(p[0] for p in pending)}")
                last_note = time.monotonic()
            time.sleep(0.2)


def _exists(client: api.Client, path: str) -> tuple[bool, str]:
    try:
        return client.exists(path), path
    except (api.APIError, OSError) as err:
        return False, str(err)


def _component_env() -> dict[str, str]:
    """The components' environment: ours, minus anything that would point them elsewhere."""
    env = dict(os.environ)
    for key in list(env):
        # etcd refuses to start when an ETCD_* variable repeats a flag
        if key.startswith(("ETCD_", "ETCDCTL_")) or key in (
            "KUBECONFIG",
            "HTTPS_PROXY",
            "HTTP_PROXY",
            "https_proxy",
            "http_proxy",
        ):
            del env[key]
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env
