"""Turn a folder holding a Python model class into a Docker build context for the Seldon wrapper.

The class must have the method its service type needs, with parameters the wrapper's call binds to.
`render` computes the files of either runtime: `--runtime mlserver` is mlserver_package's. What both
runtimes share (finding the class with `ast`, the image's settings, requirements, the state file
with hashes and the writing that never replaces a user's file) is build_context's; its names that
callers use are importable from here too.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

from fadi_seldon.model import build_context, mlserver_package
from fadi_seldon.model.build_context import (
    BASE_IMAGE,
    BUILD_ENV,
    DOCKERFILE_COMMON,
    DOCKERIGNORE,
    RUN_AS_UID,
    SERVICE_TYPES,
    STATE_FILE,
    WORKDIR,
    ImageSpec,
    ModelClass,
    Options,
    PackageError,
    Rendered,
    classes_in,
    dns_name,
    env_instruction,
    merged_requirements,
    named_class,
    only_class,
    state_json,
)
from fadi_seldon.model.serving import WRAPPER_GRPC_PORT, WRAPPER_HTTP_PORT, WRAPPER_METRICS_PORT
from fadi_seldon.runtime import versions
from fadi_seldon.sdep import graph, schema

# Shell-form CMD of the image (Dockerfile continuation lines). On TERM/INT the shell ignores further
# signals and sends TERM to its whole process group, i.e. every wrapper process; it then waits for
# the wrapper to finish. tests/test_serve.py runs exactly this command and stops it.
STOP_FORWARDING_CMD = """trap 'trap "" TERM INT; kill -TERM 0' TERM INT; \\
    seldon-core-microservice "$MODEL_NAME" --service-type "$SERVICE_TYPE" & \\
    wait $!; status=$?; wait $! 2>/dev/null; exit $status"""
REQUIREMENTS_FILE = "requirements-seldon.txt"
# what callers do with what `render` computed (build_context's), reachable beside it
packaged_runtime, plan, write = build_context.packaged_runtime, build_context.plan, build_context.write
EXPOSED_PORTS = (WRAPPER_HTTP_PORT, WRAPPER_GRPC_PORT, WRAPPER_METRICS_PORT)


def model_env(interface_name: str, wrapper_type: str) -> tuple[tuple[str, str], ...]:
    return (("MODEL_NAME", interface_name), ("SERVICE_TYPE", wrapper_type))


def image_spec(interface_name: str, wrapper_type: str) -> ImageSpec:
    return ImageSpec(
        env=BUILD_ENV + model_env(interface_name, wrapper_type),
        workdir=WORKDIR,
        user=RUN_AS_UID,
        ports=EXPOSED_PORTS,
        shell_command=STOP_FORWARDING_CMD.replace("\\\n", ""),
    )


# The Seldon wrapper's Dockerfile.
DOCKERFILE = (
    """\
