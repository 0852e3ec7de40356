"""The Debian base of the images: a minimal bookworm root filesystem made by debootstrap from the
machine's own Debian mirror, kept as one cached layer tar.

Why debootstrap and not a registry image: the machines this runs on reach the Debian mirror (apt)
but no container registry. The rootfs is stored as a tar, not as a folder: debootstrap creates
device nodes in /dev, which a layer must not carry (the runtime mounts /dev) and which an unprivileged
copy could not recreate; the tar keeps symlinks, hard links, owners, modes and the files' own
modification times (Debian's .pyc files are checked against their sources' mtimes). Built once per
key (suite, package list, recipe), reused afterwards in well under a second.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from fadi_seldon.images import (
    Built,
    ImageError,
    Progress,
    cache_dir,
    cached,
    ensure_command,
    run_logged,
    write_image,
)
from fadi_seldon.runtime import oci, versions
from fadi_seldon.runtime.files import atomic_write

DEFAULT_MIRROR = "http://deb.debian.org/debian"
PYTHON_PACKAGES = ("python3", "ca-certificates")
# the Debian python3 of bookworm (3.11.2) reads this folder; model dependencies go there
PYTHON_SITE = "usr/local/lib/python3.11/dist-packages"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BASE_ENV = (PATH_ENV, "LANG=C.UTF-8")
# bump when the cleanup below changes, so cached rootfs layers are rebuilt
_RECIPE = "1"
# removed after debootstrap: documentation (copyright files stay), manuals, translations, apt's lists
# and package cache, logs of the bootstrap itself
_REMOVE = (
    "usr/share/man/*",
    "usr/share/info/*",
    "usr/share/locale/*",
    "usr/share/lintian/*",
    "var/lib/apt/lists/*",
    "var/cache/apt/*",
    "var/cache/debconf/*-old",
    "var/log/*",
    "etc/hostname",
)


@dataclass(frozen=True)
class Rootfs:
    """A cached rootfs layer and the environment an image built on it starts from."""

    layer: oci.Blob
    env: tuple[str, ...]
    key: str
    cached: bool


def suite() -> str:
    return versions.get("IMAGE_BASE_SUITE")


def debian_mirror(target_suite: str | None = None) -> str:
    """The machine's Debian mirror (the one apt uses, so it is reachable), else deb.debian.org."""
    override = os.environ.get("FADI_DEBIAN_MIRROR")
    if override:
        return override
    target_suite = target_suite or suite()
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        with contextlib.suppress(OSError):
            for stanza in Path(path).read_text(encoding="utf-8").split("\n\n"):
                fields = dict(re.findall(r"^([A-Za-z-]+):\s*(.*)$", stanza, re.M))
                if target_suite in fields.get("Suites", "").split() and fields.get("URIs"):
                    return fields["URIs"].split()[0]
    with contextlib.suppress(OSError):
        for line in Path("/etc/apt/sources.list").read_text(encoding="utf-8").splitlines():
            words = re.sub(r"\[[^]]*\]", "", line).split()
            if len(words) >= 3 and words[0] == "deb" and words[2] == target_suite:
                return words[1]
    return DEFAULT_MIRROR


def rootfs_key(packages: tuple[str, ...], target_suite: str | None = None) -> str:
    """The cache key: suite, packages and recipe; a readable head and a short hash."""
    target_suite = target_suite or suite()
    digest = hashlib.sha256(f"{target_suite}|{','.join(sorted(packages))}|{_RECIPE}".encode()).hexdigest()
    return f"debian-{target_suite}-{digest[:12]}"


def rootfs(packages: tuple[str, ...] = PYTHON_PACKAGES, progress: Progress | None = None) -> Rootfs:
    """The rootfs layer with `packages` installed: from the cache, or debootstrapped now (about a minute)."""
    progress = progress or Progress("base")
    key = rootfs_key(packages)
    folder = cache_dir() / "base"
    tar, record = folder / f"{key}.tar", folder / f"{key}.json"
    if tar.is_file() and record.is_file():
        with contextlib.suppress(OSError, ValueError, KeyError):
            blob = oci.Blob.from_json(tar, json.loads(record.read_text(encoding="utf-8")))
            progress.say(f"base rootfs {key} cached ({blob.size / 1e6:.0f} MB)")
            return Rootfs(blob, BASE_ENV, key, True)
    blob = _bootstrap(packages, key, tar, progress)
    atomic_write(record, json.dumps({**blob.to_json(), "packages": sorted(packages)}, indent=2) + "\n")
    return Rootfs(blob, BASE_ENV, key, False)


