"""The model image of a packaged folder, built without Docker: the image its Dockerfile describes.

Three layers, as the Dockerfile's steps make them: the Debian python3 base (the Dockerfile's
python:3.11-slim stands in for the same Python minor version), the dependencies of
requirements-seldon.txt (requirements-mlserver.txt for an MLServer runtime), and the folder's
files at /app. The dependencies are installed by the host's pip into the layer's tree for the
image's platform (CPython 3.11, manylinux up to bookworm's glibc), never run inside the image, so
no chroot or engine is needed; they are cached by the requirements' content, which makes a rebuild
after a code change take seconds. User, environment, working folder, ports and command come from
the rendered ImageSpec (packaging.image_spec, mlserver_package.image_spec), the data the
Dockerfile's text is rendered from, so the two cannot drift apart.
"""

from __future__ import annotations

import hashlib
import json
import platform
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from fadi_seldon.images import Built, ImageError, Progress, base, cache_dir, dockerignore, run_logged
from fadi_seldon.model import packaging
from fadi_seldon.runtime import commands, oci
from fadi_seldon.runtime.files import atomic_write

PYTHON_VERSION = "3.11"
# glibc of Debian bookworm: the newest manylinux wheels its python3 can load
GLIBC = "2_36"
PYTHON_SHEBANG = b"#!/usr/bin/python3"
# bump when the dependency layer's recipe changes, so cached layers are rebuilt
_RECIPE = "1"


def default_archive(ref: str) -> Path:
    """Outside the model folder, so a later `docker build DIR` does not send the archive as context."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", oci.normalize_ref(ref))
    return cache_dir() / "models" / f"{safe}.oci.tar"


def pip_platform() -> str:
    return f"manylinux_{GLIBC}_{platform.machine()}"


def pip_platforms() -> list[str]:
    """Every manylinux tag the image's glibc loads: pip does not widen `--platform manylinux_2_36` to
    the older tags most wheels carry, so each is named (newest first), legacy aliases included."""
    machine = platform.machine()
    newest = int(GLIBC.split("_")[1])
    tags = [f"manylinux_2_{minor}_{machine}" for minor in range(newest, 4, -1)]
    return tags + [f"manylinux{alias}_{machine}" for alias in ("2014", "2010", "1")]


def requirements_key(text: str) -> str:
    """The dependency layer's cache key: the requirement lines (comments aside) and the target."""
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    payload = "\n".join([*lines, pip_platform(), PYTHON_VERSION, _RECIPE])
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _pip_install(requirements: Path, site: Path, log: Path, find_links: Path | None) -> None:
    argv = [
        sys.executable, "-m", "pip", "install", "--no-compile", "--no-warn-script-location",
        "--disable-pip-version-check", "--target", str(site),
        *(arg for tag in pip_platforms() for arg in ("--platform", tag)), "--python-version", PYTHON_VERSION, "--implementation", "cp",
        "--abi", "cp" + PYTHON_VERSION.replace(".", ""), "--only-binary=:all:", "-r", str(requirements),
    ]  # fmt: skip
    if find_links is not None:
        argv += ["--find-links", str(find_links)]
    run_logged(argv, log, "pip install of the model's requirements")


def install_dependencies(requirements: Path, tree: Path, log: Path, progress: Progress) -> None:
    """pip install for the image's Python into `tree`; sdist-only packages are built as wheels first.

    The host's pip only takes wheels for the image's platform (it cannot run a build for another
    interpreter); a package published only as source is built into a wheel by the host's Python and
    then offered to that same install (fine for pure-Python packages, which most such are).
    """
    site = tree / base.PYTHON_SITE
    try:
        _pip_install(requirements, site, log, None)
    except ImageError:
        progress.say("some requirement has no wheel for the image; building wheels on the host (pip wheel)")
        wheels = tree.parent / "wheels"
        argv = [sys.executable, "-m", "pip", "wheel", "--disable-pip-version-check", "--wheel-dir", str(wheels),
                "-r", str(requirements)]  # fmt: skip
        run_logged(argv, log, "pip wheel of the model's requirements")
        shutil.rmtree(site, ignore_errors=True)
        _pip_install(requirements, site, log, wheels)
    _move_scripts(site / "bin", tree / "usr/local/bin")
    if sys.version_info[:2] == tuple(int(x) for x in PYTHON_VERSION.split(".")):
        progress.say("compiling the dependencies' bytecode (checked-hash .pyc, valid whatever the mtimes)")
        compile_argv = [sys.executable, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode",
                        "checked-hash", "-s", str(tree), "-p", "/", str(site)]  # fmt: skip
        commands.run(compile_argv)  # not checked: a file that does not compile stays source only


def _move_scripts(source: Path, dest: Path) -> None:
    """Console scripts (seldon-core-microservice...) to /usr/local/bin, started by the image's python3.

    pip wrote them for the host's interpreter: either `#!/host/python` or, for long paths, a
    `#!/bin/sh` prelude that execs it. Both become `#!/usr/bin/python3`.
    """
    if not source.is_dir():
        return
    dest.mkdir(parents=True, exist_ok=True)
    for script in sorted(source.iterdir()):
        data = script.read_bytes()
        lines = data.split(b"\n")
        if lines[0].startswith(b"#!/bin/sh") and len(lines) > 2 and lines[1].startswith(b"'''exec'"):
            data = b"\n".join([PYTHON_SHEBANG, *lines[3:]])
        elif lines[0].startswith(b"#!") and b"python" in lines[0]:
            data = b"\n".join([PYTHON_SHEBANG, *lines[1:]])
        target = dest / script.name
        target.write_bytes(data)
        target.chmod(0o755)
    shutil.rmtree(source)


