"""`fadi-seldon predict`: send one request in Seldon's protocol (REST or gRPC, or the V2 protocol over
REST) and print the answer."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from fadi_seldon.cli import cluster_access, exit_codes, output
from fadi_seldon.cli.errors import CliError, usage
from fadi_seldon.cli.exit_codes import ExitCode

# where `fadi-seldon serve` answers, whatever the protocol: the wrapper (serving.WRAPPER_HTTP_PORT) and
# MLServer (mlserver.HTTP_PORT, the port the operator gives a v2 container) both listen on 9000
DEFAULT_URL = "http://127.0.0.1:9000"
DEFAULT_GRPC_TARGET = "127.0.0.1:5000"  # the wrapper's gRPC port (serving.WRAPPER_GRPC_PORT)
SELDON_HINT = "is the model running? `fadi-seldon serve DIR` starts one"
V2_HINT = (
    "is the V2 server running? `fadi-seldon serve --server SKLEARN_SERVER --model-uri DIR --protocol v2` "
    "serves one on port 9000"
)
GRPC_HINT = (
    "is the model running? `fadi-seldon serve DIR` serves gRPC on port 5000, "
    "a SeldonDeployment's predictor Service on port 5001"
)
SELDON_ONLY = {
    "--tensor": "tensor",
    "--json-data": "json_data",
    "--str-data": "str_data",
    "--bin-file": "bin_file",
}
V2_ONLY = {"--model": "model", "--input-name": "input_name", "--datatype": "datatype"}

EPILOG = """\
examples:
  fadi-seldon predict --ndarray '[[5.1, 3.5, 1.4, 0.2]]' --names sl,sw,pl,pw
  fadi-seldon predict http://127.0.0.1:9000 --tensor '[[5.1, 3.5, 1.4, 0.2]]'
  fadi-seldon predict http://INGRESS/seldon/NAMESPACE/DEPLOYMENT --json-data '{"text": "hello"}'
  fadi-seldon predict --file request.json -o json

a SeldonDeployment by name (-n): through its route when the route controller wrote its URL
(annotation fadi.cetic.be/url), else its first serving predictor's Service; --via chooses:
  fadi-seldon predict iris -n models --ndarray '[[5.1, 3.5, 1.4, 0.2]]'
  fadi-seldon predict iris -n models --via service --ndarray '[[5.1, 3.5, 1.4, 0.2]]'

