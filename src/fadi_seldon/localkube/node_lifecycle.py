"""The real node's life on the host: can this host run one, preparing it, and taking it down cleanly.

`host_problems` says why a host cannot run a real node (then `cluster up` simulates nodes with kwok
and says so). `prepare` records the host (host.record) and creates the bridge before the API server
binds to its address. `teardown` stops the node in the order that leaves the host as recorded:
kube-proxy and its rules, kubelet, every container task, containerd and its shims, then mounts,
bridge, chains, cgroups, fixed paths and kernel settings. It is safe to run on a half-started or
crashed node, any number of times.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
from collections.abc import Callable
from pathlib import Path

from fadi_seldon import tools as toolchain
from fadi_seldon.localkube import host, node, node_images
from fadi_seldon.localkube.components import CONTAINED_RANGES
from fadi_seldon.localkube.layout import Layout, containerd_socket, socket_dir
from fadi_seldon.runtime import commands, polling, processes

SHIM = "containerd-shim-runc-v2"
NODE_TOOLS = ("containerd", SHIM, "ctr", "kubelet", "kube-proxy", "coredns")


def host_record(layout: Layout) -> Path:
    return node.folder(layout) / "host.json"


# the system packages a node runs with (tools.catalog SYSTEM entries: what `make tools` installs)
NODE_SYSTEM = ("runc", "cni", "iptables", "ip6tables", "nft", "ip")


def system_paths() -> dict[str, str]:
    """runc and the CNI plugins' folder, from the system (the `node` tool group installs them)."""
    return {"runc": toolchain.system_path("runc"), "cni": toolchain.system_path("cni")}


def host_problems(bin_dir: Path) -> list[str]:
    """Why this host cannot run a real node; empty when it can."""
    problems = []
    if os.geteuid() != 0:
        problems.append("not root (a kubelet and containerd need root)")
    for name in NODE_SYSTEM:
        try:
            toolchain.system_path(name)
        except toolchain.ToolError as err:  # names the package and the apt-get line
            problems.append(str(err))
    missing = [t for t in NODE_TOOLS if not toolchain.find_executable(t, bin_dir)]
    if missing:
        problems.append(f"{', '.join(missing)} not installed (make tools TOOLS=node)")
    problems += node_slot_taken()
    if not Path("/proc/sys/net/bridge").is_dir():
        problems.append("the kernel's br_netfilter is not loaded (modprobe br_netfilter)")
    if "overlay" not in Path("/proc/filesystems").read_text():
        problems.append("the kernel has no overlay file system (modprobe overlay)")
    return problems


def node_slot_taken() -> list[str]:
    """One real node per machine: the kubelet's fixed ports and the bridge are the machine's."""
    problems = []
    if Path("/sys/class/net", node.BRIDGE).exists():
        problems.append(f"the bridge {node.BRIDGE} exists: another local cluster has the real node "
                        "(`fadi-seldon cluster down` there, or `ip link del fadi0` if none runs)")  # fmt: skip
    busy = [
        str(p)
        for p in (node.KUBELET_PORT, node.KUBELET_HEALTHZ, node.PROXY_HEALTHZ)
        if processes.port_open(p)
    ]
    if busy:
        problems.append(
            f"port(s) {', '.join(busy)} in use: a kubelet or kube-proxy already runs on this machine"
        )
    return problems


def prepare(layout: Layout, say: Callable[[str], None], *, pod_egress: bool = False) -> None:
    """Record the host as it is, then create the bridge the API server and the pods use, route the
    cluster's other ranges onto it, and keep pods' packets on the machine unless `pod_egress`."""
    node.folder(layout).mkdir(parents=True, exist_ok=True)
    host.record(host_record(layout))
    socket_dir(layout).mkdir(parents=True, exist_ok=True, mode=0o700)
    if host.ensure_bridge(node.BRIDGE, f"{node.GATEWAY}/16"):
        say(f"  created the bridge {node.BRIDGE} ({node.GATEWAY}/16): the API server's address for pods")
    contain_ranges(node.BRIDGE, say)
    if pod_egress:
        say("  pods may reach beyond this machine (--pod-egress): no egress guard, names forwarded")
    elif host.guard_pod_egress(node.BRIDGE):
        say(
            f"  pods reach each other, Services and this host only ({host.EGRESS_CHAIN}; --pod-egress to open)"
        )


# a real node's routes win over a simulated cluster's sink (lower metric) when both run
REAL_METRIC, SINK_METRIC = 0, 100


def contain_ranges(device: str, say: Callable[[str], None], metric: int = REAL_METRIC) -> None:
    """Route the Service range and the simulated pods' range onto a local device. Without this they
    follow the default route: until kube-proxy has a Service's rules, a connection to its ClusterIP
    (from the demo, a test, the API server calling a webhook) would leave the machine."""
    added = [cidr for cidr in CONTAINED_RANGES if host.ensure_route(cidr, device, metric)]
    if added:
        say(
            f"  routed {', '.join(added)} onto {device}: no packet for the cluster's addresses leaves this host"
        )


def sink_name(layout: Layout) -> str:
    """A simulated cluster's sink device, one per state folder (interface names fit 15 bytes)."""
    return "fadisink" + hashlib.sha256(str(layout.root.resolve()).encode()).hexdigest()[:6]


