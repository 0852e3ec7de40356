"""fadi_seldon.images: images built without Docker are the images the Dockerfile describes.

Fast tests replace the Debian rootfs and pip with small fakes; the pause program is compiled and run
for real (it needs gcc); a real base + model build is in the `cluster` suite (slow, network).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from fadi_seldon import cli
from fadi_seldon.images import Built, base, dockerignore, pause
from fadi_seldon.images import model as model_image
from fadi_seldon.images import operator as operator_image
from fadi_seldon.model import packaging
from fadi_seldon.runtime import oci


@pytest.fixture
def fake_pip(monkeypatch):
    """pip writes one module and two console scripts in both of pip's shebang styles."""
    calls = []

    def install(requirements, site, log, find_links):
        calls.append(requirements)
        (site / "seldon_core").mkdir(parents=True)
        (site / "seldon_core" / "__init__.py").write_text("")
        (site / "bin").mkdir()
        (site / "bin" / "seldon-core-microservice").write_text("#!/host/venv/bin/python\nimport sys\n")
        long_form = "#!/bin/sh\n'''exec' \"/very/long/host/python\" \"$0\" \"$@\"\n' '''\nimport sys\n"
        (site / "bin" / "gunicorn").write_text(long_form)

    monkeypatch.setattr(model_image, "_pip_install", install)
    return calls


@pytest.fixture
def iris(iris_sources):
    """The example model, packaged (Dockerfile, .dockerignore, requirements-seldon.txt...)."""
    folder = iris_sources
    rendered = packaging.render(packaging.Options(folder, image="fadi-seldon/iris-model:0.1.0"))
    packaging.write(folder, rendered.files)
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "IrisModel.cpython-311.pyc").write_bytes(b"\0")
    return folder


def parse_dockerfile(text: str) -> dict:
    """USER, WORKDIR, ENV, EXPOSE and CMD as Docker reads them (continuations joined, comments out)."""
    instructions, pending = [], ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1]
            continue
        instructions.append(pending + line)
        pending = ""
    out: dict = {"env": []}
    for instruction in instructions:
        keyword, _, rest = instruction.partition(" ")
        if keyword == "ENV":
            out["env"] += rest.split()
        elif keyword == "EXPOSE":
            out["ports"] = [f"{port}/tcp" for port in rest.split()]
        elif keyword == "CMD":
            out["cmd"] = ["/bin/sh", "-c", rest]
        elif keyword in ("USER", "WORKDIR"):
            out[keyword.lower()] = rest.strip()
    return out


def _layer_members(archive, index) -> dict[str, tarfile.TarInfo]:
    manifest = oci.read_manifest(archive)
    digest = manifest["layers"][index]["digest"].split(":", 1)[1]
    with (
        tarfile.open(archive) as outer,
        tarfile.open(fileobj=outer.extractfile(f"blobs/sha256/{digest}")) as layer,
    ):
        return {m.name: m for m in layer.getmembers()} | {
            "<data>" + m.name: layer.extractfile(m).read() for m in layer.getmembers() if m.isfile()
        }


def test_model_image_config_is_what_the_dockerfile_says(iris, tools_dir, fake_base, fake_pip, tmp_path):
    built = model_image.build(iris, "fadi-seldon/iris-model:0.1.0", archive=tmp_path / "iris.tar")
    assert built.ref == oci.image_name(built.archive) == "docker.io/fadi-seldon/iris-model:0.1.0"
    config = oci.read_config(built.archive)["config"]
    docker = parse_dockerfile((iris / "Dockerfile").read_text())
    assert config["User"] == docker["user"] == str(packaging.RUN_AS_UID)
    assert config["WorkingDir"] == docker["workdir"] == "/app"
    assert sorted(config["ExposedPorts"]) == sorted(docker["ports"])
    assert config["Cmd"] == docker["cmd"]
    assert "Entrypoint" not in config
    # the Dockerfile's ENV over the base image's (PATH, LANG), in order
    assert config["Env"] == [*base.BASE_ENV, *docker["env"]]
    assert "MODEL_NAME=IrisModel" in config["Env"] and "SERVICE_TYPE=MODEL" in config["Env"]


