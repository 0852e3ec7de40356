"""What a real node changes on the host, recorded before `up` and put back by `down`.

A kubelet, containerd, the CNI plugins and kube-proxy change more than their own folder: kernel
settings (sysctls), iptables chains, a bridge and its veths, mounts, `kubepods` cgroups and a few
fixed paths under /var and /run. This module knows that list. `record` writes, once, what the host
looked like (kept across a crash: a second `up` never overwrites it with an already-changed host);
`restore` undoes each change, and `snapshot`/`differences` let `down` and the tests check that the
host is back as it was.

Everything shells out to the system's own tools (`ip`, `iptables-save`, `nft`), which the `node`
tool group installs; nothing here is specific to one cluster but the names passed in.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from pathlib import Path

from fadi_seldon.runtime import commands
from fadi_seldon.runtime.files import atomic_write

# kubelet rewrites the first three at every start; the bridge plugin turns on forwarding
SYSCTLS = (
    "vm.overcommit_memory",
    "kernel.panic",
    "kernel.panic_on_oops",
    "net.ipv4.ip_forward",
    "net.ipv4.conf.all.route_localnet",
    "net.bridge.bridge-nf-call-iptables",
    "net.bridge.bridge-nf-call-ip6tables",
)
# paths outside the node's folder that kubelet, containerd and libcni use whatever they are told
FIXED_PATHS = (
    "/var/lib/kubelet",
    "/var/log/containers",
    "/var/log/pods",
    "/var/lib/cni",
    "/run/containerd",
    "/opt/containerd",
    "/etc/cni",
    "/run/fadi-seldon",  # the node's sockets (layout.SOCKETS_ROOT): short paths
)
CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_NAMES = ("kubepods", "kubepods.slice")
CHAIN_PREFIXES = ("KUBE-", "CNI-", "FADI-")
# the chain that keeps pods' packets on this machine (`guard_pod_egress`)
EGRESS_CHAIN = "FADI-EGRESS"


def _sysctl_path(key: str) -> Path:
    return Path("/proc/sys") / key.replace(".", "/")


def read_sysctls(keys: tuple[str, ...] = SYSCTLS) -> dict[str, str]:
    """The current value of each setting that exists on this kernel."""
    values = {}
    for key in keys:
        with contextlib.suppress(OSError):
            values[key] = _sysctl_path(key).read_text().strip()
    return values


def _run(*argv: str, check: bool = False) -> str:
    if shutil.which(argv[0]) is None:
        return ""
    proc = commands.run(argv)
    if check and not proc.ok:
        raise RuntimeError(f"`{' '.join(argv)}` failed: {proc.stderr.strip()}")
    return proc.stdout


# --------------------------------------------------------------------------- snapshot


def _iptables(save: str) -> list[str]:
    """iptables-save without counters and comments: the rules and chains, comparable."""
    lines = []
    for line in _run(save).splitlines():
        if line.startswith("#"):
            continue
        lines.append(re.sub(r"\s\[\d+:\d+\]$", "", line))
    return lines


def _mounts() -> list[str]:
    try:
        text = Path("/proc/self/mountinfo").read_text()
    except OSError:
        return []
    # mount point and file system type; IDs change from mount to mount
    return sorted(f"{f[4]} {f[f.index('-') + 1]}" for f in (line.split() for line in text.splitlines()))


def _cgroup_dirs() -> list[str]:
    found = []
    for hierarchy in sorted(CGROUP_ROOT.iterdir()) if CGROUP_ROOT.is_dir() else []:
        with contextlib.suppress(OSError):
            found += [f"{hierarchy.name}/{d.name}" for d in hierarchy.iterdir() if d.is_dir()]
    return sorted(found)


def snapshot() -> dict[str, list[str]]:
    """What the host looks like where a node can change it: sorted lines per aspect."""
    links = [line.split()[1].split("@")[0].rstrip(":") for line in _run("ip", "-o", "link").splitlines()]
    return {
        "links": sorted(links),
        "addresses": sorted(" ".join(line.split()[1:4]) for line in _run("ip", "-o", "addr").splitlines()),
        "routes": sorted(_run("ip", "route", "show", "table", "all").splitlines()),
        "iptables": _iptables("iptables-save"),
        "ip6tables": _iptables("ip6tables-save"),
        "nftables": [line.strip() for line in _run("nft", "list", "ruleset").splitlines() if line.strip()],
        "mounts": _mounts(),
        "cgroups": _cgroup_dirs(),
        "sysctls": sorted(f"{k}={v}" for k, v in read_sysctls().items()),
        "paths": sorted(p for p in FIXED_PATHS if os.path.lexists(p)),
    }


def differences(before: dict[str, list[str]], after: dict[str, list[str]]) -> list[str]:
    """Human-readable lines for every aspect that changed: `+` appeared, `-` disappeared."""
    lines = []
    for aspect in sorted(set(before) | set(after)):
        old, new = before.get(aspect, []), after.get(aspect, [])
        if old == new:
            continue
        added = [x for x in new if x not in old]
        removed = [x for x in old if x not in new]
        lines += [f"{aspect}: + {x}" for x in added] + [f"{aspect}: - {x}" for x in removed]
        if not added and not removed:
            lines.append(f"{aspect}: same lines, another order")
    return lines


# --------------------------------------------------------------------------- record and restore


def record(path: Path) -> dict:
    """Write the host's state before a node changes it, unless a record is already there.

    An existing record belongs to a run that did not finish its `down` (a crash, `kill -9`): the
    host may already be changed, so that older record is the one to restore."""
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    data = {"sysctls": read_sysctls(), "snapshot": snapshot()}
    atomic_write(path, json.dumps(data, indent=1, sort_keys=True))
    return data


def restore_sysctls(saved: dict[str, str]) -> list[str]:
    """Put each recorded kernel setting back; returns the ones that had changed."""
    changed = []
    for key, value in saved.items():
        current = read_sysctls((key,)).get(key)
        if current is not None and current != value:
            with contextlib.suppress(OSError):
                _sysctl_path(key).write_text(value + "\n")
                changed.append(f"{key}={value} (was {current})")
    return changed


def ensure_bridge(name: str, address: str) -> bool:
    """The node's bridge with the gateway address (CIDR form); True when it was created now."""
    if Path("/sys/class/net", name).exists():
        return False
    _run("ip", "link", "add", name, "type", "bridge", check=True)
    _run("ip", "addr", "add", address, "dev", name, check=True)
    _run("ip", "link", "set", name, "up", check=True)
    return True


