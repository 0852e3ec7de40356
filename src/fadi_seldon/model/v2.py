"""The Open Inference Protocol (KServe V2) over REST, as MLServer 1.3.5 serves it for Seldon Core 1.17.1
`protocol: v2`: request building, validation before sending, the endpoints and the answers.

A request is `{"id"?, "parameters"?, "inputs": [{"name", "shape", "datatype", "data", "parameters"?}],
"outputs"?}`; each tensor's `data` holds product(shape) elements of its datatype, sent flattened in
row-major order. Validating here turns a typo into an exit 2 with the tensor's name, instead of a
server's 400 or, worse, a silent reshape. Transport is payloads' `post` and `get` (one HTTP copy).
"""

from __future__ import annotations

import math
import urllib.parse
from typing import Any

from fadi_seldon.model import payloads
from fadi_seldon.model.payloads import PayloadError

DEFAULT_INPUT_NAME = "input-0"
INTS = ("INT8", "INT16", "INT32", "INT64")
UINTS = ("UINT8", "UINT16", "UINT32", "UINT64")
FLOATS = ("FP16", "FP32", "FP64")
DATATYPES = ("BOOL", *UINTS, *INTS, *FLOATS, "BYTES")
REQUEST_KEYS = {"id", "parameters", "inputs", "outputs"}
TENSOR_KEYS = {"name", "shape", "datatype", "data", "parameters"}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _fits(datatype: str, value: Any) -> bool:
    """Whether one JSON element is a valid element of `datatype` (JSON has no bytes: BYTES are strings)."""
    if datatype == "BOOL":
        return isinstance(value, bool)
    if datatype in UINTS:
        return _is_int(value) and 0 <= value < 2 ** int(datatype[4:])
    if datatype in INTS:
        return _is_int(value) and -(2 ** (int(datatype[3:]) - 1)) <= value < 2 ** (int(datatype[3:]) - 1)
    if datatype in FLOATS:
        return payloads.is_number(value)
    return isinstance(value, str)


def datatype_of(values: list) -> str:
    """The datatype a flat list of JSON values asks for: BOOL, INT64, FP64 or BYTES (empty: FP64)."""
    if not values:
        return "FP64"
    if all(isinstance(v, bool) for v in values):
        return "BOOL"
    if all(_is_int(v) for v in values):
        return "INT64"
    if all(payloads.is_number(v) for v in values):
        return "FP64"
    if all(isinstance(v, str) for v in values):
        return "BYTES"
    kinds = sorted({type(v).__name__ for v in values})
    raise PayloadError(f"mixed element types ({', '.join(kinds)}); give one type or --datatype")


def _datatype(given: str | None, option: str) -> str | None:
    if given is None:
        return None
    if given.upper() not in DATATYPES:
        raise PayloadError(f"{option}: unknown datatype {given!r} (known: {', '.join(DATATYPES)})")
    return given.upper()


def _leaf(value: Any) -> bool:
    return isinstance(value, bool | int | float | str)


def tensor(text: str, name: str = DEFAULT_INPUT_NAME, datatype: str | None = None) -> dict[str, Any]:
    """`--ndarray '[[1, 2]]'` -> one input tensor: shape from the nesting, data flattened,
    datatype inferred (BOOL, INT64, FP64, BYTES) unless given."""
    value = payloads.parse_json(text, "--ndarray")
    if not isinstance(value, list):
        raise PayloadError(
            f"--ndarray: expected a JSON array such as [[1, 2, 3]], got {type(value).__name__}"
        )
    shape = payloads.shape_of(value, "--ndarray", _leaf, "numbers, booleans or strings")
    data = payloads.flatten(value) if shape != [0] else []
    try:
        chosen = _datatype(datatype, "--datatype") or datatype_of(data)
    except PayloadError as err:
        raise PayloadError(f"--ndarray: {err}") from None
    result = {"name": name, "shape": shape, "datatype": chosen, "data": data}
    validate_tensor(result, "--ndarray")
    return result


def request(inputs: list[dict[str, Any]], request_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"id": request_id} if request_id else {}
    return {**body, "inputs": inputs}


def validate_tensor(tensor: Any, where: str) -> None:
    """One input tensor: known keys, a name, a shape of non-negative ints, a known datatype and
    exactly product(shape) elements of that datatype (data may be nested; it is counted flattened)."""
    _check_keys(tensor, where)
    name, shape, datatype, data = (tensor[k] for k in ("name", "shape", "datatype", "data"))
    where = f"{where}: tensor {name!r}" if isinstance(name, str) else where
    if not isinstance(name, str) or not name:
        raise PayloadError(f"{where}: name is a non-empty string")
    if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
        raise PayloadError(f"{where}: shape is a list of non-negative integers, got {shape!r}")
    if datatype not in DATATYPES:
        raise PayloadError(f"{where}: unknown datatype {datatype!r} (known: {', '.join(DATATYPES)})")
    _check_data(data, shape, datatype, where)
    if not isinstance(tensor.get("parameters", {}), dict):
        raise PayloadError(f"{where}: parameters is a JSON object")


def _check_keys(tensor: Any, where: str) -> None:
    if not isinstance(tensor, dict):
        raise PayloadError(f"{where}: a tensor is a JSON object, got {type(tensor).__name__}")
    missing = sorted({"name", "shape", "datatype", "data"} - set(tensor))
    if missing:
        raise PayloadError(f"{where}: missing {', '.join(missing)}")
    if extra := sorted(set(tensor) - TENSOR_KEYS):
        raise PayloadError(
            f"{where}: unknown key(s) {', '.join(extra)} (a tensor has {', '.join(sorted(TENSOR_KEYS))})"
        )