def dependencies_layer(requirements: Path, progress: Progress) -> oci.Blob:
    """The layer of the requirements, cached under <tools>/images/deps by requirements_key."""
    key = requirements_key(requirements.read_text(encoding="utf-8"))
    folder = cache_dir() / "deps"
    tar, record = folder / f"deps-{key}.tar", folder / f"deps-{key}.json"
    if tar.is_file() and record.is_file():
        try:
            blob = oci.Blob.from_json(tar, json.loads(record.read_text(encoding="utf-8")))
            progress.say(f"dependencies layer cached ({blob.size / 1e6:.0f} MB)")
            return blob
        except (OSError, ValueError, KeyError):
            progress.say("cached dependencies layer unreadable; rebuilding")
    folder.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".deps-{key}.", dir=folder))
    try:
        progress.say(f"pip install -r {requirements.name} for CPython {PYTHON_VERSION} ({pip_platform()})")
        install_dependencies(
            requirements, scratch / "tree", cache_dir() / "logs" / f"deps-{key}.log", progress
        )
        layer = oci.Layer(comment=f"RUN pip install -r {requirements.name}")
        layer.add_tree(scratch / "tree", "", owner=(0, 0))
        blob = layer.write(tar)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    atomic_write(record, json.dumps(blob.to_json(), indent=2) + "\n")
    progress.say(f"dependencies layer: {blob.size / 1e6:.0f} MB")
    return blob


def _group_like_owner(mode: int) -> int:
    """`chmod g=u`: a random UID in group 0 (OpenShift) gets the owner's rights."""
    return (mode & ~0o070) | ((mode & 0o700) >> 3)


def app_layer(folder: Path, spec: packaging.ImageSpec, output: Path) -> oci.Blob:
    """The folder's files minus .dockerignore at the working folder, owned UID:0 with g=u."""
    layer = oci.Layer(comment=f"COPY --chown={spec.user}:0 . {spec.workdir}")
    layer.add_dir(spec.workdir, mode=0o775)
    layer.add_tree(
        folder,
        spec.workdir,
        owner=(spec.user, 0),
        mode=_group_like_owner,
        include=dockerignore.matcher(folder),
        prune=not dockerignore.has_exceptions(folder),
    )
    return layer.write(output)


def image_config(spec: packaging.ImageSpec, base_env: tuple[str, ...]) -> oci.ImageConfig:
    """The OCI config of the Dockerfile's USER, ENV (over the base's), WORKDIR, EXPOSE and CMD."""
    return oci.ImageConfig(
        user=str(spec.user),
        env=oci.merge_env(base_env, [f"{key}={value}" for key, value in spec.env]),
        working_dir=spec.workdir,
        exposed_ports=[f"{port}/tcp" for port in spec.ports],
        cmd=spec.cmd,
    )


def build(
    folder: Path,
    image: str | None = None,
    *,
    class_ref: str | None = None,
    service_type: str = "MODEL",
    name: str | None = None,
    archive: Path | None = None,
    progress: Progress | None = None,
    runtime: str = "seldon",
) -> Built:
    """Build the image of a folder `fadi-seldon package` wrote; the same options as that command."""
    progress = progress or Progress("model")
    folder = Path(folder)
    options = packaging.Options(folder, class_ref, service_type, image, name, runtime=runtime)
    rendered = packaging.render(options)
    requirements = folder / rendered.requirements_file
    if not requirements.is_file():
        flag = "" if runtime == "seldon" else f" --runtime {runtime}"
        raise ImageError(
            f"{requirements} is missing: run `fadi-seldon package {folder}{flag}` first, then build"
        )
    root = base.rootfs(base.PYTHON_PACKAGES, progress)
    deps = dependencies_layer(requirements, progress)
    archive = Path(archive) if archive else default_archive(rendered.image)
    archive.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".model-", dir=archive.parent))
    try:
        progress.say(f"app layer from {folder} (minus .dockerignore)")
        app = app_layer(folder, rendered.spec, work / "app.tar")
        config = image_config(rendered.spec, root.env)
        written = oci.write_archive(archive, [root.layer, deps, app], config, rendered.image)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    progress.say(f"wrote {archive} ({written.size / 1e6:.0f} MB) as {written.ref}")
    return Built(written.path, written.ref, written.digest, written.size)


def build_s2i_folder(
    extract: Callable[[Path], dict[str, str]],
    folder_name: str,
    ref: str,
    archive: Path,
    where: str,
    progress: Progress,
) -> Built:
    """An s2i model folder of Seldon's source release as an image: `extract(folder)` writes its files
    into a scratch `folder_name` beside `archive` and returns its s2i environment (MODEL_NAME,
    SERVICE_TYPE), then the folder is packaged as `fadi-seldon package` does and built as
    `package --build` does (the guide's mock_classifier, the Seldon-protocol servers). `where` names
    the folder in messages."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{folder_name}-", dir=archive.parent))
    try:
        folder = work / folder_name
        env = extract(folder)
        class_ref, service_type = env["MODEL_NAME"], env.get("SERVICE_TYPE", "MODEL")
        progress.say(f"packaging {where} ({class_ref}, {service_type})")
        rendered = packaging.render(packaging.Options(folder, class_ref, service_type, ref))
        for note in rendered.notes:
            progress.say(f"note: {note.replace(str(folder) + '/', '')}")
        packaging.write(folder, rendered.files)
        return build(
            folder, ref, class_ref=class_ref, service_type=service_type, archive=archive, progress=progress
        )
    except packaging.PackageError as err:
        raise ImageError(f"{where} cannot be packaged: {err}") from err
    finally:
        shutil.rmtree(work, ignore_errors=True)
