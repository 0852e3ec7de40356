"""No packet for the cluster's addresses leaves the machine: the ranges routed onto a local device,
pods kept on the host, and the one wait before calling a ClusterIP (kube-proxy's rules read back)."""

from __future__ import annotations

import ipaddress

import pytest

from fadi_seldon.localkube import components, host, node, node_lifecycle, services
from fadi_seldon.localkube.components import Context
from fadi_seldon.localkube.layout import Layout
from fadi_seldon.localkube.pki import PKI

NAT = """\
*nat
:KUBE-SERVICES - [0:0]
:KUBE-SVC-ABC - [0:0]
:KUBE-SEP-ONE - [0:0]
:KUBE-SEP-TWO - [0:0]
-A KUBE-SERVICES -d 10.96.142.13/32 -p tcp -m comment --comment "models/iris-default:http cluster IP" -m tcp --dport 9000 -j KUBE-SVC-ABC
-A KUBE-SERVICES -d 10.96.0.10/32 -p tcp -m tcp --dport 90001 -j KUBE-SVC-OTHER
-A KUBE-SVC-ABC -m comment --comment "models/iris-default:http -> 10.88.0.5:9000" -m statistic --mode random --probability 0.5 -j KUBE-SEP-ONE
-A KUBE-SVC-ABC -m comment --comment "models/iris-default:http -> 10.88.0.6:9000" -j KUBE-SEP-TWO
-A KUBE-SEP-ONE -p tcp -m tcp -j DNAT --to-destination 10.88.0.5:9000
-A KUBE-SEP-TWO -p tcp -m tcp -j DNAT --to-destination 10.88.0.6:9000
COMMIT
"""


def test_every_cluster_range_off_the_bridge_is_contained():
    bridge = ipaddress.ip_network(node.NODE_CIDR)
    ranges = [ipaddress.ip_network(r) for r in components.CONTAINED_RANGES]
    assert ipaddress.ip_network(components.SERVICE_CIDR) in ranges
    assert ipaddress.ip_interface(components.POD_CIDR).network in ranges  # kwok's pods
    assert not any(r.overlaps(bridge) for r in ranges)


def test_programmed_needs_the_service_rule_and_every_endpoint():
    both = ["10.88.0.5:9000", "10.88.0.6:9000"]
    assert services.programmed(NAT, "10.96.142.13", 9000, both)
    assert not services.programmed(NAT, "10.96.142.13", 9000, [*both, "10.88.0.7:9000"])  # a new endpoint
    assert not services.programmed(NAT, "10.96.142.13", 900, both)  # another port
    assert not services.programmed(NAT, "10.96.142.14", 9000, both)  # a Service kube-proxy has not seen
    assert not services.programmed(NAT, "10.96.142.13", 9000, [])


def test_ready_endpoints_skip_unready_ones_and_match_the_port_name():
    slices = {"items": [{
        "ports": [{"name": "http", "port": 9000}, {"name": "grpc", "port": 9500}],
        "endpoints": [{"addresses": ["10.88.0.5"], "conditions": {"ready": True}},
                      {"addresses": ["10.88.0.6"], "conditions": {"ready": False}}],
    }]}  # fmt: skip
    assert services.ready_endpoints(slices, {"name": "http", "port": 9000}) == ["10.88.0.5:9000"]
    assert services.ready_endpoints(slices, {"name": "grpc", "port": 9500}) == ["10.88.0.5:9500"]
    assert services.ready_endpoints(None, {"name": "http"}) == []


class FakeKubectl:
    def __init__(self, service, slices):
        self.objects = {"service": service, "endpointslices": slices}

    def get(self, kind, *args):
        return self.objects[kind]


SERVICE = {"spec": {"clusterIP": "10.96.142.13", "ports": [{"name": "http", "port": 9000}]}}
SLICES = {"items": [{"ports": [{"name": "http", "port": 9000}],
                     "endpoints": [{"addresses": ["10.88.0.5"], "conditions": {"ready": True}}]}]}  # fmt: skip


def test_wait_ready_waits_for_kube_proxy_then_gives_the_url(monkeypatch):
    answers = iter([None, NAT.replace("10.88.0.5:9000", "10.88.0.9:9000"), NAT])
    monkeypatch.setattr(services, "nat_rules", lambda: next(answers))
    state = services.wait_ready(FakeKubectl(SERVICE, SLICES), "models", "iris-default", timeout=5)
    assert state.url == "http://10.96.142.13:9000" and state.programmed
    assert next(answers, "spent") == "spent"  # it asked until the rules held the endpoint


