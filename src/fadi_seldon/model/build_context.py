"""What every runtime's build context shares: the image's settings, the class, requirements, writing.

`fadi-seldon package DIR` writes a Docker build context for the Seldon wrapper (packaging.py) or for
a custom MLServer runtime (mlserver_package.py). Both find their class by reading the source with
`ast` (user code is never imported: it may need packages this tool does not have, or do work at
import time), pin the server's requirements before the user's, and track the files they generate in
a small state file with their hashes, so a later run updates files it wrote and the user left alone,
and refuses (without --force) to touch anything the user wrote or edited.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from fadi_seldon import __version__
from fadi_seldon.runtime import versions
from fadi_seldon.runtime.files import atomic_write

# Slim official Python image; the wrapper of Seldon Core 1.17.1 supports Python 3.11.
BASE_IMAGE = versions.get("MODEL_BASE_IMAGE")
# Seldon's images run as this UID; a numeric USER also satisfies runAsNonRoot checks.
RUN_AS_UID = 8888
STATE_FILE = ".fadi-seldon-package.json"
# What the image is configured with, written once: the Dockerfile's ENV, WORKDIR, USER, EXPOSE and CMD
# are rendered from these, and fadi_seldon.images.model writes the same values into an OCI image
# config when it builds the image without Docker.
WORKDIR = "/app"
BUILD_ENV = (
    ("PYTHONDONTWRITEBYTECODE", "1"),
    ("PYTHONUNBUFFERED", "1"),
    ("PIP_NO_CACHE_DIR", "1"),
    ("PIP_DISABLE_PIP_VERSION_CHECK", "1"),
    ("HOME", WORKDIR),
)


@dataclass(frozen=True)
class ImageSpec:
    """The model image's runtime settings, as the Dockerfile states them."""

    env: tuple[tuple[str, str], ...]  # every ENV pair, in Dockerfile order
    workdir: str
    user: int
    ports: tuple[int, ...]
    shell_command: str = ""  # CMD in shell form, continuation lines joined as Docker joins them
    exec_command: tuple[str, ...] = ()  # or CMD in exec form (`CMD ["mlserver", "start", "."]`)

    @property
    def cmd(self) -> list[str]:
        """What Docker stores: the exec form as written, or the exec form of a shell-form CMD."""
        if self.exec_command:
            return list(self.exec_command)
        return ["/bin/sh", "-c", self.shell_command]


def env_instruction(pairs: tuple[tuple[str, str], ...]) -> str:
    return "ENV " + " \\\n    ".join(f"{key}={value}" for key, value in pairs)


# The part of a build context's Dockerfile every runtime shares (base, dependencies, files owned by a
# numeric non-root user): str.format fields, filled by packaging.render and mlserver_package.render.
DOCKERFILE_COMMON = """\
FROM {base_image}

{build_env}
WORKDIR {workdir}

# Dependencies first, so this layer is rebuilt only when the requirements change.
COPY {requirements_file} ./
RUN pip install -r {requirements_file}

# Numeric non-root user. Files belong to group 0 with the owner's permissions, so a random UID
# assigned by OpenShift (always a member of group 0) can read them too.
COPY --chown={run_as_uid}:0 . .
RUN chmod -R g=u {workdir}
USER {run_as_uid}
"""
DOCKERIGNORE = """\
# Written by fadi-seldon package: keep the image small and free of local state.
.git
.venv*
__pycache__/
*.py[cod]
.pytest_cache/
.ipynb_checkpoints/
*.bak
.dockerignore
Dockerfile
deployment.yaml
.fadi-seldon-package.json
"""
# service type -> (methods of which one is needed, wrapper --service-type)
# The wrapper has no OUTPUT_TRANSFORMER choice: it serves every endpoint whatever the type, so an
# output transformer runs as TRANSFORMER and the graph node says OUTPUT_TRANSFORMER.
SERVICE_TYPES: dict[str, tuple[tuple[str, ...], str]] = {
    "MODEL": (("predict", "predict_raw"), "MODEL"),
    "TRANSFORMER": (("transform_input", "transform_input_raw"), "TRANSFORMER"),
    "OUTPUT_TRANSFORMER": (("transform_output", "transform_output_raw"), "TRANSFORMER"),
    "ROUTER": (("route", "route_raw"), "ROUTER"),
    "COMBINER": (("aggregate", "aggregate_raw"), "COMBINER"),
}
# the SeldonComponent base of the wrapper defines every method as "not implemented"
_NEUTRAL_BASES = {"object", "SeldonComponent"}


class PackageError(ValueError):
    """The model folder cannot be packaged; the message says where and what to do."""


class FileExistsRefused(PackageError):
    """A file the user owns would be overwritten."""


