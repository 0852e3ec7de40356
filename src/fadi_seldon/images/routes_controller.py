"""The route controller's image (the chart's `gatewayRoutes.image`): fadi-seldon with its `routes` extra
on the Debian python3 base, built without Docker like the model images.

Three layers: the python3 rootfs (base.rootfs), the dependencies of fadi-seldon and of its routes
extra (kopf, aiohttp...) installed by the host's pip for the image's CPython (images.model's
dependency layer, cached by the requirement lines), and fadi-seldon itself: a wheel of this checkout
(`pip wheel --no-deps --no-build-isolation`, offline, as tests/test_wheel.py builds it) unpacked into
site-packages. The archive is cached by the wheel's file contents, so an unchanged checkout is not
rebuilt. User 8888 (non-root, as the chart's restricted pod runs it); the entrypoint is
`python3 -m fadi_seldon`, the chart passes `routes controller ...`.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import sys
import tempfile
import zipfile
from email.parser import Parser
from pathlib import Path

from fadi_seldon import __version__
from fadi_seldon.images import (
    Built,
    ImageError,
    Progress,
    base,
    cache_dir,
    cached,
    model,
    run_logged,
    write_image,
)
from fadi_seldon.runtime import oci
from fadi_seldon.runtime.files import atomic_write

REPOSITORY = "docker.io/cetic/fadi-seldon-routes"
USER = 8888
EXTRA = "routes"
# bump when the layers or the config change, so cached archives are rebuilt
_RECIPE = "1"


def image_ref() -> str:
    """The chart's default `gatewayRoutes.image`: the package's version is the tag."""
    return f"{REPOSITORY}:{__version__}"


def checkout() -> Path:
    """The source checkout this package runs from (a wheel is built from it)."""
    root = Path(__file__).resolve().parents[3]
    if not (root / "pyproject.toml").is_file():
        raise ImageError(
            f"fadi-seldon runs from {root}, not from a source checkout: the route controller's image is built "
            "from one (clone the project and `make setup`)"
        )
    return root


def build_wheel(source: Path, dest: Path, log: Path) -> Path:
    argv = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
            "--disable-pip-version-check", "-q", "-w", str(dest), str(source)]  # fmt: skip
    run_logged(argv, log, "pip wheel of fadi-seldon")
    found = sorted(dest.glob("fadi_seldon-*.whl"))
    if not found:
        raise ImageError(f"pip wheel wrote no fadi_seldon wheel in {dest} (see {log})")
    return found[-1]


def requirements(wheel: Path) -> list[str]:
    """The wheel's own requirements and those of its routes extra, markers dropped for the image."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        meta = Parser().parsestr(archive.read(name).decode())
    out = []
    for line in meta.get_all("Requires-Dist") or []:
        spec, _, marker = line.partition(";")
        extra = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", marker)
        if extra is None or extra.group(1) == EXTRA:
            out.append(spec.strip())
    return out


def wheel_digest(wheel: Path) -> str:
    """A hash of the wheel's files (names and bytes), not of the zip: timestamps change every build."""
    digest = hashlib.sha256()
    with zipfile.ZipFile(wheel) as archive:
        for name in sorted(archive.namelist()):
            digest.update(name.encode() + b"\0" + archive.read(name))
    return digest.hexdigest()[:16]


def image_config(base_env: tuple[str, ...]) -> oci.ImageConfig:
    return oci.ImageConfig(
        user=str(USER),
        env=oci.merge_env(base_env, ("PYTHONUNBUFFERED=1",)),
        working_dir="/tmp",
        entrypoint=["python3", "-m", "fadi_seldon"],
        cmd=["routes", "controller"],
        exposed_ports=["8080/tcp"],
        labels={"org.opencontainers.image.title": "fadi-seldon-routes", "fadi-seldon": __version__},
    )


def build(progress: Progress | None = None) -> Built:
    """The image archive: wheel built, dependencies layer (cached), the wheel's files as the last layer."""
    progress = progress or Progress("routes-controller")
    work = Path(tempfile.mkdtemp(prefix="fadi-routes-image-"))
    try:
        wheel = build_wheel(checkout(), work / "dist", cache_dir() / "logs" / "routes-controller-wheel.log")
        key = f"{wheel_digest(wheel)}-{base.rootfs_key(base.PYTHON_PACKAGES)}-r{_RECIPE}"
        archive = cache_dir() / "routes" / f"fadi-seldon-routes-{__version__}-{key}.oci.tar"
        found = cached(archive, progress, "route controller")
        if found:
            return found
        reqs = work / "requirements-routes.txt"
        atomic_write(reqs, "\n".join(requirements(wheel)) + "\n")
        rootfs = base.rootfs(base.PYTHON_PACKAGES, progress)
        deps = model.dependencies_layer(reqs, progress)
        app = oci.Layer(comment=f"pip install {wheel.name} (no deps)")
        with zipfile.ZipFile(wheel) as zipped:
            for name in sorted(n for n in zipped.namelist() if not n.endswith("/")):
                app.add_file(f"{base.PYTHON_SITE}/{name}", zipped.read(name), mode=0o644)
        return write_image(
            archive, [rootfs.layer, deps], app, image_config(rootfs.env), image_ref(), progress
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
