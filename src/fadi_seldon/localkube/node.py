"""The real node: containerd, kubelet, kube-proxy and cluster DNS as components of the local cluster.

They are components like the control plane's (components.py): one object each, owning its flags,
configuration files, probe and log. What a node needs beyond processes lives here too: the host's
bridge and the address the API server advertises on it (`GATEWAY`, in the serving certificate, so
pods reach the API through the `kubernetes` Service), the kubelet's certificates, the CNI network,
and `teardown`, the order in which `down` stops a node so the host ends as it was (host.py).

Why a bridge created before the API server: the API server must listen on a non-loopback address
of this machine (the `kubernetes` Service cannot point to 127.0.0.1), and the CNI bridge's gateway is
an address no other program uses, removed with the bridge at `down`.
"""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from fadi_seldon.localkube import api, node_images, pki
from fadi_seldon.localkube.components import Component, Context
from fadi_seldon.localkube.layout import Layout, containerd_socket

NODE_NAME = "fadi-node"  # the real node (kwok's are kwok-node-N)
BRIDGE = "fadi0"
NODE_CIDR = "10.88.0.0/16"
GATEWAY = "10.88.0.1"  # the bridge's address: API server, kubelet, cluster DNS
CLUSTER_DNS = GATEWAY
CLUSTER_DOMAIN = "cluster.local"
KUBELET_PORT = 10250  # fixed by Kubernetes: one real node per machine
KUBELET_HEALTHZ = 10248
PROXY_HEALTHZ = 10256
PROXY_METRICS = 10249
CNI_NETWORK = "fadi-seldon"


def folder(layout: Layout) -> Path:
    return layout.root / "node"


@dataclass(frozen=True)
class Containerd(Component):
    """The container runtime, with every path of its own under the node's folder."""

    pause_image: str = ""
    pause_archive: str = ""  # imported once containerd serves, before kubelet starts
    runc: str = "/usr/sbin/runc"
    cni_bin: str = "/usr/lib/cni"

    def config(self, ctx: Context) -> Path:
        return ctx.layout.config / "containerd.toml"

    def files(self, ctx: Context) -> dict[Path, str]:
        files = {self.config(ctx): containerd_config(ctx.layout, self.pause_image, self.runc, self.cni_bin),
                 cni_config_path(ctx.layout): json.dumps(cni_config(ctx.layout), indent=2)}  # fmt: skip
        if not ctx.pod_egress:
            files[registry_dir(ctx.layout) / "_default" / "hosts.toml"] = NO_PULLS
        return files

    def args(self, ctx: Context) -> list[str]:
        return ["--config", str(self.config(ctx))]

    @property
    def restarts_alone(self) -> bool:
        # the shims keep the pods' containers running while containerd restarts, and the new
        # containerd reconnects to them (as containerd.service's KillMode=process allows)
        return True

    def after_ready(self, ctx: Context, say) -> None:
        if self.pause_archive:
            t0 = time.monotonic()
            node_images.import_archive(Path(self.pause_archive), ctx.layout)
            say(f"  imported the pause image {self.pause_image} in {time.monotonic() - t0:.1f}s")

    def probe(self, ctx: Context, port: int) -> tuple[bool, str]:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(0.5)
            try:
                sock.connect(str(containerd_socket(ctx.layout)))
            except OSError as err:
                return False, f"socket: {err}"
        return True, "serving"


# Every registry (`_default`: no host has a folder of its own) answered by a loopback port nothing
# listens on: a pull of an image the node lacks fails at once (`connection refused`, ErrImagePull)
# instead of resolving and calling a registry off the machine. `cluster up --pod-egress` leaves the
# file out, and the node pulls as usual.
NO_PULLS_SERVER = "http://127.0.0.1:1"
NO_PULLS = f"""# written by `fadi-seldon cluster up`: this node pulls from no registry (images are loaded)
server = "{NO_PULLS_SERVER}"

[host."{NO_PULLS_SERVER}"]
  capabilities = ["pull", "resolve"]
"""


def registry_dir(layout: Layout) -> Path:
    """containerd's registry hosts folder (`config_path`), one `<host>/hosts.toml` per registry."""
    return folder(layout) / "registry"


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value)


