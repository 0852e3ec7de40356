"""`fadi-seldon predict --protocol v2`: V2 (Open Inference Protocol) requests built and checked in the
domain (fadi_seldon.model.v2), and the CLI end to end against a small V2 server in a thread that
answers like MLServer 1.3.5 (infer, readiness, metadata, `{"error": ...}` on failures)."""

from __future__ import annotations

import json
import re
import socket
from http.server import BaseHTTPRequestHandler

import pytest

from fadi_seldon import cli
from fadi_seldon.model import payloads, v2
from fadi_seldon.model.payloads import PayloadError
from http_server import serving

# --------------------------------------------------------------------------- the domain: requests


@pytest.mark.parametrize(
    ("text", "shape", "datatype", "data"),
    [
        ("[[1, 2], [3, 4]]", [2, 2], "INT64", [1, 2, 3, 4]),
        ("[[5.1, 3.5, 1.4, 0.2]]", [1, 4], "FP64", [5.1, 3.5, 1.4, 0.2]),
        ("[1, 2.5]", [2], "FP64", [1, 2.5]),
        ("[[true], [false]]", [2, 1], "BOOL", [True, False]),
        ('["hello", "world"]', [2], "BYTES", ["hello", "world"]),
        ("[]", [0], "FP64", []),
    ],
)
def test_tensor_shape_and_inferred_datatype(text, shape, datatype, data):
    assert v2.tensor(text) == {"name": "input-0", "shape": shape, "datatype": datatype, "data": data}


def test_tensor_with_name_and_given_datatype():
    assert v2.tensor("[[1, 2]]", "x", "fp32") == {
        "name": "x",
        "shape": [1, 2],
        "datatype": "FP32",
        "data": [1, 2],
    }
    assert v2.request([v2.tensor("[1]")], "req-1") == {
        "id": "req-1",
        "inputs": [{"name": "input-0", "shape": [1], "datatype": "INT64", "data": [1]}],
    }


@pytest.mark.parametrize(
    ("text", "datatype", "message"),
    [
        ("[[1, 2], [3]]", None, "rectangular"),
        ('[[1, "a"]]', None, "mixed element types"),
        ('[{"a": 1}]', None, "expected numbers, booleans or strings"),
        ("[null]", None, "expected numbers"),
        ('{"a": 1}', None, "expected a JSON array"),
        ("[1,", None, "not valid JSON"),
        ("[1.5]", "INT32", "1.5 is not a INT32 element"),
        ("[-1]", "UINT8", "-1 is not a UINT8 element"),
        ("[256]", "UINT8", "256 is not a UINT8 element"),
        ("[128]", "INT8", "128 is not a INT8 element"),
        ("[1]", "BOOL", "1 is not a BOOL element"),
        ("[1]", "FP128", "unknown datatype 'FP128'"),
    ],
)
def test_tensor_refusals(text, datatype, message):
    with pytest.raises(PayloadError, match=re.escape(message)):
        v2.tensor(text, datatype=datatype)


def _t(**changes):
    return {"name": "a", "shape": [2, 2], "datatype": "FP32", "data": [1, 2, 3, 4.5], **changes}


@pytest.mark.parametrize(
    ("tensor", "message"),
    [
        (_t(shape=[3]), "shape [3] holds 3 elements, data has 4"),
        (_t(shape=[2, -2]), "non-negative integers"),
        (_t(datatype="FLOAT"), "unknown datatype 'FLOAT'"),
        (_t(datatype="BYTES"), "1 is not a BYTES element"),
        (_t(data=[1, None, 3, 4]), "None is not a FP32 element"),
        (_t(name=""), "name is a non-empty string"),
        (_t(parameters=[1]), "parameters is a JSON object"),
        (_t(extra=1), "unknown key(s) extra"),
        ({"name": "a", "shape": [1]}, "missing data, datatype"),
        ([1], "a tensor is a JSON object"),
    ],
)
def test_validate_tensor_refusals(tensor, message):
    with pytest.raises(PayloadError, match=re.escape(message)):
        v2.validate_tensor(tensor, "in")


