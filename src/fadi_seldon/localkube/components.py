"""The control plane's components: one object each, owning its program, flags, probe, timeout and log.

`ControlPlane` (controlplane.py) knows no component by heart. It starts `COMPONENTS` stage by stage
(a stage starts once the previous one is healthy), writes a kubeconfig for each component that talks
to the API server (`identity`, a token of pki.IDENTITIES) and the files a component asks for
(`files`), probes each one for `status`, and stops them in reverse order. Adding a component (a
kubelet, next) means adding one object to `COMPONENTS`, plus its token identity in pki.IDENTITIES
when it talks to the API server.

Components are looked up by name (`get`, `API_SERVER`), never by position.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import yaml

from fadi_seldon.localkube import api, nodes, pki, stages
from fadi_seldon.localkube.layout import Layout

SERVICE_CIDR = "10.96.0.0/16"
POD_CIDR = "10.244.0.1/16"
# the cluster's addresses that no interface of the host owns: Services, and the simulated nodes' pods
# (kwok hands out POD_CIDR; a real node's pods are on its bridge, node.NODE_CIDR). `cluster up` routes
# them onto a local device so that no packet for them follows the default route off the machine.
CONTAINED_RANGES = (SERVICE_CIDR, "10.244.0.0/16")
SA_ISSUER = "https://kubernetes.default.svc.cluster.local"
API_SERVER = "kube-apiserver"


@dataclass(frozen=True)
class Context:
    """What a component's flags and probe are made from: the state folder, the keys, the ports."""

    layout: Layout
    pki: pki.PKI
    ports: Mapping[str, int]
    # where the API server listens and what it advertises: loopback, or with a real node the node
    # bridge's address (pods reach the API through the `kubernetes` Service, which cannot be loopback)
    api_host: str = "127.0.0.1"
    # pods may reach beyond this machine (`cluster up --pod-egress`); off by default
    pod_egress: bool = False

    @property
    def real_node(self) -> bool:
        return self.api_host != "127.0.0.1"

    def url(self, component: str, scheme: str = "http") -> str:
        host = self.api_host if component == API_SERVER else "127.0.0.1"
        return f"{scheme}://{host}:{self.ports[component]}"

    def kubeconfig(self, component: str) -> Path:
        return self.layout.component_kubeconfig(component)

    @cached_property
    def tokens(self) -> dict[str, str]:
        return pki.read_tokens(self.pki.tokens_csv)


@dataclass(frozen=True)
class Component:
    """One control-plane process. Subclasses give its flags (`args`) and, when not `/healthz` over
    plain HTTP, its health probe."""

    name: str
    stage: int  # start order: every component of a stage starts once the previous stage is healthy
    start_timeout: float  # seconds to become healthy; generous because CI machines have 2 busy cores
    identity: str | None = None  # its API token (pki.IDENTITIES): it gets a kubeconfig and needs the API
    extra_ports: tuple[str, ...] = ()  # ports beside its own (state.json "ports", by these names)

    @property
    def program(self) -> str:
        """The executable's name (in the tools folder or on PATH); also how leftovers are recognised."""
        return self.name

    @property
    def restarts_alone(self) -> bool:
        """Whether a restart stops this process only, not the processes it started (systemd's
        `KillMode=process`): true where those outlive it by design, as containerd's shims do."""
        return False

    def log(self, layout: Layout) -> Path:
        return layout.log(self.name)

    def args(self, ctx: Context) -> list[str]:
        raise NotImplementedError(self.name)

    def files(self, ctx: Context) -> dict[Path, str]:
        """Configuration files to write before the start: path -> content."""
        return {}

    def probe(self, ctx: Context, port: int) -> tuple[bool, str]:
        """(healthy, short detail) of the process listening on `port`."""
        return api.probe(f"http://127.0.0.1:{port}/healthz")

    def env(self) -> dict[str, str]:
        return component_env()

    def bootstrap_objects(self, ctx: Context) -> tuple[tuple[str, dict], ...]:
        """API objects (collection path, body) to create once the API server is ready, before it starts."""
        return ()

    def after_ready(self, ctx: Context, say) -> None:
        """Work that needs this component healthy and must be done before the next stage starts."""