def containerd_config(layout: Layout, pause_image: str, runc: str, cni_bin: str) -> str:
    """containerd 2.x configuration (version 3). `restrict_oom_score_adj`: hosts whose agents drop
    CAP_SYS_RESOURCE make runc fail on every sandbox without it (research/real-node.md)."""
    base = folder(layout) / "containerd"
    tables: dict[str, dict[str, object]] = {
        "": {"version": 3, "root": str(base / "root"), "state": str(base / "state"), "imports": []},
        "grpc": {"address": str(containerd_socket(layout))},
        "ttrpc": {"address": str(containerd_socket(layout)) + ".ttrpc"},
        "plugins.'io.containerd.cri.v1.runtime'": {
            "enable_selinux": False,
            "restrict_oom_score_adj": True,
            "netns_mounts_under_state_dir": True,
        },
        "plugins.'io.containerd.cri.v1.runtime'.cni": {
            "bin_dirs": [cni_bin],
            "conf_dir": str(cni_config_path(layout).parent),
        },
        "plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc": {"runtime_type": "io.containerd.runc.v2"},
        "plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options": {
            "BinaryName": runc,
            "Root": str(base / "runc"),
            "SystemdCgroup": False,
        },
        "plugins.'io.containerd.cri.v1.images'.pinned_images": {"sandbox": pause_image},
        "plugins.'io.containerd.cri.v1.images'.registry": {"config_path": str(registry_dir(layout))},
        "plugins.'io.containerd.nri.v1.nri'": {"disable": True},
        "plugins.'io.containerd.internal.v1.opt'": {"path": str(base / "opt")},
    }  # fmt: skip
    lines = ["# written by `fadi-seldon cluster up`: the real node's container runtime"]
    for table, keys in tables.items():
        if table:
            lines.append(f"\n[{table}]")
        lines += [f"{key} = {_toml(value)}" for key, value in keys.items()]
    return "\n".join(lines) + "\n"


def cni_config_path(layout: Layout) -> Path:
    return folder(layout) / "cni" / f"10-{CNI_NETWORK}.conflist"


def cni_config(layout: Layout) -> dict:
    """One bridge network: pods on `BRIDGE`, addresses from `NODE_CIDR`, masqueraded outwards."""
    return {
        "cniVersion": "1.0.0",
        "name": CNI_NETWORK,
        "plugins": [
            {
                "type": "bridge",
                "bridge": BRIDGE,
                "isGateway": True,
                "ipMasq": True,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": NODE_CIDR, "gateway": GATEWAY}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": str(folder(layout) / "cni" / "ipam"),
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }


class Kubelet(Component):
    """The node agent, with its own client certificate and webhook authentication/authorization."""

    def config(self, ctx: Context) -> Path:
        return ctx.layout.config / "kubelet.yaml"

    def certificates(self, ctx: Context) -> dict[str, tuple[Path, Path]]:
        return {
            "client": pki.issue(ctx.pki, "kubelet-client", f"/O=system:nodes/CN=system:node:{NODE_NAME}",
                                usage="clientAuth"),
            "serving": pki.issue(ctx.pki, "kubelet-serving", f"/CN={NODE_NAME}", usage="serverAuth",
                                 sans=(f"DNS:{NODE_NAME}", f"IP:{GATEWAY}", "IP:127.0.0.1")),
        }  # fmt: skip

    def files(self, ctx: Context) -> dict[Path, str]:
        certs = self.certificates(ctx)
        return {
            self.config(ctx): yaml.safe_dump(kubelet_config(ctx, certs["serving"]), sort_keys=False),
            ctx.kubeconfig(self.name): cert_kubeconfig(ctx, *certs["client"]),
        }

    def args(self, ctx: Context) -> list[str]:
        root = folder(ctx.layout)
        return [
            f"--config={self.config(ctx)}",
            f"--kubeconfig={ctx.kubeconfig(self.name)}",
            f"--root-dir={root / 'kubelet'}",
            f"--cert-dir={root / 'kubelet-pki'}",
            f"--hostname-override={NODE_NAME}",
            f"--node-ip={GATEWAY}",
            "--node-labels=fadi-seldon.io/node=real",
        ]

    def probe(self, ctx: Context, port: int) -> tuple[bool, str]:
        return api.probe(f"http://127.0.0.1:{KUBELET_HEALTHZ}/healthz")


def kubelet_config(ctx: Context, serving: tuple[Path, Path]) -> dict:
    """KubeletConfiguration for a shared machine: no eviction, no image garbage collection, no
    kernel defaults enforced, and nothing but webhook-authorized clients."""
    root = folder(ctx.layout)
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": GATEWAY,
        "port": KUBELET_PORT,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": KUBELET_HEALTHZ,
        "tlsCertFile": str(serving[0]),
        "tlsPrivateKeyFile": str(serving[1]),
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(ctx.pki.ca_cert)},
        },
        "authorization": {"mode": "Webhook"},
        "cgroupDriver": "cgroupfs",
        "failCgroupV1": False,
        "failSwapOn": False,
        "containerRuntimeEndpoint": f"unix://{containerd_socket(ctx.layout)}",
        "podLogsDir": str(root / "pod-logs"),
        "volumePluginDir": str(root / "volume-plugins"),
        "clusterDNS": [CLUSTER_DNS],
        "clusterDomain": CLUSTER_DOMAIN,
        "resolvConf": "/etc/resolv.conf",
        "evictionHard": {"memory.available": "1Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "protectKernelDefaults": False,
        "serializeImagePulls": False,
        "maxPods": 110,
        "registerNode": True,
    }