def test_validate_tensor_accepts_nested_data_and_every_known_datatype():
    v2.validate_tensor(_t(data=[[1, 2], [3, 4.5]], parameters={"content_type": "np"}), "in")
    for datatype in v2.DATATYPES:
        element = {"BOOL": True, "BYTES": "x"}.get(datatype, 1)
        v2.validate_tensor({"name": "a", "shape": [1], "datatype": datatype, "data": [element]}, "in")
    v2.validate_tensor({"name": "a", "shape": [2], "datatype": "INT8", "data": [-128, 127]}, "in")
    v2.validate_tensor({"name": "a", "shape": [1], "datatype": "UINT64", "data": [2**64 - 1]}, "in")
    assert len(v2.DATATYPES) == 13


def test_request_from_json_keeps_the_whole_request():
    text = json.dumps({"id": "r", "parameters": {"p": 1}, "inputs": [_t()], "outputs": [{"name": "o"}]})
    assert v2.request_from_json(text) == json.loads(text)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "a JSON object"),
        ({}, '"inputs" is a non-empty list'),
        ({"inputs": []}, '"inputs" is a non-empty list'),
        ({"inputs": [_t(), _t()]}, "input names repeat (a, a)"),
        ({"inputs": [_t(shape=[5])]}, "--file: inputs[0]: tensor 'a': shape [5] holds 5"),
        ({"inputs": [_t()], "id": 7}, '"id" is a string'),
        ({"inputs": [_t()], "parameters": 1}, '"parameters" is a JSON object'),
        ({"inputs": [_t()], "outputs": ["o"]}, '"outputs" is a list of'),
        ({"inputs": [_t()], "data": {}}, "unknown key(s) data"),
    ],
)
def test_validate_request_refusals(body, message):
    with pytest.raises(PayloadError, match=re.escape(message)):
        v2.request_from_json(json.dumps(body))


# --------------------------------------------------------------------------- the domain: endpoints, answers


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("127.0.0.1:8080/", "http://127.0.0.1:8080"),
        ("http://gw/seldon/ns/iris", "http://gw/seldon/ns/iris"),
        ("http://gw/seldon/ns/iris/v2/models/iris/infer", "http://gw/seldon/ns/iris"),
        ("https://h:8080/v2", "https://h:8080"),
    ],
)
def test_base_url(url, base):
    assert v2.base_url(url) == base


def test_endpoints():
    assert v2.infer_url("http://h", "iris") == "http://h/v2/models/iris/infer"
    assert v2.infer_url("http://h", "a b/c") == "http://h/v2/models/a%20b%2Fc/infer"
    assert v2.metadata_url("http://h", "iris") == "http://h/v2/models/iris"
    assert v2.ready_urls("http://h", None) == {"server": "http://h/v2/health/ready"}
    assert v2.ready_urls("http://h", "m")["model"] == "http://h/v2/models/m/ready"
    with pytest.raises(PayloadError, match="http"):
        v2.base_url("ftp://h")


def test_outputs_are_laid_out_in_their_shape():
    answer = {
        "model_name": "m",
        "outputs": [
            {"name": "p", "shape": [2, 3], "datatype": "FP64", "data": [1, 2, 3, 4, 5, 6]},
            {"name": "s", "shape": [], "datatype": "INT64", "data": [7]},
            {"name": "odd", "shape": [4], "datatype": "INT64", "data": [1]},
        ],
    }
    assert v2.outputs(answer) == [
        {"name": "p", "shape": [2, 3], "datatype": "FP64", "data": [[1, 2, 3], [4, 5, 6]]},
        {"name": "s", "shape": [], "datatype": "INT64", "data": 7},
        {"name": "odd", "shape": [4], "datatype": "INT64", "data": [1]},
    ]
    assert v2.outputs({"error": "x"}) == [] and v2.outputs([1]) == []


def test_error_of_and_hints():
    assert v2.error_of(payloads.Response(400, '{"error": "bad shape"}')) == "bad shape"
    assert v2.error_of(payloads.Response(422, '{"detail": "missing inputs"}')) == "missing inputs"
    fastapi = {
        "detail": [{"loc": ["body", "inputs"], "msg": "field required", "type": "value_error.missing"}]
    }
    assert v2.error_of(payloads.Response(422, json.dumps(fastapi))) == "body.inputs: field required"
    assert v2.error_of(payloads.Response(502, "bad gateway\n")) == "bad gateway"
    assert "--model" in v2.hint(404, "infer")
    assert "--metadata" in v2.hint(400, "infer")
    assert "log" in v2.hint(500, "infer")


