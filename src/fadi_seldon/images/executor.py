"""The Seldon executor image (`docker.io/seldonio/seldon-core-executor:<SELDON_CORE_VERSION>`), from the
executor binary the tool installer builds out of Seldon's source release.

What upstream's `executor/Dockerfile.executor` makes, where it can be made here: the binary at
`/executor` as the entrypoint, working folder `/` (the executor serves `./openapi/` relative to it),
the third-party licence texts at `/licenses/license.txt`. Its name is the chart's default executor
image, so the operator's pods find it on the node without any `--set`.

Differences, each for a reason:
- base: upstream's distroless base-debian11 is a registry image; here a Debian rootfs made by
  debootstrap stands in. The binary is cgo-linked (confluent-kafka-go bundles librdkafka statically,
  glibc is linked dynamically), so the rootfs must carry glibc: minbase does, plus ca-certificates
  (distroless base has them too, with SSL_CERT_FILE pointing at the bundle) for TLS to loggers and
  tracers.
- user: 8888. The Docker Hub image sets no USER (distroless `latest` is root) and is run as 8888 by
  the operator (the chart's `executor.user`, EXECUTOR_CONTAINER_USER); upstream's Red Hat image says
  `USER 8888` itself. Setting it here keeps the image non-root even outside the operator.
- no `/openapi/` (swagger UI and seldon.json): upstream copies it from the repository's top-level
  `openapi/`, which the source release does not hold; the executor then logs "Failed to embed
  variables on OpenAPI template" once at start and answers 404 under `/api/v1.0/doc/`. Nothing else
  reads it.
- no `/licenses/mpl_source/`: upstream downloads those MPL sources from GitHub at build time.
- no EXPOSE, as upstream: the operator declares the ports (8000 http and metrics, 5001 grpc).
- the entrypoint carries the executor's own `--shutdown_delay` flag (SHUTDOWN_DELAY) before the
  operator's arguments. Upstream leaves it at 0 and the operator gives the executor container no
  preStop hook nor any setting for the flag, so at SIGTERM the executor stops listening at once,
  while kube-proxy still sends the pod new connections until it has removed its endpoint (up to its
  1 s minSyncPeriod later): every rollout or scale-down refused 4 to 12 requests at 20 per second
  (tests/cluster/test_15_faults.py). With the delay the executor keeps answering until no Service
  routes to it any more, then drains in-flight requests within its 15 s `--graceful_timeout`; the
  model containers' preStop sleep (10 s, the operator's) outlasts it and the pod's 20 s grace period
  holds both. The operator's arguments come after the entrypoint's, so a `--shutdown_delay` it ever
  passes wins (Go's flag package keeps the last value).

Cached by version, the binary's hash, the licence file's hash and the rootfs key.
"""

from __future__ import annotations

import hashlib
import tarfile
from pathlib import Path

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
from fadi_seldon.runtime import oci, versions

REPOSITORY = "docker.io/seldonio/seldon-core-executor"
# the chart's executor.user (EXECUTOR_CONTAINER_USER) and the USER of upstream's Red Hat image
EXECUTOR_UID = 8888
ENTRYPOINT = "/executor"
# longer than kube-proxy's 1 s minSyncPeriod plus the endpoint controller's reaction, shorter than
# the model containers' 10 s preStop sleep, so the model still answers while the executor drains
SHUTDOWN_DELAY = "5s"
PACKAGES = ("ca-certificates",)
# distroless base's own variable: Go's crypto/x509 reads the bundle from it first
IMAGE_ENV = ("SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",)
LICENSE_MEMBER = "executor/licenses/license.txt"
LICENSE_PATH = "licenses/license.txt"
# bump when the layer's content or the config changes, so cached archives are rebuilt
_RECIPE = "2"


def version() -> str:
    return versions.get("SELDON_CORE_VERSION")


def image_ref() -> str:
    return f"{REPOSITORY}:{version()}"


def seldon_source() -> Path:
    """The Seldon Core source release, found (SELDON_CORE_SOURCE, else shared/vendor/ beside the
    checkout) and checked (the pinned sha256 and top folder) by the tools' resolver before any use."""
    from fadi_seldon.tools import ToolError, seldon_core_source

    try:
        return seldon_core_source()
    except ToolError as err:
        raise ImageError(str(err)) from None


def source_member(source: Path, member: str) -> bytes:
    """One file of the source release (`executor/...` below its `seldon-core-<version>/` folder)."""
    name = f"seldon-core-{version()}/{member}"
    try:
        with tarfile.open(source) as tar:
            handle = tar.extractfile(name)
            if handle is None:
                raise KeyError(name)
            return handle.read()
    except (OSError, tarfile.TarError, KeyError) as err:
        raise ImageError(f"{source}: cannot read {name} ({err}); is it Seldon's source release?") from err


def executor_binary() -> Path:
    """The installed executor (`fadi-seldon tools install seldon-executor` builds it from the source release)."""
    return installed_binary("seldon-executor", "Seldon's source release, SELDON_CORE_SOURCE")


def image_config(base_env: tuple[str, ...]) -> oci.ImageConfig:
    """Upstream's WORKDIR and ENTRYPOINT (with a shutdown delay), the user the operator runs it as, the base's environment."""
    return oci.ImageConfig(
        user=str(EXECUTOR_UID), env=oci.merge_env(base_env, IMAGE_ENV), working_dir="/",
        entrypoint=[ENTRYPOINT, f"--shutdown_delay={SHUTDOWN_DELAY}"],
        labels={"org.opencontainers.image.title": "seldon-core-executor", "version": version()},
    )  # fmt: skip


def archive_path(binary_digest: str, license_digest: str, rootfs_key: str) -> Path:
    """The cached archive of this version, binary, licence file, rootfs, shutdown delay and recipe."""
    short = [d.split(":", 1)[-1][:12] for d in (binary_digest, license_digest)]
    return cache_dir() / (
        f"seldon-core-executor-{version()}-{short[0]}-{short[1]}-{rootfs_key}"
        f"-d{SHUTDOWN_DELAY}-r{_RECIPE}.oci.tar"
    )


def build(progress: Progress | None = None, binary: Path | None = None, source: Path | None = None) -> Built:
    """The executor image archive, cached. `binary` defaults to the installed executor, `source` (for
    the licence texts) to seldon_source()."""
    progress = progress or Progress("executor")
    binary = Path(binary) if binary else executor_binary()
    license_text = source_member(Path(source) if source else seldon_source(), LICENSE_MEMBER)
    license_digest = hashlib.sha256(license_text).hexdigest()
    archive = archive_path(oci.sha256_file(binary), license_digest, base.rootfs_key(PACKAGES))
    found = cached(archive, progress, "executor")
    if found:
        return found
    rootfs = base.rootfs(PACKAGES, progress)
    layer = oci.Layer(comment=f"COPY executor {ENTRYPOINT} (seldon-core {version()}) and its licences")
    layer.add_file(ENTRYPOINT, binary.read_bytes(), mode=0o755)
    layer.add_file(LICENSE_PATH, license_text, mode=0o644)
    return write_image(archive, [rootfs.layer], layer, image_config(rootfs.env), image_ref(), progress)