gRPC (Seldon's protocol, seldon.protos.Seldon/Predict, through the stubs of the serve venv):
  fadi-seldon predict --transport grpc --ndarray '[[5.1, 3.5, 1.4, 0.2]]'
  fadi-seldon predict --transport grpc 127.0.0.1:5000 --tensor '[[5.1, 3.5, 1.4, 0.2]]' -o json
  fadi-seldon predict --transport grpc grpc://CLUSTER-IP:5001 --file request.json

V2 (Open Inference Protocol, MLServer; POST URL/v2/models/NAME/infer):
  fadi-seldon predict --protocol v2 --model iris --ndarray '[[5.1, 3.5, 1.4, 0.2]]'
  fadi-seldon predict --protocol v2 --model iris --ndarray '[[1, 2]]' --datatype FP32 --input-name x
  fadi-seldon predict --protocol v2 --model iris --file infer-request.json -o json
  fadi-seldon predict --protocol v2 --ready --model iris
  fadi-seldon predict --protocol v2 --metadata --model iris

The answer goes to stdout: -o text lays it out with array rows on one line (V2: one line per output
tensor: name, shape, datatype, data), -o json and -o yaml print it as such; an answer that is not
JSON is printed as it came. A V2 error is reported on stderr with the server's `error` field.
gRPC: TARGET is HOST:PORT, grpc://HOST:PORT or an http(s) URL (its host and port as given); the
answer is the SeldonMessage as JSON, and a gRPC error status is reported as `TARGET answered gRPC
CODE: details`. The stubs come from seldon-core 1.17.1 in the serve venv (FADI_SERVE_VENV or
.venv-serve), created on first use unless --no-install.

""" + exit_codes.notes(
    {
        ExitCode.OK: "the server answered with HTTP 2xx or gRPC OK (--ready: server and model are ready)",
        ExitCode.FAILED: "an HTTP error (Seldon: the answer is still printed, in the error object under "
        "-o json), a gRPC error status, a V2 server or model not ready, no server could be reached, or no "
        "gRPC stubs with --no-install",
        ExitCode.USAGE: "a bad payload option, URL, gRPC target or --file, an invalid V2 tensor, a missing "
        "--model, --transport grpc with --protocol v2, --via without -n",
        ExitCode.NOTHING: "-n: no such SeldonDeployment, no cluster, or no route URL nor Service address yet",
    }
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument(
        "url",
        nargs="?",
        metavar="TARGET",
        help=f"server or ingress URL ({DEFAULT_URL}, where `fadi-seldon serve` answers with either "
        f"protocol); with --transport grpc HOST:PORT ({DEFAULT_GRPC_TARGET}); with -n, a SeldonDeployment's name",
    )
    _add_sdep_arguments(parser)
    data = parser.add_mutually_exclusive_group()
    data.add_argument("--ndarray", metavar="JSON", help="data.ndarray, a JSON array (v2: one input tensor)")
    data.add_argument("--tensor", metavar="JSON", help='data.tensor: a nested array or {"shape","values"}')
    data.add_argument("--json-data", metavar="JSON", help="jsonData, any JSON value")
    data.add_argument("--str-data", metavar="TEXT", help="strData, a string")
    data.add_argument("--bin-file", metavar="PATH", help="binData: the file's bytes, base64-encoded")
    data.add_argument(
        "--file",
        metavar="PAYLOAD",
        help="a whole SeldonMessage (v2: inference request) in JSON ('-' for stdin)",
    )
    data.add_argument(
        "--ready", action="store_true", help="v2: GET /v2/health/ready (and /v2/models/NAME/ready)"
    )
    data.add_argument("--metadata", action="store_true", help="v2: the model's metadata, GET /v2/models/NAME")
    parser.add_argument("--names", help="comma-separated feature names (data.names) for --ndarray/--tensor")
    parser.add_argument(
        "--protocol", choices=("seldon", "v2"), default="seldon", help="seldon (default) or v2 (MLServer)"
    )
    parser.add_argument(
        "--transport",
        choices=("rest", "grpc"),
        default="rest",
        help="rest (default) or grpc (Seldon's protocol only)",
    )
    parser.add_argument(
        "--no-install",
        action="store_true",
        help="grpc: fail instead of creating or completing the serve venv that holds the stubs",
    )
    parser.add_argument("--model", metavar="NAME", help="v2: the model's name on the server (required)")
    parser.add_argument("--input-name", metavar="NAME", help="v2: the --ndarray tensor's name (input-0)")
    parser.add_argument(
        "--datatype",
        metavar="TYPE",
        help="v2: the --ndarray tensor's datatype (inferred: FP64, INT64, BOOL, BYTES)",
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds (30)")
    parser.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="retry while nothing listens yet (scripts: serve &); with --protocol v2 and --model, also "
        "while the model is not ready (MLServer loading it)",
    )
    output.add_output_argument(parser)


def _add_sdep_arguments(parser: argparse.ArgumentParser) -> None:
    """TARGET as a SeldonDeployment's name: where it is, how to reach it, which cluster."""
    parser.add_argument(
        "-n",
        "--namespace",
        metavar="NS",
        help="TARGET is a SeldonDeployment in this namespace: call it through its route or its Service",
    )
    parser.add_argument(
        "--via",
        choices=("auto", "route", "service"),
        help="with -n: the Gateway route (annotation fadi.cetic.be/url), the predictor's Service, or auto "
        "(default: the route when it has a URL)",
    )
    cluster_access.add_arguments(parser)


def check_options(args: argparse.Namespace, error: type[Exception]) -> None:
    """Options of one protocol refused with the other, and exactly one thing to send or ask."""
    if args.transport == "grpc" and args.protocol == "v2":
        raise error("--transport grpc speaks Seldon's protocol; --protocol v2 goes over REST only")
    if args.no_install and args.transport != "grpc":
        raise error("--no-install goes with --transport grpc")
    if args.protocol == "v2":
        _check_v2_options(args, error)
    else:
        _check_seldon_options(args, error)


def _check_v2_options(args: argparse.Namespace, error: type[Exception]) -> None:
    used = [flag for flag, dest in SELDON_ONLY.items() if getattr(args, dest) is not None]
    used += ["--names"] if args.names else []
    if used:
        raise error(f"{used[0]} is a Seldon protocol option; with --protocol v2 give --ndarray or --file")
    if (args.input_name or args.datatype) and args.ndarray is None:
        raise error("--input-name and --datatype go with --ndarray")
    if args.ndarray is None and args.file is None and not (args.ready or args.metadata):
        raise error("one of --ndarray, --file, --ready or --metadata is required")
    if not args.model and not args.ready:
        raise error("--model NAME is required with --protocol v2 (the model's name on the server)")


def _check_seldon_options(args: argparse.Namespace, error: type[Exception]) -> None:
    used = [flag for flag, dest in V2_ONLY.items() if getattr(args, dest) is not None]
    used += [flag for flag, on in (("--ready", args.ready), ("--metadata", args.metadata)) if on]
    if used:
        raise error(f"{used[0]} goes with --protocol v2")
    if all(getattr(args, dest) is None for dest in ("ndarray", "file", *SELDON_ONLY.values())):
        raise error("one of --ndarray, --tensor, --json-data, --str-data, --bin-file or --file is required")


def _read_file(path: str, error: type[Exception]) -> str:
    try:
        return sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise error(
            f"--file: cannot read {path}: not UTF-8 text (byte {err.start}); a payload is JSON"
        ) from None
    except OSError as err:
        raise error(f"--file: cannot read {path}: {(err.strerror or str(err)).lower()}") from None


def build_payload(args: argparse.Namespace) -> dict:
    from fadi_seldon.model import payloads

    names = [n.strip() for n in args.names.split(",")] if args.names else None
    if names and not (args.ndarray or args.tensor):
        raise payloads.PayloadError("--names goes with --ndarray or --tensor")
    if args.ndarray is not None:
        return payloads.ndarray(args.ndarray, names)
    if args.tensor is not None:
        return payloads.tensor(args.tensor, names)
    if args.json_data is not None:
        return payloads.json_data(args.json_data)
    if args.str_data is not None:
        return payloads.str_data(args.str_data)
    if args.bin_file is not None:
        try:
            return payloads.bin_data(Path(args.bin_file).read_bytes())
        except OSError as err:
            raise payloads.PayloadError(f"--bin-file: cannot read {args.bin_file}: {err.strerror}") from None
    return payloads.message(_read_file(args.file, payloads.PayloadError), args.file)


def build_v2_request(args: argparse.Namespace) -> dict:
    from fadi_seldon.model import v2

    if args.ndarray is not None:
        name = args.input_name or v2.DEFAULT_INPUT_NAME
        return v2.request([v2.tensor(args.ndarray, name, args.datatype)])
    return v2.request_from_json(_read_file(args.file, v2.PayloadError), args.file)


def _call(send, wait: float, hint: str, done=lambda resp: True):
    """`send()`'s answer, retried for `wait` seconds on transport failures and while `done(answer)` is
    false (a model still loading); the last answer at the deadline. No answer at all: CliError."""
    from fadi_seldon.model import payloads

    deadline = time.monotonic() + max(wait, 0.0)
    while True:
        try:
            resp = send()
        except payloads.TransportError as err:
            if time.monotonic() < deadline:
                time.sleep(0.1)
                continue
            raise CliError(f"{err} ({hint})") from None
        if done(resp) or time.monotonic() >= deadline:
            return resp
        time.sleep(0.2)


def resolve_target(args: argparse.Namespace) -> None:
    """With -n, TARGET names a SeldonDeployment: replaced by the URL (or gRPC target) to call it at."""
    if args.via and not args.namespace:
        raise usage("--via chooses how to reach a SeldonDeployment: name it with TARGET and -n NAMESPACE")
    if not args.namespace:
        return
    if not args.url:
        raise usage("-n NAMESPACE goes with TARGET, the SeldonDeployment's name")
    from fadi_seldon import doctor
    from fadi_seldon.doctor import model_status

    cluster_access.check(args, "read")
    try:
        kubectl = doctor.Kubectl(kubeconfig=args.kubeconfig, context=args.context)
        found = model_status.model_target(
            kubectl, args.url, args.namespace, args.via or "auto", args.transport
        )
    except doctor.DoctorError as err:
        raise cluster_access.error(err) from None
    except (model_status.ModelNotFound, model_status.NoTarget) as err:
        raise CliError(str(err), ExitCode.NOTHING) from None
    _progress(f"{args.namespace}/{args.url} via its {found['via']}: {found['url']}")
    args.url = found["url"]


def run(args: argparse.Namespace) -> int:
    from fadi_seldon.model import payloads

    resolve_target(args)
    try:
        check_options(args, payloads.PayloadError)
        if args.protocol == "v2":
            return _run_v2(args)
        if args.transport == "grpc":
            return _run_grpc(args)
        url = payloads.endpoint(args.url or DEFAULT_URL)
        payload = build_payload(args)
    except payloads.PayloadError as err:
        raise usage(str(err)) from None
    resp = _call(lambda: payloads.post(url, payload, timeout=args.timeout), args.wait, SELDON_HINT)
    _print_answer(resp, args.output, pretty, failed=not resp.ok)
    if not resp.ok:
        raise CliError(f"{url} answered HTTP {resp.status}{_reason(resp)}", details=_answer_of(resp))
    return ExitCode.OK


def _answer_of(resp) -> dict:
    """A refused request's answer, for the JSON error object (the server's own JSON, or its text)."""
    try:
        return {"status": resp.status, "answer": resp.json()}
    except ValueError:
        return {"status": resp.status, "answer": resp.body.strip()}


def _print_answer(resp, fmt: str, layout, failed: bool = False) -> None:
    """The server's answer on stdout; a failed one under -o json goes in the error object instead
    (stdout holds one JSON document). An answer that is not JSON is printed as it came."""
    if failed and fmt == "json":
        return
    try:
        output.emit(resp.json(), fmt, layout)
    except ValueError:  # not JSON: the server's own words, whatever the format
        print(resp.body.strip())


def _run_grpc(args: argparse.Namespace) -> int:
    """Seldon's protocol over gRPC, by the serve venv's interpreter. Usage errors raise PayloadError."""
    from fadi_seldon.model import grpc_predict

    target = grpc_predict.target(args.url or DEFAULT_GRPC_TARGET)
    payload = build_payload(args)
    try:
        python = grpc_predict.client_python(install=not args.no_install, progress=_progress)
        send = lambda: grpc_predict.predict(python, target, payload, timeout=args.timeout)  # noqa: E731
        answer = _call(send, args.wait, GRPC_HINT)
    except grpc_predict.GrpcError as err:  # a status, no stubs, the client failing
        raise CliError(str(err)) from None
    output.emit(answer, args.output, pretty)
    return ExitCode.OK


def _progress(text: str) -> None:
    print(f"[predict] {text}", file=sys.stderr, flush=True)


def _run_v2(args: argparse.Namespace) -> int:
    """V2: inference, --ready or --metadata. Usage errors raise PayloadError (run makes them exit 2)."""
    from fadi_seldon.model import payloads, v2

    base = v2.base_url(args.url or DEFAULT_URL)
    if args.ready:
        return _v2_ready(args, base)
    if args.wait > 0 and args.model:
        # MLServer answers before its models are loaded: wait for the model's readiness too
        ready = v2.ready_urls(base, args.model)["model"]
        _call(lambda: payloads.get(ready, timeout=args.timeout), args.wait, V2_HINT, lambda r: r.ok)
    if args.metadata:
        url = v2.metadata_url(base, args.model)
        resp = _call(lambda: payloads.get(url, timeout=args.timeout), args.wait, V2_HINT)
        what, layout = "metadata", None
    else:
        url, body = v2.infer_url(base, args.model), build_v2_request(args)
        resp = _call(lambda: payloads.post(url, body, timeout=args.timeout), args.wait, V2_HINT)
        what, layout = "infer", v2_text
    if not resp.ok:
        raise CliError(_v2_failure(resp, url, what), details=_answer_of(resp))
    _print_answer(resp, args.output, layout)
    return ExitCode.OK


def _v2_failure(resp, url: str, what: str) -> str:
    from fadi_seldon.model import v2

    return f"{url} answered HTTP {resp.status}: {v2.error_of(resp)}; {v2.hint(resp.status, what)}"


def _v2_ready(args: argparse.Namespace, base: str) -> int:
    """GET the server's readiness, then the model's (with --model); exit 0 only when all are ready."""
    from fadi_seldon.model import payloads, v2

    result = {}
    for what, url in v2.ready_urls(base, args.model).items():
        get = lambda url=url: payloads.get(url, timeout=args.timeout)  # noqa: E731
        resp = _call(get, args.wait, V2_HINT, lambda r: r.ok)
        result[what] = {"url": url, "ready": resp.ok, "status": resp.status}
        if not resp.ok:
            result[what]["error"] = _v2_failure(resp, url, "ready")
    # not ready is the answer to the question asked: printed as the result, exit 1 (as a finding)
    output.emit(result, args.output, _ready_text)
    return ExitCode.OK if all(r["ready"] for r in result.values()) else ExitCode.FAILED


def _ready_text(result: dict) -> str:
    lines = []
    for what, r in result.items():
        lines.append(f"{what:<6}  {'ready' if r['ready'] else 'NOT READY'}  HTTP {r['status']}  {r['url']}")
        if "error" in r:
            lines.append(f"        {r['error']}")
    return "\n".join(lines)


def v2_text(answer) -> str:
    """A V2 answer for reading: model, version and id, then one row per output (data in its shape)."""
    from fadi_seldon.model import v2

    rows = v2.outputs(answer)
    if not rows:
        return pretty(answer)
    head = " ".join(
        f"{key}={answer[key]}" for key in ("model_name", "model_version", "id") if answer.get(key)
    )
    table = [("NAME", "SHAPE", "DATATYPE", "DATA")]
    table += [(r["name"], json.dumps(r["shape"]), r["datatype"], json.dumps(r["data"])) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(3)]
    lines = [
        "  ".join([*(c.ljust(w) for c, w in zip(row[:3], widths, strict=True)), row[3]]) for row in table
    ]
    return "\n".join(([head] if head else []) + lines)


def pretty(value, indent: int = 0) -> str:
    """Indented JSON, except that arrays without objects stay on one line (rows of an ndarray read as rows)."""
    pad = " " * indent
    if isinstance(value, dict) and value:
        items = [f"{pad}  {json.dumps(k)}: {pretty(v, indent + 2)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(value, list) and any(isinstance(v, dict) for v in value):
        return "[\n" + ",\n".join(f"{pad}  {pretty(v, indent + 2)}" for v in value) + f"\n{pad}]"
    return json.dumps(value)


def _reason(resp) -> str:
    """The wrapper's error shape is {"status": {"info", "reason", ...}}; show it in one line."""
    try:
        status = resp.json().get("status", {})
    except (ValueError, AttributeError):
        return ""
    if not isinstance(status, dict):
        return ""
    parts = [str(status[k]) for k in ("reason", "info") if status.get(k)]
    return f": {' - '.join(parts)}" if parts else ""
