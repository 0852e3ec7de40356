"""Gather what the checks need into a Snapshot: the installation, then the operators' runtime
(crashes.py), pods waiting for images (images.py), models that cannot be fetched (model_storage.py) and
graphs failing in their pods (graphs.py)."""

from __future__ import annotations

from pathlib import Path

from fadi_seldon.doctor import crashes, graphs, images, model_storage
from fadi_seldon.doctor.findings import CRD_NAME, Snapshot, mounted_secrets, seldon_webhooks
from fadi_seldon.doctor.kubectl import Kubectl


def _items(doc: dict | None) -> list[dict]:
    return list((doc or {}).get("items") or [])


def gather(
    kubectl: Kubectl, host_state_dirs: list[Path] | None = None, stale_after: float = 120.0
) -> Snapshot:
    """What the checks need; `host_state_dirs` hold the state of operators run as host processes."""
    snap = Snapshot(stale_after=stale_after)
    _gather_install(kubectl, snap)
    crashes.gather_runtime(kubectl, snap, host_state_dirs or [])
    images.gather(kubectl, snap)
    model_storage.gather(kubectl, snap)
    graphs.gather(kubectl, snap)  # after the SeldonDeployments: their graphs are the fallback
    return snap


def _gather_install(kubectl: Kubectl, snap: Snapshot) -> None:
    snap.crd = kubectl.get("customresourcedefinition", CRD_NAME)
    snap.validating = [
        c for c in _items(kubectl.get("validatingwebhookconfigurations")) if seldon_webhooks(c)
    ]
    snap.mutating = [c for c in _items(kubectl.get("mutatingwebhookconfigurations")) if seldon_webhooks(c)]
    snap.namespaces = {n["metadata"]["name"]: n for n in _items(kubectl.get("namespaces"))}
    wanted_ns: set[str] = set()
    for config in snap.validating + snap.mutating:
        for hook in seldon_webhooks(config):
            svc = (hook.get("clientConfig") or {}).get("service")
            if not svc:
                continue
            ns, name = svc.get("namespace", "default"), svc.get("name", "")
            key = f"{ns}/{name}"
            if ns in snap.namespaces and key not in snap.services:
                found = kubectl.get("service", name, "-n", ns)
                if found:
                    snap.services[key] = found
                    slices = kubectl.get(
                        "endpointslices", "-n", ns, "-l", f"kubernetes.io/service-name={name}"
                    )
                    snap.endpointslices[key] = _items(slices)
            wanted_ns.add(ns)
    for ns in sorted(wanted_ns & set(snap.namespaces)):
        snap.deployments[ns] = _items(kubectl.get("deployments", "-n", ns))
        for dep in snap.deployments[ns]:
            for secret in mounted_secrets(dep):
                key = f"{ns}/{secret}"
                if key not in snap.secrets:
                    found = kubectl.get("secret", secret, "-n", ns)
                    if found:
                        snap.secrets[key] = found