def _bootstrap(packages: tuple[str, ...], key: str, tar: Path, progress: Progress) -> oci.Blob:
    """debootstrap into a scratch folder, trim it, write the layer tar, remove the folder."""
    if os.geteuid() != 0:
        raise ImageError(
            "building the Debian base image needs root (debootstrap installs packages in a chroot); "
            f"run this once as root, or copy a built {tar.name} into {tar.parent}"
        )
    debootstrap = ensure_command("debootstrap", "debootstrap", progress)
    mirror, target_suite = debian_mirror(), suite()
    tar.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=tar.parent))
    try:
        root = scratch / "rootfs"
        argv = [
            debootstrap,
            "--variant=minbase",
            f"--include={','.join(packages)}",
            target_suite,
            str(root),
            mirror,
        ]
        progress.say(f"debootstrap {target_suite} with {', '.join(packages)} from {mirror} (about a minute)")
        run_logged(argv, cache_dir() / "logs" / f"{key}.log", "debootstrap")
        progress.say("trimming docs, manuals, locales and apt caches")
        trim(root)
        layer = oci.Layer(comment=f"debootstrap --variant=minbase {target_suite} {' '.join(packages)}")
        skipped = layer.add_tree(root, "", keep_mtime=True)
        progress.say(
            f"writing the rootfs layer ({len(layer.entries)} entries, {len(skipped)} device nodes left out)"
        )
        blob = layer.write(tar)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    progress.say(f"base rootfs {key}: {blob.size / 1e6:.0f} MB")
    return blob


def trim(root: Path) -> None:
    """What an image does not need: docs (copyright files kept), manuals, locales, apt lists, logs."""
    for pattern in _REMOVE:
        for path in glob.glob(str(root / pattern)):
            _remove(Path(path))
    for path in glob.glob(str(root / "usr/share/doc/*/*")):
        if Path(path).name != "copyright" and not Path(path).parent.is_symlink():
            _remove(Path(path))
    resolv = root / "etc/resolv.conf"
    if resolv.exists() or resolv.is_symlink():
        resolv.unlink()
        resolv.write_text("")  # the runtime mounts the pod's own; the host's must not leak in


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def build(progress: Progress | None = None) -> Built:
    """The base image on its own (python3 as its command): `localhost/fadi-seldon/debian-python:<suite>`."""
    progress = progress or Progress("base")
    base = rootfs(PYTHON_PACKAGES, progress)
    ref = f"localhost/fadi-seldon/debian-python:{suite()}"
    archive = cache_dir() / f"debian-python-{base.key}.oci.tar"
    config = oci.ImageConfig(env=list(base.env), cmd=["/usr/bin/python3"])
    written = oci.write_archive(archive, [base.layer], config, ref)
    progress.say(f"wrote {archive} ({written.size / 1e6:.0f} MB)")
    return Built(written.path, written.ref, written.digest, written.size, base.cached)


def module_cache() -> Path:
    """Where the go command keeps modules: GOMODCACHE, else GOPATH's first entry, else ~/go (go's defaults)."""
    if os.environ.get("GOMODCACHE"):
        return Path(os.environ["GOMODCACHE"])
    gopath = os.environ.get("GOPATH", "").split(os.pathsep)[0]
    return Path(gopath or os.path.expanduser("~/go")) / "pkg" / "mod"


def module_licence(module: str, version: str, file: str, fallback: str) -> bytes:
    """A Go module's licence text from the module cache, where the tool's build left it; else `fallback`,
    a line saying where it is (a tool from a release archive leaves no module behind)."""
    try:
        return (module_cache() / f"{module}@{version}" / file).read_bytes()
    except OSError:
        return fallback.encode() + b"\n"


@dataclass(frozen=True)
class BinaryImage:
    """An image that is one program on the Debian base (rclone's, Traefik's): what `binary_image` needs."""

    what: str  # progress and messages: "traefik"
    folder: str  # the cache folder under <tools>/images
    stem: str  # the archive's name before the inputs' hashes: "traefik-v3.6.12"
    binary: Path
    path: str  # the program's path in the image
    licence: bytes
    licence_path: str
    packages: tuple[str, ...]
    config: oci.ImageConfig  # its env is the base's PATH and LANG then the image's own
    ref: str
    recipe: str  # the builder's bump key


def binary_image(spec: BinaryImage, progress: Progress) -> Built:
    """The image archive, cached by the binary's and the licence's hashes, the rootfs and the recipe:
    a new build of the tool or a new base makes a new archive, anything else reuses it."""
    short = oci.sha256_file(spec.binary).split(":", 1)[-1][:12]
    digest = hashlib.sha256(spec.licence).hexdigest()[:12]
    name = f"{spec.stem}-{short}-{digest}-{rootfs_key(spec.packages)}-r{spec.recipe}.oci.tar"
    archive = cache_dir() / spec.folder / name
    found = cached(archive, progress, spec.what)
    if found:
        return found
    root = rootfs(spec.packages, progress)
    layer = oci.Layer(comment=f"COPY {spec.stem} {spec.path} and its licence")
    layer.add_file(spec.path, spec.binary.read_bytes(), mode=0o755)
    layer.add_file(spec.licence_path, spec.licence, mode=0o644)
    config = dataclasses.replace(spec.config, env=oci.merge_env(root.env, tuple(spec.config.env)))
    return write_image(archive, [root.layer], layer, config, spec.ref, progress)