def test_model_image_layers(iris, tools_dir, fake_base, fake_pip, tmp_path):
    built = model_image.build(iris, "fadi-seldon/iris-model:0.1.0", archive=tmp_path / "iris.tar")
    assert [layer["digest"] for layer in oci.read_manifest(built.archive)["layers"]][0] == fake_base.digest
    deps = _layer_members(built.archive, 1)
    assert deps["<data>usr/local/bin/seldon-core-microservice"] == b"#!/usr/bin/python3\nimport sys\n"
    assert deps["<data>usr/local/bin/gunicorn"] == b"#!/usr/bin/python3\nimport sys\n"
    assert deps["usr/local/bin/gunicorn"].mode == 0o755
    assert "usr/local/lib/python3.11/dist-packages/seldon_core/__init__.py" in deps
    assert not any(name.startswith("usr/local/lib/python3.11/dist-packages/bin") for name in deps)
    app = {k: v for k, v in _layer_members(built.archive, 2).items() if not k.startswith("<data>")}
    # what `COPY --chown=8888:0 . .` copies: .dockerignore leaves out the generated Docker files
    assert sorted(app) == [
        "app", "app/.s2i", "app/.s2i/environment", "app/IrisModel.py", "app/requirements-seldon.txt",
        "app/requirements.txt",
    ]  # fmt: skip
    model_file = app["app/IrisModel.py"]
    assert (model_file.uid, model_file.gid, model_file.mode & 0o070) == (
        8888,
        0,
        (model_file.mode & 0o700) >> 3,
    )


def test_dependencies_are_cached_by_requirements(iris, tools_dir, fake_base, fake_pip, tmp_path):
    first = model_image.build(iris, archive=tmp_path / "a.tar")
    (iris / "IrisModel.py").write_text((iris / "IrisModel.py").read_text() + "\n# changed\n")
    second = model_image.build(iris, archive=tmp_path / "b.tar")
    assert len(fake_pip) == 1  # the second build reused the dependency layer
    layers = [oci.read_manifest(b.archive)["layers"] for b in (first, second)]
    assert layers[0][:2] == layers[1][:2] and layers[0][2] != layers[1][2]
    assert first.digest != second.digest


def test_same_folder_same_image(iris, tools_dir, fake_base, fake_pip, tmp_path):
    first = model_image.build(iris, archive=tmp_path / "a.tar")
    second = model_image.build(iris, archive=tmp_path / "b.tar")
    assert first.digest == second.digest


def test_unpackaged_folder_says_what_to_run(tmp_path, repo_root, tools_dir, fake_base):
    folder = tmp_path / "m"
    folder.mkdir()
    shutil.copy(repo_root / "examples" / "iris-model" / "IrisModel.py", folder)
    from fadi_seldon.images import ImageError

    with pytest.raises(ImageError, match="fadi-seldon package"):
        model_image.build(folder)


@pytest.mark.parametrize(
    ("rules", "path", "included"),
    [
        ("__pycache__/", "__pycache__/x.pyc", False),
        ("__pycache__/", "pkg/__pycache__/x.pyc", True),  # Docker: patterns start at the root
        ("**/__pycache__", "pkg/__pycache__/x.pyc", False),
        ("*.py[cod]", "a.pyc", False),
        ("*.py[cod]", "pkg/a.pyc", True),
        (".venv*", ".venv-serve/bin/python", False),
        ("data\n!data/keep.csv", "data/keep.csv", True),
        ("data\n!data/keep.csv", "data/other.csv", False),
        ("/Dockerfile", "Dockerfile", False),
        ("# comment\n\n", "Dockerfile", True),
    ],
)
def test_dockerignore_rules(tmp_path, rules, path, included):
    (tmp_path / ".dockerignore").write_text(rules)
    assert dockerignore.matcher(tmp_path)(path) is included


def test_operator_image_runs_manager_as_the_chart_expects(tmp_path, tools_dir, fake_base, monkeypatch):
    binary = tmp_path / "seldon-operator"
    binary.write_bytes(b"\x7fELF fake")
    monkeypatch.setattr(operator_image, "operator_binary", lambda: binary)
    built = operator_image.build()
    config = oci.read_config(built.archive)["config"]
    assert config["Entrypoint"] == ["/manager"] and config["User"] == "8888"
    assert built.ref == f"docker.io/seldonio/seldon-core-operator:{operator_image.version()}"
    manager = _layer_members(built.archive, 1)
    assert manager["manager"].mode == 0o755 and manager["<data>manager"] == b"\x7fELF fake"
    assert operator_image.build().cached


