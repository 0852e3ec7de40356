"""`fadi-seldon predict --transport grpc`: Seldon's protocol over gRPC against the real wrapper.

The call is made by the serve venv's interpreter with seldon-core's own stubs (the `serve_venv`
fixture, as for tests/test_serve.py); the wrapper is started once for the module on free ports.
Usage errors are checked without any venv: they come before anything is installed or started.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from conftest import run_cli
from fadi_seldon.model import grpc_predict
from fadi_seldon.runtime import processes
from served import ServeProcess

SETOSA = "[[5.1, 3.5, 1.4, 0.2]]"


def _serve(venv, repo_root) -> ServeProcess:
    served = ServeProcess("FADI_SERVE_VENV", venv, str(repo_root / "examples" / "iris-model"))
    served.wait_for("/health/ping", lambda status, body: body.strip() == b"pong", 60)
    return served


@pytest.fixture(scope="module")
def iris(serve_venv, repo_root):
    """The iris example served by `fadi-seldon serve` (REST and gRPC), for the whole module."""
    served = _serve(serve_venv, repo_root)
    yield served
    served.close(graceful=True)


@pytest.fixture
def stubs(serve_venv, monkeypatch):
    """predict finds the session's serve venv (the stubs) as a user's FADI_SERVE_VENV would point at it."""
    monkeypatch.setenv("FADI_SERVE_VENV", str(serve_venv))
    return serve_venv


def _grpc(capsys, target, *argv):
    return run_cli(capsys, ["predict", "--transport", "grpc", target, *argv])


def test_grpc_answer_is_the_rest_answer(iris, stubs, capsys):
    target = f"127.0.0.1:{iris.grpc}"
    # --wait: the wrapper's gRPC server starts beside its REST one, possibly a moment later
    code, out, err = _grpc(capsys, target, "--ndarray", SETOSA, "-o", "json", "--wait", "30")
    assert code == 0, err
    answer = json.loads(out)
    rows = answer["data"]["ndarray"]
    assert len(rows) == 1 and len(rows[0]) == 3
    assert abs(sum(rows[0]) - 1) < 1e-9
    assert rows[0].index(max(rows[0])) == 0  # setosa
    assert answer["data"]["names"] == ["setosa", "versicolor", "virginica"]
    code, out, err = run_cli(capsys, ["predict", iris.url, "--ndarray", SETOSA, "-o", "json"])
    assert code == 0, err
    rest = json.loads(out)
    assert rows == rest["data"]["ndarray"]  # the same numbers, to the last bit
    assert answer["meta"]["tags"] == rest["meta"]["tags"] == {"model": "iris-model", "temperature": 1.0}


def test_other_payloads_and_target_spellings(iris, stubs, capsys):
    for target in (f"grpc://127.0.0.1:{iris.grpc}", f"http://127.0.0.1:{iris.grpc}/ignored/path"):
        code, out, err = _grpc(capsys, target, "--tensor", SETOSA, "-o", "json", "--wait", "30")
        assert code == 0, err
        tensor = json.loads(out)["data"]["tensor"]  # the answer keeps the request's encoding
        assert tensor["shape"] == [1, 3] and abs(sum(tensor["values"]) - 1) < 1e-9
    # -o text: the same renderer as REST (array rows on one line)
    code, out, err = _grpc(capsys, f"127.0.0.1:{iris.grpc}", "--ndarray", SETOSA)
    assert code == 0, err
    assert '"names": ["setosa", "versicolor", "virginica"]' in out


def test_a_component_raising_is_reported_with_its_grpc_code(iris, stubs, capsys):
    target = f"127.0.0.1:{iris.grpc}"
    code, out, err = _grpc(capsys, target, "--ndarray", "[[1, 2]]", "--wait", "30")
    assert code == 1 and out == ""
    assert err.splitlines() == [
        f"error: {target} answered gRPC UNKNOWN: Exception calling application: expected 4 features per row, got 2"
    ]


def test_a_message_the_server_cannot_read_is_reported_with_its_grpc_code(iris, stubs, capsys, tmp_path):
    request = tmp_path / "request.json"
    request.write_text('{"data": {"tensor": {"shape": [2, 2], "values": [1.0]}}}')
    target = f"127.0.0.1:{iris.grpc}"
    code, out, err = _grpc(capsys, target, "--file", str(request), "--wait", "30")
    assert code == 1 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith(f"error: {target} answered gRPC UNKNOWN: ")


def test_a_message_the_stubs_cannot_build_is_a_usage_error(stubs, capsys, tmp_path):
    request = tmp_path / "request.json"
    request.write_text('{"strData": 5}')
    code, out, err = _grpc(capsys, "127.0.0.1:1", "--file", str(request))
    assert code == 2 and out == ""
    assert "the request is not a SeldonMessage: Failed to parse strData field" in err


def test_unreachable_target_exits_1_in_one_line(stubs, capsys):
    port = processes.free_port()  # closed again: nothing listens there
    started = time.monotonic()
    code, out, err = _grpc(capsys, f"127.0.0.1:{port}", "--ndarray", SETOSA)
    assert code == 1 and out == ""
    [line] = err.splitlines()
    assert line.startswith(f"error: cannot reach 127.0.0.1:{port} over gRPC: UNAVAILABLE: ")
    assert "fadi-seldon serve DIR" in line
    assert time.monotonic() - started < 20  # refused at once, not after the 30 s deadline


def test_wait_retries_until_the_wrapper_listens(stubs, repo_root, monkeypatch):
    http, grpc, metrics = (processes.free_port() for _ in range(3))
    env = dict(os.environ, FADI_SERVE_VENV=str(stubs))
    cmd = [sys.executable, "-m", "fadi_seldon", "predict", "--transport", "grpc", f"127.0.0.1:{grpc}"]
    predict = subprocess.Popen(
        [*cmd, "--ndarray", SETOSA, "--wait", "90", "-o", "json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    served = None
    try:
        time.sleep(1.5)
        assert predict.poll() is None, predict.communicate()  # still retrying: nothing listens yet
        ports = iter((http, grpc, metrics))
        monkeypatch.setattr(processes, "free_port", lambda host="127.0.0.1": next(ports))
        served = _serve(stubs, repo_root)
        out, err = predict.communicate(timeout=120)
    finally:
        if predict.poll() is None:
            predict.kill()
            predict.communicate()
        if served is not None:
            served.close(graceful=True)
    assert predict.returncode == 0, err
    assert len(json.loads(out)["data"]["ndarray"][0]) == 3


@pytest.mark.parametrize("extra", [[], ["--model", "iris"]])
def test_grpc_with_protocol_v2_is_refused(capsys, extra):
    code, out, err = run_cli(
        capsys, ["predict", "--transport", "grpc", "--protocol", "v2", *extra, "--ndarray", SETOSA]
    )
    assert code == 2 and out == ""
    assert err.splitlines() == [
        "error: --transport grpc speaks Seldon's protocol; --protocol v2 goes over REST only"
    ]


def test_no_install_goes_with_grpc(capsys):
    code, _, err = run_cli(capsys, ["predict", "--no-install", "--ndarray", SETOSA])
    assert code == 2 and "--no-install goes with --transport grpc" in err


@pytest.mark.parametrize(
    ("target", "why"),
    [
        ("grpc://", "no host"),
        ("host:notaport", "'notaport' is not a port number"),
        ("host:70000", "'70000' is not a port number"),
        ("host:0", "port 0 is not a port number"),
        ("host", "no port"),
        ("http://host/seldon/ns/name", "no port"),
        ("ftp://host:21", "scheme ftp:// is not grpc:// or http(s)://"),
        ("grpc://host:5000/path", "a gRPC target has no path"),
        ("grpc://user@host:5000", "user names are not supported"),
    ],
)
def test_bad_target_exits_2_before_anything_is_installed(capsys, monkeypatch, tmp_path, target, why):
    venv = tmp_path / "serve-venv"
    monkeypatch.setenv("FADI_SERVE_VENV", str(venv))
    code, out, err = _grpc(capsys, target, "--ndarray", SETOSA)
    assert code == 2 and out == ""
    [line] = err.splitlines()
    assert line.startswith(f"error: gRPC target {target!r}: {why}")
    assert line.endswith("; expected HOST:PORT, grpc://HOST:PORT or http(s)://HOST:PORT")
    assert not venv.exists()


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("127.0.0.1:5000", "127.0.0.1:5000"),
        ("grpc://host:5001", "host:5001"),
        ("grpc://host:5001/", "host:5001"),
        ("http://10.0.0.7:9000", "10.0.0.7:9000"),  # the port as given: no REST-to-gRPC guess
        ("https://ingress.example:8443/seldon/ns/name", "ingress.example:8443"),
        ("[::1]:5000", "[::1]:5000"),
    ],
)
def test_target_spellings(text, target):
    assert grpc_predict.target(text) == target


def test_no_install_without_stubs_names_the_package_and_the_command(capsys, monkeypatch, tmp_path):
    venv = tmp_path / "empty"
    venv.mkdir()
    monkeypatch.setenv("FADI_SERVE_VENV", str(venv))
    code, out, err = _grpc(capsys, "127.0.0.1:5000", "--ndarray", SETOSA, "--no-install")
    assert code == 1 and out == ""
    [line] = err.splitlines()
    assert "seldon-core 1.17.1" in line and f"the `serve` extra's environment {venv}" in line
    assert "which has no seldon-core" in line and "run without --no-install" in line
    command = f"-m venv {venv} && {venv}/bin/python -m pip install 'seldon-core==1.17.1' 'setuptools<81'"
    assert line.endswith(command)
    assert list(venv.iterdir()) == []  # nothing installed


def test_a_deadline_is_not_called_an_answer():
    err = grpc_predict.StatusError("h:5001", "DEADLINE_EXCEEDED", "Deadline Exceeded", 2.5)
    assert (
        str(err) == "no answer from h:5001 within 2.5 s (gRPC DEADLINE_EXCEEDED; --timeout sets the deadline)"
    )
    err = grpc_predict.StatusError("h:5001", "INVALID_ARGUMENT", "bad\n  input", 2.5)
    assert str(err) == "h:5001 answered gRPC INVALID_ARGUMENT: bad input"


def test_a_failing_client_program_is_a_grpc_error(tmp_path):
    broken = tmp_path / "python"
    broken.write_text("#!/bin/sh\necho 'ModuleNotFoundError: No module named grpc' >&2\nexit 1\n")
    broken.chmod(0o755)
    with pytest.raises(grpc_predict.GrpcError, match=r"failed: ModuleNotFoundError: No module named grpc$"):
        grpc_predict.predict(broken, "127.0.0.1:5000", {"strData": "x"})
