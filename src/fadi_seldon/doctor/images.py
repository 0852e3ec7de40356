"""Pods waiting for an image the node does not have and cannot pull.

On the local cluster's real node no registry is reachable: every image must be built here and
loaded (`fadi-seldon package DIR --build --load` for a model; Seldon's operator, executor and
mock_classifier images, the prepackaged servers' and the storage initializer with `fadi-seldon cluster load`). Elsewhere the same waits mean a
wrong name, a private registry without pull secret, or a registry out of reach. The check names
each missing image once, with the pods that wait for it and how to get it onto the node.
"""

from __future__ import annotations

from fadi_seldon.doctor.findings import ERROR, Finding, Snapshot
from fadi_seldon.runtime import oci, versions

WAITING_FOR_IMAGE = ("ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName")


def gather(kubectl, snap: Snapshot) -> None:
    """Pods with a container waiting for its image (all namespaces)."""
    snap.image_waits = []
    for pod in (kubectl.get("pods", "-A") or {}).get("items") or []:
        status = pod.get("status") or {}
        for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
            reason = ((cs.get("state") or {}).get("waiting") or {}).get("reason")
            if reason in WAITING_FOR_IMAGE:
                meta = pod["metadata"]
                snap.image_waits.append({
                    "pod": f"{meta['namespace']}/{meta['name']}", "node": (pod.get("spec") or {}).get("nodeName", ""),
                    "container": cs.get("name", ""), "image": cs.get("image", ""), "reason": reason,
                })  # fmt: skip


def seldon_images() -> dict[str, str]:
    """Seldon's own images `cluster load` builds from Seldon's source release: full name -> option."""
    from fadi_seldon.images import (
        executor,
        mock_classifier,
        operator,
        routes_controller,
        servers,
        storage_initializer,
    )

    found = {
        operator.image_ref(): "--operator",
        executor.image_ref(): "--executor",
        mock_classifier.IMAGE: "--mock-classifier",
        oci.normalize_ref(storage_initializer.image_ref()): "--storage-initializer",
        routes_controller.image_ref(): "--routes-controller",
    }
    for ref, (server, protocol) in servers.refs().items():
        found[ref] = f"--server {server} --protocol {protocol}"
    return found


def how_to_load(image: str) -> str:
    option = seldon_images().get(oci.normalize_ref(image)) if image else None
    if option:
        source = f"seldon-core-{versions.get('SELDON_CORE_VERSION')}.tar.gz"
        return (
            f"one of two ways: build it here and load it into the node, `fadi-seldon cluster load {option}` "
            f"(Seldon's own code is read from its source release: SELDON_CORE_SOURCE=/path/to/{source}); or, "
            f"where a registry is reachable, pull the published image {oci.normalize_ref(image)}"
        )
    return (
        "build the image on this machine and load it into the node: for a model, `fadi-seldon package DIR "
        "--build --load`; any OCI archive: `fadi-seldon cluster load ARCHIVE`; on a cluster with a registry, "
        "push the image there or fix its name and imagePullSecrets"
    )


def check_images(snap: Snapshot) -> list[Finding]:
    """One finding per missing image, naming the pods and nodes that wait for it."""
    by_image: dict[str, list[dict]] = {}
    for wait in snap.image_waits:
        by_image.setdefault(wait["image"], []).append(wait)
    findings = []
    for image, waits in sorted(by_image.items()):
        pods = ", ".join(sorted({f"{w['pod']} ({w['container']})" for w in waits}))
        nodes = ", ".join(sorted({w["node"] for w in waits if w["node"]})) or "no node yet"
        reasons = "/".join(sorted({w["reason"] for w in waits}))
        findings.append(
            Finding(
                "image-missing", ERROR, image,
                f"{len(waits)} container(s) wait for image {image} ({reasons}) on {nodes}: {pods}",
                how_to_load(image),
            )
        )  # fmt: skip
    return findings
