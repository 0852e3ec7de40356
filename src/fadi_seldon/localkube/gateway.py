"""A Gateway API gateway in the local cluster (Traefik v3, its `kubernetesgateway` provider): one URL
from this host for every model an HTTPRoute or a GRPCRoute attaches to the Gateway `fadi-gateway/fadi`.

Why the Gateway API and not one ingress's own CRDs: routes written against it work with any conformant
implementation, and FADI's Traefik implements it from v3 on. The CRDs are the standard channel of
the `sigs.k8s.io/gateway-api` module at the version Traefik's go.mod requires (GATEWAY_API_VERSION),
read from the Go module cache at run time and never copied into this repository. HTTPRoute and
GRPCRoute are both standard (GRPCRoute since v1.1): no experimental channel, no experimental flag.

The pieces, all named here so the route controller and the tests share one spelling:
- Namespace `fadi-gateway` (Pod Security `restricted` enforced), ServiceAccount `traefik`, a
  ClusterRole with only what the provider's informers and status writers use (docs/gateway.md);
- Deployment `traefik`: entrypoint `web` on :8000 (HTTP/1.1 and h2c, so gRPC shares it), `/ping` on
  the `traefik` entrypoint :8080 for the probes, no update check and no usage report (nothing leaves
  the machine);
- Service `traefik` (ClusterIP, port 8000 to `web`, the listener's port): this host is the node, so its ClusterIP answers here;
- GatewayClass `traefik` (controller `traefik.io/gateway-controller`) and Gateway `fadi` with one HTTP
  listener on port 8000, which is how Traefik finds the entrypoint (by port), open to routes of
  every namespace.

The Gateway's status address is the Service's ClusterIP, given as `statusAddress.ip`: the provider's
`statusAddress.service` copies a Service's load-balancer ingress only, which a ClusterIP Service never
has, so the Service is applied first and its IP passed to the Deployment.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import yaml

from fadi_seldon.runtime import polling, versions

NAMESPACE = "fadi-gateway"
NAME = "traefik"  # ServiceAccount, ClusterRole(Binding) prefix, Deployment, Service
GATEWAY = "fadi"
GATEWAY_CLASS = "traefik"
CONTROLLER = "traefik.io/gateway-controller"
ENTRYPOINT = "web"
PORT = 8000  # the entrypoint's and the listener's port: Traefik maps a listener to the entrypoint by port
LISTENER = "http"
# the Service exposes the listener's own port, so the Gateway's status address with its listener port
# (what the route controller writes on each SeldonDeployment) is a URL that answers from this host
SERVICE_PORT = PORT
PING_PORT = 8080
GATEWAY_API_MODULE = "sigs.k8s.io/gateway-api"
GROUP = "gateway.networking.k8s.io"
CRD_FOLDER = "config/crd/standard"
# Traefik's own CRDs (traefik.io), in its module: its CRD provider serves the TraefikServices that
# mirror shadow predictors (Traefik's Gateway provider has no RequestMirror filter)
TRAEFIK_CRD_FILE = "docs/content/reference/dynamic-configuration/kubernetes-crd-definition-v1.yml"
TRAEFIK_GROUP = "traefik.io"
LABELS = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "fadi-seldon"}

# what Traefik 3.6's kubernetesgateway provider reads (informers: list and watch, nothing else) and
# writes (status updates); TCPRoute and TLSRoute only with the experimental channel, pods only for
# OpenTelemetry attributes: neither is granted
_READ = {
    "": ["namespaces", "services", "secrets", "configmaps"],
    "discovery.k8s.io": ["endpointslices"],
    TRAEFIK_GROUP: [
        "ingressroutes",
        "ingressroutetcps",
        "ingressrouteudps",
        "middlewares",
        "middlewaretcps",
        "serverstransports",
        "serverstransporttcps",
        "tlsoptions",
        "tlsstores",
        "traefikservices",
    ],  # fmt: skip
    GROUP: [
        "gatewayclasses",
        "gateways",
        "httproutes",
        "grpcroutes",
        "referencegrants",
        "backendtlspolicies",
    ],
}
_STATUS = ["gatewayclasses", "gateways", "httproutes", "grpcroutes", "backendtlspolicies"]


class GatewayError(RuntimeError):
    """The gateway could not be set up or did not become Programmed; the message says where to look."""


def crd_files(go: str = "go") -> list[Path]:
    """The standard channel's CRD files in the Go module cache (downloaded there the first time)."""
    from fadi_seldon.tools import ToolError
    from fadi_seldon.tools.sources import module_dir

    try:
        folder = module_dir(GATEWAY_API_MODULE, versions.get("GATEWAY_API_VERSION"), go) / CRD_FOLDER
    except ToolError as err:
        raise GatewayError(f"the Gateway API CRDs: {err}") from None
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise GatewayError(f"no CRD files in {folder}: the module cache is incomplete (go clean -modcache)")
    return files


