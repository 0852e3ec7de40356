"""`seldonio/mock_classifier:1.0`, the user guide's example model, packaged by our own `package` path.

Upstream builds it with s2i from `examples/models/mean_classifier/` of its repository. Here the same
folder is read from Seldon's source release at build time (nothing of it is kept in this project):
its model files go into a scratch build folder, `package` writes the build context there
(packaging.render and write, as `fadi-seldon package DIR`) and the image is built by the function
`package --build` uses without Docker (images.model.build). The class, its service type and
PERSISTENCE come from the folder's s2i `environment` file, as `s2i build -E environment` reads them.

MeanClassifier answers, for each row x, `sigmoid(mean(x) - mean(model.npy))` as `[[p]]`. Its
requirements.txt names `seldon-core` and `numpy` unpinned: `package` replaces the first with the
pinned wrapper (PY_SELDON_CORE from PyPI) and pip resolves numpy within that wrapper's own bounds.
Cached by the source release's sha256 and the builder (our version, the wrapper pin, the rootfs).
"""

from __future__ import annotations

import re
import tarfile
from pathlib import Path

from fadi_seldon import __version__
from fadi_seldon.images import Built, ImageError, Progress, base, cache_dir, cached
from fadi_seldon.images.executor import seldon_source
from fadi_seldon.runtime import oci, versions

IMAGE = "docker.io/seldonio/mock_classifier:1.0"
SOURCE_FOLDER = "examples/models/mean_classifier"
# what the model needs at run time (class, weights, requirements) and its contract for seldon-core-tester
MODEL_FILES = ("MeanClassifier.py", "model.npy", "requirements.txt", "contract.json")
# s2i's `-E environment` file of the folder (upstream's Makefile)
ENVIRONMENT_FILE = "environment"
# the build folder's name ends up in requirements-seldon.txt's comment: fixed, so digests repeat
BUILD_FOLDER = "mean_classifier"
# bump when the build changes, so cached archives are rebuilt
_RECIPE = "1"


def archive_path(source_digest: str) -> Path:
    """The cached archive of this source release (sha256) and builder: our version, the pinned
    wrapper and the base rootfs it is built on."""
    short = source_digest.split(":", 1)[-1][:12]
    builder = f"{__version__}-seldon{versions.get('PY_SELDON_CORE')}-{base.rootfs_key(base.PYTHON_PACKAGES)}"
    return cache_dir() / "models" / f"mock_classifier-1.0-{short}-{builder}-r{_RECIPE}.oci.tar"


def parse_environment(text: str) -> dict[str, str]:
    """KEY=VALUE lines of an s2i environment file (blank lines and comments aside)."""
    pairs = re.findall(r"^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*?)\s*$", text, re.M)
    return dict(pairs)


def extract_model(source: Path, folder: Path) -> dict[str, str]:
    """Write the model files of the source release's mean_classifier into `folder`; returns its
    s2i environment (MODEL_NAME, SERVICE_TYPE, PERSISTENCE). Only these named regular files are
    read, whatever else the archive holds."""
    prefix = f"seldon-core-{versions.get('SELDON_CORE_VERSION')}/{SOURCE_FOLDER}/"
    folder.mkdir(parents=True, exist_ok=True)
    wanted = {prefix + name: name for name in (*MODEL_FILES, ENVIRONMENT_FILE)}
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(source) as tar:
            for member in tar:
                handle = tar.extractfile(member) if member.name in wanted and member.isfile() else None
                if handle is not None:
                    found[wanted[member.name]] = handle.read()
    except (OSError, tarfile.TarError) as err:
        raise ImageError(f"{source}: cannot read Seldon's source release: {err}") from err
    missing = sorted(set(wanted.values()) - set(found))
    if missing:
        raise ImageError(
            f"{source}: no {', '.join(prefix + m for m in missing)}; is it Seldon's source release?"
        )
    for name in MODEL_FILES:
        (folder / name).write_bytes(found[name])
    env = parse_environment(found[ENVIRONMENT_FILE].decode("utf-8"))
    if not env.get("MODEL_NAME") or env.get("PERSISTENCE", "0") != "0":
        raise ImageError(
            f"{source}: {prefix}{ENVIRONMENT_FILE} says {env}; expected MODEL_NAME and PERSISTENCE=0 "
            "(what `package` writes)"
        )
    return env


def build(progress: Progress | None = None, source: Path | None = None) -> Built:
    """The mock_classifier image archive, cached; `source` defaults to seldon_source()."""
    from fadi_seldon.images import model as model_image

    progress = progress or Progress("mock_classifier")
    source = Path(source) if source else seldon_source()
    archive = archive_path(oci.sha256_file(source))
    found = cached(archive, progress, "mock_classifier")
    if found:
        return found
    where = f"{source}: {SOURCE_FOLDER}"
    return model_image.build_s2i_folder(
        lambda folder: extract_model(source, folder), BUILD_FOLDER, IMAGE, archive, where, progress
    )