class Etcd(Component):
    def args(self, ctx: Context) -> list[str]:
        client_url = ctx.url(self.name)
        peer_url = ctx.url("etcd-peer")
        return [
            "--name=default",
            f"--data-dir={ctx.layout.etcd_data}",
            f"--listen-client-urls={client_url}",
            f"--advertise-client-urls={client_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=default={peer_url}",
            "--unsafe-no-fsync",  # test cluster: speed over durability
            "--log-level=warn",
        ]

    def probe(self, ctx: Context, port: int) -> tuple[bool, str]:
        ok, body = api.probe(f"http://127.0.0.1:{port}/health")
        return ok and '"health":"true"' in body.replace(" ", ""), body


class KubeAPIServer(Component):
    def args(self, ctx: Context) -> list[str]:
        return self.base_args(ctx) + (self.node_args(ctx) if ctx.real_node else [])

    @staticmethod
    def node_args(ctx: Context) -> list[str]:
        """With a real node: the API server's client certificate for kubelets (their webhook
        authorizer lets system:masters in); base_args adds the Node authorizer and NodeRestriction."""
        cert, key = pki.issue(
            ctx.pki, "apiserver-kubelet-client", "/O=system:masters/CN=kube-apiserver-kubelet-client",
            usage="clientAuth",
        )  # fmt: skip
        return [
            f"--kubelet-client-certificate={cert}",
            f"--kubelet-client-key={key}",
            f"--kubelet-certificate-authority={ctx.pki.ca_cert}",
            "--kubelet-preferred-address-types=InternalIP",
        ]

    def base_args(self, ctx: Context) -> list[str]:
        p = ctx.pki
        admission = (
            "NamespaceLifecycle,ServiceAccount,PodSecurity,MutatingAdmissionWebhook,"
            "ValidatingAdmissionWebhook,ValidatingAdmissionPolicy,ResourceQuota"
        )
        if ctx.real_node:
            # PodNodeSelector and PodTolerationRestriction act only on annotated namespaces: they let
            # a namespace send its pods to the simulated nodes (nodes.simulated_namespace)
            admission += ",NodeRestriction,PodNodeSelector,PodTolerationRestriction"
        return [
            f"--etcd-servers={ctx.url('etcd')}",
            f"--bind-address={ctx.api_host}",
            f"--advertise-address={ctx.api_host}",
            f"--secure-port={ctx.ports[self.name]}",
            f"--cert-dir={ctx.layout.pki}",
            f"--tls-cert-file={p.server_cert}",
            f"--tls-private-key-file={p.server_key}",
            f"--client-ca-file={p.ca_cert}",
            f"--token-auth-file={p.tokens_csv}",
            f"--authorization-mode={'Node,RBAC' if ctx.real_node else 'RBAC'}",
            "--anonymous-auth=true",  # /livez, /readyz for probes; RBAC still denies everything else
            f"--service-account-issuer={SA_ISSUER}",
            f"--service-account-key-file={p.sa_pub}",
            f"--service-account-signing-key-file={p.sa_key}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            f"--enable-admission-plugins={admission}",
            "--allow-privileged=true",
            "--enable-priority-and-fairness=false",
            "--profiling=false",
            "--event-ttl=15m",
        ]

    def probe(self, ctx: Context, port: int) -> tuple[bool, str]:
        return api.probe(
            f"https://{ctx.api_host}:{port}/readyz", token=ctx.tokens.get("admin"), ca_cert=ctx.pki.ca_cert
        )