@dataclass
class ModelClass:
    """A class found in the model folder, with what the wrapper needs to know about it."""

    module: str
    name: str
    file: Path
    line: int
    methods: set[str] = field(default_factory=set)
    external_bases: list[str] = field(default_factory=list)
    # method name -> its definition (None: bound by an assignment such as `route = _pick`)
    defs: dict[str, ast.FunctionDef | ast.AsyncFunctionDef | None] = field(
        default_factory=dict, repr=False, compare=False
    )

    @property
    def interface_name(self) -> str:
        """The wrapper's positional argument: `Module` when file and class share the name, else module.Class."""
        return self.name if self.module == self.name else f"{self.module}.{self.name}"

    def where(self) -> str:
        return f"{self.file}:{self.line}"


def _base_name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ast.unparse(node)


_Defs = dict[str, ast.FunctionDef | ast.AsyncFunctionDef | None]


def _own_methods(cls: ast.ClassDef) -> _Defs:
    """The methods a class body defines: its functions, and a wrapper method bound by an assignment
    (`route = staticmethod(_pick)`, whose signature is unknown here)."""
    wrapper_methods = {m for methods, _ in SERVICE_TYPES.values() for m in methods}
    out: _Defs = {}
    for node in cls.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            out[node.name] = node
        elif isinstance(node, ast.Assign) and not isinstance(node.value, ast.Constant):
            out.update(
                {t.id: None for t in node.targets if isinstance(t, ast.Name) and t.id in wrapper_methods}
            )
    return out


def classes_in(path: Path, module: str) -> list[ModelClass]:
    """Top-level classes of one file with their methods (bases defined in the same file included)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except SyntaxError as err:
        raise PackageError(f"{path}:{err.lineno}:{err.offset}: syntax error: {err.msg}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise PackageError(f"{path}: cannot read: {err}") from None
    local = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}

    def methods(cls: ast.ClassDef, seen: set[str]) -> tuple[_Defs, list[str]]:
        defs: _Defs = {}
        external: list[str] = []
        # the first base wins over the later ones, the class itself over its bases (Python's MRO)
        for base in reversed(cls.bases):
            bname = _base_name(base)
            if bname in local and bname not in seen:
                more, ext = methods(local[bname], seen | {bname})
                defs.update(more)
                external = ext + external
            elif bname not in _NEUTRAL_BASES:
                external.insert(0, bname)
        defs.update(_own_methods(cls))
        return defs, external

    out = []
    for cls in local.values():
        defs, external = methods(cls, {cls.name})
        out.append(ModelClass(module, cls.name, path, cls.lineno, set(defs), external, defs))
    return out


def _module_file(folder: Path, module: str) -> Path:
    rel = Path(*module.split("."))
    for candidate in (folder / rel.with_suffix(".py"), folder / rel / "__init__.py"):
        if candidate.is_file():
            return candidate
    raise PackageError(
        f"{folder}: no module {module!r} (looked for {rel.with_suffix('.py')} and {rel}/__init__.py)"
    )


def named_class(folder: Path, module: str, name: str, class_ref: str) -> ModelClass:
    """The top-level class `name` of `module` in `folder` (what `--class` names)."""
    path = _module_file(folder, module)
    found = [c for c in classes_in(path, module) if c.name == name]
    if not found:
        raise PackageError(f"{path}: no top-level class {name!r} (--class {class_ref})")
    return found[0]


def only_class(
    folder: Path,
    matches: Callable[[ModelClass], bool],
    none_found: Callable[[str], str],
    several: Callable[[str], str],
    describe: Callable[[ModelClass], str],
) -> ModelClass:
    """The one class of the folder's modules that `matches`; an error naming the others, or the
    several that match (the messages say what the runtime needs and how to choose)."""
    candidates: list[ModelClass] = []
    others: list[ModelClass] = []
    for path in sorted(folder.glob("*.py")):
        for c in classes_in(path, path.stem):
            (candidates if matches(c) else others).append(c)
    if not candidates:
        seen = ", ".join(f"{c.name} ({c.where()})" for c in others) or "none"
        raise PackageError(f"{folder}: {none_found(seen)}")
    if len(candidates) > 1:
        raise PackageError(
            f"{folder}: {several(', '.join(f'{describe(c)} ({c.where()})' for c in candidates))}"
        )
    return candidates[0]


@dataclass
class Options:
    folder: Path
    class_ref: str | None = None
    service_type: str = "MODEL"
    image: str | None = None
    name: str | None = None  # deployment and graph node name
    # the predictor runs without the Seldon executor (seldon.io/no-engine): one container, no graph
    # routing, for clusters that lack the executor image (the local node has it once `cluster load
    # --executor` built it from Seldon's source release)
    no_engine: bool = False
    runtime: str = "seldon"  # one of RUNTIMES: the Seldon Python wrapper, or a custom MLServer runtime


# how the packaged model is served: Seldon's Python wrapper (protocol seldon) or MLServer (protocol v2)
RUNTIMES = ("seldon", "mlserver")


def dns_name(class_name: str) -> str:
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|_", "-", class_name).lower()
    return re.sub(r"[^a-z0-9-]+", "-", words).strip("-")[:63].rstrip("-") or "model"


_REQ_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def merged_requirements(
    folder: Path, pins: list[str], owned: tuple[str, ...], target: str
) -> tuple[str, list[str]]:
    """The image's requirements (the file `target`): the server's pins first, then the user's lines
    (their own pins of the `owned` packages are replaced, with a note returned for each)."""
    lines = [
        f"# Written by fadi-seldon package from {folder.name}/requirements.txt; edit that file instead.",
        *pins,
    ]
    notes = []
    user = folder / "requirements.txt"
    if user.is_file():
        for lineno, raw in enumerate(user.read_text(encoding="utf-8").splitlines(), start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            match = _REQ_NAME.match(line)
            if match and not line.startswith("-"):
                canonical = re.sub(r"[-_.]+", "-", match.group(1)).lower()
                if canonical in owned:
                    notes.append(
                        f"{user}:{lineno}: {line!r} replaced by the pin above ({canonical} is set by the server)"
                    )
                    continue
            elif line.startswith(("-r", "-c", "--requirement", "--constraint")):
                notes.append(f"{user}:{lineno}: {line!r} refers to another file; only {target} is copied "
                             "before the install step, so list those requirements in requirements.txt")  # fmt: skip
            lines.append(line)
    return "\n".join(lines) + "\n", notes


@dataclass
class Rendered:
    """The build context's files (path relative to the folder -> content) and what they were made from."""

    files: dict[str, str]
    model: ModelClass
    image: str
    notes: list[str]
    spec: ImageSpec  # the image's runtime settings (what the Dockerfile says)
    requirements_file: str  # the pinned requirements the image installs


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def state_json(files: dict[str, str], runtime: str | None = None) -> str:
    """Hashes of what was written: a later run may replace exactly these contents and nothing else.
    `runtime` (absent for the Seldon wrapper) tells `serve DIR` which server runs the folder."""
    state: dict = {"generator": f"fadi-seldon {__version__}"}
    if runtime is not None:
        state["runtime"] = runtime
    state["files"] = {k: _sha(v) for k, v in sorted(files.items())}
    return json.dumps(state, indent=2) + "\n"


