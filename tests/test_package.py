"""`fadi-seldon package`: class detection, the build context's content, and never losing user files."""

from __future__ import annotations

import json
import textwrap

import pytest
import yaml

from fadi_seldon import cli
from fadi_seldon.dev import examples
from fadi_seldon.model import packaging
from fadi_seldon.runtime import versions
from fadi_seldon.sdep.validator import validate_object


@pytest.fixture
def iris(iris_sources):
    return iris_sources


def _package(capsys, *argv):
    code = cli.main(["package", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_example_build_context_contents(iris, capsys):
    code, out, err = _package(capsys, str(iris), "--image", "fadi-seldon/iris-model:0.1.0")
    assert code == 0, err
    seldon, setuptools_max = versions.get("PY_SELDON_CORE"), versions.get("PY_SETUPTOOLS_MAX")
    dockerfile = (iris / "Dockerfile").read_text()
    lines = [line for line in dockerfile.splitlines() if line and not line.startswith("#")]
    assert lines[0] == f"FROM {packaging.BASE_IMAGE}"
    assert "USER 8888" in lines
    assert "COPY --chown=8888:0 . ." in lines and "RUN chmod -R g=u /app" in lines
    assert "EXPOSE 9000 5000 6000" in lines
    assert "ENV MODEL_NAME=IrisModel \\" in lines and "    SERVICE_TYPE=MODEL" in lines
    assert dockerfile.endswith(f"\nCMD {packaging.STOP_FORWARDING_CMD}\n")
    # requirements are installed before the source is copied (layer caching)
    assert dockerfile.index("RUN pip install") < dockerfile.index("COPY --chown")
    reqs = [r for r in (iris / "requirements-seldon.txt").read_text().splitlines() if not r.startswith("#")]
    assert reqs == [f"seldon-core=={seldon}", f"setuptools<{setuptools_max}", "numpy>=1.24,<2"]
    assert (
        iris / ".s2i" / "environment"
    ).read_text() == "MODEL_NAME=IrisModel\nSERVICE_TYPE=MODEL\nPERSISTENCE=0\n"
    assert ".git" in (iris / ".dockerignore").read_text().splitlines()
    manifest = yaml.safe_load((iris / "deployment.yaml").read_text())
    assert validate_object(manifest) == []
    container = manifest["spec"]["predictors"][0]["componentSpecs"][0]["spec"]["containers"][0]
    assert container == {"name": "iris-model", "image": "fadi-seldon/iris-model:0.1.0"}
    assert manifest["spec"]["predictors"][0]["graph"]["name"] == "iris-model"
    assert "docker build -t fadi-seldon/iris-model:0.1.0" in err
    # the user's files are untouched
    assert (iris / "requirements.txt").read_text() == "numpy>=1.24,<2\n"


def test_committed_example_matches_what_package_writes(iris, capsys, repo_root):
    assert _package(capsys, str(iris), "--image", examples.IRIS_MODEL_IMAGE)[0] == 0
    committed = repo_root / examples.IRIS_MODEL_DIR
    rendered = examples.render_iris_package(repo_root).files
    # the generator list in examples.py covers every file package writes
    gens = {k for k in examples.generators() if k.startswith(examples.IRIS_MODEL_DIR + "/")}
    assert gens == {f"{examples.IRIS_MODEL_DIR}/{rel}" for rel in rendered}
    for rel in rendered:
        written = (iris / rel).read_text()
        assert written == (committed / rel).read_text(), rel


def test_second_run_is_a_no_op_and_updates_untouched_files(iris, capsys):
    assert _package(capsys, str(iris))[0] == 0
    code, out, _ = _package(capsys, str(iris), "--output", "json")
    assert code == 0
    assert {f["action"] for f in json.loads(out)["files"]} == {"unchanged"}
    # a new image changes files the user never edited: they are updated without --force
    code, out, _ = _package(capsys, str(iris), "--image", "other/img:2", "--output", "json")
    actions = {f["path"]: f["action"] for f in json.loads(out)["files"]}
    assert code == 0 and actions["deployment.yaml"] == "update" and actions["Dockerfile"] == "update"
    assert "other/img:2" in (iris / "deployment.yaml").read_text()


def test_user_files_are_never_overwritten_without_force(iris, capsys):
    (iris / "Dockerfile").write_text("FROM my-own-base\n")
    code, _, err = _package(capsys, str(iris))
    assert code == 1
    assert "Dockerfile" in err and "--force" in err
    assert (iris / "Dockerfile").read_text() == "FROM my-own-base\n"
    assert not (iris / "deployment.yaml").exists(), "nothing is written when one file conflicts"
    code, _, _ = _package(capsys, str(iris), "--force")
    assert code == 0
    assert (iris / "Dockerfile.bak").read_text() == "FROM my-own-base\n"
    assert (iris / "Dockerfile").read_text().startswith("# Build context of IrisModel")


def test_dry_run_writes_nothing(iris, capsys):
    (iris / "Dockerfile").write_text("mine\n")
    code, out, err = _package(capsys, str(iris), "--dry-run", "--output", "json")
    report = json.loads(out)
    actions = {f["path"]: f["action"] for f in report["files"]}
    assert actions["Dockerfile"] == "conflict" and actions["deployment.yaml"] == "create"
    assert code == 1 and report["dry_run"] is True
    assert sorted(p.name for p in iris.iterdir()) == ["Dockerfile", "IrisModel.py", "requirements.txt"]


def _folder(tmp_path, files: dict[str, str]):
    for name, text in files.items():
        (tmp_path / name).write_text(textwrap.dedent(text))
    return tmp_path


def test_missing_method_names_the_class_line(tmp_path, capsys):
    folder = _folder(
        tmp_path,
        {
            "Thing.py": "import os\n\n\nclass Thing:\n    def predict(self, X, names=None):\n        return X\n"
        },
    )
    code, _, err = _package(capsys, str(folder), "--class", "Thing", "--service-type", "ROUTER")
    assert code == 1
    assert f"{folder / 'Thing.py'}:4: class Thing has no route() method" in err
    code, _, err = _package(capsys, str(folder), "--class", "Thing", "--service-type", "COMBINER")
    assert "def aggregate(self, Xs" in err


def test_missing_class(tmp_path, capsys):
    folder = _folder(
        tmp_path, {"Model.py": "class Other:\n    def predict(self, X, n=None):\n        return X\n"}
    )
    code, _, err = _package(capsys, str(folder), "--class", "Model")
    assert code == 1 and "no top-level class 'Model'" in err
    code, _, err = _package(capsys, str(folder), "--class", "nomodule.Model")
    assert code == 1 and "no module 'nomodule'" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = _package(capsys, str(empty))
    assert code == 1 and "no class defines predict()" in err


def test_detection_picks_the_class_with_the_method(tmp_path, capsys):
    folder = _folder(
        tmp_path,
        {
            "helpers.py": "class Scaler:\n    def transform_input(self, X, n):\n        return X\n",
            "model.py": "class Base:\n    def predict(self, X, n=None):\n        return X\n\nclass Model(Base):\n    pass\n",
        },
    )
    # two classes can predict (Model inherits it): ambiguous without --class
    code, _, err = _package(capsys, str(folder), "--dry-run")
    assert code == 1 and "several classes" in err and "model.Base" in err and "model.Model" in err
    code, out, _ = _package(capsys, str(folder), "--dry-run", "--class", "model.Model", "--output", "json")
    assert code == 0 and json.loads(out)["class"] == "model.Model"
    code, out, _ = _package(
        capsys, str(folder), "--dry-run", "--service-type", "TRANSFORMER", "--output", "json"
    )
    assert json.loads(out)["class"] == "helpers.Scaler"


def test_output_transformer_runs_as_transformer_in_the_wrapper(tmp_path):
    folder = _folder(
        tmp_path, {"Fmt.py": "class Fmt:\n    def transform_output(self, X, n):\n        return X\n"}
    )
    files = packaging.render(packaging.Options(folder, service_type="OUTPUT_TRANSFORMER")).files
    assert "SERVICE_TYPE=TRANSFORMER" in files[".s2i/environment"]
    assert (
        yaml.safe_load(files["deployment.yaml"])["spec"]["predictors"][0]["graph"]["type"]
        == "OUTPUT_TRANSFORMER"
    )


def test_router_gets_no_deployment_but_a_hint(tmp_path):
    folder = _folder(tmp_path, {"Pick.py": "class Pick:\n    def route(self, X, n):\n        return 0\n"})
    rendered = packaging.render(packaging.Options(folder, service_type="ROUTER"))
    assert "deployment.yaml" not in rendered.files
    assert any("fadi-seldon new" in n for n in rendered.notes)


def test_syntax_error_is_located(tmp_path, capsys):
    folder = _folder(tmp_path, {"Broken.py": "class Broken:\n    def predict(self:\n"})
    code, _, err = _package(capsys, str(folder))
    assert code == 1 and f"{folder / 'Broken.py'}:2:" in err and "syntax error" in err


def test_user_pins_of_the_wrapper_are_replaced_with_a_note(tmp_path):
    folder = _folder(
        tmp_path,
        {
            "M.py": "class M:\n    def predict(self, X, n=None):\n        return X\n",
            "requirements.txt": "# mine\nseldon-core==1.14.0\nSetuptools>=70\npandas==2.2.0\n",
        },
    )
    text, notes = packaging.requirements(folder)
    body = [line for line in text.splitlines() if not line.startswith("#")]
    assert body == [
        f"seldon-core=={versions.get('PY_SELDON_CORE')}",
        f"setuptools<{versions.get('PY_SETUPTOOLS_MAX')}",
        "pandas==2.2.0",
    ]
    assert len(notes) == 2 and "requirements.txt:2" in notes[0]


def test_build_without_docker_engine_builds_an_oci_archive(iris, capsys, monkeypatch, tmp_path):
    # no engine answers `docker info`: --build builds the image without Docker (tests/test_images_build.py)
    from fadi_seldon.images import Built
    from fadi_seldon.images import model as model_image

    monkeypatch.setenv("PATH", str(iris))  # no docker binary on PATH
    calls = []

    def fake_build(folder, image, **kwargs):
        calls.append((folder, image))
        return Built(tmp_path / "image.oci.tar", "docker.io/x/y:1", "sha256:" + "0" * 64, 1)

    monkeypatch.setattr(model_image, "build", fake_build)
    code, out, _ = _package(capsys, str(iris), "--build", "--image", "x/y:1", "-o", "json")
    assert code == 0 and calls == [(iris, "x/y:1")]
    assert json.loads(out)["oci_image"]["ref"] == "docker.io/x/y:1"


@pytest.mark.parametrize(
    ("flag", "value", "message"), [("--image", "My/Model", "not an image"), ("--name", "Bad_Name", "DNS")]
)
def test_bad_image_or_name(iris, capsys, flag, value, message):
    code, _, err = _package(capsys, str(iris), flag, value)
    assert code == 2 and message in err  # a usage error, as for `new` (cli/exit_codes.py)
    assert not (iris / "Dockerfile").exists()


def test_name_sets_deployment_and_node(iris, capsys):
    assert _package(capsys, str(iris), "--name", "flowers")[0] == 0
    manifest = yaml.safe_load((iris / "deployment.yaml").read_text())
    assert manifest["metadata"]["name"] == "flowers"
    assert manifest["spec"]["predictors"][0]["graph"]["name"] == "flowers"
    assert "docker build -t flowers:0.1.0" in (iris / "Dockerfile").read_text()


def test_no_engine_annotates_the_predictor_and_validates(iris, capsys):
    assert _package(capsys, str(iris), "--no-engine")[0] == 0
    sdep = yaml.safe_load((iris / "deployment.yaml").read_text())
    predictor = sdep["spec"]["predictors"][0]
    assert predictor["annotations"] == {"seldon.io/no-engine": "true"}
    assert not [f for f in validate_object(sdep) if f.severity == "error"]
    assert _package(capsys, str(iris))[0] == 0  # without the flag the annotation goes again
    assert (
        "annotations" not in yaml.safe_load((iris / "deployment.yaml").read_text())["spec"]["predictors"][0]
    )
