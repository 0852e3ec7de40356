"""A real MLServer 1.3.5 (from .venv-mlserver) answering `predict --protocol v2`: the sklearn-iris,
xgboost-iris and mlflow-iris examples trained here and served as SKLEARN_SERVER, XGBOOST_SERVER and
MLFLOW_SERVER, and a custom runtime packaged with `--runtime mlserver`.

The venv is created once (about 60 s from PyPI on a cold cache, then reused; the xgboost and mlflow
runtimes add about 2 minutes once); the tests are skipped only when pip cannot install it, with pip's
error as the reason. Each server takes ~3 s to answer.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from fadi_seldon import cli
from fadi_seldon.model import mlserver
from fadi_seldon.runtime import processes
from served import ServeProcess

IRIS = "[[5.1, 3.5, 1.4, 0.2], [6.3, 3.3, 6.0, 2.5]]"


@pytest.fixture(scope="session")
def iris_artifact(mlserver_venv, repo_root, tmp_path_factory) -> Path:
    """examples/sklearn-iris/train.py run by the serving venv's scikit-learn, into a temporary folder."""
    out = tmp_path_factory.mktemp("iris")
    script = repo_root / "examples" / "sklearn-iris" / "train.py"
    run = subprocess.run(
        [str(mlserver_venv / "bin" / "python"), str(script), str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert (out / "model.joblib").is_file() and "training accuracy 0.9" in run.stdout
    return out


class Served(ServeProcess):
    """`fadi-seldon serve ...` with MLServer; stopped with a SIGTERM first, as a user would."""

    def __init__(self, venv: Path, *argv: str):
        super().__init__("FADI_MLSERVER_VENV", venv, *argv)

    def wait_ready(self, model: str, timeout: float = 90) -> float:
        return self.wait_for(f"/v2/models/{model}/ready", lambda status, body: status == 200, timeout)

    def close(self, graceful: bool = True) -> None:
        super().close(graceful)


@pytest.fixture
def sklearn_served(mlserver_venv, iris_artifact):
    served = Served(
        mlserver_venv,
        "--server",
        "SKLEARN_SERVER",
        "--model-uri",
        str(iris_artifact),
        "--protocol",
        "v2",
        "--name",
        "iris",
    )
    yield served
    served.close()


def _predict(capsys, *argv: str) -> tuple[int, dict | None, str]:
    code = cli.main(["predict", *argv, "-o", "json"])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


def test_sklearn_server_answers_v2_and_stops_cleanly(sklearn_served, capsys):
    took = sklearn_served.wait_ready("iris")
    url = sklearn_served.url
    code, answer, err = _predict(capsys, url, "--protocol", "v2", "--model", "iris", "--ndarray", IRIS)
    assert code == 0, err
    assert answer["model_name"] == "iris"
    [out] = answer["outputs"]
    assert out["name"] == "predict" and out["shape"] == [2, 1] and out["data"] == [0, 2]  # setosa, virginica
    code, ready, err = _predict(capsys, url, "--protocol", "v2", "--model", "iris", "--ready")
    assert code == 0, err
    assert all(ready.values()) if isinstance(ready, dict) else ready
    code, metadata, err = _predict(capsys, url, "--protocol", "v2", "--model", "iris", "--metadata")
    assert code == 0 and metadata["name"] == "iris", err
    # every listener is on loopback only
    tree = sklearn_served.tree()
    assert len(tree) >= 2, tree  # fadi-seldon's MLServer and its inference worker
    sklearn_served.proc.send_signal(signal.SIGTERM)
    _, err = sklearn_served.proc.communicate(timeout=30)
    assert sklearn_served.proc.returncode == 0, err[-2000:]
    assert "stopped (all MLServer processes ended)" in err and "[serve] ready in" in err
    assert took < 60
    time.sleep(0.2)
    assert [pid for pid in tree if processes.is_running(pid)] == []
    for port in (sklearn_served.http, sklearn_served.grpc, sklearn_served.metrics):
        assert not processes.port_open(port)


def test_sklearn_payload_errors(sklearn_served, capsys):
    sklearn_served.wait_ready("iris")
    url = sklearn_served.url
    code, _, err = _predict(capsys, url, "--protocol", "v2", "--model", "iris", "--ndarray", "[[1, 2, 3]]")
    assert code == 1 and "X has 3 features" in err, err
    code, _, err = _predict(capsys, url, "--protocol", "v2", "--model", "nope", "--ndarray", IRIS)
    assert code == 1 and "nope" in err, err
    bad = '{"inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP64", "data": [1, 2]}]}'
    request = urllib.request.Request(
        f"{url}/v2/models/iris/infer", bad.encode(), {"Content-Type": "application/json"}
    )
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(request, timeout=10)
    assert answer.value.code >= 400


def test_packaged_custom_runtime_answers(mlserver_venv, repo_root, tmp_path, capsys):
    folder = tmp_path / "iris-runtime"
    folder.mkdir()
    shutil.copy(repo_root / "examples" / "sklearn-iris" / "runtime" / "iris_runtime.py", folder)
    assert cli.main(["package", str(folder), "--runtime", "mlserver"]) == 0, capsys.readouterr().err
    capsys.readouterr()
    served = Served(mlserver_venv, str(folder))
    try:
        served.wait_ready("iris-runtime")
        args = (served.url, "--protocol", "v2", "--model", "iris-runtime")
        code, answer, err = _predict(capsys, *args, "--ndarray", IRIS)
        assert code == 0, err
        [out] = answer["outputs"]
        assert out["name"] == "probabilities" and out["shape"] == [2, 3]
        rows = [out["data"][0:3], out["data"][3:6]]
        assert [row.index(max(row)) for row in rows] == [0, 2]
        code, _, err = _predict(capsys, *args, "--ndarray", "[[1, 2, 3]]")
        assert code == 1 and "expected 4 features per row" in err, err
    finally:
        served.close()
    assert not (folder / ".metrics").exists()  # MLServer's metrics files stay out of the model folder


def _trained(venv: Path, server: str, example: str, out: Path) -> Path:
    """The server's runtime added to the venv (with its pins), then examples/EXAMPLE/train.py run there."""
    packages = ("mlserver-sklearn", mlserver.RUNTIMES[server].package)
    try:
        mlserver.ensure_venv(
            venv, packages, progress=lambda msg: print(f"[mlserver venv] {msg}", file=sys.stderr)
        )
    except mlserver.ServeError as err:
        pytest.skip(f"the runtime of {server} cannot be installed here: {err}")
    script = Path(__file__).resolve().parents[1] / "examples" / example / "train.py"
    python = venv / "bin" / "python"
    run = subprocess.run([str(python), str(script), str(out)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "training accuracy 0.9" in run.stdout, run.stdout
    return out


def _venv_says(venv: Path, code: str) -> list[str]:
    """What the serving venv's python prints for `code`, split on spaces (versions of its packages)."""
    run = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    return run.stdout.split()


def _iris_answer(venv: Path, server: str, artifact: Path, capsys) -> dict:
    """`serve --server SERVER` on the artifact, then two flowers (setosa, virginica) asked: the output."""
    served = Served(
        venv, "--server", server, "--model-uri", str(artifact), "--protocol", "v2", "--name", "flowers"
    )
    try:
        served.wait_ready("flowers")
        args = (served.url, "--protocol", "v2", "--model", "flowers", "--ndarray", IRIS)
        code, answer, err = _predict(capsys, *args)
    finally:
        served.close()
    assert code == 0, err
    assert answer["model_name"] == "flowers"
    [out] = answer["outputs"]
    return out


def test_xgboost_server_answers_v2(mlserver_venv, tmp_path, capsys):
    """XGBOOST_SERVER as the 1.3.5-xgboost image runs it: one probability per class and row."""
    artifact = _trained(mlserver_venv, "XGBOOST_SERVER", "xgboost-iris", tmp_path / "xgb")
    assert (artifact / "model.bst").is_file()
    [xgboost_version] = _venv_says(mlserver_venv, "import xgboost; print(xgboost.__version__)")
    assert xgboost_version.startswith("1."), xgboost_version  # the pin held
    out = _iris_answer(mlserver_venv, "XGBOOST_SERVER", artifact, capsys)
    assert out["shape"] == [2, 3]
    rows = [out["data"][0:3], out["data"][3:6]]
    assert [row.index(max(row)) for row in rows] == [0, 2]
    assert all(abs(sum(row) - 1) < 1e-4 for row in rows)


def test_mlflow_server_answers_v2(mlserver_venv, tmp_path, capsys):
    """MLFLOW_SERVER as the 1.3.5-mlflow image runs it: an MLflow model folder loaded as a pyfunc."""
    artifact = _trained(mlserver_venv, "MLFLOW_SERVER", "mlflow-iris", tmp_path / "mlflow-model")
    assert (artifact / "MLmodel").is_file()
    versions = _venv_says(
        mlserver_venv, "import mlserver, pydantic; print(mlserver.__version__, pydantic.VERSION)"
    )
    # adding mlflow kept MLServer's pins (it once upgraded MLServer to 1.7 for mlflow's pydantic 2)
    assert versions[0] == "1.3.5" and versions[1].startswith("1."), versions
    out = _iris_answer(mlserver_venv, "MLFLOW_SERVER", artifact, capsys)
    assert out["shape"] == [2, 1] and out["data"] == [0, 2]  # the class labels model.predict returns
