"""`cluster up|down|status`: the control plane's lifecycle, as one object over a state folder.

The components (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok) are objects of
`components.py`, each owning its flags, probe, start timeout and log; this module only sequences
them. Start order is dependency order (the components' stages): etcd, then kube-apiserver, then the
controller-manager, the scheduler and kwok together, then the simulated nodes (nodes.py). Each
process's record (PID, start time, port, log) is saved in state.json as soon as it starts, so a
crash at any point leaves enough behind for the next `up` or `down` to find and stop what is
left. The nodes' count and capacity are recorded there too: `up` on a running cluster with another
size adds, resizes or removes nodes without restarting anything.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from fadi_seldon import tools as toolchain
from fadi_seldon.localkube import api, components, kubeconfig, node, node_lifecycle, nodes, pki
from fadi_seldon.localkube.components import API_SERVER, Component, Context
from fadi_seldon.localkube.layout import Layout, default_state_dir
from fadi_seldon.localkube.nodes import NodeSpec
from fadi_seldon.runtime import polling, processes, versions
from fadi_seldon.runtime.files import atomic_write
from fadi_seldon.runtime.statedir import StateDir

COMPONENTS = components.NAMES  # names, in start order
REAL, SIMULATED, AUTO = "real", "simulated", "auto"  # `cluster up --node`
NODE_NAME = nodes.PREFIX + "0"  # the first (by default the only) simulated node
STATE_VERSION = 1
BOOTSTRAP_TIMEOUT = 90
PROGRESS_EVERY = 10.0  # seconds between "still waiting" notes


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
        parts: Iterable[Component] | None = None,
    ) -> None:
        self.layout = Layout((state_dir or default_state_dir()).resolve())
        self.pki = pki.PKI(self.layout.pki)
        self.bin_dir = bin_dir or toolchain.default_tools_dir() / "bin"
        self.out = out if out is not None else sys.stderr
        self.state = StateDir(self.layout.root, version=STATE_VERSION, prefix="[cluster]", out=self.out)
        self.fixed_parts = parts is not None
        self.components: tuple[Component, ...] = (
            tuple(parts) if parts is not None else self._parts(self.load_state().get("node_kind") == REAL)
        )

    @staticmethod
    def _parts(real: bool, **node_options) -> tuple[Component, ...]:
        """The control plane's components, and the real node's when there is one."""
        return components.COMPONENTS + (node.components(**node_options) if real else ())

    @property
    def real_node(self) -> bool:
        return any(c.name == "kubelet" for c in self.components)

    # ------------------------------------------------------------------ helpers
    def say(self, message: str) -> None:
        self.state.say(message)

    def component(self, name: str) -> Component:
        return components.get(name, self.components)

    def binary(self, name: str) -> str:
        found = toolchain.find_executable(name, self.bin_dir)
        if found:
            return found
        raise ClusterError(
            f"{name} is not installed (looked in {self.bin_dir} and PATH): run `make tools TOOLS=cluster` "
            "(or `fadi-seldon tools install cluster`)"
        )

    def load_state(self) -> dict:
        return self.state.load()

    def save_state(self, state: dict) -> None:
        self.state.save(state)

    def records(self, state: dict | None = None) -> dict[str, processes.ProcessRecord]:
        state = self.load_state() if state is None else state
        names = {c.name for c in self.components}
        return {
            name: processes.ProcessRecord.from_json(rec)
            for name, rec in (state.get("components") or {}).items()
            if name in names
        }

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """One `up`/`down` at a time per state folder (pytest-xdist, two terminals...)."""
        self.layout.ensure()
        with self.state.locked("another `cluster` command"):
            yield

    def context(self, state: dict | None = None) -> Context:
        state = self.load_state() if state is None else state
        host = node.GATEWAY if state.get("node_kind") == REAL else "127.0.0.1"
        return Context(self.layout, self.pki, dict(state.get("ports") or {}), api_host=host,
                       pod_egress=bool(state.get("pod_egress")))  # fmt: skip

    def admin_client(self, state: dict | None = None) -> api.Client:
        ctx = self.context(state)
        tokens = pki.read_tokens(self.pki.tokens_csv)
        return api.Client(ctx.url(API_SERVER, "https"), tokens["admin"], self.pki.ca_cert)

    # ------------------------------------------------------------------ status
    def _status_of(
        self, comp: Component, rec: processes.ProcessRecord | None, ctx: Context
    ) -> ComponentStatus:
        if rec is None:
            return ComponentStatus(
                comp.name, None, None, False, False, "not started", str(comp.log(self.layout))
            )
        running = processes.is_running(rec.pid, rec.start_time)
        healthy, detail = comp.probe(ctx, rec.port or 0) if running else (False, "not running")
        return ComponentStatus(comp.name, rec.pid, rec.port, running, healthy, detail, rec.log)

    def node_spec(self, **overrides) -> NodeSpec:
        """The recorded nodes' spec (defaults when none) with `overrides` (None: keep) on top.

        Raises ValueError naming the option when a value is unusable."""
        return NodeSpec.from_json(self.load_state().get("nodes"), **overrides)

    def status(self) -> dict:
        state = self.load_state()
        recs = self.records(state)
        ctx = self.context(state)
        rows = {c.name: self._status_of(c, recs.get(c.name), ctx) for c in self.components}
        spec = NodeSpec.from_json(state.get("nodes"))
        node_rows = [
            {"name": n, "ready": False, "detail": "no API server", "capacity": {}} for n in spec.names
        ]
        api_server = rows.get(API_SERVER)
        healthy_api = api_server is not None and api_server.healthy
        if healthy_api:
            node_rows = self._node_rows(self.admin_client(state), spec)
        if self.real_node:
            ready, detail = (
                self._node_ready(self.admin_client(state), node.NODE_NAME)
                if healthy_api
                else (False, "no API server")
            )
            node_rows.insert(0, {"name": node.NODE_NAME, "ready": ready, "detail": detail, "capacity": {},
                                 "kind": REAL})  # fmt: skip
        wanted = [r for r in node_rows if r["name"] in spec.names or r.get("kind") == REAL]
        ready = all(r.healthy for r in rows.values()) and all(r["ready"] for r in wanted)
        first = node_rows[0]
        return {
            "state_dir": str(self.layout.root),
            "kubeconfig": str(self.layout.kubeconfig),
            "server": kubeconfig.server_of(self.layout.kubeconfig),
            "kubernetes_version": versions.get("KUBERNETES_VERSION"),
            "ready": ready,
            "started": bool(recs),
            "node_kind": REAL if self.real_node else SIMULATED,
            "node": {"name": first["name"], "ready": first["ready"], "detail": first["detail"]},
            "node_spec": spec.to_json(),
            "nodes": node_rows,
            "components": [r.to_json() for r in rows.values()],
        }

    @staticmethod
    def _node_rows(client: api.Client, spec: NodeSpec) -> list[dict]:
        try:
            return nodes.rows(client, spec)
        except (api.APIError, OSError) as err:
            return [{"name": n, "ready": False, "detail": str(err), "capacity": {}} for n in spec.names]

    def _node_check(self, client: api.Client, name: str) -> Callable[[], tuple[bool, str]]:
        """`_node_ready` of one node, as a check to poll."""
        return lambda: self._node_ready(client, name)

    def _node_ready(self, client: api.Client, name: str = NODE_NAME) -> tuple[bool, str]:
        try:
            return nodes.readiness(client.get(f"/api/v1/nodes/{name}"))
        except api.APIError as err:
            return False, "missing" if err.status == 404 else str(err)
        except OSError as err:
            return False, str(err)

    # ------------------------------------------------------------------ down
    def down(self, *, keep_state: bool = False) -> list[str]:
        """Stop every process this state folder started; remove the folder. Returns what was stopped.
        A folder holding no state of ours (missing, empty, or any other folder) is left as it is."""
        if not self.layout.root.is_dir() or not self.layout.holds_state():
            return []
        with self.locked():
            stopped = self._stop_companions() + self._stop_all(self.load_state())
        if not keep_state:
            shutil.rmtree(self.layout.root, ignore_errors=True)
        return stopped

    def _stop_companions(self) -> list[str]:
        """Stop processes other tools run against this cluster, before the cluster itself.

        Convention: a tool that starts host processes for this cluster (`cluster operator start`)
        keeps them in `<state>/<tool>/state.json` as `{"processes": [ProcessRecord...]}` (a
        runtime.statedir.StateDir), so any caller of down(), not only the CLI, leaves nothing running.
        """
        stopped = []
        for state_file in sorted(self.layout.root.glob("*/state.json")):
            companion = StateDir(state_file.parent, version=0, prefix="")
            for rec in companion.load_any().get("processes") or []:
                record = processes.ProcessRecord.from_json(rec)
                if processes.stop(record):
                    stopped.append(f"{record.name} (pid {record.pid})")
        return stopped

    def restart(self, name: str, *, timeout_scale: float = 1.0) -> float:
        """Stop one running component and start it again with the same flags and port, as a node's
        supervisor would after a crash or an upgrade; seconds until its probe answers again. The other
        components and the pods keep running (the fault suite measures what a model notices)."""
        with self.locked():
            state = self.load_state()
            comp = self.component(name)
            rec = self.records(state).get(name)
            if rec is None or not processes.is_running(rec.pid, rec.start_time):
                raise ClusterError(f"{name} is not running: `fadi-seldon cluster up` starts the cluster")
            started = time.monotonic()
            processes.stop(rec, alone=comp.restarts_alone)
            ctx = self.context(state)
            fresh = self._spawn(comp, self.binary(comp.program), ctx, state)
            self._wait_healthy([comp], {name: fresh}, ctx, timeout_scale)
            return time.monotonic() - started

    def _stop_all(self, state: dict) -> list[str]:
        stopped = []
        recs = self.records(state)
        if self.real_node or node_lifecycle.host_record(self.layout).is_file():
            stopped += node_lifecycle.teardown(self.layout, recs, self.bin_dir)
        stopped += node_lifecycle.release_simulated(self.layout)
        for comp in reversed(self.components):  # dependents first, etcd last
            rec = recs.get(comp.name)
            if rec is not None and processes.stop(rec):
                stopped.append(f"{comp.name} (pid {rec.pid})")
        # leftovers whose record was lost (state.json deleted or written before a crash)
        programs = tuple(c.program for c in self.components)
        for pid in processes.processes_mentioning(str(self.layout.root), programs):
            if processes.stop_pid(pid):
                stopped.append(f"leftover pid {pid}")
        return stopped

    # ------------------------------------------------------------------ up
    def up(
        self,
        *,
        timeout_scale: float = 1.0,
        nodes: NodeSpec | None = None,
        node_kind: str = AUTO,
        pod_egress: bool = False,
    ) -> dict:
        """Start (or confirm, or repair, or resize) the control plane; returns `status()`.

        `nodes`: the simulated nodes wanted (default: as recorded, else one default node). On a
        running cluster whose components are healthy, only the nodes change. `node_kind`: a real
        node (kubelet, containerd), none (simulated nodes only), or `auto`: real where the host can.
        `pod_egress`: pods may reach beyond this machine (off by default; docs/local-cluster.md)."""
        t0 = time.monotonic()
        with self.locked():
            state = self.load_state()
            spec = nodes or NodeSpec.from_json(state.get("nodes"))
            if node_kind == AUTO and state.get("node_kind"):
                node_kind = state["node_kind"]  # a restart keeps the kind of node the cluster had
            if (
                state.get("components")
                and self._same_kind(state, node_kind)
                and (bool(state.get("pod_egress")) == pod_egress)
            ):
                current = self.status()
                healthy = all(c["healthy"] for c in current["components"])
                if healthy and (current["ready"] or spec.to_json() != current["node_spec"]):
                    return self._adjust_nodes(state, spec, timeout_scale, current)
                stopped = self._stop_all(state)
                what = ", ".join(stopped) if stopped else "no live processes"
                self.say(f"previous run is not healthy: stopped {what}; starting again")
            else:
                leftovers = self._stop_all(state)
                if leftovers:
                    self.say(f"stopped leftovers of an earlier run: {', '.join(leftovers)}")
            self._choose_node(node_kind)
            try:
                self._start(state, spec, timeout_scale, pod_egress)
            except BaseException:
                # never leave half a cluster running behind an error or Ctrl-C
                self._stop_all(self.load_state())
                raise
        result = self.status()
        self.say(
            f"ready in {time.monotonic() - t0:.1f}s; use it with: export KUBECONFIG={self.layout.kubeconfig}"
        )
        return result

    def _same_kind(self, state: dict, node_kind: str) -> bool:
        return node_kind == AUTO or state.get("node_kind", SIMULATED) == node_kind

    def _choose_node(self, node_kind: str) -> None:
        """The components for a real or a simulated node; `auto` falls back to simulated, saying why."""
        if self.fixed_parts:
            return
        options, problems = None, []
        if node_kind in (AUTO, REAL):
            problems = node_lifecycle.host_problems(self.bin_dir)
            if not problems:
                options, problems = self._node_options()
            if problems and node_kind == REAL:
                raise ClusterError("this host cannot run a real node: " + "; ".join(problems))
            if problems:
                self.say(
                    "no real node on this host (" + "; ".join(problems) + "): pods are simulated by kwok"
                )
        self.components = self._parts(options is not None, **(options or {}))

    def _node_options(self) -> tuple[dict | None, list[str]]:
        """The pause image (built once, cached) and the host's runc and CNI plugins for containerd;
        or the reason the pause image cannot be built (no gcc, and not root to install it)."""
        from fadi_seldon.images import ImageError, pause

        try:
            built = pause.build()
        except ImageError as err:
            return None, [f"the pause image cannot be built: {err}"]
        paths = node_lifecycle.system_paths()
        return {"pause_image": built.ref, "pause_archive": str(built.archive), "runc": paths["runc"],
                "cni_bin": paths["cni"]}, []  # fmt: skip

    def _adjust_nodes(self, state: dict, spec: NodeSpec, scale: float, current: dict) -> dict:
        """A running cluster asked for (maybe) other nodes: add, resize, remove, then wait for them."""
        if current["ready"] and spec.to_json() == current["node_spec"]:
            self.say(f"already running and ready ({self.layout.root})")
            return current
        t0 = time.monotonic()
        client = self.admin_client(state)
        changes = nodes.sync(client, spec, taint=self.real_node)
        state["nodes"] = spec.to_json()
        self.save_state(state)
        done = "; ".join(f"{what} {', '.join(names)}" for what, names in changes.items() if names)
        self.say(f"nodes: {done or 'unchanged'} ({spec.count} x cpu {spec.cpu}, memory {spec.memory}, "
                 f"pods {spec.pods})")  # fmt: skip
        self._wait_bootstrap(client, scale, self.records(state), spec)
        self.say(f"nodes ready in {time.monotonic() - t0:.1f}s")
        return self.status()

    def _ports(self, previous: dict) -> dict[str, int]:
        """Reuse the previous ports when free (kubeconfigs stay valid), else pick free ones."""
        ports: dict[str, int] = {}
        for key in components.port_names(self.components):
            old = previous.get(key)
            ports[key] = old if old and not processes.port_open(old) else processes.free_port()
        if len(set(ports.values())) != len(ports):  # extremely unlikely, but a clash is fatal
            return self._ports({})
        return ports

    def _start(self, previous: dict, spec: NodeSpec, scale: float, pod_egress: bool = False) -> None:
        if not any(c.name == API_SERVER for c in self.components):
            raise ClusterError(f"the control plane has no {API_SERVER} component")
        exe = {c.name: self.binary(c.program) for c in self.components}
        if self.pki.ensure():
            self.say(f"generated keys and certificates in {self.layout.pki}")
        tokens = pki.ensure_tokens(self.pki.tokens_csv)
        ports = self._ports(previous.get("ports") or {})
        created = previous.get("created") or time.time()
        kind = REAL if self.real_node else SIMULATED
        state = {
            "ports": ports,
            "components": {},
            "created": created,
            "nodes": spec.to_json(),
            "node_kind": kind,
            "pod_egress": pod_egress,
        }
        self.save_state(state)
        if self.real_node:
            node_lifecycle.prepare(self.layout, self.say, pod_egress=pod_egress)
        else:
            node_lifecycle.contain_simulated(self.layout, self.say)
        ctx = self.context(state)
        self._write_configuration(ctx, tokens)
        self.say(f"starting Kubernetes {versions.get('KUBERNETES_VERSION')} in {self.layout.root}")
        recs: dict[str, processes.ProcessRecord] = {}
        client: api.Client | None = None
        for stage in components.stages_of(self.components):
            first_client_stage = client is None and any(c.identity for c in stage)
            if first_client_stage:
                client = self._api_ready(ctx, tokens, spec)
            for comp in stage:
                recs[comp.name] = self._spawn(comp, exe[comp.name], ctx, state)
            if first_client_stage and client is not None:
                self._create_nodes(client, spec)
            self._wait_healthy(stage, recs, ctx, scale)
            for comp in stage:
                comp.after_ready(ctx, self.say)
        if client is None:
            raise ClusterError("no component talks to the API server: nothing can bootstrap the cluster")
        self._wait_bootstrap(client, scale, recs, spec)

    def _write_configuration(self, ctx: Context, tokens: dict[str, str]) -> None:
        """Kubeconfigs (the user's, and each API client component's) and the components' own files."""
        server = ctx.url(API_SERVER, "https")
        for comp in self.components:
            if comp.identity:
                kubeconfig.write(
                    ctx.kubeconfig(comp.name),
                    kubeconfig.render(server, self.pki.ca_cert, tokens[comp.identity], user=comp.identity),
                )
        kubeconfig.write(
            self.layout.kubeconfig,
            kubeconfig.render(server, self.pki.ca_cert, tokens["admin"], namespace="default"),
        )
        for comp in self.components:
            for path, text in comp.files(ctx).items():
                atomic_write(path, text)

    def _spawn(self, comp: Component, exe: str, ctx: Context, state: dict) -> processes.ProcessRecord:
        argv = [exe, *comp.args(ctx)]
        rec = processes.spawn(
            comp.name, argv, comp.log(self.layout), env=comp.env(), port=ctx.ports[comp.name]
        )
        state["components"][comp.name] = rec.to_json()
        self.save_state(state)
        return rec

    def _api_ready(self, ctx: Context, tokens: dict[str, str], spec: NodeSpec) -> api.Client:
        """The admin client of a healthy API server, and the node leases of a previous kwok released."""
        client = api.Client(ctx.url(API_SERVER, "https"), tokens["admin"], self.pki.ca_cert)
        for comp in self.components:
            for path, body in comp.bootstrap_objects(ctx):
                client.create(path, body)
        # a kwok restarted on existing data would wait for its predecessor's node lease to expire
        # (40 s) before touching any pod of the node: hand the leases over at once
        released = [name for name in spec.names if client.delete(nodes.lease_path(name))]
        if released:
            self.say(f"  released the node leases of the previous kwok ({', '.join(released)})")
        return client

    def _wait_healthy(
        self, stage: list[Component], recs: dict[str, processes.ProcessRecord], ctx: Context, scale: float
    ) -> None:
        """Until every component of `stage` answers its probe; an exit or a late one is an error."""
        started = time.monotonic()
        pending = list(stage)

        def late(comp: Component) -> ClusterError:
            log = recs[comp.name].log
            return ClusterError(
                f"{comp.name} did not become healthy within {comp.start_timeout * scale:.0f}s; "
                f"its log is {log}:\n{processes.tail(log)}"
            )

        def all_healthy() -> bool:
            waited = time.monotonic() - started
            for comp in list(pending):
                rec = recs[comp.name]
                if not processes.is_running(rec.pid, rec.start_time):
                    raise ClusterError(
                        f"{comp.name} exited during start-up; its log is {rec.log}:\n{processes.tail(rec.log)}"
                    )
                if comp.probe(ctx, rec.port or 0)[0]:
                    pending.remove(comp)
                    self.say(
                        f"  {comp.name:<24} ready in {time.monotonic() - started:5.1f}s  "
                        f"pid {rec.pid:<7} port {rec.port:<6} log {rec.log}"
                    )
                elif waited > comp.start_timeout * scale:
                    raise late(comp)
            return not pending

        try:
            polling.wait_until(
                " and ".join(c.name for c in stage),
                all_healthy,
                max(c.start_timeout for c in stage) * scale,
                every=0.1,
                progress=lambda waited: self.say(
                    f"  ... waiting for {', '.join(c.name for c in pending)} ({waited:.0f}s)"
                ),
                progress_every=PROGRESS_EVERY,
            )
        except polling.WaitTimeout:
            raise late(pending[0]) from None

    def _create_nodes(self, client: api.Client, spec: NodeSpec) -> None:
        changes = nodes.sync(client, spec, taint=self.real_node)
        for what, names in changes.items():
            if names and (what != "added" or len(names) > 1):
                self.say(f"  nodes {what}: {', '.join(names)}")

    def _wait_bootstrap(
        self,
        client: api.Client,
        scale: float,
        recs: dict[str, processes.ProcessRecord],
        spec: NodeSpec,
    ) -> None:
        """What `helm install --wait` needs beyond healthy processes: Ready nodes, default SA."""
        names = spec.names + ([node.NODE_NAME] if self.real_node else [])
        pending: dict[str, Callable[[], tuple[bool, str]]] = {
            f"node {name}": self._node_check(client, name) for name in names
        }
        pending |= {
            "service account default/default": lambda: _exists(
                client, "/api/v1/namespaces/default/serviceaccounts/default"
            ),
            "ConfigMap default/kube-root-ca.crt": lambda: _exists(
                client, "/api/v1/namespaces/default/configmaps/kube-root-ca.crt"
            ),
        }
        started = time.monotonic()

        def all_there() -> bool:
            for what, check in list(pending.items()):
                if check()[0]:
                    del pending[what]
                    self.say(f"  {what:<24} ready in {time.monotonic() - started:5.1f}s")
            if not pending:
                return True
            for name, rec in recs.items():
                if not processes.is_running(rec.pid, rec.start_time):
                    raise ClusterError(f"{name} exited; its log is {rec.log}:\n{processes.tail(rec.log)}")
            return False

        try:
            polling.wait_until(
                "the cluster's bootstrap objects",
                all_there,
                BOOTSTRAP_TIMEOUT * scale,
                every=0.2,
                progress=lambda _: self.say(f"  ... waiting for {', '.join(pending)}"),
                progress_every=PROGRESS_EVERY,
            )
        except polling.WaitTimeout:
            raise ClusterError(
                f"timed out waiting for {', '.join(pending)}; see the logs in {self.layout.logs} "
                "(kwok.log for the node, kube-controller-manager.log for service accounts)"
            ) from None


def _exists(client: api.Client, path: str) -> tuple[bool, str]:
    try:
        return client.exists(path), path
    except (api.APIError, OSError) as err:
        return False, str(err)