def contain_simulated(layout: Layout, say: Callable[[str], None]) -> None:
    """A cluster without a real node has nothing on this host that owns its ranges: route them onto a
    sink of its own (removed by `release_simulated`). Needs root; without it, says what stays open."""
    if os.geteuid() != 0:
        say(
            "  not root: the Service and pod ranges keep the host's default route (nothing here answers them)"
        )
        return
    name = sink_name(layout)
    host.ensure_sink(name)
    contain_ranges(name, say, SINK_METRIC)


def release_simulated(layout: Layout) -> list[str]:
    """Remove a simulated cluster's sink device, and its routes with it."""
    return [f"sink {sink_name(layout)} deleted"] if host.delete_link(sink_name(layout)) else []


def _stop_named(records: dict[str, processes.ProcessRecord], name: str, stopped: list[str]) -> None:
    rec = records.get(name)
    if rec is not None and processes.stop(rec, timeout=15):
        stopped.append(f"{name} (pid {rec.pid})")


def _kill_tasks(layout: Layout) -> int:
    """SIGKILL every container task of the node's containerd and delete tasks and containers."""
    try:
        tasks = [
            line.split()[0] for line in node_images.ctr(layout, "tasks", "ls", timeout=30).splitlines()[1:]
        ]
        for task in tasks:
            with contextlib.suppress(node_images.ImageError):
                node_images.ctr(layout, "tasks", "kill", "--signal", "SIGKILL", task, timeout=30)
        for task in tasks:
            with contextlib.suppress(node_images.ImageError):
                node_images.ctr(layout, "tasks", "delete", "--force", task, timeout=30)
        containers = node_images.ctr(layout, "containers", "ls", "--quiet", timeout=30).split()
        if containers:
            with contextlib.suppress(node_images.ImageError):
                node_images.ctr(layout, "containers", "delete", *containers, timeout=60)
        return len(tasks)
    except (node_images.ImageError, commands.TimeoutExpired):
        return 0


def _kill_pods_left() -> list[str]:
    """Processes still in kubepods cgroups (their shim died first): killed, so cgroups can go."""
    pids = host.cgroup_pids()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    polling.ended_within(lambda: not host.cgroup_pids(), 10)
    return [f"container process {pid}" for pid in pids]


def _proxy_cleanup(layout: Layout, bin_dir: Path) -> None:
    exe = toolchain.find_executable("kube-proxy", bin_dir)
    if exe:
        commands.run([exe, "--cleanup"], log=layout.log("kube-proxy"), timeout=60)


def node_processes(layout: Layout, programs: tuple[str, ...]) -> list[int]:
    """Running `programs` of this cluster's node: their command lines name the state folder or, for
    containerd's shims, the node's socket folder."""
    found: set[int] = set()
    for marker in (str(layout.root), str(socket_dir(layout))):
        found.update(processes.processes_mentioning(marker, programs))
    return sorted(found)


def teardown(layout: Layout, records: dict[str, processes.ProcessRecord], bin_dir: Path) -> list[str]:
    """Stop the node and put the host back as `prepare` recorded it. Returns what was done."""
    stopped: list[str] = []
    _stop_named(records, "kube-proxy", stopped)
    _proxy_cleanup(layout, bin_dir)
    _stop_named(records, "kubelet", stopped)
    _stop_named(records, "coredns", stopped)
    if containerd_socket(layout).exists():
        killed = _kill_tasks(layout)
        if killed:
            stopped.append(f"{killed} container task(s)")
    _stop_named(records, "containerd", stopped)
    for pid in node_processes(layout, (SHIM, "containerd", "kubelet", "kube-proxy")):
        if processes.stop_pid(pid):
            stopped.append(f"leftover pid {pid}")
    stopped += _kill_pods_left()
    shutil.rmtree(socket_dir(layout), ignore_errors=True)
    stopped += restore_host(layout)
    return stopped


def _counted(what: str, items: list[str]) -> list[str]:
    return [f"{len(items)} {what}"] if items else []


def restore_host(layout: Layout) -> list[str]:
    """Undo what the node changed on the host, using the record `prepare` wrote."""
    record_file = host_record(layout)
    if not record_file.is_file():
        return []
    record = json.loads(record_file.read_text(encoding="utf-8"))
    baseline = record.get("snapshot") or {}
    done = _counted("mount(s) unmounted", host.unmount_below(node.folder(layout)))
    done += _counted("route(s) removed", host.remove_new_routes(baseline, (node.BRIDGE,)))
    if node.BRIDGE not in baseline.get("links", []) and host.delete_link(node.BRIDGE):
        done.append(f"bridge {node.BRIDGE} deleted")
    done += _counted("iptables chain(s) removed", host.remove_chains(baseline))
    done += _counted("nft table(s) removed", host.remove_new_nft_tables(baseline))
    done += _counted("kubepods cgroup(s) removed", host.remove_cgroups())
    done += [f"{p} removed" for p in host.remove_new_paths(baseline)]
    done += [f"{s} restored" for s in host.restore_sysctls(record.get("sysctls") or {})]
    left = host.differences(baseline, host.snapshot())
    if not left:
        record_file.unlink()
    return done + [f"host differs from before the node: {line}" for line in left]