def traefik_crd_files(go: str = "go") -> list[Path]:
    """Traefik's CRD definitions, from its module at TRAEFIK_VERSION in the Go module cache."""
    from fadi_seldon.tools import ToolError
    from fadi_seldon.tools.catalog import TRAEFIK_MODULE
    from fadi_seldon.tools.sources import module_dir

    try:
        path = module_dir(TRAEFIK_MODULE, versions.get("TRAEFIK_VERSION"), go) / TRAEFIK_CRD_FILE
    except ToolError as err:
        raise GatewayError(f"Traefik's CRDs: {err}") from None
    if not path.is_file():
        raise GatewayError(f"no {TRAEFIK_CRD_FILE} in Traefik's module: the module cache is incomplete")
    return [path]


def crds(files: list[Path]) -> list[dict]:
    """The CRD objects of the files, as the cluster takes them."""
    docs = []
    for path in files:
        docs += [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]
    return docs


def cluster_role() -> dict:
    rules = [
        {"apiGroups": [group], "resources": resources, "verbs": ["list", "watch"]}
        for group, resources in _READ.items()
    ]
    rules.append({"apiGroups": [GROUP], "resources": [f"{r}/status" for r in _STATUS], "verbs": ["update"]})
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": f"fadi-seldon:{NAME}", "labels": LABELS}, "rules": rules}  # fmt: skip


def access_manifests() -> list[dict]:
    """The namespace (restricted Pod Security), the ServiceAccount and its cluster-wide read access."""
    enforce = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "warn")}
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": f"fadi-seldon:{NAME}", "labels": LABELS},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": f"fadi-seldon:{NAME}",
        },
        "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}],
    }
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE, "labels": {**LABELS, **enforce}}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": LABELS}},
        cluster_role(),
        binding,
    ]  # fmt: skip


def service() -> dict:
    port = {"name": ENTRYPOINT, "port": SERVICE_PORT, "targetPort": ENTRYPOINT, "protocol": "TCP"}
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": LABELS},
            "spec": {"type": "ClusterIP", "selector": LABELS, "ports": [port]}}  # fmt: skip


def traefik_args(status_ip: str | None) -> list[str]:
    """Traefik's static configuration as flags: the entrypoints, ping, the Gateway provider."""
    args = [
        f"--entryPoints.{ENTRYPOINT}.address=:{PORT}",
        f"--entryPoints.traefik.address=:{PING_PORT}",
        "--ping=true",
        "--providers.kubernetesgateway=true",
        # TraefikServices (shadow mirroring), without the cluster-scope lookups (nodes) it can do without
        "--providers.kubernetescrd=true",
        "--providers.kubernetescrd.disableClusterScopeResources=true",
        "--global.checkNewVersion=false",
        "--global.sendAnonymousUsage=false",
        "--log.level=INFO",
    ]
    if status_ip:
        args.append(f"--providers.kubernetesgateway.statusAddress.ip={status_ip}")
    return args


def container(image: str, status_ip: str | None) -> dict:
    probe = {"httpGet": {"path": "/ping", "port": "ping"}, "periodSeconds": 2, "failureThreshold": 3}
    return {
        "name": NAME,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "args": traefik_args(status_ip),
        "ports": [
            {"name": ENTRYPOINT, "containerPort": PORT, "protocol": "TCP"},
            {"name": "ping", "containerPort": PING_PORT, "protocol": "TCP"},
        ],
        "readinessProbe": probe,
        "livenessProbe": {**probe, "periodSeconds": 10},
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }


def deployment(image: str, status_ip: str | None = None) -> dict:
    pod = {
        "serviceAccountName": NAME,
        "securityContext": {"runAsNonRoot": True, "runAsUser": 65532, "runAsGroup": 65532,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container(image, status_ip)],
        "volumes": [{"name": "tmp", "emptyDir": {}}],
    }  # fmt: skip
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": LABELS},
        "spec": {"replicas": 1, "selector": {"matchLabels": LABELS},
                 "template": {"metadata": {"labels": LABELS}, "spec": pod}},
    }  # fmt: skip


def gateway_manifests() -> list[dict]:
    """The GatewayClass Traefik claims and the Gateway `fadi` whose listener is Traefik's `web`."""
    listener = {
        "name": LISTENER,
        "protocol": "HTTP",
        "port": PORT,
        "allowedRoutes": {"namespaces": {"from": "All"}},
    }
    return [
        {"apiVersion": f"{GROUP}/v1", "kind": "GatewayClass", "metadata": {"name": GATEWAY_CLASS, "labels": LABELS},
         "spec": {"controllerName": CONTROLLER}},
        {"apiVersion": f"{GROUP}/v1", "kind": "Gateway",
         "metadata": {"name": GATEWAY, "namespace": NAMESPACE, "labels": LABELS},
         "spec": {"gatewayClassName": GATEWAY_CLASS, "listeners": [listener]}},
    ]  # fmt: skip


def manifests(image: str, status_ip: str | None = None) -> list[dict]:
    """Everything but the CRDs, in apply order."""
    return [*access_manifests(), service(), deployment(image, status_ip), *gateway_manifests()]