def cert_kubeconfig(ctx: Context, cert: Path, key: Path) -> str:
    server = ctx.url("kube-apiserver", "https")
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "local", "cluster": {"server": server, "certificate-authority": str(ctx.pki.ca_cert)}}],
        "users": [{"name": "kubelet", "user": {"client-certificate": str(cert), "client-key": str(key)}}],
        "contexts": [{"name": "local", "context": {"cluster": "local", "user": "kubelet"}}],
        "current-context": "local",
    }  # fmt: skip
    return yaml.safe_dump(doc, sort_keys=False)


class KubeProxy(Component):
    """Services on the node: iptables rules, leaving the host's conntrack settings alone."""

    def config(self, ctx: Context) -> Path:
        return ctx.layout.config / "kube-proxy.yaml"

    def files(self, ctx: Context) -> dict[Path, str]:
        config = {
            "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
            "kind": "KubeProxyConfiguration",
            "clientConnection": {"kubeconfig": str(ctx.kubeconfig(self.name))},
            "mode": "iptables",
            "clusterCIDR": NODE_CIDR,
            "hostnameOverride": NODE_NAME,
            "bindAddress": GATEWAY,
            "healthzBindAddress": f"127.0.0.1:{PROXY_HEALTHZ}",
            "metricsBindAddress": f"127.0.0.1:{PROXY_METRICS}",
            "nodePortAddresses": [f"{GATEWAY}/32"],
            "iptables": {"localhostNodePorts": False},
            "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
        }  # fmt: skip
        return {self.config(ctx): yaml.safe_dump(config, sort_keys=False)}

    def args(self, ctx: Context) -> list[str]:
        return [f"--config={self.config(ctx)}"]

    def probe(self, ctx: Context, port: int) -> tuple[bool, str]:
        return api.probe(f"http://127.0.0.1:{PROXY_HEALTHZ}/healthz")


class CoreDNS(Component):
    """Cluster DNS as a host process on the bridge's address (what kubelet gives pods as nameserver)."""

    @property
    def program(self) -> str:
        return "coredns"

    def config(self, ctx: Context) -> Path:
        return ctx.layout.config / "Corefile"

    def files(self, ctx: Context) -> dict[Path, str]:
        # names beyond the cluster are resolved only when pods may reach beyond the machine: without
        # egress a query forwarded to the host's resolvers would be traffic off the machine for nothing
        forward = "    forward . /etc/resolv.conf\n" if ctx.pod_egress else ""
        corefile = f"""\
# written by `fadi-seldon cluster up`: Service and pod names for the real node's pods
.:53 {{
    bind {CLUSTER_DNS}
    errors
    health 127.0.0.1:{ctx.ports[self.name]}
    kubernetes {CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{
        kubeconfig {ctx.kubeconfig(self.name)}
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }}
{forward}    cache 30
}}
"""
        return {self.config(ctx): corefile}

    def args(self, ctx: Context) -> list[str]:
        return ["-conf", str(self.config(ctx))]

    def bootstrap_objects(self, ctx: Context) -> tuple[tuple[str, dict], ...]:
        return COREDNS_RBAC

    def probe(self, ctx: Context, port: int) -> tuple[bool, str]:
        return api.probe(f"http://127.0.0.1:{port}/health")


# CoreDNS reads Services, EndpointSlices, pods and namespaces; nothing else
COREDNS_RBAC = (
    (
        "/apis/rbac.authorization.k8s.io/v1/clusterroles",
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "fadi-seldon:coredns"},
            "rules": [
                {"apiGroups": [""], "resources": ["endpoints", "services", "pods", "namespaces"],
                 "verbs": ["list", "watch"]},
                {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]},
            ],
        },
    ),
    (
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "fadi-seldon:coredns"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "fadi-seldon:coredns"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "fadi-seldon:coredns"}],
        },
    ),
)  # fmt: skip


def components(
    pause_image: str = "",
    pause_archive: str = "",
    runc: str = "/usr/sbin/runc",
    cni_bin: str = "/usr/lib/cni",
) -> tuple[Component, ...]:
    """The node's components, in the control plane's stage numbering (components.COMPONENTS)."""
    return (
        Containerd(
            "containerd",
            stage=0,
            start_timeout=30,
            pause_image=pause_image,
            pause_archive=pause_archive,
            runc=runc,
            cni_bin=cni_bin,
        ),
        CoreDNS("coredns", stage=2, start_timeout=60, identity="coredns"),
        KubeProxy("kube-proxy", stage=2, start_timeout=60, identity="kube-proxy"),
        Kubelet("kubelet", stage=2, start_timeout=90),
    )