def ensure_sink(name: str) -> bool:
    """A bridge with no port and no address: packets routed onto it go nowhere (no neighbour ever
    answers), so nothing leaves the machine, yet the host's own connections still pass the route
    lookup (an `unreachable` route would fail them before kube-proxy's translation)."""
    if Path("/sys/class/net", name).exists():
        return False
    _run("ip", "link", "add", name, "type", "bridge", check=True)
    _run("ip", "link", "set", name, "up", check=True)
    return True


def ensure_route(cidr: str, device: str, metric: int = 0) -> bool:
    """`cidr` routed onto `device` (a local link); True when the route was added now.

    Different metrics let two local clusters (a real node's bridge, a simulated one's sink) route
    the same range at once: the lowest metric wins, and each route goes with its own device."""
    existing = _run("ip", "-o", "route", "show", "exact", cidr, "dev", device, "metric", str(metric))
    if existing.strip():
        return False
    _run("ip", "route", "add", cidr, "dev", device, "metric", str(metric), check=True)
    return True


def route_device(address: str) -> str:
    """The device the kernel would send a packet to `address` through (`ip route get`: no packet sent)."""
    words = _run("ip", "-o", "route", "get", address).split()
    return words[words.index("dev") + 1] if "dev" in words else ""


def remove_new_routes(baseline: dict[str, list[str]], devices: tuple[str, ...]) -> list[str]:
    """Routes onto `devices` that the baseline did not have (they usually go with their device)."""
    old = set(baseline.get("routes", []))
    removed = []
    for line in _run("ip", "route", "show", "table", "all").splitlines():
        words = line.split()
        if line in old or "dev" not in words or words[words.index("dev") + 1] not in devices:
            continue
        if commands.run(["ip", "route", "del", *words]).ok:
            removed.append(line)
    return removed


