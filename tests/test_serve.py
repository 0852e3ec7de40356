"""`fadi-seldon serve` with the real Seldon wrapper: a prediction over loopback, and a clean stop.

The wrapper's venv is created once per session (about 20-30 s from PyPI on a cold cache). The
tests are skipped only when pip cannot install it, with pip's error as the reason.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from fadi_seldon import cli
from fadi_seldon.model import packaging, serving
from fadi_seldon.runtime import processes
from served import ServeProcess
from served import tree as process_tree


def _free_ports(n: int) -> list[int]:
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return resp.status == 200
    except OSError:
        return False


def _listeners(port: int) -> list[str]:
    """Local addresses (hex, as in /proc/net/tcp*) listening on `port`."""
    out = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].split(":")
            if int(hex_port, 16) == port and fields[3] == "0A":  # 0A = LISTEN
                out.append(address)
    return out


class _Served(ServeProcess):
    """`fadi-seldon serve DIR` with the Seldon wrapper."""

    def __init__(self, folder: Path, venv: Path, *extra: str):
        super().__init__("FADI_SERVE_VENV", venv, str(folder), *extra)

    def wait_ready(self, timeout: float = 60) -> None:
        self.wait_for("/health/ping", lambda status, body: body.strip() == b"pong", timeout)


@pytest.fixture
def iris_served(serve_venv, repo_root):
    served = _Served(repo_root / "examples" / "iris-model", serve_venv)
    yield served
    served.close()


def _post(url: str, body: dict) -> dict:
    req = urllib.request.Request(
        f"{url}/api/v1.0/predictions", json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def test_served_example_answers_predictions_on_loopback(iris_served, capsys):
    iris_served.wait_ready()
    code = cli.main(["predict", iris_served.url, "--ndarray", "[[5.1, 3.5, 1.4, 0.2], [6.3, 3.3, 6.0, 2.5]]"])
    answer = json.loads(capsys.readouterr().out)
    assert code == 0
    assert answer["data"]["names"] == ["setosa", "versicolor", "virginica"]
    rows = answer["data"]["ndarray"]
    assert [row.index(max(row)) for row in rows] == [0, 2]
    assert all(abs(sum(row) - 1) < 1e-9 for row in rows)
    assert answer["meta"]["tags"] == {"model": "iris-model", "temperature": 1.0}
    # the answer keeps the request's encoding
    tensor = _post(iris_served.url, {"data": {"tensor": {"shape": [1, 4], "values": [5.1, 3.5, 1.4, 0.2]}}})
    assert tensor["data"]["tensor"]["shape"] == [1, 3]
    # every listener of the tree is bound to loopback only (127.0.0.1, or its IPv4-mapped IPv6 form)
    for port in (iris_served.http, iris_served.grpc, iris_served.metrics):
        deadline = time.monotonic() + 15  # gRPC and metrics servers start beside the REST one, not before it
        while not (addresses := _listeners(port)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert addresses, f"nothing listens on {port}"
        assert all(a in ("0100007F", "0000000000000000FFFF00000100007F") for a in addresses), (
            port,
            addresses,
        )


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stop_leaves_no_process_of_the_tree(iris_served, sig):
    iris_served.wait_ready()
    tree = process_tree(iris_served.proc.pid)
    # fadi-seldon, the wrapper, its REST worker, metrics master and worker, gRPC parent and worker, manager
    assert len(tree) >= 6, tree
    # the wrapper's session has a TMPDIR of its own (multiprocessing's pymp-* folders go there)
    environ = Path(f"/proc/{tree[1]}/environ").read_bytes().split(b"\0")
    [tmpdir] = [Path(v.split(b"=", 1)[1].decode()) for v in environ if v.startswith(b"TMPDIR=")]
    assert tmpdir.is_dir() and tmpdir.name.startswith("fadi-serve-")
    iris_served.proc.send_signal(sig)
    out, err = iris_served.proc.communicate(timeout=30)
    assert iris_served.proc.returncode == 0, err[-2000:]
    assert "stopped (all wrapper processes ended)" in err
    time.sleep(0.2)
    left = [pid for pid in tree if _alive(pid)]
    assert left == [], f"processes left after {sig.name}: {left}"
    assert not tmpdir.exists()  # nothing of the session left in /tmp
    for port in (iris_served.http, iris_served.grpc, iris_served.metrics):
        assert _listeners(port) == []


def test_port_in_use_is_refused(serve_venv, repo_root):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = dict(os.environ, FADI_SERVE_VENV=str(serve_venv))
        cmd = [sys.executable, "-m", "fadi_seldon", "serve", str(repo_root / "examples" / "iris-model")]
        result = subprocess.run(
            [*cmd, "--port", str(port)], env=env, capture_output=True, text=True, timeout=60
        )
    assert result.returncode == 1
    assert f"127.0.0.1:{port} (HTTP) is already in use; choose another port with --port" in result.stderr
    assert "Traceback" not in result.stderr


def test_wrapper_failing_at_start_is_reported_and_cleaned(serve_venv, tmp_path):
    (tmp_path / "Crash.py").write_text(
        "import missing_dependency_of_this_model\n\n\nclass Crash:\n    def predict(self, X, n=None):\n        return X\n"
    )
    served = _Served(tmp_path, serve_venv)
    try:
        out, err = served.proc.communicate(timeout=60)
    finally:
        served.close()
    assert served.proc.returncode == 1
    assert "exited with code" in err and "missing_dependency_of_this_model" in err


def test_no_install_fails_clearly(tmp_path, capsys, repo_root):
    code = cli.main(
        [
            "serve",
            str(repo_root / "examples" / "iris-model"),
            "--no-install",
            "--venv",
            str(tmp_path / "venv"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert "does not have the Seldon wrapper" in err and "Run without --no-install" in err
    assert not (tmp_path / "venv").exists()


def test_missing_class_and_method(tmp_path, capsys):
    (tmp_path / "Model.py").write_text(
        "class Model:\n    def transform_input(self, X, n):\n        return X\n"
    )
    assert cli.main(["serve", str(tmp_path), "--no-install"]) == 1
    assert "no class defines predict()" in capsys.readouterr().err
    assert cli.main(["serve", str(tmp_path), "--class", "Model", "--no-install"]) == 1
    assert f"{tmp_path / 'Model.py'}:1: class Model has no predict() method" in capsys.readouterr().err
    assert cli.main(["serve", str(tmp_path / "nope")]) == 2


def test_venv_location(monkeypatch, tmp_path, repo_root):
    monkeypatch.setenv("FADI_SERVE_VENV", str(tmp_path / "v"))
    assert serving.default_venv() == tmp_path / "v"
    monkeypatch.delenv("FADI_SERVE_VENV")
    assert serving.default_venv() == repo_root / ".venv-serve"
    assert serving.requirements()[0].startswith("seldon-core==")


def test_image_command_stops_every_wrapper_process(serve_venv, repo_root, tmp_path):
    """The packaged image's CMD, stopped the way `docker stop` does it: SIGTERM to the shell only."""
    script = packaging.STOP_FORWARDING_CMD.replace("\\\n", "")  # Docker joins continuation lines
    http, grpc, metrics = _free_ports(3)
    env = dict(
        os.environ,
        PATH=f"{serve_venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
        MODEL_NAME="IrisModel",
        SERVICE_TYPE="MODEL",
        PREDICTIVE_UNIT_HTTP_SERVICE_PORT=str(http),
        PREDICTIVE_UNIT_GRPC_SERVICE_PORT=str(grpc),
        PREDICTIVE_UNIT_METRICS_SERVICE_PORT=str(metrics),
        TMPDIR=str(tmp_path),  # the workers' multiprocessing folders, out of /tmp
    )
    shell = subprocess.Popen(
        ["/bin/sh", "-c", script],
        cwd=repo_root / "examples" / "iris-model",
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        # fully started: REST and metrics workers answer and gRPC listens (a worker still booting when
        # the signal arrives ignores it, and gunicorn then waits its 30 s graceful timeout)
        deadline = time.monotonic() + 60
        while not (
            _answers(f"http://127.0.0.1:{http}/health/ping")
            and _answers(f"http://127.0.0.1:{metrics}/metrics")
        ):
            assert shell.poll() is None and time.monotonic() < deadline, "the image command did not start"
            time.sleep(0.05)
        while not _listeners(grpc):
            assert time.monotonic() < deadline, "no gRPC listener"
            time.sleep(0.05)
        tree = process_tree(shell.pid)
        assert len(tree) >= 6, tree
        shell.send_signal(signal.SIGTERM)
        try:
            shell.wait(timeout=15)
        except subprocess.TimeoutExpired:
            left = {pid: Path(f"/proc/{pid}/cmdline").read_bytes()[:120] for pid in tree if _alive(pid)}
            raise AssertionError(f"still running 15 s after SIGTERM: {left}") from None
        assert shell.returncode == 143
        time.sleep(0.2)
        assert [pid for pid in tree if _alive(pid)] == []
    finally:
        for pid in processes.session_members(shell.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if shell.poll() is None:
            shell.kill()
            shell.wait()


def test_the_dashboards_wrapper_queries_find_their_series_in_a_real_scrape(
    serve_venv, repo_root, monkeypatch
):
    """The example model served by the wrapper as the operator configures it (metrics at /prometheus,
    the SeldonDeployment's env), after a prediction and a rewarded feedback: every metric and label
    the dashboard's wrapper row queries is in the scrape."""
    from fadi_seldon.dev import dashboard

    env = {"PREDICTIVE_UNIT_METRICS_ENDPOINT": "/prometheus", "SELDON_DEPLOYMENT_ID": "iris"}
    for key, value in {**env, "PREDICTOR_ID": "default", "PREDICTIVE_UNIT_ID": "classifier"}.items():
        monkeypatch.setenv(key, value)
    served = _Served(repo_root / "examples" / "iris-model", serve_venv)
    try:
        served.wait_ready()
        _post(served.url, {"data": {"ndarray": [[5.1, 3.5, 1.4, 0.2]]}})
        feedback = {"request": {"data": {"ndarray": [[5.1, 3.5, 1.4, 0.2]]}}, "reward": 0.5}
        req = urllib.request.Request(
            f"{served.url}/api/v1.0/feedback",
            json.dumps(feedback).encode(),
            {"Content-Type": "application/json"},
        )
        urllib.request.urlopen(req, timeout=10).close()
        with urllib.request.urlopen(f"http://127.0.0.1:{served.metrics}/prometheus", timeout=10) as resp:
            scrape = resp.read().decode()
    finally:
        served.close()
    series = scrape_labels(scrape)
    wanted = dashboard.queried_series([dashboard.WRAPPER_PANELS])
    assert wanted, "the dashboard has no wrapper queries"
    for metric, labels in wanted.items():
        assert metric in series, f"{metric} is not in the scrape: {sorted(series)}"
        assert labels <= series[metric], f"{metric} lacks {labels - series[metric]}"
    assert 'deployment_name="iris"' in scrape and 'predictor_name="default"' in scrape


def scrape_labels(text: str) -> dict[str, set[str]]:
    """{metric: label names} of a Prometheus text exposition."""
    out: dict[str, set[str]] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, rest = line.partition("{")
            labels = {part.split("=")[0].strip() for part in rest.split("}")[0].split(",") if "=" in part}
            out.setdefault(name.split()[0], set()).update(labels)
    return out
