"""The Seldon operator image (`docker.io/seldonio/seldon-core-operator:<SELDON_CORE_VERSION>`), from the
operator binary the tool installer builds out of Seldon's source release.

Its name is upstream's, the chart's default image, so the chart runs it with no `--set` once it is on
the node. It matches what the chart's Deployment expects of upstream's image:
the static Go binary at `/manager` (the chart sets `command: [/manager]` plus its arguments), user
8888 (the chart's `managerUserID`), working folder `/`. The chart's `helm test` Job runs `curl` from
this same image unless `tests.image` is set, so the image sits on a Debian rootfs with curl and
ca-certificates rather than on an empty one. Cached by operator version and the binary's hash.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import yaml

from fadi_seldon.images import (
    Built,
    ImageError,
    Progress,
    base,
    cache_dir,
    cached,
    installed_binary,
    write_image,
)
from fadi_seldon.runtime import commands, oci, versions
from fadi_seldon.sdep import crd
from fadi_seldon.tools.layout import find_executable

REPOSITORY = "docker.io/seldonio/seldon-core-operator"
# upstream's image user, the chart's managerUserID
OPERATOR_UID = 8888
CURL_PACKAGES = ("ca-certificates", "curl")


def version() -> str:
    return versions.get("SELDON_CORE_VERSION")


def image_ref() -> str:
    return f"{REPOSITORY}:{version()}"


def operator_binary() -> Path:
    """The installed operator (`fadi-seldon tools install seldon-operator` builds it from the source release)."""
    return installed_binary("seldon-operator", "Seldon's source release, SELDON_CORE_SOURCE")


# What upstream's image carries for `managerCreateResources: true`: the operator creates the CRD, its
# validating webhook, the webhook Service and the seldon-config ConfigMap from these files at start-up.
RESOURCE_FOLDER = "tmp/operator-resources"
CHART = Path(__file__).resolve().parents[3] / "charts" / "seldon-core-operator"
RESOURCE_OBJECTS = {  # file -> (kind, name) in the chart's default rendering
    "validate.yaml": ("ValidatingWebhookConfiguration", "seldon-validating-webhook-configuration"),
    "service.yaml": ("Service", "seldon-webhook-service"),
    "configmap.yaml": ("ConfigMap", "seldon-config"),
}


@functools.cache
def operator_resources(progress: Progress | None = None) -> dict[str, bytes]:
    """The four files, from our own sources: the CRD from the schema (`fadi-seldon crd`), the other
    three from the chart's default rendering (`helm template`). Empty outside a source checkout."""
    helm = find_executable("helm")
    if not CHART.is_dir() or not helm:
        if progress:
            progress.say(
                "no chart or helm here: the image has no /tmp/operator-resources (managerCreateResources)"
            )
        return {}
    argv = [
        helm,
        "template",
        "seldon",
        str(CHART),
        "--namespace",
        "seldon-system",
        "--set",
        "usageMetrics.enabled=false",
    ]
    rendered = commands.run(argv)
    if not rendered.ok:
        raise ImageError(f"`helm template` of {CHART} failed (exit {rendered.code}): {rendered.said()}")
    docs = [d for d in yaml.safe_load_all(rendered.stdout) if d]
    by_kind: dict[str, list[dict]] = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], []).append(doc)
    files = {"crd-v1.yaml": crd.to_yaml(crd.build()).encode()}
    for name, (kind, object_name) in RESOURCE_OBJECTS.items():
        # the chart suffixes the webhook configuration with its namespace; the operator does that itself
        matches = [d for d in by_kind.get(kind, []) if d["metadata"]["name"].startswith(object_name)]
        if not matches:
            raise ImageError(
                f"the chart's default rendering has no {kind} {object_name} (for {RESOURCE_FOLDER}/{name})"
            )
        matches[0]["metadata"]["name"] = object_name
        for hook in matches[0].get("webhooks") or []:  # the operator sets its own (and the chart's is random)
            hook.get("clientConfig", {}).pop("caBundle", None)
        files[name] = yaml.safe_dump(matches[0], sort_keys=False).encode()
    return files


def build(progress: Progress | None = None, binary: Path | None = None) -> Built:
    """The operator image archive (`docker.io/seldonio/seldon-core-operator:<version>`), cached.

    `binary` defaults to the installed operator (operator_binary); the version in the name is the
    pinned SELDON_CORE_VERSION either way.
    """
    progress = progress or Progress("operator")
    binary = Path(binary) if binary else operator_binary()
    binary_digest = oci.sha256_file(binary).split(":", 1)[1][:12]
    rootfs = base.rootfs(CURL_PACKAGES, progress)
    resources_digest = hashlib.sha256(b"".join(operator_resources(progress).values())).hexdigest()[:8]
    archive = (
        cache_dir()
        / f"seldon-core-operator-{version()}-{binary_digest}-{resources_digest}-{rootfs.key}.oci.tar"
    )
    found = cached(archive, progress, "operator")
    if found:
        return found
    layer = oci.Layer(comment=f"COPY manager /manager (seldon-core operator {version()})")
    layer.add_file("manager", binary.read_bytes(), mode=0o755)
    for name, data in operator_resources(progress).items():
        layer.add_file(f"{RESOURCE_FOLDER}/{name}", data, mode=0o644)
    config = oci.ImageConfig(
        user=str(OPERATOR_UID), env=list(rootfs.env), working_dir="/", entrypoint=["/manager"],
        labels={"org.opencontainers.image.title": "seldon-core-operator", "version": version()},
    )  # fmt: skip
    return write_image(archive, [rootfs.layer], layer, config, image_ref(), progress)


def chart_sets(prefix: str = "") -> list[str]:
    """The operator chart's `--set`s that run this image (prefix: `seldon-core-operator.` in FADI).

    The chart's defaults already name it (upstream's name, the chart's appVersion): these restate
    them, so a values file that points the chart at another image still runs the loaded one.
    """
    registry, _, rest = image_ref().partition("/")
    repository, _, tag = rest.rpartition(":")
    return [f"{prefix}image.registry={registry}", f"{prefix}image.repository={repository}",
            f"{prefix}image.tag={tag}", f"{prefix}image.pullPolicy=IfNotPresent"]  # fmt: skip
