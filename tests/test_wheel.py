"""The wheel works outside the checkout, and carries no build-time module (fadi_seldon.dev).

Built offline from this checkout (`pip wheel --no-build-isolation`), installed without its
dependencies into a fresh virtual environment whose only other packages are the project venv's
(a path entry, not its editable install), then run from another folder.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODEL = """apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata: {name: iris}
spec:
  predictors: []
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"  # a copy: building in place would leave build/ and *.egg-info in the checkout
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp / "dist"), str(source)],
        check=True, capture_output=True, cwd=tmp,
    )  # fmt: skip
    [wheel] = list((tmp / "dist").glob("fadi_seldon-*.whl"))
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    purelib = Path(sysconfig.get_paths(vars={"base": str(venv), "platbase": str(venv)})["purelib"])
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(purelib)
        names = archive.namelist()
    # the dependencies (PyYAML, ruamel.yaml, jsonschema, kubernetes-validate) from the project venv
    (purelib / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    (tmp / "names.txt").write_text("\n".join(names))
    return venv


def _run(venv: Path, cwd: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(venv / "bin" / "python"), "-m", "fadi_seldon", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        input=stdin,
    )


def test_the_wheel_ships_no_dev_module(installed):
    names = (installed.parent / "names.txt").read_text().splitlines()
    assert any(n.startswith("fadi_seldon/sdep/") for n in names)
    assert not [n for n in names if n.startswith("fadi_seldon/dev/")]
    assert "fadi_seldon/data/versions.env" in names


def test_commands_work_from_another_folder(installed, tmp_path):
    where = subprocess.run(
        [str(installed / "bin" / "python"), "-c", "import fadi_seldon; print(fadi_seldon.__file__)"],
        capture_output=True, text=True, cwd=tmp_path, check=True,
    ).stdout  # fmt: skip
    assert str(installed) in where and str(ROOT) not in where

    crd = _run(installed, tmp_path, "crd")
    assert crd.returncode == 0 and "kind: CustomResourceDefinition" in crd.stdout

    refused = _run(installed, tmp_path, "validate", "-", stdin=MODEL)
    assert refused.returncode == 1 and "webhook-no-predictors" in refused.stdout

    new = _run(installed, tmp_path, "new", "iris", "--image", "repo/iris:1")
    assert new.returncode == 0 and "kind: SeldonDeployment" in new.stdout
    ok = _run(installed, tmp_path, "validate", "-", stdin=new.stdout)
    assert ok.returncode == 0, ok.stdout + ok.stderr

    values = tmp_path / "values.yaml"
    values.write_text("seldon-core-operator:\n  enabled: true\n")
    assert _run(installed, tmp_path, "values", "check", "--file", str(values)).returncode == 0
    values.write_text("seldon-core-operator:\n  enable: true\n")
    bad = _run(installed, tmp_path, "values", "check", "--file", str(values))
    assert bad.returncode == 1 and "values.yaml:2" in bad.stdout + bad.stderr
    assert _run(installed, tmp_path, "--help").returncode == 0
