"""The Traefik image (`docker.io/library/traefik:<TRAEFIK_VERSION>`, upstream's official name and tag): the
gateway of the local cluster (`fadi-seldon cluster gateway`, localkube.gateway).

What upstream's image holds: the traefik binary as the entrypoint, CA certificates. Differences, each
for a reason:
- the binary is the one `make tools` builds from the Go module proxy (TRAEFIK_VERSION), not a
  registry's: this machine reaches no registry.
- base: the project's Debian rootfs (debootstrap, with ca-certificates) instead of Alpine, so every
  image built here shares one cached base layer.
- user 65532 (non-root; the gateway listens on ports above 1024), so the pod passes the restricted
  Pod Security profile.
- the licence text comes from the module's own LICENSE.md in the Go module cache when it is there.
"""

from __future__ import annotations

from pathlib import Path

from fadi_seldon.images import Built, Progress, base, installed_binary
from fadi_seldon.runtime import oci, versions

REPOSITORY = "docker.io/library/traefik"
TRAEFIK_PATH = "/usr/local/bin/traefik"
LICENSE_PATH = "licenses/traefik.md"
USER = 65532
PACKAGES = ("ca-certificates",)
# bump when the layer or the config changes, so cached archives are rebuilt
_RECIPE = "1"


def image_ref() -> str:
    """Upstream's own tag: the version with its `v` (`traefik:v3.6.12`)."""
    return f"{REPOSITORY}:{versions.get('TRAEFIK_VERSION')}"


def traefik_binary() -> Path:
    """The traefik `make tools` builds (`fadi-seldon tools install traefik`)."""
    return installed_binary("traefik", "the Go module proxy (github.com/traefik/traefik/v3)")


def license_text() -> bytes:
    """Traefik's LICENSE.md from the Go module cache, where its build left it; else a pointer to it."""
    return base.module_licence(
        "github.com/traefik/traefik/v3",
        versions.get("TRAEFIK_VERSION"),
        "LICENSE.md",
        "Traefik is released under the MIT licence: https://github.com/traefik/traefik/blob/master/LICENSE.md",
    )


def image_config() -> oci.ImageConfig:
    """Upstream's entrypoint (`traefik`, its flags as the container's args), as user 65532."""
    return oci.ImageConfig(
        user=f"{USER}:{USER}",
        working_dir="/",
        entrypoint=["traefik"],
        labels={
            "org.opencontainers.image.title": "traefik",
            "org.opencontainers.image.version": versions.get("TRAEFIK_VERSION"),
        },
    )


def build(progress: Progress | None = None, binary: Path | None = None) -> Built:
    """The Traefik image archive, cached by the binary's and the licence's hashes."""
    spec = base.BinaryImage(
        what="traefik",
        folder="gateway",
        stem=f"traefik-{versions.get('TRAEFIK_VERSION')}",
        binary=Path(binary) if binary else traefik_binary(),
        path=TRAEFIK_PATH,
        licence=license_text(),
        licence_path=LICENSE_PATH,
        packages=PACKAGES,
        config=image_config(),
        ref=image_ref(),
        recipe=_RECIPE,
    )
    return base.binary_image(spec, progress or Progress("traefik"))
