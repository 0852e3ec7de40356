"""The prepackaged model servers the operator knows by default (seldon-config `predictor_servers`).

A graph node with `implementation: SKLEARN_SERVER` (and no image of its own) runs the image this
map gives for the deployment's protocol. The operator chart carries the same data in values.yaml
(`predictor_servers`) and a chart test checks that the two agree; operators may add their own servers
there; `load_values_file` reads them from a user's values file, merged over these defaults the way
Helm merges values, and `load_servers_file` takes a complete list. Images and tags are those of
Seldon Core 1.17.1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fadi_seldon.runtime import versions

_SELDON = versions.seldon_core_version()
_MLSERVER = versions.get("MLSERVER_VERSION")  # what the chart's v2 images carry


def _image(image: str, tag: str) -> dict[str, str]:
    return {"image": image, "defaultImageVersion": tag}


DEFAULT_SERVERS: dict[str, dict[str, Any]] = {
    "SKLEARN_SERVER": {
        "protocols": {
            "seldon": _image("seldonio/sklearnserver", _SELDON),
            "v2": _image("seldonio/mlserver", f"{_MLSERVER}-sklearn"),
        }
    },
    "XGBOOST_SERVER": {
        "protocols": {
            "seldon": _image("seldonio/xgboostserver", _SELDON),
            "v2": _image("seldonio/mlserver", f"{_MLSERVER}-xgboost"),
        }
    },
    "MLFLOW_SERVER": {
        "protocols": {
            "seldon": _image("seldonio/mlflowserver", _SELDON),
            "v2": _image("seldonio/mlserver", f"{_MLSERVER}-mlflow"),
        }
    },
    "TENSORFLOW_SERVER": {
        "protocols": {
            "seldon": _image("seldonio/tfserving-proxy", _SELDON),
            "tensorflow": _image("tensorflow/serving", "2.1.0"),
        }
    },
    "TRITON_SERVER": {"protocols": {"v2": _image("nvcr.io/nvidia/tritonserver", "21.08-py3")}},
    "HUGGINGFACE_SERVER": {"protocols": {"v2": _image("seldonio/mlserver", f"{_MLSERVER}-huggingface")}},
    "TEMPO_SERVER": {"protocols": {"v2": _image("seldonio/mlserver", f"{_MLSERVER}-slim")}},
}


def image_protocols(implementation: str) -> set[str] | None:
    """The protocols the chart's default servers have an image for; None for a server not among them.
    v2 and kfserving stand in for each other, as the operator's PrepackImageName and MLServer image
    lookup take either."""
    server = DEFAULT_SERVERS.get(implementation)
    if server is None:
        return None
    protocols = set(server["protocols"])
    if protocols & {"v2", "kfserving"}:
        protocols |= {"v2", "kfserving"}
    return protocols


# Servers whose upstream image cannot serve the tensorflow protocol (webhook rule)
NO_TENSORFLOW_PROTOCOL = frozenset(
    {"SKLEARN_SERVER", "XGBOOST_SERVER", "MLFLOW_SERVER", "HUGGINGFACE_SERVER"}
)
# Prepackaged servers that may run without modelUri (they can pull a model by name)
MODEL_URI_OPTIONAL = frozenset({"HUGGINGFACE_SERVER"})
# Where a values file sets the operator's servers: the FADI umbrella chart's values (the operator is its
# subchart) and the operator chart's own values.
UMBRELLA_KEY = "seldon-core-operator"
VALUES_KEY = "predictor_servers"


class ServersFileError(ValueError):
    """A --servers file that cannot be read or has no server names."""


def default_server_names() -> set[str]:
    return set(DEFAULT_SERVERS)


def server_names(data: Any) -> set[str]:
    """Server names from a predictor_servers map, a values file holding one, or a plain list."""
    if isinstance(data, dict) and isinstance(data.get("predictor_servers"), dict | str):
        data = data["predictor_servers"]
    if isinstance(data, str):  # the ConfigMap's data value is a JSON string
        data = json.loads(data)
    if isinstance(data, dict) and isinstance(data.get("data"), dict):  # a seldon-config ConfigMap
        return server_names(data["data"])
    if isinstance(data, dict):
        return {str(k) for k in data}
    if isinstance(data, list) and all(isinstance(x, str) for x in data):
        return set(data)
    raise ServersFileError(
        "expected a predictor_servers map (NAME: {protocols: ...}), a values file or ConfigMap containing one, "
        "or a list of server names"
    )


def values_server_names(values: Any) -> set[str]:
    """The servers an operator installed with these values has: the chart's defaults, merged as Helm does.

    `values` is a FADI values file (`seldon-core-operator.predictor_servers`) or the operator chart's
    (`predictor_servers`). Helm coalesces the user's map over the chart's: new names are added, a name
    set to null is removed, `predictor_servers: null` removes them all. A file that sets no servers
    leaves the defaults.
    """
    if values is None:
        return default_server_names()
    if not isinstance(values, dict):
        raise ServersFileError("expected a values file (a mapping of keys), got " + type(values).__name__)
    where = VALUES_KEY
    if UMBRELLA_KEY in values:
        values, where = values[UMBRELLA_KEY], f"{UMBRELLA_KEY}.{VALUES_KEY}"
        if values is None:
            return default_server_names()
        if not isinstance(values, dict):
            raise ServersFileError(f"{UMBRELLA_KEY} must be a mapping of the operator chart's values")
    if VALUES_KEY not in values:
        return default_server_names()
    servers = values[VALUES_KEY]
    if servers is None:
        return set()
    if not isinstance(servers, dict):
        raise ServersFileError(f"{where} must be a mapping of NAME: {{protocols: ...}}")
    from fadi_seldon.values import helm

    return set(helm.coalesce({VALUES_KEY: servers}, {VALUES_KEY: DEFAULT_SERVERS})[VALUES_KEY])


def load_values_file(path: str | Path) -> set[str]:
    """The configured server names of a FADI or operator chart values file (see `values_server_names`)."""
    from fadi_seldon.runtime import yamlfile

    try:
        data = yamlfile.load(path, "a values file", mapping=True)
    except yamlfile.YamlFileError as err:  # FILE:LINE: in plain words
        raise ServersFileError(str(err)) from None
    try:
        return values_server_names(data)
    except ServersFileError as err:
        raise ServersFileError(f"{path}: {err}") from None


def load_servers_file(path: str | Path) -> set[str]:
    """The configured server names in a YAML or JSON file (see `server_names`)."""
    from fadi_seldon.runtime import yamlfile

    try:
        data = yamlfile.load(path, "a list or map of predictor servers")
    except yamlfile.YamlFileError as err:  # FILE:LINE: in plain words
        raise ServersFileError(str(err)) from None
    try:
        names = server_names(data)
    except json.JSONDecodeError as err:  # a ConfigMap's predictor_servers value is JSON in a string
        raise ServersFileError(
            f"{path}: the ConfigMap's predictor_servers is not valid JSON: {err.msg}"
        ) from None
    except ServersFileError as err:
        raise ServersFileError(f"{path}: {err}") from None
    if not names:
        raise ServersFileError(f"{path}: no server names found")
    return names
