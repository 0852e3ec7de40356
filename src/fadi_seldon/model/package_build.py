"""`fadi-seldon package` as one sequence: a model folder to its build context, then to an image.

The steps, in the order a user expects them and no other: when the image is to go into the local
node, check first that a node runs (an image that could not go anywhere is not built); render the
build context (either runtime) and write it into the folder, or only list what would be written
(a dry run); then build the image, with `docker build` where an engine answers, else as an OCI
archive built without Docker (also when an archive or a load is asked for); finally import the
archive into the node. The command only turns arguments into a `Request` and prints the `Packaged`.

The OCI build and the node's check and import belong to packages declared after `model` (`images`
builds the archive, `localkube` owns the node), which this module must not import: the caller
passes them as `ImageSteps` (`localkube.node_images.PackagingSteps` for the CLI, a fake in tests).
"""

from __future__ import annotations

import shlex
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from fadi_seldon.model import packaging
from fadi_seldon.model.build_context import Options, PackageError, Planned, Rendered
from fadi_seldon.runtime import commands
from fadi_seldon.sdep.graph import GraphError


class NothingToLoad(PackageError):
    """A load was asked for and no real node runs: nothing is built (exit 3 for the CLI)."""


class ImageFailed(PackageError):
    """The image could not be built or imported; `details` is what is known so far (the archive
    built before a failed import), for a JSON error."""

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.details = details or {}


class BuiltImage(Protocol):
    """What the OCI build returns (images.Built, read-only)."""

    @property
    def archive(self) -> Path: ...

    @property
    def ref(self) -> str: ...

    @property
    def digest(self) -> str: ...

    @property
    def size(self) -> int: ...


class ImageSteps(Protocol):
    """The steps other packages own. Each raises PackageError (NothingToLoad from `check_node`) or
    OSError, in plain words."""

    def check_node(self) -> None: ...

    def build_archive(self, options: Options, image: str, archive: Path | None) -> BuiltImage: ...

    def load(self, archive: Path) -> list[str]: ...


@dataclass(frozen=True)
class Request:
    """What `fadi-seldon package` was asked to do."""

    options: Options
    dry_run: bool = False
    force: bool = False
    build: bool = False  # --build: docker build, or the OCI build where no engine answers
    load: bool = False  # --load: the OCI build, imported into the local node
    archive: Path | None = None  # --archive: the OCI build, written there


@dataclass
class Packaged:
    """What was done: the rendered context, each file's fate, the build command, the image built."""

    rendered: Rendered
    files: list[Planned]
    build_command: list[str]
    image: dict[str, Any] | None = None  # the OCI archive: archive, ref, digest, size (and loaded)
    built: bool = False  # an image was built (by docker or as an OCI archive)

    @property
    def conflicts(self) -> list[str]:
        """Files of the user's that a run without --force would refuse to replace."""
        return [f.path for f in self.files if f.action == "conflict"]


def package(request: Request, images: ImageSteps, say: Callable[[str], None]) -> Packaged:
    """Run the whole sequence for `request`; `say` gets the lines a user watching stderr reads
    (the build command, docker's start). PackageError (with its subclasses) for every failure."""
    if request.load:
        images.check_node()
    rendered, files = _context(request)
    folder = request.options.folder
    result = Packaged(rendered, files, ["docker", "build", "-t", rendered.image, str(folder)])
    if request.dry_run:
        return result
    if request.load or request.archive or (request.build and not docker_available()):
        result.image = _oci_image(request, rendered.image, images)
        result.built = True
    else:
        result.built = _docker_build(request.build, result.build_command, say)
    return result


def _context(request: Request) -> tuple[Rendered, list[Planned]]:
    """The build context rendered, then written (or, for a dry run, planned)."""
    folder = request.options.folder
    try:
        rendered = packaging.render(request.options)
        write = packaging.plan if request.dry_run else packaging.write
        return rendered, write(folder, rendered.files, request.force)
    except GraphError as err:
        raise PackageError(str(err)) from None
    except OSError as err:
        raise PackageError(
            f"cannot write into {folder}: {err.strerror or err} ({err.filename or folder})"
        ) from None


def _oci_image(request: Request, image: str, images: ImageSteps) -> dict[str, Any]:
    """The OCI archive built (and imported when asked), as the result reports it."""
    try:
        built = images.build_archive(request.options, image, request.archive)
    except OSError as err:
        raise ImageFailed(f"cannot build the image: {err.strerror or err} ({err.filename})") from None
    done: dict[str, Any] = {"archive": str(built.archive), "ref": built.ref, "digest": built.digest}
    done["size"] = built.size
    if request.load:
        try:
            done["loaded"] = images.load(built.archive)
        except (PackageError, OSError) as err:
            raise ImageFailed(
                f"built {built.archive} but could not import it into the local cluster: {err}",
                {"oci_image": done},
            ) from None
    return done


def docker_available() -> bool:
    """A Docker engine answers (`docker info`), not just a docker client installed."""
    docker = shutil.which("docker")
    if not docker:
        return False
    try:
        return commands.run([docker, "info"], timeout=20).ok
    except (OSError, commands.TimeoutExpired):
        return False


def _docker_build(requested: bool, build: list[str], say: Callable[[str], None]) -> bool:
    """`docker build` when asked for (run only where an engine answers: otherwise the build goes
    without Docker); its output goes to stderr, stdout holds the result. Not asked for: the command
    to run. True when an image was built."""
    if not requested:
        say(f"build the image with: {shlex.join(build)}")
        return False
    say(f"building: {shlex.join(build)}")
    code = commands.run(build, show=True).code  # on stderr: docker's progress is not the result
    if code != 0:
        raise ImageFailed(f"`{shlex.join(build)}` failed (exit {code}); docker's output is above")
    return True
