"""The Seldon operator image, from the operator binary the tool installer already built.

It matches what the chart's Deployment expects of upstream's image, so the chart runs it unchanged:
the static Go binary at `/manager` (the chart sets `command: [/manager]` plus its arguments), user
8888 (the chart's `managerUserID`), working folder `/`. The chart's `helm test` Job runs `curl` from
this same image unless `tests.image` is set, so the image sits on a Debian rootfs with curl and
ca-certificates rather than on an empty one. Cached by operator version and the binary's hash.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from fadi_seldon.images import Built, ImageError, Progress, base, cache_dir
from fadi_seldon.runtime import oci, versions

REPOSITORY = "localhost/fadi-seldon/seldon-core-operator"
# upstream's image user, the chart's managerUserID
OPERATOR_UID = 8888
CURL_PACKAGES = ("ca-certificates", "curl")


def version() -> str:
    return versions.get("SELDON_OPERATOR_MODULE_VERSION")


def image_ref() -> str:
    return f"{REPOSITORY}:{version()}"


def operator_binary() -> Path:
    """The installed operator executable (`fadi-seldon tools install` builds it from the Go proxy)."""
    from fadi_seldon.tools.layout import find_executable

    found = find_executable("seldon-operator")
    if not found:
        raise ImageError(
            "the seldon-operator binary is not installed: run `fadi-seldon tools install seldon-operator` "
            "(it builds the operator from the Go module proxy), then build the image again"
        )
    return Path(found).resolve()


def build(progress: Progress | None = None, binary: Path | None = None) -> Built:
    """The operator image archive (`localhost/fadi-seldon/seldon-core-operator:<version>`), cached.

    `binary` defaults to the installed operator (operator_binary); the version in the name is the
    pinned SELDON_OPERATOR_MODULE_VERSION either way.
    """
    progress = progress or Progress("operator")
    binary = Path(binary) if binary else operator_binary()
    binary_digest = oci.sha256_file(binary).split(":", 1)[1][:12]
    rootfs = base.rootfs(CURL_PACKAGES, progress)
    archive = cache_dir() / f"seldon-core-operator-{version()}-{binary_digest}-{rootfs.key}.oci.tar"
    if archive.is_file():
        try:
            digest = oci.read_index(archive)["manifests"][0]["digest"]
            progress.say(f"operator image cached: {archive}")
            return Built(archive, oci.image_name(archive), digest, archive.stat().st_size, True)
        except (OSError, ValueError, KeyError, IndexError):
            progress.say("cached operator archive unreadable; rebuilding")
    archive.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".operator-", dir=archive.parent))
    try:
        layer = oci.Layer(comment=f"COPY manager /manager (seldon-core operator {version()})")
        layer.add_file("manager", binary.read_bytes(), mode=0o755)
        blob = layer.write(work / "manager.tar")
        config = oci.ImageConfig(
            user=str(OPERATOR_UID), env=list(rootfs.env), working_dir="/", entrypoint=["/manager"],
            labels={"org.opencontainers.image.title": "seldon-core-operator", "version": version()},
        )  # fmt: skip
        written = oci.write_archive(archive, [rootfs.layer, blob], config, image_ref())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    progress.say(f"wrote {archive} ({written.size / 1e6:.0f} MB)")
    return Built(written.path, written.ref, written.digest, written.size)


def chart_sets(prefix: str = "") -> list[str]:
    """The operator chart's `--set`s that run this image (prefix: `seldon-core-operator.` in FADI)."""
    registry, _, rest = image_ref().partition("/")
    repository, _, tag = rest.rpartition(":")
    return [f"{prefix}image.registry={registry}", f"{prefix}image.repository={repository}",
            f"{prefix}image.tag={tag}", f"{prefix}image.pullPolicy=IfNotPresent"]  # fmt: skip