def test_wait_ready_says_what_it_still_waits_for(monkeypatch):
    monkeypatch.setattr(services, "nat_rules", lambda: "")
    with pytest.raises(services.ServiceError, match="kube-proxy's rules"):
        services.wait_ready(FakeKubectl(SERVICE, SLICES), "models", "iris-default", timeout=0.3)
    with pytest.raises(services.ServiceError, match="ready endpoints"):
        services.wait_ready(FakeKubectl(SERVICE, {"items": []}), "models", "iris-default", timeout=0.3)
    # another cluster (no local kube-proxy): ready endpoints are the last step
    state = services.wait_ready(FakeKubectl(SERVICE, SLICES), "m", "s", timeout=1, local_proxy=False)
    assert state.programmed is None and state.endpoints == ["10.88.0.5:9000"]


def test_headless_services_are_refused():
    headless = {"spec": {"clusterIP": "None", "ports": [{"port": 80}]}}
    with pytest.raises(services.ServiceError, match="no ClusterIP"):
        services.wait_ready(FakeKubectl(headless, SLICES), "m", "s", timeout=1)


def _ctx(tmp_path, pod_egress):
    return Context(Layout(tmp_path), PKI(tmp_path / "pki"), {"coredns": 9153}, "10.88.0.1", pod_egress)


def test_cluster_dns_forwards_outside_names_only_with_pod_egress(tmp_path):
    dns = next(c for c in node.components() if c.name == "coredns")
    closed = next(iter(dns.files(_ctx(tmp_path, False)).values()))
    opened = next(iter(dns.files(_ctx(tmp_path, True)).values()))
    assert "forward ." not in closed and "kubernetes cluster.local" in closed
    assert "forward . /etc/resolv.conf" in opened


def test_prepare_contains_the_ranges_and_guards_egress_unless_asked(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(host, "record", lambda path: {})
    monkeypatch.setattr(host, "ensure_bridge", lambda *a: False)
    monkeypatch.setattr(
        host, "ensure_route", lambda cidr, dev, metric=0: calls.append(("route", cidr, dev)) or True
    )
    monkeypatch.setattr(host, "guard_pod_egress", lambda bridge: calls.append(("guard", bridge)) or True)
    monkeypatch.setattr(node_lifecycle, "socket_dir", lambda layout: tmp_path / "sockets")
    node_lifecycle.prepare(Layout(tmp_path), lambda _: None)
    assert ("guard", node.BRIDGE) in calls
    assert {c[1] for c in calls if c[0] == "route"} == set(components.CONTAINED_RANGES)
    assert all(c[2] == node.BRIDGE for c in calls if c[0] == "route")
    calls.clear()
    node_lifecycle.prepare(Layout(tmp_path), lambda _: None, pod_egress=True)
    assert not [c for c in calls if c[0] == "guard"]


def test_a_simulated_cluster_sinks_the_ranges_under_a_valid_interface_name(monkeypatch, tmp_path):
    name = node_lifecycle.sink_name(Layout(tmp_path))
    assert len(name) <= 15 and name != node.BRIDGE
    calls = []
    monkeypatch.setattr(node_lifecycle.os, "geteuid", lambda: 0)
    monkeypatch.setattr(host, "ensure_sink", lambda dev: calls.append(("sink", dev)))
    monkeypatch.setattr(host, "ensure_route", lambda cidr, dev, metric=0: calls.append((cidr, dev, metric)))
    node_lifecycle.contain_simulated(Layout(tmp_path), lambda _: None)
    assert calls[0] == ("sink", name)
    # a real node's routes (metric 0) win over the sink's while both clusters run
    assert {c[0] for c in calls[1:]} == set(components.CONTAINED_RANGES)
    assert all(c[1] == name and c[2] > node_lifecycle.REAL_METRIC for c in calls[1:])


def test_the_egress_chain_is_removed_with_the_node_chains():
    assert host.EGRESS_CHAIN.startswith(host.CHAIN_PREFIXES)


def test_the_node_pulls_from_no_registry_unless_pods_may_reach_out(tmp_path):
    containerd = next(c for c in node.components() if c.name == "containerd")
    closed = containerd.files(_ctx(tmp_path, False))
    hosts = node.registry_dir(Layout(tmp_path)) / "_default" / "hosts.toml"
    assert f'server = "{node.NO_PULLS_SERVER}"' in closed[hosts]
    assert node.NO_PULLS_SERVER.startswith("http://127.0.0.1:")
    config = next(text for path, text in closed.items() if path.name == "containerd.toml")
    assert f'config_path = "{node.registry_dir(Layout(tmp_path))}"' in config
    assert hosts not in containerd.files(_ctx(tmp_path, True))