def packaged_runtime(folder: Path) -> str:
    """The runtime `package` wrote `folder` for ("seldon" when not packaged, or packaged for the wrapper)."""
    try:
        state = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "seldon"
    runtime = state.get("runtime", "seldon") if isinstance(state, dict) else "seldon"
    return runtime if runtime in RUNTIMES else "seldon"


@dataclass
class Planned:
    path: str
    action: str  # create | update | unchanged | conflict | overwrite


def plan(folder: Path, files: dict[str, str], force: bool = False) -> list[Planned]:
    """What writing `files` into `folder` would do to each file."""
    recorded: dict[str, str] = {}
    state_path = folder / STATE_FILE
    if state_path.is_file():
        try:
            recorded = json.loads(state_path.read_text(encoding="utf-8")).get("files", {})
        except (ValueError, OSError, AttributeError):
            recorded = {}
    out = []
    for rel, content in files.items():
        path = folder / rel
        if not path.exists():
            out.append(Planned(rel, "create"))
            continue
        try:
            current = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            current = None
        if current == content:
            out.append(Planned(rel, "unchanged"))
        elif rel == STATE_FILE or (current is not None and recorded.get(rel) == _sha(current)):
            out.append(Planned(rel, "update"))
        else:
            out.append(Planned(rel, "overwrite" if force else "conflict"))
    return out


def write(folder: Path, files: dict[str, str], force: bool = False) -> list[Planned]:
    """Write the build context; refuse before writing anything if a user file would be replaced."""
    steps = plan(folder, files, force)
    conflicts = [s.path for s in steps if s.action == "conflict"]
    if conflicts:
        raise FileExistsRefused(
            f"{folder}: {', '.join(conflicts)} {'exists' if len(conflicts) == 1 else 'exist'} and "
            "fadi-seldon did not write it as it is now (yours, or edited since); pass --force to replace them (backups FILE.bak are kept), or --dry-run to see the plan"
        )
    for step in steps:
        path = folder / step.path
        if step.action == "overwrite":
            path.with_name(path.name + ".bak").write_bytes(path.read_bytes())
        if step.action in ("create", "update", "overwrite"):
            atomic_write(path, files[step.path])
    return steps
