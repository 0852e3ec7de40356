"""Run MLServer (the V2 / Open Inference Protocol server) locally, as the operator runs it in a pod.

Seldon Core 1.17.1 serves `protocol: v2` prepackaged models (SKLEARN_SERVER, XGBOOST_SERVER,
MLFLOW_SERVER) with the images seldonio/mlserver:1.3.5-<runtime>: MLServer and one inference runtime,
configured by the operator through environment variables (MLSERVER_HTTP_PORT and _GRPC_PORT from the
container's ports, MLSERVER_MODEL_NAME = the graph node's name, MLSERVER_MODEL_IMPLEMENTATION =
the runtime's class, MLSERVER_MODEL_URI = /mnt/models, where the initializer put the artifact).
Here the same MLServer version runs from a virtual environment of its own (.venv-mlserver: its pins,
pydantic 1 and fastapi 0.89, clash with this project's), with those settings written as the
model-settings.json MLServer reads, and the server settings (loopback host, ports) as MLSERVER_*
variables, which is also how the operator gives them, so a packaged folder's own files are unchanged.

The process tree (MLServer's main process, its inference worker, gRPC and metrics servers) is
started in its own session and stopped as a whole by serving.ServerProcess, as for the wrapper.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fadi_seldon.model import serving
from fadi_seldon.model.build_context import dns_name
from fadi_seldon.model.serving import ServeError
from fadi_seldon.runtime import versions
from fadi_seldon.runtime.files import atomic_write

# Ports the operator gives a v2 container (the first HTTP and gRPC ports of a pod), and the metrics port
# it adds; MLServer's own defaults (8080/8081/8082) are never used in a SeldonDeployment.
HTTP_PORT = 9000
GRPC_PORT = 9500
METRICS_PORT = 6000
SCRIPT = "mlserver"
MARKER = "fadi-mlserver.json"
# MLServer 1.3.5 leaves these unpinned; their newest releases break it on Python 3.11 (checked here):
# uvloop 0.20+ refuses asyncio.get_event_loop() in the inference worker, so no model ever loads;
# numpy 2 and pandas 2.2+ postdate 1.3.5 (the 1.3.5 images carry numpy 1.x and pandas 1.5-2.1).
CONSTRAINTS = ("uvloop<0.20", "numpy<2", "pandas<2.2")


@dataclass(frozen=True)
class Runtime:
    """A prepackaged server's MLServer runtime: its PyPI package and the class the operator names."""

    package: str
    implementation: str
    # pins of the runtime's own dependencies: what the 1.3.5 image carries, where PyPI's newest breaks it
    constraints: tuple[str, ...] = ()
    # the files the runtime looks for when --model-uri is a folder (its WELLKNOWN_MODEL_FILENAMES, or
    # MLflow's MLmodel): a folder with none of them fails only once MLServer loads it, after a venv
    # install and a start, with an asyncio traceback
    artifacts: tuple[str, ...] = ()


# implementation -> runtime, as the operator's getMLServerModelImplementation maps them (1.17.1). Each
# pins its framework at the version every image and the venv share (versions.env, SCIKIT_LEARN_VERSION...):
# a model trained in the venv then loads in the cluster's servers of both protocols.
RUNTIMES: dict[str, Runtime] = {
    "SKLEARN_SERVER": Runtime(
        "mlserver-sklearn",
        "mlserver_sklearn.SKLearnModel",
        ("scikit-learn=={SCIKIT_LEARN_VERSION}",),
        artifacts=("model.joblib", "model.pickle", "model.pkl"),
    ),
    "XGBOOST_SERVER": Runtime(
        "mlserver-xgboost",
        "mlserver_xgboost.XGBoostModel",
        ("xgboost=={XGBOOST_VERSION}",),
        artifacts=("model.bst", "model.json", "model.ubj"),
    ),
    "MLFLOW_SERVER": Runtime(
        "mlserver-mlflow",
        "mlserver_mlflow.MLflowRuntime",
        ("mlflow=={MLFLOW_VERSION}", "scikit-learn=={SCIKIT_LEARN_VERSION}"),
        artifacts=("MLmodel",),
    ),
}
# Why the Seldon-protocol variant of each cannot run here (the server of `protocol: seldon`)
SELDON_PROTOCOL_IMAGE_ONLY = (
    "{server} with protocol seldon runs the image seldonio/{image}:{seldon}, a Seldon wrapper around a "
    "server that lives only in that image (it is not published on PyPI, and no container engine runs "
    "here), so it cannot be run locally. Serve the same artifact with MLServer, the v2 image of {server}: "
    "add --protocol v2 (and deploy with `protocol: v2`)"
)


