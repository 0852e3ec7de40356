"""Seldon-protocol gRPC calls (`seldon.protos.Seldon/Predict`) through the stubs of the serve venv.

The stubs (`seldon_core.proto.prediction_pb2*`) and grpcio come with `seldon-core`, whose pins clash
with fadi-seldon's own, so they cannot be imported here: the call is made by a small client program
run by the serve venv's interpreter (the venv `fadi-seldon serve` runs the wrapper from). It reads
one JSON request on stdin and prints one JSON result on stdout, so this side needs no gRPC at all.

Both the Python wrapper (gRPC port 5000) and the Seldon executor (a predictor Service's port 5001)
register the `seldon.protos.Seldon` service, so one `Predict` call works for either.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fadi_seldon.model import payloads, serving
from fadi_seldon.runtime import commands, versions

TARGET_FORMS = "HOST:PORT, grpc://HOST:PORT or http(s)://HOST:PORT"
# the client's own start (about 0.1 s) and grpc's channel set-up, on top of the call's deadline
CLIENT_MARGIN = 30.0

# Run by the serve venv's interpreter: stdin {target, message, timeout, metadata?}; stdout one of
# {"answer": SeldonMessage as MessageToDict gives it}, {"code", "details"} (a gRPC status other than
# OK) or {"invalid": why} (the message is not a SeldonMessage). Anything else on stdout is a failure.
CLIENT = """\
import json, sys
import grpc
from google.protobuf import json_format
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc
request = json.load(sys.stdin)
try:
    message = json_format.ParseDict(request["message"], prediction_pb2.SeldonMessage())
except json_format.ParseError as err:
    print(json.dumps({"invalid": str(err)}))
    sys.exit(0)
metadata = [(str(k).lower(), str(v)) for k, v in (request.get("metadata") or {}).items()]
with grpc.insecure_channel(request["target"]) as channel:
    stub = prediction_pb2_grpc.SeldonStub(channel)
    try:
        answer = stub.Predict(message, timeout=request["timeout"], metadata=metadata or None)
    except grpc.RpcError as err:
        print(json.dumps({"code": err.code().name, "details": err.details() or ""}))
    else:
        print(json.dumps({"answer": json_format.MessageToDict(answer)}))
"""


class GrpcError(RuntimeError):
    """The call could not be made (no stubs, the client program failed); the message says what to do."""


class StatusError(GrpcError):
    """The server answered with a gRPC status other than OK: its code name and details."""

    def __init__(self, target: str, code: str, details: str, timeout: float) -> None:
        self.target, self.code, self.details = target, code, " ".join(details.split())
        if code == "DEADLINE_EXCEEDED":  # nothing answered in time: not the server's words
            text = f"no answer from {target} within {timeout:g} s (gRPC {code}; --timeout sets the deadline)"
        else:
            text = f"{target} answered gRPC {code}: {self.details or '(no details)'}"
        super().__init__(text)


class Unreachable(payloads.TransportError):
    """gRPC UNAVAILABLE: nothing listens (or the name does not resolve). A TransportError, so the
    CLI's one retry loop (`predict --wait`) retries it as it retries a refused HTTP connection."""


class BadTarget(payloads.PayloadError):
    """A target that is not HOST:PORT in one of the accepted spellings: a usage error."""


class BadMessage(payloads.PayloadError):
    """A request the stubs cannot turn into a SeldonMessage (found before anything is sent)."""


def target(text: str) -> str:
    """`HOST:PORT` for grpc from `HOST:PORT`, `grpc://HOST:PORT` or an http(s) URL (its host and port
    as given: a wrapper's REST port stays the REST port, its path is not used: gRPC has none)."""
    scheme, sep, rest = text.strip().partition("://")
    if not sep:
        scheme, rest = "grpc", text.strip()
    if scheme not in ("grpc", "http", "https"):
        raise _bad(text, f"scheme {scheme}:// is not grpc:// or http(s)://")
    parts = urllib.parse.urlsplit(f"//{rest}")
    if scheme == "grpc" and (parts.path not in ("", "/") or parts.query or parts.fragment):
        raise _bad(text, "a gRPC target has no path or query")
    if not parts.hostname:
        raise _bad(text, "no host")
    if parts.username is not None:
        raise _bad(text, "user names are not supported")
    try:
        port = parts.port
    except ValueError:
        raise _bad(text, f"{parts.netloc.rpartition(':')[2]!r} is not a port number (1 to 65535)") from None
    if port is None:
        raise _bad(text, "no port (the wrapper's gRPC port is 5000, a SeldonDeployment's 5001)")
    if port == 0:
        raise _bad(text, "port 0 is not a port number (1 to 65535)")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{host}:{port}"


def _bad(text: str, why: str) -> BadTarget:
    return BadTarget(f"gRPC target {text!r}: {why}; expected {TARGET_FORMS}")


def client_python(
    venv: Path | None = None, install: bool = True, progress: Callable[[str], None] = print
) -> Path:
    """The serve venv's python, with the stubs: created or completed as `serve` does, unless
    `install` is false, when their absence is an error naming the package and the command."""
    venv = venv or serving.default_venv()
    want = versions.get("PY_SELDON_CORE")
    have = serving.installed_wrapper_version(venv)
    if have == want or install:
        return serving.ensure_venv(venv, install=True, progress=progress)
    state = f"has seldon-core {have}" if have else "has no seldon-core" if venv.is_dir() else "does not exist"
    raise GrpcError(
        f"the gRPC stubs come from seldon-core {want}, kept apart in the `serve` extra's environment "
        f"{venv}, which {state}; run without --no-install to install it, or: {serving.install_command(venv)}"
    )


def predict(
    python: Path,
    target: str,
    message: dict[str, Any],
    timeout: float = 30.0,
    metadata: dict[str, str] | None = None,
) -> dict[str, Any]:
    """`Predict(message)` at `target`, the answer as a dict (MessageToDict's field names, e.g.
    `data.ndarray`, `meta.requestPath`). Raises Unreachable (UNAVAILABLE), StatusError (any other
    status), BadMessage (not a SeldonMessage) or GrpcError (the client program failed)."""
    request = {"target": target, "message": message, "timeout": timeout}
    if metadata:
        request["metadata"] = metadata
    result = _run_client(python, request, timeout + CLIENT_MARGIN)
    if "answer" in result:
        return result["answer"]
    if "invalid" in result:
        raise BadMessage(f"the request is not a SeldonMessage: {result['invalid']}")
    code, details = str(result.get("code")), str(result.get("details", ""))
    if code == "UNAVAILABLE":
        raise Unreachable(f"cannot reach {target} over gRPC: {code}: {' '.join(details.split())}")
    raise StatusError(target, code, details, timeout)


def _run_client(python: Path, request: dict[str, Any], limit: float) -> dict[str, Any]:
    """The client program's JSON result; its failure (a crash, no stubs, garbage) as a GrpcError."""
    try:
        done = commands.run([python, "-c", CLIENT], input=json.dumps(request), timeout=limit)
    except commands.TimeoutExpired:
        raise GrpcError(f"the gRPC client ({python}) did not finish within {limit:g} s") from None
    except OSError as err:
        raise GrpcError(f"cannot run the gRPC client {python}: {err.strerror or err}") from None
    try:
        result = json.loads(done.stdout)
    except ValueError:
        result = None
    if not done.ok or not isinstance(result, dict):
        last = (done.stderr.strip().splitlines() or [f"exit code {done.code}, no output"])[-1]
        raise GrpcError(f"the gRPC client run by {python} failed: {last}")
    return result
