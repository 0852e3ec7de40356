"""Shared fixtures: repository paths, the installed tools, the conformance corpus."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from fadi_seldon.tools.layout import default_tools_dir

ROOT = Path(__file__).resolve().parents[1]
# FADI_TOOLS_DIR (the Makefile's TOOLS_DIR) or the checkout's .tools: `make test-compat` points the
# suite at a tools folder whose Kubernetes is another release, TOOLS_DIR=... shares one between clones
TOOLS_DIR = default_tools_dir()
TOOLS_BIN = TOOLS_DIR / "bin"
CONFORMANCE = ROOT.parent / "shared" / "conformance"
SEED_GUIDE = ROOT.parent / "shared" / "seed" / "000_c6c3fa308b39046a.txt"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def tools_env() -> dict[str, str]:
    """Environment with the project's tools first on PATH (as the Makefile sets it)."""
    env = dict(os.environ)
    env["PATH"] = f"{TOOLS_BIN}{os.pathsep}{ROOT / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("HELM_PLUGINS", str(TOOLS_DIR / "helm" / "plugins"))
    for key, sub in (
        ("HELM_CACHE_HOME", "cache"),
        ("HELM_CONFIG_HOME", "config"),
        ("HELM_DATA_HOME", "data"),
    ):
        env.setdefault(key, str(TOOLS_DIR / "helm" / sub))
    return env


def tool(name: str) -> str:
    """Path of an installed tool; a missing tool is an error (run `make tools`), never a skip."""
    path = TOOLS_BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if found:
        return found
    raise RuntimeError(f"{name} is not installed: run `make tools` first")


@pytest.fixture(scope="session")
def conformance_dir() -> Path:
    if not CONFORMANCE.is_dir():
        pytest.skip(
            f"conformance corpus not present at {CONFORMANCE} (it sits beside the project on dev and CI machines)"
        )
    return CONFORMANCE


@pytest.fixture(scope="session")
def umbrella(repo_root: Path, tools_env: dict[str, str], tmp_path_factory) -> Path:
    """fadi/ and charts/ side by side in a private copy, the umbrella's file:// dependency built there
    (the checkout's fadi/charts/ is never written, and a stale Chart.lock fails the build)."""
    work = tmp_path_factory.mktemp("umbrella")
    shutil.copytree(repo_root / "fadi", work / "fadi", ignore=shutil.ignore_patterns("charts"))
    shutil.copytree(repo_root / "charts", work / "charts")
    run = subprocess.run(
        [tool("helm"), "dependency", "build", str(work / "fadi")],
        env=tools_env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    return work


def run_cli(capsys, argv: list[str]) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of `fadi-seldon ARGV` run in-process (argparse's exits included)."""
    from fadi_seldon import cli

    try:
        code = cli.main(argv)
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


class Recorder:
    """A text stream that keeps what is written (progress output of the tool installer)."""

    def __init__(self):
        self.lines: list[str] = []

    def write(self, s):
        self.lines.append(s)

    def flush(self):
        pass

    @property
    def text(self):
        return "".join(self.lines)


@pytest.fixture
def iris_sources(tmp_path, repo_root) -> Path:
    """A copy of the example model folder without its generated files (the model and its requirements)."""
    folder = tmp_path / "iris-model"
    folder.mkdir()
    for name in ("IrisModel.py", "requirements.txt"):
        shutil.copy(repo_root / "examples" / "iris-model" / name, folder / name)
    return folder


@pytest.fixture
def tools_dir(tmp_path, monkeypatch):
    """A tools folder of the test's own (images and tools are cached below it)."""
    folder = tmp_path / "tools"
    monkeypatch.setenv("FADI_TOOLS_DIR", str(folder))
    return folder


class FakeBase:
    """A one-file rootfs standing in for debootstrap's: its layer, and the package sets asked for."""

    def __init__(self, blob) -> None:
        self.blob = blob
        self.digest = blob.digest
        self.asked: list = []


@pytest.fixture
def fake_base(tmp_path, monkeypatch) -> FakeBase:
    from fadi_seldon.images import base
    from fadi_seldon.runtime import oci

    layer = oci.Layer(comment="fake rootfs")
    layer.add_file("etc/os-release", b"ID=debian\n")
    fake = FakeBase(layer.write(tmp_path / "rootfs.tar"))

    def rootfs(packages=None, progress=None):
        fake.asked.append(packages)
        return base.Rootfs(fake.blob, base.BASE_ENV, "-".join(("fake", *(packages or ()))), True)

    monkeypatch.setattr(base, "rootfs", rootfs)
    return fake


@pytest.fixture(scope="session")
def serve_venv() -> Path:
    """The real Seldon wrapper's environment (`.venv-serve`), created once per session."""
    import sys

    from fadi_seldon.model import serving

    venv = serving.default_venv()
    try:
        serving.ensure_venv(
            venv, install=True, progress=lambda msg: print(f"[serve venv] {msg}", file=sys.stderr)
        )
    except serving.ServeError as err:
        pytest.skip(f"the Seldon wrapper cannot be installed here: {err}")
    return venv


@pytest.fixture(scope="session")
def mlserver_venv() -> Path:
    """MLServer 1.3.5 with the sklearn runtime (`.venv-mlserver`), created once per session; the
    tests that need it are skipped only when pip cannot install it, with pip's error as the reason."""
    import sys

    from fadi_seldon.model import mlserver

    venv = mlserver.default_venv()
    try:
        mlserver.ensure_venv(
            venv, ("mlserver-sklearn",), progress=lambda msg: print(f"[mlserver venv] {msg}", file=sys.stderr)
        )
    except mlserver.ServeError as err:
        pytest.skip(f"MLServer cannot be installed here: {err}")
    return venv


@pytest.fixture
def fake_pip(monkeypatch):
    """The image builder's pip, writing one module; each call records the requirements file's text
    (the images built from Seldon's source release: mock_classifier, the prepackaged servers)."""
    from fadi_seldon.images import model as model_image

    calls = []

    def install(requirements, site, log, find_links):
        calls.append(requirements.read_text())
        (site / "numpy").mkdir(parents=True)
        (site / "numpy" / "__init__.py").write_text("")

    monkeypatch.setattr(model_image, "_pip_install", install)
    return calls
