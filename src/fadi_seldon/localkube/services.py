"""A Service ready to be called: the one wait before anything talks to a ClusterIP.

`Available` on a SeldonDeployment, or a Ready pod, does not mean its Service answers: the
EndpointSlice is written after the pod is Ready, and kube-proxy programs the node's rules after
that. A connection made in between is refused (no endpoint) or, before kube-proxy has the
Service at all, goes wherever the route table sends the ClusterIP. `wait_ready` waits for the
three steps in order: a ClusterIP, ready endpoints, and (on this host's real node) kube-proxy's
rules that translate the ClusterIP and port to each ready endpoint.

The rules are read with `iptables-save -t nat` (kube-proxy's iptables mode): a `KUBE-SERVICES`
rule for `-d IP/32 --dport PORT` jumping to a `KUBE-SVC-*` chain whose `KUBE-SEP-*` chains DNAT to
the endpoints. Against another cluster (no local kube-proxy) the wait stops at ready endpoints.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field

from fadi_seldon.runtime import commands, polling


class ServiceError(RuntimeError):
    """The Service does not exist, has no ClusterIP, or never became callable in time."""


@dataclass
class ServiceState:
    """What is known of a Service's readiness; `url` once every step is done."""

    namespace: str
    name: str
    ip: str = ""
    port: int = 0
    endpoints: list[str] = field(default_factory=list)  # ready "ip:port"
    programmed: bool | None = None  # None: no local kube-proxy to check
    waiting_for: str = "the Service"

    @property
    def url(self) -> str:
        return f"http://{self.ip}:{self.port}"

    def to_json(self) -> dict:
        return {"namespace": self.namespace, "name": self.name, "url": self.url, "cluster_ip": self.ip,
                "port": self.port, "endpoints": self.endpoints, "programmed": self.programmed}  # fmt: skip


def _port_of(service: dict, port: str | None) -> dict | None:
    ports = (service.get("spec") or {}).get("ports") or []
    if port is None:
        return ports[0] if ports else None
    return next((p for p in ports if port in (p.get("name"), str(p.get("port")))), None)


def ready_endpoints(slices: dict | None, target_port: dict) -> list[str]:
    """`ip:port` of every ready endpoint of the slices, for the Service port `target_port`."""
    found = []
    for item in (slices or {}).get("items") or []:
        numbers = [
            p.get("port") for p in item.get("ports") or [] if p.get("name", "") == target_port.get("name", "")
        ]
        for endpoint in item.get("endpoints") or []:
            if (endpoint.get("conditions") or {}).get("ready") is False:
                continue
            found += [
                f"{address}:{number}" for address in endpoint.get("addresses") or [] for number in numbers
            ]
    return sorted(found)


def nat_rules() -> str | None:
    """This host's nat table (None when iptables-save is missing or refused: not root)."""
    exe = shutil.which("iptables-save") or shutil.which("iptables-save", path="/usr/sbin:/sbin")
    if not exe:
        return None
    proc = commands.run([exe, "-t", "nat"], timeout=30)
    return proc.stdout if proc.ok else None


def programmed(rules: str, ip: str, port: int, endpoints: list[str]) -> bool:
    """kube-proxy translates `ip:port` to every one of `endpoints` in `rules` (iptables-save -t nat)."""
    service_chain = None
    for line in rules.splitlines():
        if (
            line.startswith("-A KUBE-SERVICES ")
            and f"-d {ip}/32" in line
            and f"--dport {port} " in line + " "
        ):
            match = re.search(r"-j (KUBE-SVC-\S+)", line)
            service_chain = match.group(1) if match else None
    if not service_chain:
        return False
    sep_chains = set(re.findall(rf"^-A {service_chain} .*-j (KUBE-SEP-\S+)", rules, re.M))
    targets = set()
    for chain in sep_chains:
        targets.update(re.findall(rf"^-A {chain} .*--to-destination (\S+)", rules, re.M))
    return bool(endpoints) and set(endpoints) <= targets


def check(kubectl, namespace: str, name: str, port: str | None, local_proxy: bool) -> ServiceState:
    """One look at the Service, its endpoints and (with a local kube-proxy) the node's rules."""
    state = ServiceState(namespace, name)
    service = kubectl.get("service", name, "-n", namespace)
    if service is None:
        return state
    ip = (service.get("spec") or {}).get("clusterIP") or ""
    if not ip or ip == "None":
        raise ServiceError(f"service {namespace}/{name} has no ClusterIP (headless or ExternalName)")
    chosen = _port_of(service, port)
    if chosen is None:
        raise ServiceError(f"service {namespace}/{name} has no port {port!r}")
    state.ip, state.port = ip, int(chosen["port"])
    slices = kubectl.get("endpointslices", "-n", namespace, "-l", f"kubernetes.io/service-name={name}")
    state.endpoints = ready_endpoints(slices, chosen)
    state.waiting_for = "ready endpoints"
    if not state.endpoints:
        return state
    if local_proxy:
        state.waiting_for = "kube-proxy's rules on the node"
        rules = nat_rules()
        state.programmed = rules is not None and programmed(rules, state.ip, state.port, state.endpoints)
    return state


def wait_ready(
    kubectl,
    namespace: str,
    name: str,
    *,
    port: str | None = None,
    timeout: float = 60.0,
    local_proxy: bool = True,
) -> ServiceState:
    """The Service once its ClusterIP answers on this host: ready endpoints, rules programmed."""
    last: list[ServiceState] = []

    def done() -> ServiceState | None:
        state = check(kubectl, namespace, name, port, local_proxy)
        last[:] = [state]
        ready = bool(state.endpoints) and state.programmed is not False
        return state if ready else None

    try:
        return polling.wait_until(f"service {namespace}/{name}", done, timeout, every=0.2)
    except polling.WaitTimeout:
        what = last[0].waiting_for if last else "the Service"
        raise ServiceError(
            f"service {namespace}/{name} is not callable after {timeout:.0f}s: still waiting for {what} "
            f"(kubectl get endpointslices -n {namespace} -l kubernetes.io/service-name={name})"
        ) from None