def _check_data(data: Any, shape: list[int], datatype: str, where: str) -> None:
    """product(shape) elements, each one of `datatype` (nested data is counted flattened)."""
    flat = payloads.flatten(data) if isinstance(data, list) else [data]
    if math.prod(shape) != len(flat):
        raise PayloadError(f"{where}: shape {shape} holds {math.prod(shape)} elements, data has {len(flat)}")
    for value in flat:
        if value is None or not _fits(datatype, value):
            raise PayloadError(f"{where}: {value!r} is not a {datatype} element")


def validate_request(body: Any, source: str) -> dict[str, Any]:
    """A whole inference request (e.g. `--file`): its keys, then every input tensor."""
    if not isinstance(body, dict):
        raise PayloadError(f"{source}: an inference request is a JSON object, got {type(body).__name__}")
    if extra := sorted(set(body) - REQUEST_KEYS):
        raise PayloadError(
            f"{source}: unknown key(s) {', '.join(extra)} (a request has {', '.join(sorted(REQUEST_KEYS))})"
        )
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise PayloadError(f'{source}: "inputs" is a non-empty list of tensors')
    for index, item in enumerate(inputs):
        validate_tensor(item, f"{source}: inputs[{index}]")
    names = [t["name"] for t in inputs]
    if len(set(names)) != len(names):
        raise PayloadError(f"{source}: input names repeat ({', '.join(names)})")
    if "id" in body and not isinstance(body["id"], str):
        raise PayloadError(f'{source}: "id" is a string')
    if not isinstance(body.get("parameters", {}), dict):
        raise PayloadError(f'{source}: "parameters" is a JSON object')
    outputs = body.get("outputs", [])
    if not isinstance(outputs, list) or not all(
        isinstance(o, dict) and isinstance(o.get("name"), str) for o in outputs
    ):
        raise PayloadError(f'{source}: "outputs" is a list of {{"name": ...}} objects')
    return body


def request_from_json(text: str, source: str = "--file") -> dict[str, Any]:
    return validate_request(payloads.parse_json(text, source), source)


# --------------------------------------------------------------------------- endpoints


def base_url(url: str) -> str:
    """The server's root: a URL that already names a V2 path (.../v2/models/x/infer) is cut before
    `/v2`; an ingress prefix (http://h/seldon/NS/DEPLOYMENT) is kept."""
    parts = payloads.checked_url(url)
    path = parts.path.rstrip("/")
    if path.endswith("/v2"):
        path = path[: -len("/v2")]
    elif "/v2/" in path + "/":
        path = path[: (path + "/").index("/v2/")]
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _model_path(model: str) -> str:
    return "/v2/models/" + urllib.parse.quote(model, safe="")


def infer_url(base: str, model: str) -> str:
    return base + _model_path(model) + "/infer"


def metadata_url(base: str, model: str) -> str:
    return base + _model_path(model)


def ready_urls(base: str, model: str | None) -> dict[str, str]:
    """What `--ready` asks: the server, then the model if one is named."""
    urls = {"server": base + "/v2/health/ready"}
    if model:
        urls["model"] = base + _model_path(model) + "/ready"
    return urls


# --------------------------------------------------------------------------- answers


def error_of(resp: payloads.Response) -> str:
    """The server's words for a failed call: MLServer answers `{"error": "..."}`."""
    try:
        answer = resp.json()
    except ValueError:
        return resp.body.strip()[:200]
    if isinstance(answer, dict) and answer.get("error"):
        return str(answer["error"])
    detail = answer.get("detail") if isinstance(answer, dict) else None
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):  # FastAPI's 422: [{"loc": [...], "msg": ...}, ...]
        return "; ".join(
            f"{'.'.join(map(str, d.get('loc', [])))}: {d.get('msg', '')}"
            for d in detail
            if isinstance(d, dict)
        )
    return resp.body.strip()[:200]


def hint(status: int, what: str) -> str:
    """What to check after an HTTP error, by status."""
    if status == 404:
        return (
            "check --model (the server's name for the model: model-settings.json's `name`, or the graph"
            " node's name in a SeldonDeployment) and the URL's prefix"
        )
    if status in (400, 422) and what == "infer":
        return "check the inputs' names, shapes and datatypes against `--metadata`"
    if status >= 500:
        return "the server or the model failed; see the server's log"
    return "check the URL and --model"


def reshape(data: list, shape: list[int]) -> Any:
    """Flat row-major data laid out in its shape (for reading); data that does not fit is kept flat."""
    flat = payloads.flatten(data)
    if not shape or math.prod(shape) != len(flat) or 0 in shape:
        return flat if shape else (flat[0] if len(flat) == 1 else flat)
    for size in reversed(shape[1:]):
        flat = [flat[i : i + size] for i in range(0, len(flat), size)]
    return flat


def outputs(answer: Any) -> list[dict[str, Any]]:
    """The answer's output tensors, data laid out in their shape; a malformed answer gives []."""
    items = answer.get("outputs") if isinstance(answer, dict) else None
    if not isinstance(items, list):
        return []
    result = []
    for item in items:
        if not isinstance(item, dict):
            continue
        shape, data = item.get("shape"), item.get("data")
        shape = shape if isinstance(shape, list) else []
        data = data if isinstance(data, list) else [data]
        result.append(
            {
                "name": str(item.get("name", "")),
                "shape": shape,
                "datatype": str(item.get("datatype", "")),
                "data": reshape(data, shape),
            }
        )
    return result