class KubeControllerManager(Component):
    def args(self, ctx: Context) -> list[str]:
        p = ctx.pki
        return [
            f"--kubeconfig={ctx.kubeconfig(self.name)}",
            "--bind-address=127.0.0.1",
            f"--secure-port={ctx.ports[self.name]}",
            f"--cert-dir={ctx.layout.root / self.name}",
            "--leader-elect=false",
            "--use-service-account-credentials=true",
            f"--service-account-private-key-file={p.sa_key}",
            f"--root-ca-file={p.ca_cert}",
            f"--cluster-signing-cert-file={p.ca_cert}",
            f"--cluster-signing-key-file={p.ca_key}",
            "--profiling=false",
        ]

    def probe(self, ctx: Context, port: int) -> tuple[bool, str]:
        return api.probe(f"https://127.0.0.1:{port}/healthz")  # self-signed serving certificate


class KubeScheduler(Component):
    def config(self, ctx: Context) -> Path:
        return ctx.layout.config / f"{self.name}.yaml"

    def files(self, ctx: Context) -> dict[Path, str]:
        config = {
            "apiVersion": "kubescheduler.config.k8s.io/v1",
            "kind": "KubeSchedulerConfiguration",
            "clientConnection": {"kubeconfig": str(ctx.kubeconfig(self.name))},
            "leaderElection": {"leaderElect": False},
        }
        return {self.config(ctx): yaml.safe_dump(config)}

    def args(self, ctx: Context) -> list[str]:
        return [
            f"--config={self.config(ctx)}",
            "--bind-address=127.0.0.1",
            f"--secure-port={ctx.ports[self.name]}",
            f"--cert-dir={ctx.layout.root / self.name}",
        ]

    def probe(self, ctx: Context, port: int) -> tuple[bool, str]:
        return api.probe(f"https://127.0.0.1:{port}/healthz")  # self-signed serving certificate


class Kwok(Component):
    """Plays the kubelet of every node: nodes and pods go through the stages of `stages.py`."""

    def config(self, ctx: Context) -> Path:
        return ctx.layout.config / f"{self.name}.yaml"

    def files(self, ctx: Context) -> dict[Path, str]:
        return {self.config(ctx): stages.render()}

    def args(self, ctx: Context) -> list[str]:
        return [
            f"--kubeconfig={ctx.kubeconfig(self.name)}",
            f"--config={self.config(ctx)}",
            # only the simulated nodes: a real node (node.py) has its own kubelet
            f"--manage-nodes-with-label-selector={nodes.LABEL}",
            "--node-ip=127.0.0.1",
            f"--cidr={POD_CIDR}",
            f"--server-address=127.0.0.1:{ctx.ports[self.name]}",
            "--node-lease-duration-seconds=40",
        ]


# In start order; the API server's clients start together once it is ready.
COMPONENTS: tuple[Component, ...] = (
    Etcd("etcd", stage=0, start_timeout=30, extra_ports=("etcd-peer",)),
    KubeAPIServer(API_SERVER, stage=1, start_timeout=120),
    KubeControllerManager("kube-controller-manager", stage=2, start_timeout=60, identity="kube-controller-manager"),
    KubeScheduler("kube-scheduler", stage=2, start_timeout=60, identity="kube-scheduler"),
    Kwok("kwok", stage=2, start_timeout=60, identity="kwok"),
)  # fmt: skip
NAMES: tuple[str, ...] = tuple(c.name for c in COMPONENTS)


def get(name: str, components: Iterable[Component] = COMPONENTS) -> Component:
    for component in components:
        if component.name == name:
            return component
    raise KeyError(f"no control-plane component {name!r}")


def stages_of(components: Iterable[Component]) -> list[list[Component]]:
    """The components grouped by stage, in stage order (order within a stage kept)."""
    by_stage: dict[int, list[Component]] = {}
    for component in components:
        by_stage.setdefault(component.stage, []).append(component)
    return [by_stage[stage] for stage in sorted(by_stage)]


def port_names(components: Iterable[Component]) -> list[str]:
    """Every port a set of components needs, by name: their own first, then the extra ones."""
    components = list(components)
    return [c.name for c in components] + [p for c in components for p in c.extra_ports]


def component_env() -> dict[str, str]:
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