@pytest.fixture(scope="module")
def pause_binary(tmp_path_factory):
    if shutil.which("gcc") is None:
        pytest.skip(
            "gcc is not installed (apt-get install gcc libc6-dev): the pause program cannot be compiled"
        )
    return pause.compile_pause(tmp_path_factory.mktemp("pause") / "pause")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_pause_exits_zero_when_stopped(pause_binary, sig):
    proc = subprocess.Popen([str(pause_binary)])
    time.sleep(0.2)
    assert proc.poll() is None  # it waits
    proc.send_signal(sig)
    assert proc.wait(timeout=5) == 0


def test_pause_reaps_orphans(pause_binary):
    # the shell's child (sleep) becomes pause's child when the shell execs pause
    proc = subprocess.Popen(["/bin/sh", "-c", f"sleep 0.2 & exec {pause_binary}"])
    try:
        time.sleep(1.0)
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        zombies = [c for c in children if Path(f"/proc/{c}/stat").read_text().split(") ")[1][0] == "Z"]
        assert zombies == []
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0


def test_pause_image(pause_binary, tools_dir):
    built = pause.build()
    assert built.ref == f"localhost/fadi-seldon/pause:{pause.version()}"
    config = oci.read_config(built.archive)["config"]
    assert config["Entrypoint"] == ["/pause"] and config["User"] == "65535:65535"
    assert _layer_members(built.archive, 0)["pause"].mode == 0o755
    again = pause.build()
    assert again.cached and again.digest == built.digest


def test_package_load_builds_and_imports(iris, tools_dir, fake_base, fake_pip, tmp_path, capsys, monkeypatch):
    from fadi_seldon.localkube import node_images

    imported = []
    monkeypatch.setattr(node_images, "import_archive", lambda archive: imported.append(archive) or ["x"])
    monkeypatch.setattr(node_images, "check_node", lambda layout=None: tmp_path / "containerd.sock")
    archive = tmp_path / "out" / "iris.oci.tar"
    code = cli.main(["package", str(iris), "--load", "--archive", str(archive), "-o", "json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and imported == [archive] and archive.is_file()
    assert out["oci_image"]["archive"] == str(archive)
    assert out["oci_image"]["digest"] == oci.read_index(archive)["manifests"][0]["digest"]
    assert out["oci_image"]["ref"] == "docker.io/library/iris-model:0.1.0"  # no --image: the default name


def test_build_error_is_reported(iris, tools_dir, fake_base, capsys, monkeypatch, tmp_path):
    from fadi_seldon.images import ImageError

    def fail(*args):
        raise ImageError("pip install failed: no network")

    monkeypatch.setattr(model_image, "_pip_install", fail)
    code = cli.main(["package", str(iris), "--archive", str(tmp_path / "x.tar")])
    assert code == 1 and "no network" in capsys.readouterr().err


@pytest.mark.cluster
def test_real_model_image(iris, tmp_path):
    """debootstrap (cached after the first run) and a real pip install; the image's python imports the
    wrapper (checked in a chroot when root)."""
    built = model_image.build(iris, "fadi-seldon/iris-model:0.1.0", archive=tmp_path / "iris.tar")
    assert isinstance(built, Built) and oci.read_config(built.archive)["config"]["User"] == "8888"
    if os.geteuid() != 0:
        return
    root = tmp_path / "rootfs"
    root.mkdir()
    with tarfile.open(built.archive) as outer:
        for layer in oci.read_manifest(built.archive)["layers"]:
            with tarfile.open(fileobj=outer.extractfile("blobs/sha256/" + layer["digest"][7:])) as tar:
                tar.extractall(root, filter="fully_trusted")
    check = 'import seldon_core.microservice, numpy, IrisModel; print("ok")'
    result = subprocess.run(
        ["chroot", "--userspec=8888:0", str(root), "/bin/sh", "-c", f"cd /app && python3 -c '{check}'"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.stdout.strip() == "ok", result.stderr


def test_app_layer_takes_back_files_from_excluded_folders(tmp_path):
    folder = tmp_path / "ctx"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "keep.csv").write_text("1\n")
    (folder / "data" / "big.bin").write_text("x")
    (folder / ".dockerignore").write_text("data\n!data/keep.csv\n")
    spec = packaging.image_spec("M", "MODEL")
    blob = model_image.app_layer(folder, spec, tmp_path / "app.tar")
    with tarfile.open(blob.path) as tar:
        names = tar.getnames()
    assert "app/data/keep.csv" in names and "app/data/big.bin" not in names
