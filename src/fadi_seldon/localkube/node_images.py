"""Images on the real node: imported from OCI archives into containerd's Kubernetes namespace.

There is no registry here: images built by `fadi_seldon.images` (pause, the operator, models) are
written as OCI archives and imported with containerd's own `ctr`, into the namespace the CRI plugin
serves pods from. Pods then use them with `imagePullPolicy: IfNotPresent` or `Never`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from fadi_seldon import tools as toolchain
from fadi_seldon.localkube.layout import Layout, containerd_socket, default_state_dir
from fadi_seldon.runtime import commands, oci

if TYPE_CHECKING:
    from fadi_seldon import images
    from fadi_seldon.model import packaging

CONTAINERD_NAMESPACE = "k8s.io"  # the CRI plugin's namespace: images pods can use


class ImageError(RuntimeError):
    """An image could not be imported or listed; the message says why and what to do."""


class NoNode(ImageError):
    """No real node runs (no containerd socket): nothing to load into, which the CLI says at once,
    before building an image that could not go anywhere."""


def check_node(layout: Layout | None = None) -> Path:
    """The running node's containerd socket; NoNode when there is none."""
    sock = containerd_socket(layout or Layout(default_state_dir().resolve()))
    if not sock.exists():
        raise NoNode(
            f"no real node is running ({sock} is missing): run `fadi-seldon cluster up` on a host that "
            "can run one (`fadi-seldon cluster status` says which kind of node the cluster has)"
        )
    return sock


def ctr(layout: Layout, *args: str, timeout: float = 300) -> str:
    """`ctr args` against the node's containerd, in the pods' namespace: its output, or ImageError
    with what ctr said (TimeoutExpired past `timeout`)."""
    exe = toolchain.find_executable("ctr", toolchain.default_tools_dir() / "bin")
    if not exe:
        raise ImageError(
            "`ctr` is not installed: run `make tools TOOLS=node` (or `fadi-seldon tools install node`)"
        )
    sock = check_node(layout)
    argv = [exe, "--address", str(sock), "--namespace", CONTAINERD_NAMESPACE, *args]
    proc = commands.run(argv, timeout=timeout)
    if not proc.ok:
        raise ImageError(f"`ctr {' '.join(args)}` failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


class BadArchive(ImageError):
    """A file that is not an OCI image archive (or no file): unusable input, found before any import."""


def archive_names(archive: Path) -> list[str]:
    """The image names an OCI archive holds (what containerd calls them once imported)."""
    if not Path(archive).is_file():
        state = "not a file" if Path(archive).exists() else "no such file"
        raise BadArchive(f"{archive}: {state} (an OCI image archive, .oci.tar)")
    try:
        return [oci.image_name(Path(archive))]
    except oci.OCIError as err:
        raise BadArchive(str(err)) from None


def import_archive(archive: Path, layout: Layout | None = None) -> list[str]:
    """Import an OCI image archive into the node; returns the image names it held, each checked
    to be on the node afterwards (`ctr` prints progress, not a list to rely on)."""
    layout = layout or Layout(default_state_dir().resolve())
    names = archive_names(archive)
    ctr(layout, "images", "import", str(archive))
    missing = [n for n in names if n not in present(layout)]
    if missing:
        raise ImageError(f"{archive}: imported, but the node does not list {', '.join(missing)}")
    return names


def present(layout: Layout | None = None) -> set[str]:
    """The image names the node has (what pods can use without a pull)."""
    layout = layout or Layout(default_state_dir().resolve())
    lines = ctr(layout, "images", "list", "--quiet").splitlines()
    return {line.strip() for line in lines if line.strip()}


class PackagingSteps:
    """The image steps of `fadi-seldon package` (model.package_build.ImageSteps) on this machine:
    the OCI build without Docker (images.model) and the node's check and import, their failures
    said in the build's terms, so the sequence in `model` never names a later package's error."""

    def check_node(self) -> None:
        from fadi_seldon.model import package_build

        try:
            check_node()
        except NoNode as err:
            raise package_build.NothingToLoad(str(err)) from None

    def build_archive(self, options: packaging.Options, image: str, archive: Path | None) -> images.Built:
        from fadi_seldon.images import ImageError as BuildError
        from fadi_seldon.images import model as model_image
        from fadi_seldon.model import package_build

        try:
            return model_image.build(
                options.folder, image, class_ref=options.class_ref, service_type=options.service_type,
                name=options.name, archive=archive, runtime=options.runtime,
            )  # fmt: skip
        except BuildError as err:
            raise package_build.ImageFailed(str(err)) from None

    def load(self, archive: Path) -> list[str]:
        from fadi_seldon.model import package_build

        try:
            return import_archive(archive)
        except ImageError as err:
            raise package_build.ImageFailed(str(err)) from None
