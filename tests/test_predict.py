"""`fadi-seldon predict` against a small recording HTTP server: bodies sent, answers and failures shown."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from fadi_seldon import cli
from http_server import serving


class _Recorder(BaseHTTPRequestHandler):
    """Answers like the wrapper: echoes the request, or the wrapper's error shape on /fail paths."""

    requests: list = []

    def do_POST(self):  # noqa: N802 (http.server API)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.requests.append((self.path, self.headers["Content-Type"], json.loads(body)))
        if self.path.startswith("/fail"):
            answer, status = (
                {"status": {"code": -1, "info": "bad input", "reason": "MICROSERVICE_BAD_DATA"}},
                400,
            )
        elif self.path.startswith("/text"):
            answer, status = None, 503
        else:
            answer, status = {"echo": json.loads(body)}, 200
        data = b"upstream unavailable" if answer is None else json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    _Recorder.requests = []
    with serving(_Recorder) as url:
        yield url, _Recorder.requests


def _predict(capsys, *argv):
    code = cli.main(["predict", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("argv", "body"),
    [
        (["--ndarray", "[[1, 2]]", "--names", "a, b"], {"data": {"names": ["a", "b"], "ndarray": [[1, 2]]}}),
        (["--tensor", "[[1, 2]]"], {"data": {"tensor": {"shape": [1, 2], "values": [1, 2]}}}),
        (["--json-data", '{"k": [1]}'], {"jsonData": {"k": [1]}}),
        (["--str-data", "hi"], {"strData": "hi"}),
    ],
)
def test_each_format_is_posted_as_json(server, capsys, argv, body):
    url, seen = server
    code, out, _ = _predict(capsys, url, *argv)
    assert code == 0
    assert seen == [("/api/v1.0/predictions", "application/json", body)]
    assert json.loads(out) == {"echo": body}


def test_file_and_binary_payloads(server, capsys, tmp_path):
    url, seen = server
    msg = tmp_path / "req.json"
    msg.write_text('{"meta": {"puid": "p1"}, "strData": "x"}')
    blob = tmp_path / "b.bin"
    blob.write_bytes(b"\x00\x01")
    assert _predict(capsys, url, "--file", str(msg))[0] == 0
    assert _predict(capsys, url, "--bin-file", str(blob), "--output", "json")[0] == 0
    assert [b for _, _, b in seen] == [{"meta": {"puid": "p1"}, "strData": "x"}, {"binData": "AAE="}]


def test_non_2xx_is_an_error_with_the_wrapper_reason(server, capsys):
    url, _ = server
    code, out, err = _predict(capsys, f"{url}/fail/api/v1.0/predictions", "--ndarray", "[[1]]")
    assert code == 1
    assert json.loads(out)["status"]["info"] == "bad input"
    assert "HTTP 400: MICROSERVICE_BAD_DATA - bad input" in err
    code, out, err = _predict(capsys, f"{url}/text/api/v1.0/predictions", "--ndarray", "[[1]]")
    assert code == 1 and out.strip() == "upstream unavailable" and "HTTP 503" in err


def test_connection_refused_is_reported(capsys):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    code, out, err = _predict(capsys, f"http://127.0.0.1:{port}", "--ndarray", "[[1]]")
    assert code == 1 and out == ""
    assert f"cannot reach http://127.0.0.1:{port}/api/v1.0/predictions" in err and "fadi-seldon serve" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--ndarray", "[[1,"], "--ndarray: not valid JSON"),
        (["--str-data", "x", "--names", "a"], "--names goes with"),
        (["--file", "/nonexistent/req.json"], "cannot read"),
        (["ftp://h", "--ndarray", "[[1]]"], "expected http(s)"),
    ],
)
def test_bad_input_exits_2(capsys, argv, message):
    code, _, err = _predict(capsys, *argv)
    assert code == 2 and message in err


def test_one_payload_option_is_required(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["predict", "--ndarray", "[[1]]", "--str-data", "x"])
    assert info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_wait_retries_until_the_server_listens(capsys):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # free now; the server starts listening on it half a second later
    _Recorder.requests = []
    servers = []

    def late_start():
        servers.append(ThreadingHTTPServer(("127.0.0.1", port), _Recorder))
        servers[0].serve_forever(0.05)

    starter = threading.Timer(0.5, late_start)
    starter.start()
    try:
        code, out, err = _predict(capsys, f"http://127.0.0.1:{port}", "--str-data", "x", "--wait", "10")
    finally:
        starter.join(1)
        for httpd in servers:
            httpd.shutdown()
            httpd.server_close()
    assert code == 0, err
    assert json.loads(out) == {"echo": {"strData": "x"}}


def test_pretty_keeps_array_rows_on_one_line():
    from fadi_seldon.cli.commands.predict import pretty

    answer = {
        "data": {"names": ["a", "b"], "ndarray": [[0.5, 0.5]]},
        "meta": {"metrics": [{"key": "k"}], "tags": {}},
    }
    text = pretty(answer)
    assert json.loads(text) == answer
    assert '"ndarray": [[0.5, 0.5]]' in text and '"names": ["a", "b"]' in text
    assert '      {\n        "key": "k"\n      }' in text


def test_output_formats_of_the_answer(server, capsys):
    import yaml

    url, _ = server
    code, as_json, _ = _predict(capsys, url, "--str-data", "x", "-o", "json")
    assert code == 0
    assert json.loads(as_json) == {"echo": {"strData": "x"}}
    code, as_yaml, _ = _predict(capsys, url, "--str-data", "x", "-o", "yaml")
    assert code == 0 and as_yaml.startswith("echo:\n")
    assert yaml.safe_load(as_yaml) == json.loads(as_json)
    # an answer that is not JSON is printed as it came, whatever the format
    code, out, err = _predict(capsys, f"{url}/text/api/v1.0/predictions", "--str-data", "x", "-o", "yaml")
    assert code == 1 and out.strip() == "upstream unavailable" and "HTTP 503" in err