# Build context of {interface_name} ({service_type}) for the Seldon Core {seldon} Python wrapper.
# Written by fadi-seldon package; build with: docker build -t {image} .
"""
    + DOCKERFILE_COMMON
    + """
{model_env}
# REST, gRPC and Prometheus metrics ports of the wrapper (the operator may override them).
EXPOSE {ports}
# The shell stays PID 1 and passes the stop signal to every process of the wrapper: on SIGTERM the
# wrapper's main process waits forever for its gRPC worker, so `docker stop` or a pod deletion would
# hang until SIGKILL. Exit status: the wrapper's own, or 143 after a stop.
CMD {stop_command}
"""
)
# the combiner gets the list of its children's outputs
_FIRST_ARG = {"aggregate": "Xs"}
# The wrapper's calls (seldon_core.user_model, 1.17.1): X and the feature names by position, plus
# `meta=` by keyword, retried without it on a TypeError; aggregate() never gets `meta`; a *_raw
# method gets the whole message.
_META_CALL = {"predict", "transform_input", "transform_output", "route"}


def find_class(folder: Path, class_ref: str | None, service_type: str) -> ModelClass:
    """The class to serve: `--class Module`, `--class module.Class`, or the one class with the needed method."""
    if service_type not in SERVICE_TYPES:
        raise PackageError(f"service type {service_type!r} is not one of {', '.join(SERVICE_TYPES)}")
    if class_ref:
        module, _, name = class_ref.rpartition(".")
        module = module or name
        if not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", class_ref):
            raise PackageError(
                f"--class {class_ref!r}: expected a Python name like IrisModel or module.IrisModel"
            )
        cls = named_class(folder, module, name, class_ref)
    else:
        needed = SERVICE_TYPES[service_type][0]
        cls = only_class(
            folder,
            lambda c: bool(c.methods & set(needed)),
            lambda seen: (
                f"no class defines {needed[0]}() for service type {service_type}; classes seen: {seen}. "
                f"Add `{_stub(needed[0])}: ...` to your class, or name the class with --class"
                + "".join(f". {hint}" for hint in _folder_hints(folder))
            ),
            lambda listing: f"several classes could serve {service_type}: {listing}; choose with --class",
            lambda c: c.interface_name,
        )
    check_methods(cls, service_type)
    return cls


def _stub(method: str) -> str:
    """The signature to write for `method`, as the wrapper calls it."""
    if method.endswith("_raw"):
        return f"def {method}(self, msg)"
    return f"def {method}(self, {_FIRST_ARG.get(method, 'X')}, features_names=None)"


def _type_hint(cls: ModelClass) -> str | None:
    """Which other service type the class is written for, if its methods say so."""
    for service_type, (methods, _) in SERVICE_TYPES.items():
        found = [m for m in methods if m in cls.methods]
        if found:
            return f"{cls.name} defines {found[0]}(): package it with --service-type {service_type}"
    return None


def _folder_hints(folder: Path) -> list[str]:
    hints = []
    for path in sorted(folder.glob("*.py")):
        try:
            hints += [h for c in classes_in(path, path.stem) if (h := _type_hint(c))]
        except PackageError:
            continue
    return hints


def check_methods(cls: ModelClass, service_type: str) -> None:
    """Refuse a class the wrapper could not call for `service_type`: the method is missing, or its
    parameters cannot take the wrapper's call. A method that may come from a base class defined
    elsewhere is left to the wrapper."""
    needed = SERVICE_TYPES[service_type][0]
    if not cls.methods & set(needed):
        if cls.external_bases:
            return
        defined = ", ".join(sorted(cls.methods)) or "none"
        hint = _type_hint(cls)
        raise PackageError(
            f"{cls.where()}: class {cls.name} has no {needed[0]}() method, which service type {service_type} "
            f"needs (methods defined: {defined}). Add `{_stub(needed[0])}: ...` to the class, "
            "or choose the matching --service-type" + (f" ({hint})" if hint else "")
        )
    for method in needed:
        fn = cls.defs.get(method)
        if fn is not None and (problem := _call_problem(method, fn)):
            raise PackageError(
                f"{cls.file}:{fn.lineno}: {cls.name}.{method}() {problem}, so the wrapper cannot call it "
                f"for service type {service_type}. Write `{_stub(method)}`"
            )


def _signature(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> inspect.Signature:
    """The parameters of a method as written (default values replaced by None: only their presence counts)."""
    args, param = fn.args, inspect.Parameter
    positional = [*args.posonlyargs, *args.args]
    first_default = len(positional) - len(args.defaults)
    params = [
        param(
            a.arg,
            param.POSITIONAL_ONLY if i < len(args.posonlyargs) else param.POSITIONAL_OR_KEYWORD,
            default=None if i >= first_default else param.empty,
        )
        for i, a in enumerate(positional)
    ]
    if args.vararg:
        params.append(param(args.vararg.arg, param.VAR_POSITIONAL))
    for a, default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        params.append(param(a.arg, param.KEYWORD_ONLY, default=param.empty if default is None else None))
    if args.kwarg:
        params.append(param(args.kwarg.arg, param.VAR_KEYWORD))
    return inspect.Signature(params)


def _call_problem(method: str, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    """Why the wrapper's call of `method` would fail on `fn`'s parameters, or None when one of its calls binds."""
    if isinstance(fn, ast.AsyncFunctionDef):
        return "is `async def`, and the wrapper calls it without awaiting the result"
    signature = _signature(fn)
    static = any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in fn.decorator_list)
    receiver = () if static else ("self",)
    calls: list[tuple[tuple[str, ...], dict[str, object]]]
    if method.endswith("_raw"):
        calls = [((*receiver, "msg"), {})]
    else:
        calls = [((*receiver, "X", "names"), {})]
        if method in _META_CALL:
            calls.insert(0, ((*receiver, "X", "names"), {"meta": {}}))
    for positional, keywords in calls:
        try:
            signature.bind(*positional, **keywords)
            return None
        except TypeError:
            continue
    arguments = "(msg)" if method.endswith("_raw") else f"({_FIRST_ARG.get(method, 'X')}, features_names)"
    return f"has the parameters {signature}, which cannot take the arguments {arguments}"


def wrapper_pins() -> list[str]:
    seldon = versions.get("PY_SELDON_CORE")
    return [
        f"seldon-core=={seldon}",
        f"# seldon-core {seldon} runs gunicorn 20.1, which imports pkg_resources (removed in setuptools 81)",
        f"setuptools<{versions.get('PY_SETUPTOOLS_MAX')}",
    ]


def requirements(folder: Path) -> tuple[str, list[str]]:
    """The wrapper image's requirements: its pins, then the user's requirements.txt."""
    return merged_requirements(folder, wrapper_pins(), ("seldon-core", "setuptools"), REQUIREMENTS_FILE)


def render(opts: Options) -> Rendered:
    """Compute every file of the build context; nothing is written."""
    folder = opts.folder
    if not folder.is_dir():
        raise PackageError(f"{folder}: not a directory")
    if opts.runtime == "mlserver":
        return mlserver_package.render(opts)
    cls = find_class(folder, opts.class_ref, opts.service_type)
    wrapper_type = SERVICE_TYPES[opts.service_type][1]
    name = opts.name or dns_name(cls.name)
    graph.check_dns_label(name, "--name", "name")
    image = opts.image or f"{name}:0.1.0"
    if not graph.is_image(image):
        raise PackageError(f"--image {image!r} is not an image reference (lower-case repo/name:tag)")
    reqs, notes = requirements(folder)
    files: dict[str, str] = {}
    files["Dockerfile"] = DOCKERFILE.format(
        interface_name=cls.interface_name,
        service_type=opts.service_type,
        wrapper_type=wrapper_type,
        seldon=versions.get("PY_SELDON_CORE"),
        image=image,
        base_image=BASE_IMAGE,
        requirements_file=REQUIREMENTS_FILE,
        run_as_uid=RUN_AS_UID,
        build_env=env_instruction(BUILD_ENV),
        workdir=WORKDIR,
        model_env=env_instruction(model_env(cls.interface_name, wrapper_type)),
        ports=" ".join(str(port) for port in EXPOSED_PORTS),
        stop_command=STOP_FORWARDING_CMD,
    )
    files[".dockerignore"] = DOCKERIGNORE
    files[REQUIREMENTS_FILE] = reqs
    # s2i's assemble script insists on PERSISTENCE even though the wrapper ignores it.
    files[".s2i/environment"] = (
        f"MODEL_NAME={cls.interface_name}\nSERVICE_TYPE={wrapper_type}\nPERSISTENCE=0\n"
    )
    if opts.service_type in ("MODEL", "TRANSFORMER", "OUTPUT_TRANSFORMER"):
        node = graph.Node(name=name, type=opts.service_type, image=image)
        annotations = {schema.ANNOTATION_NO_ENGINE: "true"} if opts.no_engine else {}
        predictor = graph.Predictor(name="default", graph=node, replicas=1, annotations=annotations)
        dep = graph.Deployment(name=name, predictors=[predictor])
        files["deployment.yaml"] = (
            f"# SeldonDeployment for {image}, written by fadi-seldon package.\n"
            f"# Apply with: kubectl apply -f deployment.yaml\n" + graph.dump(graph.to_manifest(dep))
        )
    else:
        notes.append(
            f"no deployment.yaml for a {opts.service_type}: it needs children; generate a graph with "
            f"`fadi-seldon new NAME --{opts.service_type.lower()} {name}={image} --model ...`"
        )
    files[STATE_FILE] = state_json(files)
    return Rendered(files, cls, image, notes, image_spec(cls.interface_name, wrapper_type), REQUIREMENTS_FILE)
