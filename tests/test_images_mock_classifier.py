"""`docker.io/seldonio/mock_classifier:1.0`: the mean_classifier example of Seldon's source release,
packaged by our own `package` path and built as `package --build` builds a model image.

Fast tests read a small fake source release (with files that must stay out of the image) and use a
fake rootfs and pip; the real build (debootstrap, pip, the class run by the image's own python on
the real model.npy) is in the `cluster` suite.
"""

from __future__ import annotations

import ast
import math
import struct
import subprocess
import tarfile

import pytest

from fadi_seldon import __version__
from fadi_seldon.images import ImageError, base, executor, mock_classifier
from fadi_seldon.runtime import oci, versions
from test_images_executor import extract_image, fake_source, layer_files

FOLDER = "examples/models/mean_classifier/"
MODEL = b"""\
import numpy as np


class MeanClassifier(object):
    def predict(self, X, feature_names):
        return X
"""
EXAMPLE = {
    FOLDER + "MeanClassifier.py": MODEL,
    FOLDER + "model.npy": b"\x93NUMPY fake",
    FOLDER + "requirements.txt": b"seldon-core\nnumpy\n",
    FOLDER + "contract.json": b'{"features": []}\n',
    FOLDER + "environment": b"MODEL_NAME=MeanClassifier\nSERVICE_TYPE=MODEL\nPERSISTENCE=0\n",
    # what upstream's folder holds besides, for s2i and its own release process: not in the image
    FOLDER + "Makefile": b"build:\n\ts2i build\n",
    FOLDER + "image_metadata.json": b"{}",
    FOLDER + ".s2i/bin/assemble": b"#!/bin/bash\n",
    "executor/licenses/license.txt": b"licences\n",
}


@pytest.fixture
def source(tmp_path):
    return fake_source(tmp_path / "seldon-core-1.17.1.tar.gz", EXAMPLE)


def test_build_folder_holds_the_model_files_only(tmp_path, source):
    env = mock_classifier.extract_model(source, tmp_path / "build")
    assert env == {"MODEL_NAME": "MeanClassifier", "SERVICE_TYPE": "MODEL", "PERSISTENCE": "0"}
    files = sorted(p.relative_to(tmp_path / "build").as_posix() for p in (tmp_path / "build").rglob("*"))
    assert files == ["MeanClassifier.py", "contract.json", "model.npy", "requirements.txt"]
    for name in files:
        assert (tmp_path / "build" / name).read_bytes() == EXAMPLE[FOLDER + name]


def test_image_is_the_packaged_example(tools_dir, fake_base, fake_pip, source):
    built = mock_classifier.build(source=source)
    assert built.ref == oci.image_name(built.archive) == "docker.io/seldonio/mock_classifier:1.0"
    config = oci.read_config(built.archive)["config"]
    # what `package` writes for the s2i environment's MODEL_NAME and SERVICE_TYPE
    assert "MODEL_NAME=MeanClassifier" in config["Env"] and "SERVICE_TYPE=MODEL" in config["Env"]
    assert config["User"] == "8888" and config["WorkingDir"] == "/app"
    assert sorted(config["ExposedPorts"]) == ["5000/tcp", "6000/tcp", "9000/tcp"]
    app = layer_files(built.archive, 2)
    assert sorted(n for n in app if not n.startswith("<data>")) == [
        "app", "app/.s2i", "app/.s2i/environment", "app/MeanClassifier.py", "app/contract.json",
        "app/model.npy", "app/requirements-seldon.txt", "app/requirements.txt",
    ]  # fmt: skip
    assert app["<data>app/model.npy"] == EXAMPLE[FOLDER + "model.npy"]
    assert app["<data>app/.s2i/environment"] == EXAMPLE[FOLDER + "environment"]


def test_requirements_pin_the_wrapper_and_keep_numpy(tools_dir, fake_base, fake_pip, source):
    mock_classifier.build(source=source)
    lines = [line for line in fake_pip[0].splitlines() if line and not line.startswith("#")]
    assert lines == [f"seldon-core=={versions.get('PY_SELDON_CORE')}", "setuptools<81", "numpy"]