def condition(obj: dict | None, kind: str) -> dict | None:
    """The object's status condition `kind` when it is about the object's current generation."""
    if not obj:
        return None
    generation = (obj.get("metadata") or {}).get("generation")
    for cond in (obj.get("status") or {}).get("conditions") or []:
        current = cond.get("observedGeneration") in (None, generation)
        if cond.get("type") == kind and current:
            return cond
    return None


def wait_established(kubectl, names: list[str], timeout: float = 60.0) -> None:
    """Until every CRD is Established (its API served): a Gateway applied before would be refused."""
    pending = list(names)

    def done() -> bool:
        pending[:] = [
            n
            for n in pending
            if (condition(kubectl.get("crd", n), "Established") or {}).get("status") != "True"
        ]
        return not pending

    try:
        polling.wait_until("the Gateway API CRDs", done, timeout, every=0.5)
    except polling.WaitTimeout:
        raise GatewayError(
            f"CRDs not Established after {timeout:.0f}s: {', '.join(pending)} (kubectl get crd)"
        ) from None


def wait_programmed(kubectl, timeout: float = 120.0) -> dict:
    """The Gateway once Traefik has Programmed it (accepted, listener bound to the entrypoint)."""
    last: list[dict] = []

    def done() -> dict | None:
        obj = kubectl.get(f"gateways.{GROUP}", GATEWAY, "-n", NAMESPACE)
        last[:] = [condition(obj, "Programmed") or {}]
        return obj if last[0].get("status") == "True" else None

    try:
        return polling.wait_until(f"gateway {NAMESPACE}/{GATEWAY}", done, timeout, every=0.5)
    except polling.WaitTimeout:
        said = (
            last[0].get("message") or last[0].get("reason") or "no Programmed condition yet" if last else "?"
        )
        raise GatewayError(
            f"gateway {NAMESPACE}/{GATEWAY} is not Programmed after {timeout:.0f}s ({said}); see "
            f"`kubectl -n {NAMESPACE} logs deploy/{NAME}` and `kubectl -n {NAMESPACE} describe gateway {GATEWAY}`"
        ) from None


def cluster_ip(kubectl) -> str:
    """The Service's ClusterIP: the Gateway's status address and, from this host, its URL's host."""
    svc = kubectl.get("service", NAME, "-n", NAMESPACE)
    ip = ((svc or {}).get("spec") or {}).get("clusterIP")
    if not ip:
        raise GatewayError(f"no Service {NAMESPACE}/{NAME}: run `fadi-seldon cluster gateway`")
    return ip


def base_url(kubectl) -> str:
    """The gateway's URL from this host (the host is the node): `http://<ClusterIP>:8000`."""
    return f"http://{cluster_ip(kubectl)}:{SERVICE_PORT}"


def deploy(
    kubectl, image: str, say: Callable[[str], None], timeout: float = 120.0, *, local_proxy: bool = True
) -> dict:
    """The CRDs (until Established), the access objects and the Service, then Traefik with the
    Service's ClusterIP as status address, the GatewayClass and the Gateway (until Programmed), then
    the Service callable from this host (`local_proxy`: kube-proxy's rules on this host's node)."""
    from fadi_seldon.localkube import services

    objects = crds(crd_files() + traefik_crd_files())
    kubectl.apply(objects)
    wait_established(kubectl, [o["metadata"]["name"] for o in objects], timeout)
    say(f"  Gateway API {versions.get('GATEWAY_API_VERSION')} and Traefik CRDs established ({len(objects)})")
    kubectl.apply([*access_manifests(), service()])
    ip = cluster_ip(kubectl)
    kubectl.apply([deployment(image, ip), *gateway_manifests()])
    gateway = wait_programmed(kubectl, timeout)
    say(f"  gateway {NAMESPACE}/{GATEWAY} programmed")
    try:
        services.wait_ready(kubectl, NAMESPACE, NAME, timeout=timeout, local_proxy=local_proxy)
    except services.ServiceError as err:
        raise GatewayError(str(err)) from None
    addresses = [a.get("value") for a in (gateway.get("status") or {}).get("addresses") or []]
    return {"url": f"http://{ip}:{SERVICE_PORT}", "namespace": NAMESPACE, "gateway": GATEWAY, "gateway_class": GATEWAY_CLASS,
            "listener": LISTENER, "port": PORT, "service": NAME, "image": image, "addresses": addresses,
            "gateway_api_version": versions.get("GATEWAY_API_VERSION")}  # fmt: skip


def up(kubectl, layout, say: Callable[[str], None], timeout: float = 120.0) -> dict:
    """Traefik's image built (cached) and loaded into the real node, then `deploy`."""
    from fadi_seldon.images import Progress, traefik
    from fadi_seldon.localkube import node_images

    built = traefik.build(Progress("gateway"))
    node_images.import_archive(built.archive, layout)
    say(f"  loaded {built.ref} into the node")
    return deploy(kubectl, built.ref, say, timeout)