# --------------------------------------------------------------------------- a V2 server

METADATA = {
    "name": "iris",
    "versions": ["v1"],
    "platform": "sklearn",
    "inputs": [{"name": "input-0", "datatype": "FP64", "shape": [-1, 4]}],
    "outputs": [{"name": "predict", "datatype": "FP64", "shape": [-1, 3]}],
}
MODEL_PATH = re.compile(r"^(?:/seldon/[^/]+/[^/]+)?/v2/models/([^/]+)(/infer|/ready)?$")


class _V2Server(BaseHTTPRequestHandler):
    """Answers like MLServer for one model, `iris`: infer sums each row's inputs into three outputs."""

    requests: list = []

    def _answer(self, status: int, answer) -> None:
        data = b"" if answer is None else json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 (http.server API)
        self.requests.append(("GET", self.path, None))
        match = MODEL_PATH.match(self.path)
        if self.path.endswith("/v2/health/ready"):
            self._answer(200, None)
        elif match and match.group(1) != "iris":
            self._answer(404, {"error": f"Model {match.group(1)} with version  not found"})
        elif match and match.group(2) == "/ready":
            self._answer(200, None)
        elif match and match.group(2) is None:
            self._answer(200, METADATA)
        else:
            self._answer(404, {"detail": "Not Found"})

    def do_POST(self):  # noqa: N802 (http.server API)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.requests.append(("POST", self.path, body))
        match = MODEL_PATH.match(self.path)
        if not match or match.group(2) != "/infer":
            return self._answer(404, {"detail": "Not Found"})
        if match.group(1) != "iris":
            return self._answer(404, {"error": f"Model {match.group(1)} with version  not found"})
        tensor = body["inputs"][0]
        if tensor["name"] != "input-0" or len(tensor["shape"]) != 2:
            return self._answer(400, {"error": f"cannot reshape input {tensor['name']}: expected [-1, 4]"})
        rows, cols = tensor["shape"]
        flat = payloads.flatten(tensor["data"])  # MLServer takes nested or flat data
        sums = [sum(flat[r * cols : (r + 1) * cols]) for r in range(rows)]
        data = [s * k for s in sums for k in (1, 2, 3)]
        answer = {
            "model_name": "iris",
            "model_version": "v1",
            "id": body.get("id", "generated-id"),
            "parameters": {},
        }
        answer["outputs"] = [{"name": "predict", "shape": [rows, 3], "datatype": "FP64", "data": data}]
        return self._answer(200, answer)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    _V2Server.requests = []
    with serving(_V2Server) as url:
        yield url, _V2Server.requests


def _predict(capsys, *argv):
    code = cli.main(["predict", *argv])
    out, err = capsys.readouterr()
    return code, out, err


V2 = ("--protocol", "v2", "--model", "iris")

# --------------------------------------------------------------------------- the CLI end to end


def test_infer_from_ndarray(server, capsys):
    url, seen = server
    code, out, err = _predict(capsys, url, *V2, "--ndarray", "[[1, 2, 3, 4], [0.5, 0.5, 0, 0]]", "-o", "json")
    assert code == 0, err
    tensor = {"name": "input-0", "shape": [2, 4], "datatype": "FP64", "data": [1, 2, 3, 4, 0.5, 0.5, 0, 0]}
    assert seen == [("POST", "/v2/models/iris/infer", {"inputs": [tensor]})]
    answer = json.loads(out)
    assert answer["outputs"] == [
        {"name": "predict", "shape": [2, 3], "datatype": "FP64", "data": [10, 20, 30, 1, 2, 3]}
    ]


def test_infer_text_and_yaml(server, capsys):
    import yaml

    url, _ = server
    code, out, err = _predict(capsys, url, *V2, "--ndarray", "[[1, 2, 3, 4], [0, 0, 0, 1]]")
    assert code == 0, err
    assert out.splitlines() == [
        "model_name=iris model_version=v1 id=generated-id",
        "NAME     SHAPE   DATATYPE  DATA",
        "predict  [2, 3]  FP64      [[10, 20, 30], [1, 2, 3]]",
    ]
    code, out, _ = _predict(capsys, url, *V2, "--ndarray", "[[1, 2, 3, 4]]", "-o", "yaml")
    assert code == 0 and yaml.safe_load(out)["outputs"][0]["data"] == [10, 20, 30]


