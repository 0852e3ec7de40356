"""The Seldon executor image: upstream's entrypoint and working folder, user 8888, the licence texts
of the source release, cached by binary and rootfs; `cluster load --executor/--mock-classifier`.

Fast tests use a fake rootfs, a fake binary and a small fake source release; the real build (the
binary from `make tools`, debootstrap, its libraries checked in a chroot) is in the `cluster` suite.
"""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from conftest import run_cli
from fadi_seldon.images import Built, ImageError, base, executor, mock_classifier
from fadi_seldon.images import operator as operator_image
from fadi_seldon.runtime import oci, versions

LICENSE = b"third-party licences of the executor\n"


def fake_source(path: Path, files: dict[str, bytes]) -> Path:
    """A .tar.gz laid out as Seldon's source release (`seldon-core-<version>/...`)."""
    prefix = f"seldon-core-{versions.get('SELDON_CORE_VERSION')}/"
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(prefix + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def source(tmp_path):
    return fake_source(tmp_path / "seldon-core.tar.gz", {executor.LICENSE_MEMBER: LICENSE})


@pytest.fixture
def binary(tmp_path):
    path = tmp_path / "seldon-executor"
    path.write_bytes(b"\x7fELF fake executor")
    return path


def layer_files(archive: Path, index: int) -> dict[str, tarfile.TarInfo | bytes]:
    digest = oci.read_manifest(archive)["layers"][index]["digest"].split(":", 1)[1]
    with (
        tarfile.open(archive) as outer,
        tarfile.open(fileobj=outer.extractfile(f"blobs/sha256/{digest}")) as layer,
    ):
        return {m.name: m for m in layer.getmembers()} | {
            "<data>" + m.name: layer.extractfile(m).read() for m in layer.getmembers() if m.isfile()
        }


def test_image_is_named_and_configured_as_upstream_runs_it(tools_dir, fake_base, source, binary):
    built = executor.build(binary=binary, source=source)
    assert built.ref == oci.image_name(built.archive) == "docker.io/seldonio/seldon-core-executor:1.17.1"
    assert built.ref.endswith(":" + versions.get("SELDON_CORE_VERSION"))
    config = oci.read_config(built.archive)["config"]
    # the operator's arguments follow the entrypoint's: the executor keeps answering 5 s after SIGTERM
    assert config["Entrypoint"] == ["/executor", "--shutdown_delay=5s"] and "Cmd" not in config
    assert config["User"] == "8888" and config["WorkingDir"] == "/"
    assert "ExposedPorts" not in config  # upstream's Dockerfile exposes none: the operator names the ports
    assert config["Env"] == [*base.BASE_ENV, "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"]
    assert fake_base.asked == [
        ("ca-certificates",)
    ]  # glibc comes with minbase; the binary needs nothing else


def test_layer_holds_the_binary_and_the_licences(tools_dir, fake_base, source, binary):
    built = executor.build(binary=binary, source=source)
    files = layer_files(built.archive, 1)
    assert files["executor"].mode == 0o755 and files["<data>executor"] == binary.read_bytes()
    assert files["licenses/license.txt"].mode == 0o644 and files["<data>licenses/license.txt"] == LICENSE
    assert {name for name in files if not name.startswith("<data>")} == {
        "executor", "licenses", "licenses/license.txt",
    }  # fmt: skip
    assert all(files[n].uid == 0 for n in ("executor", "licenses/license.txt"))


def test_archive_name_is_the_cache_key(tools_dir, fake_base, source, binary):
    first = executor.build(binary=binary, source=source)
    name = first.archive.name
    assert first.archive.parent == tools_dir / "images"
    assert name.startswith("seldon-core-executor-1.17.1-")
    assert oci.sha256_file(binary)[7:19] in name and base.rootfs_key(("ca-certificates",)) in name
    again = executor.build(binary=binary, source=source)
    assert again.cached and again.digest == first.digest
    binary.write_bytes(b"\x7fELF another build")
    changed = executor.build(binary=binary, source=source)
    assert not changed.cached and changed.archive != first.archive and changed.digest != first.digest


def test_another_shutdown_delay_is_another_image(tools_dir, fake_base, source, binary, monkeypatch):
    first = executor.build(binary=binary, source=source)
    monkeypatch.setattr(executor, "SHUTDOWN_DELAY", "9s")
    changed = executor.build(binary=binary, source=source)
    assert not changed.cached and changed.archive != first.archive
    assert oci.read_config(changed.archive)["config"]["Entrypoint"] == ["/executor", "--shutdown_delay=9s"]


def test_same_inputs_same_digest(tools_dir, fake_base, source, binary):
    first = executor.build(binary=binary, source=source)
    first.archive.unlink()
    assert executor.build(binary=binary, source=source).digest == first.digest


def test_missing_binary_says_how_to_build_it(tools_dir, fake_base, source, monkeypatch):
    monkeypatch.setattr("fadi_seldon.tools.layout.find_executable", lambda name: None)
    with pytest.raises(ImageError, match="tools install seldon-executor"):
        executor.build(source=source)


def test_source_release_is_found_by_environment_or_beside_the_checkout(tmp_path, monkeypatch, source):
    """The tools' resolver: the variable wins, and only the pinned archive (its sha256) is accepted."""
    monkeypatch.setenv("SELDON_CORE_SOURCE", str(source))
    with pytest.raises(ImageError, match="sha256"):
        executor.seldon_source()  # a fake archive is not Seldon's 1.17.1 source release
    monkeypatch.setenv("SELDON_CORE_SOURCE", str(tmp_path / "nowhere.tar.gz"))
    with pytest.raises(ImageError, match="SELDON_CORE_SOURCE"):
        executor.seldon_source()
    monkeypatch.delenv("SELDON_CORE_SOURCE")
    default = versions.repo_root().parent / "shared" / "vendor" / "seldon-core-1.17.1.tar.gz"
    assert executor.seldon_source() == default.resolve()


def test_an_archive_without_the_licences_is_refused(tools_dir, fake_base, binary, tmp_path):
    other = fake_source(tmp_path / "other.tar.gz", {"README.md": b"x"})
    with pytest.raises(ImageError, match="executor/licenses/license.txt"):
        executor.build(binary=binary, source=other)


# --------------------------------------------------------------------------- cluster load


@pytest.fixture
def fake_builds(tmp_path, monkeypatch):
    """Each builder returns an archive of its own; imports are recorded instead of run."""
    from fadi_seldon.localkube import node_images

    def built(name):
        return lambda: Built(tmp_path / f"{name}.oci.tar", f"docker.io/x/{name}:1", "sha256:0", 1)

    monkeypatch.setattr(operator_image, "build", built("operator"))
    monkeypatch.setattr(operator_image, "chart_sets", lambda prefix="": ["image.tag=x"])
    monkeypatch.setattr(executor, "build", built("executor"))
    monkeypatch.setattr(mock_classifier, "build", built("mock"))
    imported = []
    monkeypatch.setattr(
        node_images,
        "import_archive",
        lambda archive, layout=None: imported.append(archive.name) or [archive.stem],
    )
    # a running node, and archives given on the command line taken as they are named
    monkeypatch.setattr(node_images, "check_node", lambda layout=None: tmp_path / "containerd.sock")
    monkeypatch.setattr(node_images, "archive_names", lambda archive: [Path(archive).stem])
    return imported


def test_load_builds_and_imports_each_image_asked_for(capsys, tmp_path, fake_builds):
    argv = [
        "cluster",
        "--state-dir",
        str(tmp_path / "s"),
        "load",
        "--mock-classifier",
        "--executor",
        "-o",
        "json",
    ]
    code, out, err = run_cli(capsys, argv)
    assert code == 0, err
    assert fake_builds == ["executor.oci.tar", "mock.oci.tar"]  # the options' order, not the command line's
    assert json.loads(out) == [
        {"archive": str(tmp_path / "executor.oci.tar"), "images": ["executor.oci"], "chart_sets": []},
        {"archive": str(tmp_path / "mock.oci.tar"), "images": ["mock.oci"], "chart_sets": []},
    ]


def test_load_archives_first_then_the_built_images(capsys, tmp_path, fake_builds):
    argv = ["cluster", "--state-dir", str(tmp_path / "s"), "load", "a.oci.tar", "--operator", "--executor"]
    code, out, _ = run_cli(capsys, argv)
    assert code == 0 and fake_builds == ["a.oci.tar", "operator.oci.tar", "executor.oci.tar"]
    assert "--set image.tag=x" in out and out.count("loaded ") == 3


def test_load_without_anything_names_every_option(capsys, tmp_path):
    code, _, err = run_cli(capsys, ["cluster", "--state-dir", str(tmp_path / "s"), "load"])
    assert code == 2
    assert all(option in err for option in ("--operator", "--executor", "--mock-classifier"))


def test_load_reports_a_build_failure(capsys, tmp_path, fake_builds, monkeypatch):
    def fail():
        raise ImageError("the seldon-executor binary is not installed")

    monkeypatch.setattr(executor, "build", fail)
    code, _, err = run_cli(capsys, ["cluster", "--state-dir", str(tmp_path / "s"), "load", "--executor"])
    assert code == 1 and "not installed" in err and fake_builds == []


def test_load_help_names_the_options(capsys):
    code, out, _ = run_cli(capsys, ["cluster", "load", "--help"])
    assert code == 0
    assert "--executor" in out and "--mock-classifier" in out and "SELDON_CORE_SOURCE" in out


# --------------------------------------------------------------------------- the real image


def extract_image(archive: Path, root: Path) -> Path:
    root.mkdir()
    with tarfile.open(archive) as outer:
        for layer in oci.read_manifest(archive)["layers"]:
            with tarfile.open(fileobj=outer.extractfile("blobs/sha256/" + layer["digest"][7:])) as tar:
                tar.extractall(root, filter="fully_trusted")
    return root


@pytest.mark.cluster
def test_real_executor_image(tmp_path):
    """The installed executor on the real Debian rootfs: every library it needs is in the image, and it
    starts as user 8888 with its entrypoint's flags (checked in a chroot when root)."""
    built = executor.build()
    config = oci.read_config(built.archive)["config"]
    assert config["User"] == "8888"
    root = extract_image(built.archive, tmp_path / "rootfs")
    libs = subprocess.run(
        ["chroot", str(root), "/lib64/ld-linux-x86-64.so.2", "--list", "/executor"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert libs.returncode == 0 and "not found" not in libs.stdout and "libc.so.6" in libs.stdout, libs
    run = subprocess.run(
        ["chroot", "--userspec=8888:8888", str(root), *config["Entrypoint"], "--help"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 0 and "-http_port" in run.stderr and "-shutdown_delay" in run.stderr, run.stderr
