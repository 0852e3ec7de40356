"""Build Seldon protocol request bodies and send them (standard library only).

A SeldonMessage carries exactly one of `data` (with `ndarray` or `tensor`, and optional `names`),
`jsonData`, `strData` or `binData` (base64). The wrapper answers in the encoding it was asked in,
so choosing the request's encoding is choosing the answer's.
"""

from __future__ import annotations

import base64
import json
import math
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

PREDICTIONS_PATH = "/api/v1.0/predictions"
MESSAGE_KEYS = ("data", "jsonData", "strData", "binData")


class PayloadError(ValueError):
    """A request body that is not a valid SeldonMessage; says which option and why."""


def parse_json(text: str, option: str) -> Any:
    """`text` as JSON. `option` is where it came from: an option (`--ndarray`), whose value the
    message quotes, or a file, which it names with the line and column, as an editor wants them."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        if option.startswith("-") and option != "-":
            message = f"{option}: not valid JSON ({err.msg} at column {err.colno}): {text[:80]!r}"
        else:
            message = f"{option}:{err.lineno}:{err.colno}: not valid JSON ({err.msg})"
        raise PayloadError(message) from None


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def shape_of(value: Any, option: str, is_leaf=None, expected: str = "numbers") -> list[int]:
    """Shape of a rectangular nested list whose leaves pass `is_leaf` (numbers by default);
    rejects ragged arrays and other leaves."""
    is_leaf = is_leaf or is_number
    if not isinstance(value, list):
        if is_leaf(value):
            return []
        raise PayloadError(f"{option}: expected {expected}, found {json.dumps(value)[:40]}")
    if not value:
        return [0]
    shapes = [shape_of(item, option, is_leaf, expected) for item in value]
    if any(s != shapes[0] for s in shapes):
        raise PayloadError(f"{option}: rows have different lengths; an array must be rectangular")
    return [len(value), *shapes[0]]


def flatten(value: Any) -> list:
    if isinstance(value, list):
        return [x for item in value for x in flatten(item)]
    return [value]


def _names(names: list[str] | None) -> dict[str, Any]:
    return {"names": list(names)} if names else {}


def ndarray(text: str, names: list[str] | None = None) -> dict[str, Any]:
    """`[[5.1, 3.5, 1.4, 0.2]]` -> {"data": {"ndarray": ...}}; rows may hold strings too."""
    value = parse_json(text, "--ndarray")
    if not isinstance(value, list):
        raise PayloadError(
            f"--ndarray: expected a JSON array such as [[1, 2, 3]], got {type(value).__name__}"
        )
    return {"data": {**_names(names), "ndarray": value}}


def tensor(text: str, names: list[str] | None = None) -> dict[str, Any]:
    """A nested numeric array, or an explicit {"shape": [...], "values": [...]}."""
    value = parse_json(text, "--tensor")
    if isinstance(value, dict):
        if set(value) != {"shape", "values"}:
            raise PayloadError('--tensor: an object needs exactly "shape" and "values"')
        shape, values = value["shape"], value["values"]
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise PayloadError("--tensor: shape is a list of non-negative integers")
        if not isinstance(values, list) or not all(is_number(v) for v in values):
            raise PayloadError("--tensor: values is a flat list of numbers")
        if math.prod(shape) != len(values):
            raise PayloadError(f"--tensor: shape {shape} holds {math.prod(shape)} values, got {len(values)}")
    elif isinstance(value, list):
        shape = shape_of(value, "--tensor")
        values = flatten(value)
    else:
        raise PayloadError('--tensor: expected a nested array or {"shape": [...], "values": [...]}')
    return {"data": {**_names(names), "tensor": {"shape": shape, "values": values}}}


def json_data(text: str) -> dict[str, Any]:
    return {"jsonData": parse_json(text, "--json-data")}


def str_data(text: str) -> dict[str, Any]:
    return {"strData": text}


def bin_data(raw: bytes) -> dict[str, Any]:
    return {"binData": base64.b64encode(raw).decode("ascii")}


def message(text: str, source: str = "--file") -> dict[str, Any]:
    """A complete SeldonMessage given as JSON (e.g. saved from an earlier request)."""
    value = parse_json(text, source)
    if not isinstance(value, dict):
        raise PayloadError(f"{source}: a SeldonMessage is a JSON object, got {type(value).__name__}")
    present = [k for k in MESSAGE_KEYS if k in value]
    if len(present) != 1 and "seldonMessages" not in value:
        found = ", ".join(present) or "none"
        raise PayloadError(
            f"{source}: a SeldonMessage has exactly one of {', '.join(MESSAGE_KEYS)}; found {found}"
        )
    return value


def checked_url(url: str) -> urllib.parse.SplitResult:
    """A server URL split in parts; `HOST:PORT` means http, other schemes are refused."""
    if "://" not in url:
        url = f"http://{url}"
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise PayloadError(f"URL {url!r}: expected http(s)://HOST[:PORT][/PATH]")
    return parts


def endpoint(url: str) -> str:
    """Complete a base URL with the predictions path: http://h:9000 -> http://h:9000/api/v1.0/predictions.

    An ingress prefix is kept (http://h/seldon/ns/name -> .../seldon/ns/name/api/v1.0/predictions);
    a URL that already names an API path is used as it is.
    """
    parts = checked_url(url)
    path = parts.path.rstrip("/")
    if not path.startswith("/api/") and "/api/" not in path and not path.endswith("/predict"):
        path = path + PREDICTIONS_PATH
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


@dataclass
class Response:
    status: int
    body: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        return json.loads(self.body)


class TransportError(RuntimeError):
    """No HTTP answer at all (refused, timed out, bad host)."""


def post(url: str, payload: dict[str, Any], timeout: float = 30.0) -> Response:
    """POST the payload as JSON; any HTTP status is returned, only transport failures raise."""
    body = json.dumps(payload).encode("utf-8")
    return _send(
        urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"}),
        timeout,
    )


def get(url: str, timeout: float = 30.0) -> Response:
    """GET the URL (health and metadata endpoints); any HTTP status is returned, as with `post`."""
    return _send(urllib.request.Request(url, method="GET", headers={"Accept": "application/json"}), timeout)


def _send(request: urllib.request.Request, timeout: float) -> Response:
    """The one copy of the HTTP plumbing: an HTTP status is an answer, anything else a TransportError."""
    url = request.full_url
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return Response(resp.status, resp.read().decode("utf-8", errors="replace"))
    except urllib.error.HTTPError as err:
        return Response(err.code, err.read().decode("utf-8", errors="replace"))
    except urllib.error.URLError as err:
        raise TransportError(f"cannot reach {url}: {_reason(err.reason)}") from None
    except (TimeoutError, OSError) as err:
        raise TransportError(f"cannot reach {url}: {_reason(err)}") from None


def _reason(err: object) -> str:
    """The system's words for a failed connection (`connection refused`), not `[Errno 111] ...`."""
    if isinstance(err, TimeoutError) or str(err) == "timed out":
        return "timed out"
    strerror = getattr(err, "strerror", None)
    return strerror.lower() if isinstance(strerror, str) else str(err)
