"""`package`'s sequence in the domain (model.package_build), with fake image steps: what runs, in
which order, and what each failure says; the CLI only maps it to arguments and output."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from fadi_seldon.model import package_build, packaging
from fadi_seldon.model.package_build import Request


@dataclass(frozen=True)
class FakeBuilt:
    archive: Path
    ref: str
    digest: str = "sha256:" + "0" * 64
    size: int = 42


class FakeSteps:
    """The image steps, recorded; `node`, `fail_build`, `fail_load` choose what goes wrong."""

    def __init__(self, tmp_path: Path, *, node: bool = True, fail_build=None, fail_load=None) -> None:
        self.tmp_path, self.node = tmp_path, node
        self.fail_build, self.fail_load = fail_build, fail_load
        self.calls: list[tuple] = []

    def check_node(self) -> None:
        self.calls.append(("check_node",))
        if not self.node:
            raise package_build.NothingToLoad("no real node is running")

    def build_archive(self, options, image, archive):
        self.calls.append(("build_archive", options.folder, image, archive))
        if self.fail_build:
            raise self.fail_build
        return FakeBuilt(archive or self.tmp_path / "default.oci.tar", f"docker.io/library/{image}")

    def load(self, archive):
        self.calls.append(("load", archive))
        if self.fail_load:
            raise self.fail_load
        return ["docker.io/library/iris-model:0.1.0"]


def _request(folder: Path, **kwargs) -> Request:
    return Request(packaging.Options(folder), **kwargs)


def _no_docker(monkeypatch, tmp_path):
    empty = tmp_path / "empty-bin"
    empty.mkdir(exist_ok=True)
    monkeypatch.setenv("PATH", str(empty))


def test_a_dry_run_plans_and_builds_nothing(iris_sources, tmp_path):
    steps, said = FakeSteps(tmp_path), []
    done = package_build.package(_request(iris_sources, dry_run=True), steps, said.append)
    assert steps.calls == [] and said == [] and not (iris_sources / "Dockerfile").exists()
    assert {f.action for f in done.files} == {"create"} and done.conflicts == []
    assert done.build_command == ["docker", "build", "-t", "iris-model:0.1.0", str(iris_sources)]
    assert done.image is None and not done.built


def test_without_build_it_writes_and_says_the_build_command(iris_sources, tmp_path):
    steps, said = FakeSteps(tmp_path), []
    done = package_build.package(_request(iris_sources), steps, said.append)
    assert (iris_sources / "Dockerfile").is_file() and steps.calls == []
    assert said == [f"build the image with: docker build -t iris-model:0.1.0 {iris_sources}"]
    assert not done.built


def test_load_checks_the_node_before_anything_is_written(iris_sources, tmp_path):
    steps = FakeSteps(tmp_path, node=False)
    with pytest.raises(package_build.NothingToLoad):
        package_build.package(_request(iris_sources, load=True), steps, print)
    assert steps.calls == [("check_node",)] and not (iris_sources / "Dockerfile").exists()


def test_load_builds_the_archive_then_imports_it(iris_sources, tmp_path):
    steps = FakeSteps(tmp_path)
    archive = tmp_path / "iris.oci.tar"
    done = package_build.package(_request(iris_sources, load=True, archive=archive), steps, print)
    assert steps.calls == [
        ("check_node",),
        ("build_archive", iris_sources, "iris-model:0.1.0", archive),
        ("load", archive),
    ]
    assert done.built and done.image == {
        "archive": str(archive),
        "ref": "docker.io/library/iris-model:0.1.0",
        "digest": "sha256:" + "0" * 64,
        "size": 42,
        "loaded": ["docker.io/library/iris-model:0.1.0"],
    }


def test_build_where_no_engine_answers_is_the_oci_build(iris_sources, tmp_path, monkeypatch):
    _no_docker(monkeypatch, tmp_path)
    steps = FakeSteps(tmp_path)
    done = package_build.package(_request(iris_sources, build=True), steps, print)
    assert [c[0] for c in steps.calls] == ["build_archive"] and "loaded" not in done.image


def test_a_failed_import_keeps_what_was_built(iris_sources, tmp_path):
    steps = FakeSteps(tmp_path, fail_load=OSError(13, "Permission denied"))
    with pytest.raises(package_build.ImageFailed, match="built .* but could not import it") as err:
        package_build.package(_request(iris_sources, load=True), steps, print)
    assert err.value.details["oci_image"]["ref"] == "docker.io/library/iris-model:0.1.0"


def test_build_failures_in_plain_words(iris_sources, tmp_path):
    no_space = OSError(28, "No space left on device")
    no_space.filename = "/tmp/x"
    steps = FakeSteps(tmp_path, fail_build=no_space)
    with pytest.raises(
        package_build.ImageFailed, match=r"cannot build the image: No space left on device \(/tmp/x\)"
    ):
        package_build.package(_request(iris_sources, archive=tmp_path / "a.tar"), steps, print)


def test_docker_build_where_an_engine_answers(iris_sources, tmp_path, monkeypatch, capfd):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(
        '#!/bin/sh\n[ "$1" = info ] && exit 0\necho "step 1/9"\n[ "$FAIL" = 1 ] && exit 4\nexit 0\n'
    )
    docker.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    said: list[str] = []
    done = package_build.package(_request(iris_sources, build=True), FakeSteps(tmp_path), said.append)
    out, err = capfd.readouterr()
    assert done.built and done.image is None and said[0].startswith("building: docker build -t iris-model")
    assert "step 1/9" in err and "step 1/9" not in out  # docker's progress never on stdout
    monkeypatch.setenv("FAIL", "1")
    with pytest.raises(package_build.ImageFailed, match=r"failed \(exit 4\); docker's output is above"):
        package_build.package(
            _request(iris_sources, build=True, force=True), FakeSteps(tmp_path), said.append
        )


def test_a_class_problem_is_a_package_error(tmp_path):
    (tmp_path / "model.py").write_text("class Nothing:\n    pass\n")
    with pytest.raises(package_build.PackageError, match="no class defines predict"):
        package_build.package(_request(tmp_path), FakeSteps(tmp_path), print)


def test_the_command_holds_no_build_step():
    """cli/commands/package.py parses, calls package_build.package and prints: no docker, no image
    builder, no node import of its own."""
    source = (Path(package_build.__file__).parents[1] / "cli" / "commands" / "package.py").read_text()
    for name in (
        "docker_available",
        "model_image",
        "import_archive",
        "check_node",
        "commands.run",
        "render(",
    ):
        assert name not in source, name
