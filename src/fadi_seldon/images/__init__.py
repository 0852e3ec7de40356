"""Container images built without a Docker engine: the Debian base, the pod sandbox ("pause"), the
Seldon operator, executor and model images (mock_classifier among them), each written as an OCI
archive the local node imports.

What every builder shares lives here: the result type, the cache folder, progress lines with the
elapsed time, running a host command with its output kept in a log and installing a missing Debian
package (debootstrap, gcc), both in the image builders' terms (ImageError) over the runtime's one
runner and one apt-get installer, and writing an image's own layer over cached base layers
(write_image).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fadi_seldon.runtime import apt, commands

if TYPE_CHECKING:
    from fadi_seldon.runtime import oci


class ImageError(RuntimeError):
    """An image cannot be built; the message says what is missing and how to get it."""


@dataclass(frozen=True)
class Built:
    """A built image: the archive to import, the full name it is imported under, its manifest digest."""

    archive: Path
    ref: str
    digest: str
    size: int
    cached: bool = False


def cache_dir() -> Path:
    """<tools>/images: cached rootfs layers and archives, keyed by the versions they were built from."""
    from fadi_seldon.tools.layout import default_tools_dir

    return default_tools_dir() / "images"


class Progress:
    """Progress lines on stderr: `[images 12.3s] step`, so a slow cold build shows where it is."""

    def __init__(self, name: str, stream=None) -> None:
        self.name = name
        self.stream = stream or sys.stderr
        self.started = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def say(self, message: str) -> None:
        print(f"[{self.name} {self.elapsed():5.1f}s] {message}", file=self.stream, flush=True)


def which(command: str) -> str | None:
    """A command on PATH or in the sbin folders (a non-login root shell may lack them in PATH)."""
    return commands.which(command)


def ensure_command(command: str, package: str, progress: Progress) -> str:
    """The path of `command`; installs the Debian `package` with apt-get when root and missing."""
    found = which(command)
    if found:
        return found
    apt_install(package, progress, f"{command} is missing")
    found = which(command)
    if not found:
        raise ImageError(f"{package} is installed but {command} is not found on PATH or in /usr/sbin")
    return found


def apt_install(package: str, progress: Progress, why: str) -> None:
    """Install a Debian package with its output shown; without root or apt, say what to install."""
    try:
        apt_get = apt.apt_get(which)
    except apt.AptUnavailable:
        raise ImageError(
            f"{why}: install the Debian package {package} (as root: apt-get install {package}) and run again"
        ) from None
    progress.say(f"{why}: apt-get install {package}")
    try:
        apt.install(apt_get, [package], apt.shown, progress.say)
    except apt.AptFailed:
        raise ImageError(
            f"apt-get install {package} failed (output above); install {package} and retry"
        ) from None


def run_logged(argv: Sequence[str], log: Path, what: str, *, env: dict[str, str] | None = None) -> None:
    """Run a build command with its output appended to `log`; a failure quotes the log's end."""
    try:
        commands.run_logged(argv, log, what, env=env)
    except commands.CommandFailed as err:
        raise ImageError(str(err)) from None


def cached(archive: Path, progress: Progress, what: str) -> Built | None:
    """The image already built at `archive` (the cache is keyed by the inputs' hashes), or None
    when there is none or it cannot be read (then the caller builds it again)."""
    from fadi_seldon.runtime import oci

    if not archive.is_file():
        return None
    try:
        digest = oci.read_index(archive)["manifests"][0]["digest"]
        name = oci.image_name(archive)
    except (OSError, ValueError, KeyError, IndexError, oci.OCIError):
        progress.say(f"cached {what} archive unreadable; rebuilding")
        return None
    progress.say(f"{what} image cached: {archive}")
    return Built(archive, name, digest, archive.stat().st_size, True)


def write_image(
    archive: Path,
    base_layers: list[oci.Blob],
    layer: oci.Layer,
    config: oci.ImageConfig,
    ref: str,
    progress: Progress,
) -> Built:
    """Write the image's own `layer` beside `archive`, then the archive over the cached `base_layers`;
    the layer's tar goes once the archive holds its copy."""
    from fadi_seldon.runtime import oci

    archive.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{archive.name}-", dir=archive.parent))
    try:
        blob = layer.write(work / "layer.tar")
        written = oci.write_archive(archive, [*base_layers, blob], config, ref)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    progress.say(f"wrote {archive} ({written.size / 1e6:.0f} MB)")
    return Built(written.path, written.ref, written.digest, written.size)


def installed_binary(tool: str, built_from: str) -> Path:
    """A program `make tools` installs (Seldon's operator or executor), resolved to its file; the
    error says how to get it (`built_from`: where the tools installer builds it from)."""
    from fadi_seldon.tools.layout import find_executable

    found = find_executable(tool)
    if not found:
        raise ImageError(
            f"the {tool} binary is not installed: run `fadi-seldon tools install {tool}` (it builds it from "
            f"{built_from}), then build the image again"
        )
    return Path(found).resolve()