def default_venv() -> Path:
    """FADI_MLSERVER_VENV, else .venv-mlserver in the checkout, else a per-user cache folder."""
    return versions.local_dir(
        "FADI_MLSERVER_VENV",
        ".venv-mlserver",
        versions.user_dir("XDG_CACHE_HOME", ".cache", "mlserver-venv"),
    )


def requirements() -> list[str]:
    """The venv's base: the pinned MLServer and the constraints it needs on Python 3.11."""
    return [f"mlserver=={versions.get('MLSERVER_VERSION')}", *CONSTRAINTS]


def runtime_requirement(package: str) -> str:
    return f"{package}=={versions.get('MLSERVER_VERSION')}"


def runtime_requirements(package: str) -> list[str]:
    """A runtime package at MLServer's version, with the constraints its prepackaged server needs."""
    constraints = [
        pinned(c) for runtime in RUNTIMES.values() if runtime.package == package for c in runtime.constraints
    ]
    return [runtime_requirement(package), *constraints]


def pinned(requirement: str) -> str:
    """A requirement with its `{KEY}` placeholders replaced by versions.env's values."""
    return re.sub(r"\{([A-Z0-9_]+)\}", lambda m: versions.get(m.group(1)), requirement)


def _marker(venv: Path) -> dict:
    try:
        data = json.loads((venv / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def ensure_venv(
    venv: Path, packages: tuple[str, ...] = (), install: bool = True, progress: Callable[[str], None] = print
) -> Path:
    """The venv's python with MLServer and the runtime `packages`, created or completed when needed.

    A marker file records what was installed: a change of the pins (MLSERVER_VERSION, CONSTRAINTS)
    recreates the venv; a runtime not yet there is added to it (mlserver-mlflow alone is ~300 MB).
    """
    base = requirements()
    wanted = [r for p in packages for r in runtime_requirements(p)]
    marker = _marker(venv)
    python = venv / "bin" / "python"
    same_base = marker.get("requirements") == base and (venv / "bin" / SCRIPT).is_file()
    missing = [r for r in wanted if not same_base or r not in marker.get("runtimes", [])]
    if same_base and not missing:
        return python
    if not install:
        command = f"{sys.executable} -m venv {venv} && {python} -m pip install " + " ".join(
            f"'{r}'" for r in base + wanted
        )
        state = "has other pins" if marker else "does not have MLServer"
        raise ServeError(
            f"{venv} {state}; {' '.join(base + wanted)} needed. Run without --no-install, or: {command}"
        )
    if not same_base:
        if venv.exists():
            progress(f"{venv} was made for other pins; recreating it")
            shutil.rmtree(venv)
        serving.create_venv(venv, "MLServer's pins clash with fadi-seldon's own", progress)
        marker = {"requirements": base, "runtimes": []}
        missing = wanted
        serving.pip_install(python, base + missing, "MLServer", progress, "about 30 s, once")
    else:
        # with every pin already there: runtimes require `mlserver` unpinned, and a new dependency that
        # needs newer pydantic (mlflow 3.6+) would otherwise make pip upgrade MLServer itself
        kept = [r for r in marker.get("runtimes", []) if r not in missing]
        serving.pip_install(python, [*base, *kept, *missing], "the MLServer runtime", progress, "once")
    marker["runtimes"] = sorted(set(marker.get("runtimes", [])) | set(missing))
    atomic_write(venv / MARKER, json.dumps(marker, indent=2) + "\n")
    return python


def model_settings(name: str, implementation: str, uri: str | None = None) -> dict:
    """model-settings.json as the operator's MLSERVER_MODEL_* variables define the model."""
    settings: dict = {"name": name, "implementation": implementation}
    if uri is not None:
        settings["parameters"] = {"uri": uri}
    return settings


def server_env(
    host: str, http_port: int, grpc_port: int, metrics_port: int, metrics_dir: Path
) -> dict[str, str]:
    """MLServer's server settings as variables (the operator's way; a folder's settings.json wins)."""
    return {
        "MLSERVER_HOST": host,
        "MLSERVER_HTTP_PORT": str(http_port),
        "MLSERVER_GRPC_PORT": str(grpc_port),
        "MLSERVER_METRICS_PORT": str(metrics_port),
        # MLServer's default is ./.metrics: kept out of the model folder
        "MLSERVER_METRICS_DIR": str(metrics_dir),
    }


@dataclass(kw_only=True)
class MLServer(serving.ServerProcess):
    """`mlserver start FOLDER` with server settings from the environment; FOLDER holds model-settings.json."""

    folder: Path
    model_name: str
    http_port: int = HTTP_PORT
    grpc_port: int = GRPC_PORT
    metrics_port: int = METRICS_PORT
    scratch: Path | None = None  # removed on stop: a generated model folder and the metrics dir
    packages: tuple[str, ...] = ()  # runtime packages the model needs (mlserver-sklearn...)
    label = "MLServer"
    kind = "MLServer"

    def prepare(self, venv: Path | None, install: bool, progress: Callable[[str], None]) -> Path:
        return ensure_venv(venv or default_venv(), self.packages, install=install, progress=progress)

    @property
    def ready_path(self) -> str:  # type: ignore[override]
        return f"/v2/models/{self.model_name}/ready"

    def listeners(self) -> list[tuple[str, int, str]]:
        return [
            ("HTTP", self.http_port, "--port"),
            ("gRPC", self.grpc_port, "--grpc-port"),
            ("metrics", self.metrics_port, "--metrics-port"),
        ]

    def command(self, python: Path) -> list[str]:
        return [str(python.parent / SCRIPT), "start", str(self.folder)]

    def workdir(self) -> Path:
        return self.folder

    def start(self, python: Path, stdout=None, stderr=None):
        if self.scratch is None:
            self.scratch = Path(tempfile.mkdtemp(prefix="fadi-mlserver-"))
        metrics_dir = self.scratch / "metrics"
        metrics_dir.mkdir(exist_ok=True)
        ports = (self.http_port, self.grpc_port, self.metrics_port)
        self.extra_env = {**server_env(self.host, *ports, metrics_dir), **self.extra_env}
        return super().start(python, stdout, stderr)

    def stop(self, grace: float = 5.0) -> int | None:
        try:
            return super().stop(grace)
        finally:
            if self.scratch is not None:
                shutil.rmtree(self.scratch, ignore_errors=True)
                self.scratch = None


def runtime_for(server: str, protocol: str) -> Runtime:
    """The MLServer runtime that serves `server` with `protocol` here; ServeError says why none does."""
    from fadi_seldon.sdep import predictor_servers

    known = predictor_servers.DEFAULT_SERVERS
    if server not in known:  # a name given wrong: unusable input, found before anything is installed
        raise serving.BadServeInput(
            f"--server {server!r} is not a prepackaged server; one of {', '.join(sorted(known))}"
        )
    if protocol != "v2":
        image = known[server]["protocols"].get(protocol)
        if image is None or server not in RUNTIMES:
            raise ServeError(f"{server} does not serve protocol {protocol} locally; use --protocol v2")
        raise ServeError(
            SELDON_PROTOCOL_IMAGE_ONLY.format(
                server=server, image=image["image"].split("/")[-1], seldon=image["defaultImageVersion"]
            )
        )
    if server not in RUNTIMES:
        raise ServeError(
            f"{server} has no MLServer runtime runnable here; local v2 serving knows {', '.join(RUNTIMES)}"
        )
    return RUNTIMES[server]


def prepackaged_venv(
    server: str, protocol: str, venv: Path | None, progress: Callable[[str], None] = print
) -> Path:
    """The python of the venv that serves `server` (MLServer and its runtime), created or completed:
    what `serve --server` would run, ready before there is a model (train.py runs with it)."""
    runtime = runtime_for(server, protocol)
    return ensure_venv(venv or default_venv(), (runtime.package,), install=True, progress=progress)


def prepackaged(server: str, model_uri: Path, protocol: str, name: str | None = None, **ports) -> MLServer:
    """An MLServer for a prepackaged server's artifact, with the model settings the operator gives it."""
    from fadi_seldon.sdep import graph

    runtime = runtime_for(server, protocol)
    check_artifact(server, model_uri)
    node = name or graph_name(model_uri)
    try:
        graph.check_dns_label(node, "--name", "name")
    except graph.GraphError as err:
        raise ServeError(str(err)) from None
    scratch = Path(tempfile.mkdtemp(prefix="fadi-mlserver-"))
    folder = scratch / "models" / node
    folder.mkdir(parents=True)
    settings = model_settings(node, runtime.implementation, str(model_uri.resolve()))
    (folder / "model-settings.json").write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    return MLServer(folder=folder, model_name=node, scratch=scratch, packages=(runtime.package,), **ports)


def check_artifact(server: str, model_uri: Path) -> None:
    """--model-uri must be the artifact, or a folder holding one of the files the runtime loads."""
    if not model_uri.exists():
        raise serving.BadServeInput(
            f"--model-uri {model_uri}: no such file or folder (the trained model's artifact)"
        )
    names = RUNTIMES[server].artifacts
    files = " or ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)
    if model_uri.is_dir() and names and not any((model_uri / name).is_file() for name in names):
        raise serving.BadServeInput(
            f"--model-uri {model_uri}: no model artifact in {model_uri} ({server} loads {files} "
            "from a folder); give the trained model's file or its folder"
        )
    # a file of another kind (a YAML file, notes) would be handed to the runtime, which fails only
    # after MLServer started, with its traceback: the file's kind is in its name, as for a folder
    kinds = {Path(name).suffix or name for name in names}
    if model_uri.is_file() and names and not ({model_uri.suffix, model_uri.name} & kinds):
        raise serving.BadServeInput(
            f"--model-uri {model_uri}: not a model artifact ({server} loads {files}); give the trained "
            "model's file or its folder"
        )


def graph_name(path: Path) -> str:
    """A graph node name from the artifact's folder (model.joblib in iris/ -> iris)."""
    folder = path.resolve() if path.is_dir() else path.resolve().parent
    return dns_name(folder.name)


def packaged(folder: Path, **ports) -> MLServer:
    """An MLServer for a folder `package --runtime mlserver` wrote (its model-settings.json)."""
    path = folder / "model-settings.json"
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
        name = settings["name"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ServeError(
            f"{path}: cannot read the model's name ({err}); run `fadi-seldon package {folder} --runtime mlserver`"
        ) from None
    return MLServer(folder=folder.resolve(), model_name=name, **ports)


def check_protocol(runtime: str, protocol: str, folder: Path) -> None:
    """A packaged folder's server speaks one protocol: the wrapper seldon, MLServer v2."""
    if runtime == "mlserver" and protocol != "v2":
        raise ServeError(
            f"{folder} is packaged as an MLServer runtime, which speaks protocol v2 only; drop --protocol "
            f"{protocol}, or package it again with --runtime seldon for a Seldon-wrapper class"
        )
    if runtime != "mlserver" and protocol == "v2":
        raise ServeError(
            f"the Seldon wrapper {versions.get('PY_SELDON_CORE')} serves {folder} with the Seldon protocol "
            "only; for protocol v2 write the model as an MLServer runtime (a class subclassing "
            f"mlserver.MLModel) and run `fadi-seldon package {folder} --runtime mlserver`, or serve a "
            "trained artifact with --server SKLEARN_SERVER --model-uri PATH --protocol v2"
        )


def check_mlserver_flags(no_grpc: bool, workers: int, parameters: str | None) -> None:
    """Options of the wrapper that MLServer {version} has no equivalent for."""
    if no_grpc:
        raise ServeError(f"MLServer {versions.get('MLSERVER_VERSION')} always starts its gRPC server; "
                         "drop --no-grpc (choose its port with --grpc-port)")  # fmt: skip
    if workers != 1:
        raise ServeError("--workers is the wrapper's; MLServer runs one REST server (drop --workers)")
    if parameters:
        raise ServeError("--parameters is the wrapper's; an MLServer model reads its settings from "
                         "model-settings.json (`parameters`)")  # fmt: skip
