"""MLServer for protocol v2, without a server: the venv's pins, model settings, the servers table,
`package --runtime mlserver`'s build context and the refusals of `serve` (fast, no network)."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from fadi_seldon import cli
from fadi_seldon.images import model as model_image
from fadi_seldon.model import mlserver, mlserver_package, packaging
from fadi_seldon.runtime import versions
from fadi_seldon.sdep import predictor_servers
from fadi_seldon.sdep.validator import validate_object

RUNTIME_SOURCE = """
from mlserver import MLModel


class Helper:
    pass


class EchoRuntime(MLModel):
    async def load(self):
        return True

    async def predict(self, payload):
        return payload
"""


@pytest.fixture
def runtime_dir(tmp_path, repo_root):
    """A copy of the example custom runtime (examples/sklearn-iris/runtime), without generated files."""
    folder = tmp_path / "iris-runtime"
    folder.mkdir()
    shutil.copy(repo_root / "examples" / "sklearn-iris" / "runtime" / "iris_runtime.py", folder)
    return folder


def test_pin_is_the_version_the_chart_images_carry():
    assert versions.get("MLSERVER_VERSION") == "1.3.5"
    for name, runtime in mlserver.RUNTIMES.items():
        image = predictor_servers.DEFAULT_SERVERS[name]["protocols"]["v2"]
        assert image["image"] == "seldonio/mlserver"
        assert (
            image["defaultImageVersion"]
            == f"{versions.get('MLSERVER_VERSION')}-{runtime.package.split('-')[1]}"
        )
    assert mlserver.requirements()[0] == "mlserver==1.3.5"
    assert mlserver.runtime_requirement("mlserver-sklearn") == "mlserver-sklearn==1.3.5"
    # each framework at the version every image and the training venv share (versions.env)
    sklearn, xgboost = (
        f"scikit-learn=={versions.get('SCIKIT_LEARN_VERSION')}",
        f"xgboost=={versions.get('XGBOOST_VERSION')}",
    )
    assert mlserver.runtime_requirements("mlserver-sklearn") == ["mlserver-sklearn==1.3.5", sklearn]
    assert mlserver.runtime_requirements("mlserver-xgboost") == ["mlserver-xgboost==1.3.5", xgboost]
    assert mlserver.runtime_requirements("mlserver-mlflow") == [
        "mlserver-mlflow==1.3.5",
        f"mlflow=={versions.get('MLFLOW_VERSION')}",
        sklearn,
    ]


def test_venv_location(monkeypatch, tmp_path, repo_root):
    monkeypatch.setenv("FADI_MLSERVER_VENV", str(tmp_path / "v"))
    assert mlserver.default_venv() == tmp_path / "v"
    monkeypatch.delenv("FADI_MLSERVER_VENV")
    assert mlserver.default_venv() == repo_root / ".venv-mlserver"


def _fake_venv(venv, requirements, runtimes):
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "mlserver").write_text("")
    (venv / mlserver.MARKER).write_text(json.dumps({"requirements": requirements, "runtimes": runtimes}))


def test_venv_is_keyed_by_the_pins(tmp_path, monkeypatch):
    calls = []

    def create(venv, why, progress):
        calls.append(("create", venv))
        venv.mkdir()

    monkeypatch.setattr(mlserver.serving, "create_venv", create)
    monkeypatch.setattr(
        mlserver.serving, "pip_install", lambda py, reqs, *a, **k: calls.append(("pip", reqs))
    )
    venv = tmp_path / "v"
    sklearn = mlserver.runtime_requirements("mlserver-sklearn")
    _fake_venv(venv, mlserver.requirements(), sklearn)
    assert mlserver.ensure_venv(venv, ("mlserver-sklearn",)) == venv / "bin" / "python"
    assert calls == []  # up to date: nothing run
    mlserver.ensure_venv(venv, ("mlserver-xgboost",), progress=lambda m: None)
    # a runtime added, with the pin of its own dependency
    # (every pin in the same pip run: runtimes require `mlserver` unpinned)
    new = mlserver.runtime_requirements("mlserver-xgboost")
    assert new[1].startswith("xgboost==")
    assert calls == [("pip", [*mlserver.requirements(), *sklearn, *new])]
    runtimes = json.loads((venv / mlserver.MARKER).read_text())["runtimes"]
    assert set(new) <= set(runtimes)
    calls.clear()
    mlserver.ensure_venv(venv, ("mlserver-xgboost",), progress=lambda m: None)
    assert calls == []  # the runtime and its pin are recorded: nothing run again
    calls.clear()
    (venv / mlserver.MARKER).write_text(json.dumps({"requirements": ["mlserver==1.3.4"], "runtimes": []}))
    mlserver.ensure_venv(venv, ("mlserver-sklearn",), progress=lambda m: None)
    assert calls == [("create", venv), ("pip", [*mlserver.requirements(), *sklearn])]


def test_no_install_says_what_to_run(tmp_path):
    with pytest.raises(mlserver.ServeError) as err:
        mlserver.ensure_venv(tmp_path / "v", ("mlserver-sklearn",), install=False)
    assert "does not have MLServer" in str(err.value) and "Run without --no-install" in str(err.value)
    assert not (tmp_path / "v").exists()


def test_prepackaged_model_settings_are_the_operators(tmp_path):
    (tmp_path / "iris").mkdir()
    for artifact in ("model.joblib", "model.bst"):  # what SKLEARN_SERVER and XGBOOST_SERVER load
        (tmp_path / "iris" / artifact).write_bytes(b"")
    server = mlserver.prepackaged(
        "SKLEARN_SERVER", tmp_path / "iris", "v2", http_port=1, grpc_port=2, metrics_port=3
    )
    try:
        settings = json.loads((server.folder / "model-settings.json").read_text())
        assert settings == {
            "name": "iris",
            "implementation": "mlserver_sklearn.SKLearnModel",
            "parameters": {"uri": str((tmp_path / "iris").resolve())},
        }
        assert server.packages == ("mlserver-sklearn",)
        assert server.ready_path == "/v2/models/iris/ready"
        assert server.command(tmp_path / "bin" / "python") == [
            str(tmp_path / "bin" / "mlserver"),
            "start",
            str(server.folder),
        ]
        assert [p for _, p, _ in server.listeners()] == [1, 2, 3]
    finally:
        server.stop()
    assert not server.folder.exists()  # the generated folder goes with the server
    named = mlserver.prepackaged("XGBOOST_SERVER", tmp_path / "iris", "v2", name="flowers")
    named.stop()
    assert named.model_name == "flowers" and named.packages == ("mlserver-xgboost",)


@pytest.mark.parametrize(
    ("server", "protocol", "message"),
    [
        (
            "SKLEARN_SERVER",
            "seldon",
            "seldonio/sklearnserver:1.17.1, a Seldon wrapper around a server that lives only in that image",
        ),
        ("SKLEARN_SERVER", "seldon", "add --protocol v2"),
        ("MLFLOW_SERVER", "seldon", "seldonio/mlflowserver"),
        ("TRITON_SERVER", "v2", "no MLServer runtime runnable here"),
        ("TENSORFLOW_SERVER", "seldon", "use --protocol v2"),
        ("NOPE_SERVER", "v2", "not a prepackaged server"),
    ],
)
def test_prepackaged_refusals(tmp_path, server, protocol, message):
    with pytest.raises(mlserver.ServeError) as err:
        mlserver.prepackaged(server, tmp_path, protocol)
    assert message in str(err.value)


def test_serve_cli_refusals(tmp_path, capsys):
    assert (
        cli.main(["serve", "--server", "SKLEARN_SERVER", "--model-uri", str(tmp_path), "--no-install"]) == 1
    )
    assert "add --protocol v2" in capsys.readouterr().err
    code = cli.main(
        ["serve", "--server", "SKLEARN_SERVER", "--model-uri", str(tmp_path / "no"), "--protocol", "v2"]
    )
    assert code == 2 and "no such file or folder" in capsys.readouterr().err  # unusable input
    code = cli.main(["serve", "--server", "SKLEARN_SERVER", "--model-uri", str(tmp_path), "--protocol", "v2"])
    assert code == 2 and f"no model artifact in {tmp_path}" in capsys.readouterr().err
    assert cli.main(["serve", "--server", "SKLEARN_SERVER"]) == 2
    assert "go together" in capsys.readouterr().err
    assert cli.main(["serve"]) == 2
    assert "give a model folder DIR" in capsys.readouterr().err
    code = cli.main(
        ["serve", "--server", "SKLEARN_SERVER", "--model-uri", str(tmp_path), "--protocol", "v2", "--no-grpc"]
    )
    assert code == 1 and "always starts its gRPC server" in capsys.readouterr().err


def test_wrapper_folder_refuses_v2(tmp_path, capsys, repo_root):
    assert cli.main(["serve", str(repo_root / "examples" / "iris-model"), "--protocol", "v2"]) == 1
    err = capsys.readouterr().err
    assert "Seldon protocol only" in err and "--runtime mlserver" in err


def test_package_mlserver_build_context(runtime_dir, capsys):
    code = cli.main(
        [
            "package",
            str(runtime_dir),
            "--runtime",
            "mlserver",
            "--image",
            "fadi/iris-runtime:0.1.0",
            "-o",
            "json",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    report = json.loads(out)
    assert report["runtime"] == "mlserver" and report["class"] == "iris_runtime.IrisRuntime"
    settings = json.loads((runtime_dir / "model-settings.json").read_text())
    assert settings == {"name": "iris-runtime", "implementation": "iris_runtime.IrisRuntime"}
    dockerfile = (runtime_dir / "Dockerfile").read_text()
    lines = [line for line in dockerfile.splitlines() if line and not line.startswith("#")]
    assert lines[0] == f"FROM {packaging.BASE_IMAGE}"
    assert "USER 8888" in lines and "EXPOSE 9000 9500 6000" in lines
    assert "ENV MLSERVER_HTTP_PORT=9000 \\" in lines and "    MLSERVER_GRPC_PORT=9500 \\" in lines
    assert lines[-1] == 'CMD ["mlserver", "start", "."]'
    assert dockerfile.index("RUN pip install -r requirements-mlserver.txt") < dockerfile.index("COPY --chown")
    reqs = [
        r
        for r in (runtime_dir / "requirements-mlserver.txt").read_text().splitlines()
        if not r.startswith("#")
    ]
    assert reqs == ["mlserver==1.3.5", *mlserver.CONSTRAINTS]
    manifest = yaml.safe_load((runtime_dir / "deployment.yaml").read_text())
    assert validate_object(manifest) == []
    assert manifest["spec"]["protocol"] == "v2"
    assert manifest["spec"]["predictors"][0]["graph"]["name"] == "iris-runtime"
    assert packaging.packaged_runtime(runtime_dir) == "mlserver"
    # a second run changes nothing; the wrapper's state format is unchanged (no runtime key)
    assert (
        cli.main(["package", str(runtime_dir), "--runtime", "mlserver", "--image", "fadi/iris-runtime:0.1.0"])
        == 0
    )
    assert "unchanged Dockerfile" in capsys.readouterr().out


def test_image_spec_is_what_the_dockerfile_says(runtime_dir):
    rendered = packaging.render(packaging.Options(runtime_dir, runtime="mlserver"))
    config = model_image.image_config(rendered.spec, ("PATH=/usr/bin",))
    assert config.cmd == ["mlserver", "start", "."]
    assert config.user == "8888" and config.working_dir == "/app"
    assert "MLSERVER_HTTP_PORT=9000" in config.env and "MLSERVER_GRPC_PORT=9500" in config.env
    assert config.exposed_ports == ["9000/tcp", "9500/tcp", "6000/tcp"]
    assert rendered.requirements_file == "requirements-mlserver.txt"


def test_user_requirements_follow_the_pins(runtime_dir):
    (runtime_dir / "requirements.txt").write_text("mlserver==1.2.0\nscikit-learn==1.3.2\n")
    text, notes = mlserver_package.requirements(runtime_dir)
    lines = [r for r in text.splitlines() if not r.startswith("#")]
    assert lines == ["mlserver==1.3.5", *mlserver.CONSTRAINTS, "scikit-learn==1.3.2"]
    assert "'mlserver==1.2.0' replaced by the pin above" in notes[0]


def test_runtime_class_detection(tmp_path):
    (tmp_path / "model.py").write_text(RUNTIME_SOURCE)
    cls = mlserver_package.find_runtime(tmp_path, None)
    assert mlserver_package.implementation(cls) == "model.EchoRuntime"
    assert (
        mlserver_package.implementation(mlserver_package.find_runtime(tmp_path, "model.EchoRuntime"))
        == "model.EchoRuntime"
    )
    with pytest.raises(packaging.PackageError, match="no top-level class 'Nope'"):
        mlserver_package.find_runtime(tmp_path, "model.Nope")
    with pytest.raises(packaging.PackageError, match="named module.Class"):
        mlserver_package.find_runtime(tmp_path, "EchoRuntime")
    (tmp_path / "model.py").write_text(
        "from mlserver import MLModel\n\nclass R(MLModel):\n    async def load(self):\n        return True\n"
    )
    with pytest.raises(packaging.PackageError, match="class R has no predict"):
        mlserver_package.find_runtime(tmp_path, None)
    (tmp_path / "model.py").write_text("class Plain:\n    def predict(self, X):\n        return X\n")
    with pytest.raises(packaging.PackageError, match="no class subclasses mlserver.MLModel"):
        mlserver_package.find_runtime(tmp_path, None)


def test_package_mlserver_refuses_other_service_types(runtime_dir, capsys):
    assert cli.main(["package", str(runtime_dir), "--runtime", "mlserver", "--service-type", "ROUTER"]) == 1
    assert "--runtime mlserver packages a MODEL" in capsys.readouterr().err


def test_packaged_folder_serves_v2_only(runtime_dir, capsys):
    assert cli.main(["package", str(runtime_dir), "--runtime", "mlserver"]) == 0
    capsys.readouterr()
    assert cli.main(["serve", str(runtime_dir), "--protocol", "seldon"]) == 1
    assert "speaks protocol v2 only" in capsys.readouterr().err
    server = mlserver.packaged(runtime_dir, http_port=1, grpc_port=2, metrics_port=3)
    assert server.model_name == "iris-runtime" and server.folder == runtime_dir.resolve()
    (runtime_dir / "model-settings.json").write_text("{")
    with pytest.raises(mlserver.ServeError, match="cannot read the model's name"):
        mlserver.packaged(runtime_dir)