def test_input_name_datatype_and_ingress_prefix(server, capsys):
    url, seen = server
    code, _, err = _predict(
        capsys,
        f"{url}/seldon/ns/dep",
        *V2,
        "--ndarray",
        "[[1, 2]]",
        "--input-name",
        "x",
        "--datatype",
        "fp32",
    )
    assert code == 1 and "HTTP 400: cannot reshape input x" in err and "--metadata" in err
    assert seen == [
        (
            "POST",
            "/seldon/ns/dep/v2/models/iris/infer",
            {"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}]},
        )
    ]


def test_whole_request_from_file_and_stdin(server, capsys, tmp_path, monkeypatch):
    import io

    url, seen = server
    request = {
        "id": "req-7",
        "parameters": {"content_type": "np"},
        "inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP32", "data": [[1, 1, 1, 1]]}],
        "outputs": [{"name": "predict"}],
    }
    path = tmp_path / "infer.json"
    path.write_text(json.dumps(request))
    code, out, err = _predict(capsys, f"{url}/v2/models/iris/infer", *V2, "--file", str(path), "-o", "json")
    assert code == 0, err
    assert json.loads(out)["id"] == "req-7"
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(request)))
    assert _predict(capsys, url, *V2, "--file", "-")[0] == 0
    assert [body for _, _, body in seen] == [request, request]


def test_http_errors_say_what_the_server_said_and_what_to_check(server, capsys):
    url, _ = server
    code, out, err = _predict(
        capsys, url, "--protocol", "v2", "--model", "nope", "--ndarray", "[[1, 2, 3, 4]]"
    )
    assert code == 1 and out == ""
    assert f"{url}/v2/models/nope/infer answered HTTP 404: Model nope with version  not found" in err
    assert "check --model" in err
    code, out, err = _predict(capsys, url, *V2, "--ndarray", "[1, 2, 3, 4]")
    assert code == 1 and "HTTP 400: cannot reshape input input-0: expected [-1, 4]" in err


def test_ready(server, capsys):
    url, seen = server
    code, out, err = _predict(capsys, url, *V2, "--ready", "-o", "json")
    assert code == 0, err
    assert json.loads(out) == {
        "server": {"url": f"{url}/v2/health/ready", "ready": True, "status": 200},
        "model": {"url": f"{url}/v2/models/iris/ready", "ready": True, "status": 200},
    }
    assert [(m, p) for m, p, _ in seen] == [("GET", "/v2/health/ready"), ("GET", "/v2/models/iris/ready")]
    code, out, err = _predict(capsys, url, "--protocol", "v2", "--ready")
    assert code == 0 and out.startswith("server  ready  HTTP 200") and "model" not in out
    code, out, err = _predict(capsys, url, "--protocol", "v2", "--ready", "--model", "nope")
    assert code == 1
    # not ready is the answer (exit 1), the server's reason under it
    assert "model   NOT READY  HTTP 404" in out and "Model nope with version  not found" in out
    code, out, err = _predict(capsys, url, "--protocol", "v2", "--ready", "--model", "nope", "-o", "json")
    assert code == 1 and "Model nope with version  not found" in json.loads(out)["model"]["error"]


def test_metadata(server, capsys):
    import yaml

    url, seen = server
    code, out, err = _predict(capsys, url, *V2, "--metadata", "-o", "json")
    assert code == 0, err
    assert json.loads(out) == METADATA and seen == [("GET", "/v2/models/iris", None)]
    code, out, _ = _predict(capsys, url, *V2, "--metadata")
    assert code == 0 and yaml.safe_load(out) == METADATA
    code, out, err = _predict(capsys, url, "--protocol", "v2", "--model", "nope", "--metadata")
    assert code == 1 and "HTTP 404: Model nope" in err


def test_connection_refused_names_the_v2_server(capsys):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    code, out, err = _predict(capsys, f"127.0.0.1:{port}", *V2, "--ndarray", "[[1]]")
    assert code == 1 and out == ""
    assert f"cannot reach http://127.0.0.1:{port}/v2/models/iris/infer" in err
    assert "fadi-seldon serve --server" in err and "port 9000" in err


