"""The storage initializer image (`docker.io/seldonio/rclone-storage-initializer:<SELDON_CORE_VERSION>`),
the chart's `storageInitializer.image`: the init container that copies a prepackaged server's modelUri
to /mnt/models, which the operator runs with the arguments `SRC /mnt/models`.

What upstream's `components/rclone-storage-initializer/Dockerfile` makes: rclone as the entrypoint's
`rclone copy`, user 8888, RCLONE_VERBOSE=1, and a public Google Cloud Storage remote named `gs`
configured by variables. A remote such as `s3` comes from the variables of the Secret the
SeldonDeployment names (`envSecretRefName`): `RCLONE_CONFIG_S3_TYPE=s3`, `..._ENDPOINT`, the keys.

Differences, each for a reason:
- rclone is the version versions.env pins (RCLONE_VERSION), built from the Go module proxy, not
  upstream's 1.59.1: the same binary serves the local object store (`rclone serve s3`, 1.65+).
- base: a Debian rootfs (debootstrap, with ca-certificates for TLS endpoints) instead of Red Hat's
  ubi-minimal, which is a registry image.
- the licence text comes from the module's own COPYING in the Go module cache when it is there.

The same image runs the local object store: its command replaced by `rclone serve s3`.
"""

from __future__ import annotations

from pathlib import Path

from fadi_seldon.images import Built, Progress, base, installed_binary
from fadi_seldon.runtime import oci, versions

REPOSITORY = "docker.io/seldonio/rclone-storage-initializer"
RCLONE_PATH = "/usr/local/bin/rclone"
LICENSE_PATH = "licenses/license.txt"
USER = 8888
PACKAGES = ("ca-certificates",)
# upstream's ENV lines: a public GCS remote, and INFO logs (2 would log credentials)
IMAGE_ENV = (
    "RCLONE_CONFIG_GS_TYPE=google cloud storage",
    "RCLONE_CONFIG_GS_ANONYMOUS=true",
    "RCLONE_VERBOSE=1",
)
# bump when the layer or the config changes, so cached archives are rebuilt
_RECIPE = "1"


def image_ref() -> str:
    return f"{REPOSITORY}:{versions.get('SELDON_CORE_VERSION')}"


def rclone_binary() -> Path:
    """The rclone `make tools` builds (`fadi-seldon tools install rclone`)."""
    return installed_binary("rclone", "the Go module proxy (github.com/rclone/rclone)")


def license_text() -> bytes:
    """rclone's COPYING from the Go module cache, where its build left it; else a pointer to it."""
    return base.module_licence(
        "github.com/rclone/rclone",
        versions.get("RCLONE_VERSION"),
        "COPYING",
        "rclone is released under the MIT licence: https://github.com/rclone/rclone/blob/master/COPYING",
    )


def image_config() -> oci.ImageConfig:
    """The config over the base's environment (base.binary_image merges the two)."""
    return oci.ImageConfig(
        user=str(USER),
        env=list(IMAGE_ENV),
        working_dir="/",
        entrypoint=["rclone", "copy"],
        labels={
            "org.opencontainers.image.title": "rclone-storage-initializer",
            "rclone": versions.get("RCLONE_VERSION"),
        },
    )


def build(progress: Progress | None = None, binary: Path | None = None) -> Built:
    """The storage initializer image archive, cached by the binary's and the licence's hashes."""
    spec = base.BinaryImage(
        what="storage initializer",
        folder="servers",
        stem=f"rclone-storage-initializer-{versions.get('SELDON_CORE_VERSION')}",
        binary=Path(binary) if binary else rclone_binary(),
        path=RCLONE_PATH,
        licence=license_text(),
        licence_path=LICENSE_PATH,
        packages=PACKAGES,
        config=image_config(),
        ref=image_ref(),
        recipe=_RECIPE,
    )
    return base.binary_image(spec, progress or Progress("storage-initializer"))
