"""The prepackaged servers' images: what `implementation: SKLEARN_SERVER` (XGBOOST_SERVER, MLFLOW_SERVER)
runs, under the names the chart's `predictor_servers` give, for both protocols.

- `protocol: seldon` runs `seldonio/<x>server:1.17.1`: a Seldon-wrapper class (SKLearnServer...) read
  at build time from `servers/<x>server/` of Seldon's source release (nothing of it is kept in this
  project), packaged by our own `package` path as mock_classifier is. Its requirements name framework
  versions without a wheel for Python 3.11 (scikit-learn 0.24.2 and 1.0.2, xgboost 1.4.2) and the s2i
  image's local wrapper (`/microservice/python`): those lines are replaced by the versions every image
  and the training venv share (versions.env), which `package` then pins beside the wrapper.
- `protocol: v2` runs `seldonio/mlserver:1.3.5-<runtime>`: MLServer and the runtime from PyPI at the
  versions the host's `serve --protocol v2` proves (model.mlserver), started as upstream's image starts
  it, `mlserver start $MLSERVER_MODELS_DIR` (/mnt/models, where the storage initializer puts the model);
  the operator's MLSERVER_MODEL_* variables name the model (no model-settings.json is needed). Unlike
  upstream's image, no conda environment tarball (MLSERVER_ENV_TARBALL) is activated: the model runs
  with the image's own packages.

MLflow: upstream's Seldon-protocol mlflowserver creates a conda environment from the model's conda.yaml
before each start (`before-run`), which needs conda and the internet; here the server runs in the
image's Python, which has mlflow and scikit-learn at the shared versions.

Each image is cached by its inputs (the source release's sha256 or the pins, our version, the base).
"""

from __future__ import annotations

import re
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from fadi_seldon import __version__
from fadi_seldon.images import Built, ImageError, Progress, base, cache_dir, cached, write_image
from fadi_seldon.runtime import oci, versions
from fadi_seldon.runtime.files import atomic_write

PROTOCOLS = ("seldon", "v2")
# upstream's MLServer image: its working folder, user, and where the operator mounts the model
MLSERVER_WORKDIR = "/opt/mlserver"
MLSERVER_UID = 1000
MODELS_DIR = "/mnt/models"
# bump when a recipe changes, so cached archives are rebuilt
_RECIPE = "1"


@dataclass(frozen=True)
class SeldonServer:
    """A Seldon-protocol server of the source release: its folder and the framework pins it needs."""

    implementation: str
    folder: str  # servers/<folder>/<folder>/ holds the class and requirements.txt
    frameworks: tuple[str, ...]  # requirement lines (versions.env placeholders) replacing upstream's


SELDON_SERVERS: dict[str, SeldonServer] = {
    "SKLEARN_SERVER": SeldonServer(
        "SKLEARN_SERVER", "sklearnserver", ("scikit-learn=={SCIKIT_LEARN_VERSION}",)
    ),
    "XGBOOST_SERVER": SeldonServer(
        "XGBOOST_SERVER",
        "xgboostserver",
        ("xgboost=={XGBOOST_VERSION}", "scikit-learn=={SCIKIT_LEARN_VERSION}"),
    ),
    "MLFLOW_SERVER": SeldonServer(
        "MLFLOW_SERVER", "mlflowserver", ("mlflow=={MLFLOW_VERSION}", "scikit-learn=={SCIKIT_LEARN_VERSION}")
    ),
}
SERVERS = tuple(SELDON_SERVERS)


def image_ref(implementation: str, protocol: str) -> str:
    """The full name the chart's default predictor_servers give this server and protocol."""
    from fadi_seldon.sdep.predictor_servers import DEFAULT_SERVERS

    entry = DEFAULT_SERVERS.get(implementation, {}).get("protocols", {}).get(protocol)
    if implementation not in SELDON_SERVERS or protocol not in PROTOCOLS or not entry:
        raise ImageError(
            f"no image of {implementation} with protocol {protocol} is built here; these are: "
            + ", ".join(f"{s} ({'/'.join(PROTOCOLS)})" for s in SERVERS)
        )
    return oci.normalize_ref(f"{entry['image']}:{entry['defaultImageVersion']}")


def refs() -> dict[str, tuple[str, str]]:
    """Every server image built here: full name -> (implementation, protocol)."""
    return {image_ref(s, p): (s, p) for s in SERVERS for p in PROTOCOLS}


def build(
    implementation: str, protocol: str, progress: Progress | None = None, source: Path | None = None
) -> Built:
    """The image of `implementation` for `protocol`, cached."""
    ref = image_ref(implementation, protocol)
    progress = progress or Progress(ref.rsplit("/", 1)[-1])
    if protocol == "v2":
        return build_mlserver(implementation, ref, progress)
    return build_seldon(SELDON_SERVERS[implementation], ref, progress, source)


# --------------------------------------------------------------------------- protocol: seldon


def pinned(line: str) -> str:
    from fadi_seldon.model import mlserver

    return mlserver.pinned(line)


def requirement_name(line: str) -> str:
    """The canonical project name of a requirement line ('' for paths, options and comments)."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line)
    if not match or line.strip().startswith(("#", "-", "/", ".")):
        return ""
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


def rewrite_requirements(text: str, server: SeldonServer) -> str:
    """Upstream's requirements with the framework lines replaced by the shared pins and the s2i
    image's local wrapper path dropped (`package` pins the wrapper from PyPI)."""
    frameworks = {requirement_name(line): pinned(line) for line in server.frameworks}
    out = [f"# {server.folder}/requirements.txt of Seldon's source release, with the pins of versions.env"]
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith(("/", ".")):  # a local folder: the s2i image's own seldon-core
            continue
        if requirement_name(stripped) not in frameworks:
            out.append(stripped)
    return "\n".join([*out, *frameworks.values()]) + "\n"