def test_the_default_v2_url_is_where_serve_runs_mlserver():
    """One default port: `predict --protocol v2` without a URL asks where `serve --protocol v2` listens."""
    from fadi_seldon.cli.commands import predict
    from fadi_seldon.model import mlserver

    assert f"http://127.0.0.1:{mlserver.HTTP_PORT}" == predict.DEFAULT_URL


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--protocol", "v2", "--ndarray", "[[1]]"], "--model NAME is required"),
        (["--protocol", "v2", "--model", "m"], "one of --ndarray, --file, --ready or --metadata"),
        ([*V2, "--tensor", "[[1]]"], "--tensor is a Seldon protocol option"),
        ([*V2, "--ndarray", "[[1]]", "--names", "a"], "--names is a Seldon protocol option"),
        ([*V2, "--file", "x.json", "--datatype", "FP32"], "--input-name and --datatype go with --ndarray"),
        ([*V2, "--ndarray", "[[1, 2], [3]]"], "rectangular"),
        ([*V2, "--ndarray", "[[1]]", "--datatype", "FLOAT"], "unknown datatype 'FLOAT'"),
        ([*V2, "--ndarray", "[[1.5]]", "--datatype", "INT8"], "1.5 is not a INT8 element"),
        ([*V2, "--file", "/nonexistent/req.json"], "cannot read"),
        (["--model", "m", "--ndarray", "[[1]]"], "--model goes with --protocol v2"),
        (["--ready"], "--ready goes with --protocol v2"),
        ([], "one of --ndarray, --tensor"),
    ],
)
def test_bad_input_exits_2_and_sends_nothing(server, capsys, argv, message):
    url, seen = server
    code, out, err = _predict(capsys, url, *argv)
    assert code == 2 and message in err and out == ""
    assert seen == []


def test_a_bad_request_file_exits_2(server, capsys, tmp_path):
    url, seen = server
    path = tmp_path / "bad.json"
    path.write_text(
        json.dumps({"inputs": [{"name": "a", "shape": [2, 2], "datatype": "FP32", "data": [1, 2, 3]}]})
    )
    code, _, err = _predict(capsys, url, *V2, "--file", str(path))
    assert code == 2 and "inputs[0]: tensor 'a': shape [2, 2] holds 4 elements, data has 3" in err
    assert seen == []


class _LoadingServer(_V2Server):
    """MLServer while it loads `iris`: the model is not ready (and infer fails) for the first GETs."""

    not_ready_for = 3

    def do_GET(self):  # noqa: N802 (http.server API)
        if self.path.endswith("/iris/ready") and _LoadingServer.not_ready_for > 0:
            _LoadingServer.not_ready_for -= 1
            self.requests.append(("GET", self.path, None))
            return self._answer(400, {"error": "Model iris with version  not ready"})
        return super().do_GET()


@pytest.mark.parametrize("wait", ["10", "0"])
def test_wait_also_waits_for_the_model_to_be_ready(capsys, wait):
    _LoadingServer.requests, _LoadingServer.not_ready_for = [], 3
    with serving(_LoadingServer) as url:
        argv = ["predict", "--protocol", "v2", url, "--model", "iris", "--ready", "--wait", wait]
        code = cli.main(argv)
        out, _ = capsys.readouterr()
    ready_gets = [r for r in _LoadingServer.requests if r[1].endswith("/iris/ready")]
    if wait == "0":  # no waiting: the loading model is reported as not ready
        assert code != 0 and len(ready_gets) == 1
    else:
        assert code == 0 and len(ready_gets) == 4, ready_gets


def test_infer_with_wait_asks_once_the_model_is_ready(capsys):
    _LoadingServer.requests, _LoadingServer.not_ready_for = [], 2
    with serving(_LoadingServer) as url:
        code = cli.main(
            [
                "predict",
                "--protocol",
                "v2",
                url,
                "--model",
                "iris",
                "--ndarray",
                "[[1, 2, 3, 4]]",
                "--wait",
                "10",
            ]
        )
        capsys.readouterr()
    paths = [path for _, path, _ in _LoadingServer.requests]
    assert code == 0
    assert paths[:3] == ["/v2/models/iris/ready"] * 3 and paths[3] == "/v2/models/iris/infer"
