"""Every Pod template of the operator chart meets the restricted Pod Security Standard.

The rules below implement the Kubernetes "restricted" profile (which includes "baseline"), as the
Pod Security admission controller checks it from Kubernetes 1.25 on, plus the chart's own extra
hardening (read-only root filesystem). The checker is tested on its own with violating specs, and
violating chart values must make the chart fail the check: a checker that passes everything
would be caught here.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import tool

CHART = Path(__file__).resolve().parents[2] / "charts" / "seldon-core-operator"

# Pod Security Standards, restricted profile (and the baseline rules it contains)
ALLOWED_VOLUME_TYPES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret",
}  # fmt: skip
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}  # fmt: skip
ALLOWED_SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
POD_TEMPLATE_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}


def _containers(spec: dict) -> list[tuple[str, dict]]:
    out = []
    for field in ("initContainers", "containers", "ephemeralContainers"):
        for c in spec.get(field) or []:
            out.append((f"{field}[{c.get('name', '?')}]", c))
    return out


def restricted_violations(pod_spec: dict, hardening: bool = True) -> list[str]:
    """Rules of the restricted profile that `pod_spec` breaks (empty when compliant)."""
    found: list[str] = []
    psc = pod_spec.get("securityContext") or {}
    containers = _containers(pod_spec)

    # baseline
    for host in ("hostNetwork", "hostPID", "hostIPC"):
        if pod_spec.get(host):
            found.append(f"{host} must not be true")
    if (psc.get("windowsOptions") or {}).get("hostProcess"):
        found.append("pod windowsOptions.hostProcess must not be true")
    for sysctl in psc.get("sysctls") or []:
        if sysctl.get("name") not in SAFE_SYSCTLS:
            found.append(f"sysctl {sysctl.get('name')} is not in the safe set")
    for opts, where in [(psc.get("seLinuxOptions"), "pod")] + [
        ((c.get("securityContext") or {}).get("seLinuxOptions"), n) for n, c in containers
    ]:
        if opts:
            if opts.get("type", "") not in ALLOWED_SELINUX_TYPES:
                found.append(f"{where}: seLinuxOptions.type {opts.get('type')} is not allowed")
            if opts.get("user") or opts.get("role"):
                found.append(f"{where}: seLinuxOptions user/role must not be set")
    for volume in pod_spec.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= ALLOWED_VOLUME_TYPES:
            found.append(f"volume {volume.get('name')}: type {sorted(kinds)} is not allowed")

    # seccomp: RuntimeDefault or Localhost at pod level, or on every container; never Unconfined
    pod_seccomp = (psc.get("seccompProfile") or {}).get("type")
    if pod_seccomp == "Unconfined":
        found.append("pod seccompProfile must not be Unconfined")
    # runAsNonRoot: true at pod level or on every container, never false on a container
    pod_non_root = psc.get("runAsNonRoot") is True
    if psc.get("runAsUser") == 0:
        found.append("pod runAsUser must not be 0")

    for name, c in containers:
        sc = c.get("securityContext") or {}
        if sc.get("privileged"):
            found.append(f"{name}: privileged must not be true")
        if (sc.get("windowsOptions") or {}).get("hostProcess"):
            found.append(f"{name}: hostProcess must not be true")
        if sc.get("procMount") not in (None, "Default"):
            found.append(f"{name}: procMount must be Default")
        for port in c.get("ports") or []:
            if port.get("hostPort"):
                found.append(f"{name}: hostPort {port['hostPort']} is not allowed")
        if sc.get("allowPrivilegeEscalation") is not False:
            found.append(f"{name}: allowPrivilegeEscalation must be false")
        if sc.get("runAsNonRoot") is False or not (pod_non_root or sc.get("runAsNonRoot") is True):
            found.append(f"{name}: runAsNonRoot must be true (pod or container)")
        if sc.get("runAsUser") == 0:
            found.append(f"{name}: runAsUser must not be 0")
        seccomp = (sc.get("seccompProfile") or {}).get("type")
        if seccomp == "Unconfined":
            found.append(f"{name}: seccompProfile must not be Unconfined")
        if seccomp is None and pod_seccomp not in ("RuntimeDefault", "Localhost"):
            found.append(f"{name}: seccompProfile must be RuntimeDefault or Localhost (pod or container)")
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            found.append(f"{name}: capabilities must drop ALL")
        extra = set(caps.get("add") or []) - {"NET_BIND_SERVICE"}
        if extra:
            found.append(f"{name}: capabilities may only add NET_BIND_SERVICE, not {sorted(extra)}")
        apparmor = (sc.get("appArmorProfile") or {}).get("type")
        if apparmor == "Unconfined":
            found.append(f"{name}: appArmorProfile must not be Unconfined")
        if hardening and sc.get("readOnlyRootFilesystem") is not True:
            found.append(f"{name}: readOnlyRootFilesystem must be true (chart hardening)")
    return found


def render(*args: str) -> list[dict]:
    out = subprocess.run(
        [tool("helm"), "template", "sec", str(CHART), "--namespace", "seldon-system", *args],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    # the CRD is half a megabyte of schema and has no Pod template: skip it before parsing
    docs = [d for d in out.split("\n---\n") if "\nkind: CustomResourceDefinition\n" not in d]
    return [d for d in yaml.load_all("\n---\n".join(docs), Loader=yaml.CSafeLoader) if d]


def pod_templates(docs: list[dict]) -> list[tuple[str, dict]]:
    out = []
    for d in docs:
        if d["kind"] in POD_TEMPLATE_KINDS:
            out.append((f"{d['kind']}/{d['metadata']['name']}", d["spec"]["template"]["spec"]))
        elif d["kind"] == "Pod":
            out.append((f"Pod/{d['metadata']['name']}", d["spec"]))
    return out


def violations_of(docs: list[dict]) -> dict[str, list[str]]:
    return {name: v for name, spec in pod_templates(docs) if (v := restricted_violations(spec))}


CI_SETS = sorted((CHART / "ci").glob("*-values.yaml"))


@pytest.mark.parametrize("values", [None, *CI_SETS], ids=lambda p: "defaults" if p is None else p.name)
def test_every_pod_template_is_restricted(values):
    docs = render(*([] if values is None else ["-f", str(values)]))
    assert pod_templates(docs), "expected at least one Pod template"
    assert violations_of(docs) == {}


def test_schema_refuses_a_root_operator():
    proc = subprocess.run(
        [tool("helm"), "template", "sec", str(CHART), "--set", "managerUserID=0"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0
    assert "/managerUserID" in proc.stderr


def test_usage_metrics_and_helm_test_pods_are_restricted_too():
    docs = render("--set", "usageMetrics.enabled=true")
    names = [n for n, _ in pod_templates(docs)]
    assert any("spartakus" in n for n in names) and any("test-webhook" in n for n in names)
    assert violations_of(docs) == {}


@pytest.mark.parametrize(
    ("set_args", "expected"),
    [
        (["hostNetwork=true"], "hostNetwork must not be true"),
        (["manager.containerSecurityContext.privileged=true"], "privileged must not be true"),
        (["manager.containerSecurityContext.allowPrivilegeEscalation=true"], "allowPrivilegeEscalation must be false"),
        (["manager.containerSecurityContext.runAsNonRoot=false"], "runAsNonRoot must be true"),
        (["manager.containerSecurityContext.runAsUser=0"], "runAsUser must not be 0"),
        (["manager.containerSecurityContext.capabilities.add={NET_ADMIN}"], "may only add NET_BIND_SERVICE"),
        (["manager.defaultContainerSecurityContext.capabilities.drop=null"], "must drop ALL"),
        (["manager.podSecurityContext.seccompProfile.type=Unconfined",
          "manager.defaultContainerSecurityContext.seccompProfile=null"], "seccompProfile must not be Unconfined"),
        (["manager.containerSecurityContext.readOnlyRootFilesystem=false"], "readOnlyRootFilesystem must be true"),
        (["manager.podSecurityContext.runAsUser=0"], "pod runAsUser must not be 0"),
    ],
)  # fmt: skip
def test_violating_values_fail_the_check(set_args, expected):
    args = [a for s in set_args for a in ("--set", s)]
    found = violations_of(render(*args))
    messages = [m for ms in found.values() for m in ms]
    assert any(expected in m for m in messages), messages


COMPLIANT = {
    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
    "containers": [
        {
            "name": "c",
            "securityContext": {
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True,
                "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
            },
        }
    ],
    "volumes": [{"name": "v", "emptyDir": {}}],
}


def _mutated(path: list, value) -> dict:
    spec = yaml.safe_load(yaml.safe_dump(COMPLIANT))
    node = spec
    for key in path[:-1]:
        node = node[key]
    if value is None:
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value
    return spec


def test_checker_accepts_a_compliant_spec():
    assert restricted_violations(COMPLIANT) == []


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (["hostPID"], True, "hostPID"),
        (["hostIPC"], True, "hostIPC"),
        (["volumes"], [{"name": "h", "hostPath": {"path": "/"}}], "hostPath"),
        (["securityContext", "runAsNonRoot"], None, "runAsNonRoot must be true"),
        (["securityContext", "seccompProfile"], None, "seccompProfile must be RuntimeDefault"),
        (["securityContext", "sysctls"], [{"name": "kernel.msgmax", "value": "1"}], "sysctl kernel.msgmax"),
        (["securityContext", "seLinuxOptions"], {"type": "spc_t"}, "seLinuxOptions.type"),
        (["containers", 0, "securityContext", "allowPrivilegeEscalation"], None, "allowPrivilegeEscalation"),
        (["containers", 0, "securityContext", "procMount"], "Unmasked", "procMount"),
        (["containers", 0, "securityContext", "appArmorProfile"], {"type": "Unconfined"}, "appArmorProfile"),
        (["containers", 0, "ports"], [{"containerPort": 80, "hostPort": 80}], "hostPort 80"),
        (["containers", 0, "securityContext", "capabilities"], {"drop": ["NET_RAW"]}, "drop ALL"),
    ],
)
def test_checker_rejects_each_rule(path, value, expected):
    messages = restricted_violations(_mutated(path, value))
    assert any(expected in m for m in messages), messages


def test_checker_covers_init_containers():
    spec = _mutated(["initContainers"], [{"name": "init", "securityContext": {"privileged": True}}])
    messages = restricted_violations(spec)
    assert any(m.startswith("initContainers[init]: privileged") for m in messages), messages