def test_cached_by_the_source_release_and_the_builder(tools_dir, fake_base, fake_pip, source):
    first = mock_classifier.build(source=source)
    name = first.archive.name
    assert first.archive.parent == tools_dir / "images" / "models"
    assert oci.sha256_file(source)[7:19] in name and __version__ in name
    assert f"seldon{versions.get('PY_SELDON_CORE')}" in name and base.rootfs_key(base.PYTHON_PACKAGES) in name
    again = mock_classifier.build(source=source)
    assert again.cached and again.digest == first.digest and len(fake_pip) == 1
    first.archive.unlink()
    assert mock_classifier.build(source=source).digest == first.digest  # the same inputs, the same image
    # another source release is another image, built again
    changed = fake_source(source.with_name("other.tar.gz"), {**EXAMPLE, FOLDER + "model.npy": b"other"})
    other = mock_classifier.build(source=changed)
    assert not other.cached and other.archive != first.archive and other.digest != first.digest


def test_default_source_is_the_resolved_release(tools_dir, fake_base, fake_pip, source, monkeypatch):
    monkeypatch.setattr(mock_classifier, "seldon_source", lambda: source)
    assert oci.sha256_file(source)[7:19] in mock_classifier.build().archive.name


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({FOLDER + "model.npy": None}, "mean_classifier/model.npy"),
        ({FOLDER + "environment": b"SERVICE_TYPE=MODEL\n"}, "MODEL_NAME"),
        ({FOLDER + "environment": b"MODEL_NAME=MeanClassifier\nPERSISTENCE=1\n"}, "PERSISTENCE=0"),
        ({FOLDER + "MeanClassifier.py": b"class Other:\n    pass\n"}, "cannot be packaged"),
    ],
)
def test_an_unexpected_example_is_refused(tmp_path, tools_dir, fake_base, fake_pip, change, message):
    files = {k: v for k, v in {**EXAMPLE, **change}.items() if v is not None}
    broken = fake_source(tmp_path / "broken.tar.gz", files)
    with pytest.raises(ImageError, match=message):
        mock_classifier.build(source=broken)
    assert not list((tools_dir / "images" / "models").glob(".mock_classifier-*"))  # scratch removed


# --------------------------------------------------------------------------- the real image


def read_npy(data: bytes) -> list[float]:
    """The values of a version 1 .npy of little-endian int64 or float64 (what model.npy is)."""
    assert data[:6] == b"\x93NUMPY" and data[6] == 1
    header_len = struct.unpack("<H", data[8:10])[0]
    header = ast.literal_eval(data[10 : 10 + header_len].decode("latin1"))
    code = {"<i8": "q", "<f8": "d"}[header["descr"]]
    count = math.prod(header["shape"])
    return list(struct.unpack(f"<{count}{code}", data[10 + header_len : 10 + header_len + 8 * count]))


def expected_answer(model_npy: bytes, row: list[float]) -> float:
    """MeanClassifier's answer for one row: sigmoid(mean(row) - mean(model.npy))."""
    values = read_npy(model_npy)
    return 1 / (1 + math.exp(-(sum(row) / len(row) - sum(values) / len(values))))


@pytest.mark.cluster
def test_real_mock_classifier_image(tmp_path):
    """The real example from the source release, built for real: the image's own python runs the class
    on the real model.npy (in a chroot, as user 8888) and answers what model.npy says it should."""
    built = mock_classifier.build()
    root = extract_image(built.archive, tmp_path / "rootfs")
    with tarfile.open(executor.seldon_source()) as tar:
        model_npy = tar.extractfile(f"seldon-core-1.17.1/{FOLDER}model.npy").read()
    assert (root / "app" / "model.npy").read_bytes() == model_npy
    check = (
        "import MeanClassifier; print(MeanClassifier.MeanClassifier().predict([[1, 2, 3, 4]], None)[0][0])"
    )
    run = subprocess.run(
        ["chroot", "--userspec=8888:0", str(root), "/bin/sh", "-c", f"cd /app && python3 -c '{check}'"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert float(run.stdout.strip()) == pytest.approx(expected_answer(model_npy, [1, 2, 3, 4]))
    assert float(run.stdout.strip()) == pytest.approx(0.39731466, abs=1e-8)  # sigmoid(2.5 - 35/12)
