"""Source release archives: found, checked before anything is built, and extracted once.

A tool built from a source release (``Tool.source``, e.g. Seldon's operator and executor, which the
Go module proxy refuses at 1.17.x) needs the release's archive. Where it is: the path in the
release's environment variable (``SELDON_CORE_SOURCE``), else ``../shared/vendor/<file>`` beside the
source checkout (the folder holding versions.env). :func:`resolve` checks that it is the pinned
archive (the sha256 of versions.env, every member below the expected top folder) and otherwise
raises ToolError naming the file, the sha256, the version and the ways out. :func:`extract` unpacks
it once under the tools folder, keyed by that sha256. Nothing of the archive is ever written into
the repository: it is a build input, like a package from a registry.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import Path

from fadi_seldon.runtime import versions
from fadi_seldon.tools.layout import Layout
from fadi_seldon.tools.progress import Progress
from fadi_seldon.tools.spec import SourceRelease, ToolError

# beside the checkout: <repository root>/../shared/vendor/<file name>
VENDOR_FOLDER = ("shared", "vendor")
# written last into an extracted folder: the extraction is complete
COMPLETE = ".extracted"


def default_location(release: SourceRelease, root: Path | None = None) -> Path | None:
    """`<root>/../shared/vendor/<file>`, root being the checkout (None outside a checkout)."""
    root = root if root is not None else versions.repo_root()
    return None if root is None else root.parent.joinpath(*VENDOR_FOLDER, release.file_name)


def ways_out(release: SourceRelease) -> str:
    """The lines every error about the archive ends with: what is expected, and what to do."""
    return (
        f"\n      expected: {release.file_name}, sha256 {release.sha256}, {release.project} "
        f"{release.version}'s source release (top folder {release.top_folder}/)"
        f"\n      either set {release.env_var} to the path of {release.project}'s v{release.version} "
        f"source release ({release.file_name}),"
        f"\n      or {release.otherwise}"
    )


def locate(release: SourceRelease, env: Mapping[str, str] | None = None, root: Path | None = None) -> Path:
    """Where the archive is: the environment variable, else beside the checkout; ToolError if neither."""
    env = os.environ if env is None else env
    given = env.get(release.env_var, "")
    if given:
        path = Path(given).expanduser()
        if not path.is_file():
            raise ToolError(f"{release.env_var}={given}: no such file" + ways_out(release))
        return path.resolve()
    beside = default_location(release, root)
    if beside is None or not beside.is_file():
        where = f"{beside} does not exist" if beside else "this is no source checkout (no ../shared/vendor/)"
        raise ToolError(
            f"{release.project} {release.version}'s source release not found: {release.env_var} is not set "
            f"and {where}" + ways_out(release)
        )
    return beside.resolve()


def sha256_of(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def top_folders(path: Path) -> set[str]:
    """The first path component of every member of a tar archive."""
    with tarfile.open(path) as tar:
        return {member.name.removeprefix("./").split("/", 1)[0] for member in tar.getmembers()}


def resolve(release: SourceRelease, env: Mapping[str, str] | None = None, root: Path | None = None) -> Path:
    """The pinned source release archive, checked (sha256, then top folder) before anything is built.

    ToolError when it is missing, is another file, or is not laid out as the release: each message
    names the expected file, sha256 and version, and the two ways out (:func:`ways_out`).
    """
    path = locate(release, env, root)
    actual = sha256_of(path)
    if actual != release.sha256:
        raise ToolError(
            f"{path}: sha256 {actual} is not the pinned {release.sha256}: this file is not "
            f"{release.project} {release.version}'s source release" + ways_out(release)
        )
    try:
        tops = top_folders(path)
    except (OSError, tarfile.TarError) as err:
        raise ToolError(f"{path}: not a readable tar archive ({err})" + ways_out(release)) from None
    if tops != {release.top_folder}:
        raise ToolError(
            f"{path}: its top folder is {', '.join(sorted(tops)) or 'missing'}, not {release.top_folder}/"
            + ways_out(release)
        )
    return path


def extract(release: SourceRelease, archive: Path, layout: Layout, progress: Progress) -> Path:
    """The archive's top folder, extracted under `<tools>/src/` once per sha256 (resolve it first).

    Extracted into a temporary folder and renamed into place with a marker written last, so an
    interrupted extraction is never used. Members are extracted with tarfile's `data` filter (no
    absolute paths, no links leaving the folder, no special files).
    """
    dest = layout.source_dir / f"{release.top_folder}-{release.sha256[:12]}"
    if (dest / COMPLETE).is_file():
        return dest / release.top_folder
    layout.source_dir.mkdir(parents=True, exist_ok=True)
    progress.say(f"extracting {archive.name} into {dest}")
    work = Path(tempfile.mkdtemp(prefix=f".{release.top_folder}-", dir=layout.source_dir))
    try:
        with tarfile.open(archive) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(work, filter="data")
            else:  # Python < 3.11.4: the archive's sha256 was checked, its members are known
                tar.extractall(work)  # noqa: S202
        (work / COMPLETE).write_text(f"{archive}\nsha256 {release.sha256}\n", encoding="utf-8")
        if not (dest / COMPLETE).is_file():  # another install may have finished first
            shutil.rmtree(dest, ignore_errors=True)
            work.rename(dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return dest / release.top_folder