def guard_pod_egress(bridge: str) -> bool:
    """Refuse every packet a pod sends beyond the host: forwarded from the node's bridge to any other
    device. Pods still reach each other and Services (bridged, `-o bridge`) and the host itself (DNS,
    the API server: INPUT, not FORWARD). First in FORWARD, before the CNI's and kube-proxy's accepts.
    True when the chain was created now."""
    rule = ["-i", bridge, "!", "-o", bridge, "-j", "REJECT", "--reject-with", "icmp-admin-prohibited"]
    created = commands.run(["iptables", "-t", "filter", "-N", EGRESS_CHAIN]).ok
    if not commands.run(["iptables", "-t", "filter", "-C", EGRESS_CHAIN, *rule]).ok:
        _run("iptables", "-t", "filter", "-A", EGRESS_CHAIN, *rule, check=True)
    if not commands.run(["iptables", "-t", "filter", "-C", "FORWARD", "-j", EGRESS_CHAIN]).ok:
        _run("iptables", "-t", "filter", "-I", "FORWARD", "1", "-j", EGRESS_CHAIN, check=True)
    return created


def delete_link(name: str) -> bool:
    if not Path("/sys/class/net", name).exists():
        return False
    _run("ip", "link", "del", name)
    return True


def unmount_below(folder: Path) -> list[str]:
    """Unmount every mount at or below `folder`, deepest first (kubelet's rshared bind, netns, shm)."""
    marker = str(folder.resolve())
    done: list[str] = []
    while True:
        points = [m.split()[0] for m in _mounts()]
        below = sorted(
            {p for p in points if p == marker or p.startswith(marker + "/")}, key=len, reverse=True
        )
        if not below:
            return done
        for point in below:
            if not commands.run(["umount", "-l", point]).ok:
                return done
            done.append(point)


def remove_cgroups() -> list[str]:
    """Remove the (emptied) `kubepods` cgroups in every hierarchy, deepest first."""
    removed = []
    for hierarchy in sorted(CGROUP_ROOT.iterdir()) if CGROUP_ROOT.is_dir() else []:
        for name in CGROUP_NAMES:
            top = hierarchy / name
            if not top.is_dir():
                continue
            for folder in sorted(
                (p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True
            ):
                with contextlib.suppress(OSError):
                    folder.rmdir()
            with contextlib.suppress(OSError):
                top.rmdir()
                removed.append(f"{hierarchy.name}/{name}")
    return removed


def cgroup_pids() -> list[int]:
    """Processes still in a `kubepods` cgroup: containers whose runtime died before stopping them."""
    pids: set[int] = set()
    for procs in CGROUP_ROOT.glob("*/kubepods*/**/cgroup.procs"):
        with contextlib.suppress(OSError, ValueError):
            pids.update(int(x) for x in procs.read_text().split())
    return sorted(pids)


def remove_chains(baseline: dict[str, list[str]]) -> list[str]:
    """Delete KUBE-* and CNI-* chains (and the rules jumping to them) that the baseline did not have."""
    removed = []
    for family, tool in (("iptables", "iptables"), ("ip6tables", "ip6tables")):
        old = set(baseline.get(family, []))
        table = ""
        jumps, chains = [], []
        for line in _iptables(f"{tool}-save"):
            if line.startswith("*"):
                table = line[1:]
            elif line.startswith(":") and line[1:].startswith(CHAIN_PREFIXES) and line not in old:
                chains.append((table, line[1:].split()[0]))
            elif line.startswith("-A ") and line not in old and re.search(r"-j (KUBE-|CNI-|FADI-)", line):
                jumps.append((table, line))
        for table_name, rule in jumps:
            _run(tool, "-t", table_name, "-D", *rule.split()[1:])
        for table_name, chain in chains:
            _run(tool, "-t", table_name, "-F", chain)
        for table_name, chain in chains:
            _run(tool, "-t", table_name, "-X", chain)
            removed.append(f"{family} {table_name} {chain}")
    return removed


def remove_new_nft_tables(baseline: dict[str, list[str]]) -> list[str]:
    """Tables that iptables-nft created for the node and that are empty now (`table ip nat`...)."""
    old = {line for line in baseline.get("nftables", []) if line.startswith("table ")}
    removed = []
    for line in _run("nft", "list", "tables").splitlines():
        line = line.strip()
        if line.startswith("table ") and f"{line} {{" not in old:
            family_name = line.split()[1:3]
            if commands.run(["nft", "delete", "table", *family_name]).ok:
                removed.append(line)
    return removed


def remove_new_paths(baseline: dict[str, list[str]]) -> list[str]:
    """The fixed paths that did not exist before the node started."""
    removed = []
    for path in FIXED_PATHS:
        if path not in baseline.get("paths", []) and os.path.lexists(path):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed
