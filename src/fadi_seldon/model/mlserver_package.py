"""`package DIR --runtime mlserver`: a build context for a custom MLServer runtime (protocol v2).

The runtime is a class of DIR subclassing mlserver.MLModel with `load` and `predict`, found by reading
the source with `ast` as for the wrapper (build_context.classes_in; user code is never imported). The
image runs `mlserver start .` in /app, where model-settings.json names the class; the HTTP and gRPC
ports are those the operator gives the first container of a v2 pod (9000 and 9500), set as
MLSERVER_* variables so that the operator's own variables, when it sets them, still win. The files
share the wrapper's machinery (build_context.py): the state file with hashes (plus `"runtime":
"mlserver"`, which `serve DIR` reads), the plan/write that never replaces a user's file, and ImageSpec
for the OCI builder.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from fadi_seldon.model import build_context, mlserver
from fadi_seldon.model.build_context import ModelClass, Options, PackageError, Rendered
from fadi_seldon.runtime import versions
from fadi_seldon.sdep import graph, schema

REQUIREMENTS_FILE = "requirements-mlserver.txt"
SETTINGS_FILE = "model-settings.json"
BASE_CLASS = "MLModel"
COMMAND = ("mlserver", "start", ".")
PORTS = (mlserver.HTTP_PORT, mlserver.GRPC_PORT, mlserver.METRICS_PORT)
SERVER_ENV = (
    ("MLSERVER_HTTP_PORT", str(mlserver.HTTP_PORT)),
    ("MLSERVER_GRPC_PORT", str(mlserver.GRPC_PORT)),
    ("MLSERVER_METRICS_PORT", str(mlserver.METRICS_PORT)),
)

DOCKERFILE = (
    """\
# Build context of the MLServer runtime {implementation} (protocol v2), MLServer {mlserver}.
# Written by fadi-seldon package --runtime mlserver; build with: docker build -t {image} .
"""
    + build_context.DOCKERFILE_COMMON
    + """
# The ports Seldon Core gives a v2 model container: REST 9000, gRPC 9500, metrics 6000 (MLServer's
# own defaults are 8080/8081/8082). The operator's MLSERVER_* variables, when set, override these.
{server_env}
EXPOSE {ports}
# MLServer is PID 1 and handles SIGTERM itself (stops its servers and inference workers).
CMD {command}
"""
)


def find_runtime(folder: Path, class_ref: str | None) -> ModelClass:
    """The class subclassing MLModel: `--class module.Class`, or the one such class in DIR's *.py."""
    if class_ref:
        module, _, name = class_ref.rpartition(".")
        if not module or not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", class_ref):
            raise PackageError(
                f"--class {class_ref!r}: an MLServer runtime is named module.Class (e.g. model.IrisRuntime)"
            )
        cls = build_context.named_class(folder, module, name, class_ref)
    else:
        cls = build_context.only_class(
            folder,
            lambda c: BASE_CLASS in c.external_bases,
            lambda seen: (
                f"no class subclasses mlserver.{BASE_CLASS}; classes seen: {seen}. Write "
                "`class MyModel(MLModel)` with `async def load(self)` and `async def predict(self, payload)`, "
                "or use --runtime seldon for a Seldon-wrapper class"
            ),
            lambda listing: f"several MLServer runtimes: {listing}; choose with --class module.Class",
            lambda c: f"{c.module}.{c.name}",
        )
    if "predict" not in cls.methods:
        raise PackageError(
            f"{cls.where()}: class {cls.name} has no predict() method, which MLServer calls for each "
            "inference request. Add `async def predict(self, payload: InferenceRequest) -> InferenceResponse`"
        )
    return cls


def implementation(cls: ModelClass) -> str:
    """model-settings.json's `implementation`: the import path MLServer loads (module.Class)."""
    return f"{cls.module}.{cls.name}"


def image_spec() -> build_context.ImageSpec:
    return build_context.ImageSpec(
        env=build_context.BUILD_ENV + SERVER_ENV,
        workdir=build_context.WORKDIR,
        user=build_context.RUN_AS_UID,
        ports=PORTS,
        exec_command=COMMAND,
    )


def requirements(folder: Path) -> tuple[str, list[str]]:
    version = versions.get("MLSERVER_VERSION")
    pins = [
        f"mlserver=={version}",
        f"# MLServer {version} leaves these open; their newer releases break it (see fadi_seldon.model.mlserver)",
        *mlserver.CONSTRAINTS,
    ]
    return build_context.merged_requirements(
        folder, pins, ("mlserver", "uvloop", "numpy", "pandas"), REQUIREMENTS_FILE
    )


def dockerfile(cls: ModelClass, image: str, spec: build_context.ImageSpec) -> str:
    return DOCKERFILE.format(
        implementation=implementation(cls),
        mlserver=versions.get("MLSERVER_VERSION"),
        image=image,
        base_image=build_context.BASE_IMAGE,
        build_env=build_context.env_instruction(build_context.BUILD_ENV),
        workdir=spec.workdir,
        requirements_file=REQUIREMENTS_FILE,
        run_as_uid=spec.user,
        server_env=build_context.env_instruction(SERVER_ENV),
        ports=" ".join(str(port) for port in spec.ports),
        command=json.dumps(list(COMMAND)),
    )


def deployment(name: str, image: str, no_engine: bool) -> str:
    """A one-node SeldonDeployment with `protocol: v2`, validated by graph.to_manifest."""
    node = graph.Node(name=name, type="MODEL", image=image)
    annotations = {schema.ANNOTATION_NO_ENGINE: "true"} if no_engine else {}
    predictor = graph.Predictor(name="default", graph=node, replicas=1, annotations=annotations)
    dep = graph.Deployment(name=name, predictors=[predictor], protocol="v2")
    return (
        f"# SeldonDeployment (protocol v2) for {image}, written by fadi-seldon package --runtime mlserver.\n"
        f"# Apply with: kubectl apply -f deployment.yaml\n" + graph.dump(graph.to_manifest(dep))
    )


def render(opts: Options) -> Rendered:
    """Every file of the MLServer build context; nothing is written."""
    if opts.service_type != "MODEL":
        raise PackageError(
            f"--runtime mlserver packages a MODEL; --service-type {opts.service_type} needs --runtime seldon"
        )
    folder = opts.folder
    cls = find_runtime(folder, opts.class_ref)
    name = opts.name or build_context.dns_name(cls.name)
    graph.check_dns_label(name, "--name", "name")
    image = opts.image or f"{name}:0.1.0"
    if not graph.is_image(image):
        raise PackageError(f"--image {image!r} is not an image reference (lower-case repo/name:tag)")
    reqs, notes = requirements(folder)
    if "load" not in cls.methods:
        notes.append(
            f"{cls.where()}: {cls.name} has no load(); MLServer's default marks it ready without loading anything"
        )
    spec = image_spec()
    settings = mlserver.model_settings(name, implementation(cls))
    files = {
        "Dockerfile": dockerfile(cls, image, spec),
        ".dockerignore": build_context.DOCKERIGNORE,
        REQUIREMENTS_FILE: reqs,
        SETTINGS_FILE: json.dumps(settings, indent=2) + "\n",
        "deployment.yaml": deployment(name, image, opts.no_engine),
    }
    files[build_context.STATE_FILE] = build_context.state_json(files, runtime="mlserver")
    return Rendered(files, cls, image, notes, spec, REQUIREMENTS_FILE)