def extract_server(source: Path, server: SeldonServer, folder: Path) -> dict[str, str]:
    """The server's Python files and requirements into `folder`; returns its s2i environment."""
    from fadi_seldon.images.mock_classifier import parse_environment

    top = f"seldon-core-{versions.get('SELDON_CORE_VERSION')}/servers/{server.folder}/"
    inner = f"{top}{server.folder}/"
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(source) as tar:
            for member in tar:
                name = member.name
                wanted = name == f"{top}environment" or (
                    name.startswith(inner)
                    and "/" not in name[len(inner) :]
                    and name.endswith((".py", ".txt"))
                )
                handle = tar.extractfile(member) if wanted and member.isfile() else None
                if handle is not None:
                    files[name[len(inner) :] if name.startswith(inner) else "environment"] = handle.read()
    except (OSError, tarfile.TarError) as err:
        raise ImageError(f"{source}: cannot read Seldon's source release: {err}") from err
    env = parse_environment(files.pop("environment", b"").decode("utf-8"))
    if not env.get("MODEL_NAME") or f"{env['MODEL_NAME']}.py" not in files or "requirements.txt" not in files:
        raise ImageError(
            f"{source}: {top} lacks its environment, class or requirements.txt; is it Seldon's source release?"
        )
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        if name == "requirements.txt":
            data = rewrite_requirements(data.decode("utf-8"), server).encode()
        (folder / name).write_bytes(data)
    return env


def seldon_archive(server: SeldonServer, source_digest: str) -> Path:
    short = source_digest.split(":", 1)[-1][:12]
    pins = "-".join(pinned(line).split("==")[-1] for line in server.frameworks)
    builder = (
        f"{__version__}-seldon{versions.get('PY_SELDON_CORE')}-{pins}-{base.rootfs_key(base.PYTHON_PACKAGES)}"
    )
    return (
        cache_dir()
        / "servers"
        / f"{server.folder}-{versions.get('SELDON_CORE_VERSION')}-{short}-{builder}-r{_RECIPE}.oci.tar"
    )


def build_seldon(server: SeldonServer, ref: str, progress: Progress, source: Path | None) -> Built:
    """Package the server's class as `fadi-seldon package` does, then build it as `package --build`."""
    from fadi_seldon.images import model as model_image
    from fadi_seldon.images.executor import seldon_source

    source = Path(source) if source else seldon_source()
    archive = seldon_archive(server, oci.sha256_file(source))
    found = cached(archive, progress, server.folder)
    if found:
        return found
    where = f"{source}: servers/{server.folder}"
    return model_image.build_s2i_folder(
        lambda folder: extract_server(source, server, folder), server.folder, ref, archive, where, progress
    )


# --------------------------------------------------------------------------- protocol: v2 (MLServer)


def mlserver_requirements(implementation: str) -> str:
    """MLServer, its runtime for `implementation` and the pins they need on Python 3.11."""
    from fadi_seldon.model import mlserver

    runtime = mlserver.RUNTIMES[implementation]
    # pip --target installs no setuptools, which a venv has: mlflow 2.5 imports pkg_resources from it
    setuptools = f"setuptools<{versions.get('PY_SETUPTOOLS_MAX')}"
    lines = [*mlserver.requirements(), *mlserver.runtime_requirements(runtime.package), setuptools]
    return f"# MLServer runtime {runtime.package} for {implementation}\n" + "\n".join(lines) + "\n"


def mlserver_config(base_env: tuple[str, ...]) -> oci.ImageConfig:
    """Upstream's user, working folder and start command, without the conda environment tarball."""
    return oci.ImageConfig(
        user=str(MLSERVER_UID),
        env=oci.merge_env(base_env, [f"MLSERVER_MODELS_DIR={MODELS_DIR}", "PYTHONUNBUFFERED=1"]),
        working_dir=MLSERVER_WORKDIR,
        cmd=["/bin/sh", "-c", 'exec mlserver start "$MLSERVER_MODELS_DIR"'],
    )


def build_mlserver(implementation: str, ref: str, progress: Progress) -> Built:
    """Base rootfs, the dependencies layer (cached by the requirements), a layer with the working folder."""
    from fadi_seldon.images import model as model_image

    text = mlserver_requirements(implementation)
    key = model_image.requirements_key(text)
    tag = oci.ref_tag(ref)
    archive = cache_dir() / "servers" / f"mlserver-{tag}-{key}-{__version__}-r{_RECIPE}.oci.tar"
    found = cached(archive, progress, f"mlserver {tag}")
    if found:
        return found
    root = base.rootfs(base.PYTHON_PACKAGES, progress)
    archive.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".mlserver-{tag}-", dir=archive.parent))
    try:
        requirements = work / "requirements.txt"
        atomic_write(requirements, text)
        deps = model_image.dependencies_layer(requirements, progress)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    layer = oci.Layer(
        comment=f"WORKDIR {MLSERVER_WORKDIR} (MLServer {versions.get('MLSERVER_VERSION')}, {implementation})"
    )
    layer.add_dir(MLSERVER_WORKDIR, mode=0o775, uid=MLSERVER_UID, gid=0)
    return write_image(archive, [root.layer, deps], layer, mlserver_config(root.env), ref, progress)
