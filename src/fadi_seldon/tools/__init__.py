"""Install the project's external tools, pinned by versions.env, into a git-ignored folder.

Every tool is resolved from the first source that works, in this order:

1. ``path``: already on PATH at the pinned version (nothing is built or downloaded);
2. ``release``: the official release download (machines with internet);
3. ``go``: a ``go build`` from the Go module proxy, inside a small wrapper module that
   carries the replace directives ``go install`` refuses, with the ldflags that stamp
   the version (see ../shared/research/chart-tooling.md).

Installed tools live in ``.tools/pkgs/<tool>/<version>/`` with a stamp file; ``.tools/bin``
holds the links (or tiny env wrappers) the Makefile puts first on PATH. A tool whose stamp
and binary are present and whose binary reports the pinned version is left alone, so a
second ``make tools`` only runs the version commands.

Adding a tool is one entry in :func:`registry`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

from fadi_seldon.runtime import versions

SOURCES = ("path", "release", "go")


class ToolError(RuntimeError):
    """A tool could not be installed; the message names the tool, sources tried and a fix."""


# --------------------------------------------------------------------------- tool entries


@dataclasses.dataclass(frozen=True)
class Artifact:
    """One file of a release: a URL, and which archive members become which executables."""

    url: str
    members: dict[str, str]  # archive member (or "" for a bare binary) -> file name in bin/ (or etc/...)
    sha256_url: str | None = None


@dataclasses.dataclass(frozen=True)
class GoRecipe:
    """How to build a tool from the Go module proxy."""

    module: str
    binaries: dict[str, str]  # executable name -> Go package path
    ldflags: Callable[[BuildContext], list[str]] = lambda ctx: []
    replaces: Callable[[BuildContext], list[tuple[str, str]]] = lambda ctx: []
    module_files: dict[str, str] = dataclasses.field(
        default_factory=dict
    )  # module-relative src -> dest in pkg dir


@dataclasses.dataclass(frozen=True)
class Tool:
    name: str
    version_key: str
    executables: tuple[str, ...]
    group: str  # one of GROUPS
    version_args: tuple[str, ...] = ()
    version_pattern: str = ""  # regex with one group capturing the reported version
    release: Callable[[str, str, str], list[Artifact]] | None = None  # (version, os, arch)
    go: GoRecipe | None = None
    env_defaults: dict[str, str] = dataclasses.field(default_factory=dict)  # set in a wrapper script
    after_install: Callable[[Toolchain, Tool, Path], None] | None = None
    requires: tuple[str, ...] = ()
    path_names: tuple[str, ...] = ()  # names to look for on PATH (default: executables[0])
    pin: str | None = None  # explicit version instead of versions.env (tests, one-off overrides)
    # For binaries that cannot print their version (helm-unittest): the Go module whose version the
    # binary's embedded build info records ("mod" or "dep" line), read from the file itself.
    buildinfo_module: str | None = None

    @property
    def version(self) -> str:
        return self.pin or versions.get(self.version_key)

    def matches(self, reported: str) -> bool:
        return reported.lstrip("v") == self.version.lstrip("v")


@dataclasses.dataclass
class BuildContext:
    tool: Tool
    version: str
    module_dir: Path
    go_mod_text: str

    def required_version(self, module: str) -> str:
        """Version of a module the tool's go.mod requires, e.g. client-go."""
        match = re.search(rf"^\s*(?:require\s+)?{re.escape(module)}\s+(v\S+)", self.go_mod_text, re.M)
        if not match:
            raise ToolError(f"{self.tool.name}: its go.mod does not require {module}")
        return match.group(1)

    def staging_modules(self) -> list[str]:
        """k8s.io/* modules that k8s.io/kubernetes requires at v0.0.0 (its ./staging tree)."""
        return sorted(set(re.findall(r"^\s*(k8s\.io/[\w.-]+)\s+v0\.0\.0\b", self.go_mod_text, re.M)))


def _helm_release(major: str):
    def artifacts(version: str, os_name: str, arch: str) -> list[Artifact]:
        url = f"https://get.helm.sh/helm-{version}-{os_name}-{arch}.tar.gz"
        return [Artifact(url, {f"{os_name}-{arch}/helm": major}, sha256_url=url + ".sha256sum")]

    return artifacts


def _helm3_ldflags(ctx: BuildContext) -> list[str]:
    # helm v3 does not derive its default Kubernetes version from client-go: stamp it, or
    # charts with kubeVersion ">=1.25.0-0" fail to template (default would be v1.20.0).
    client_go = ctx.required_version("k8s.io/client-go")  # v0.37.0 -> Kubernetes 1.37
    minor = client_go.split(".")[1]
    flags = [f"-X helm.sh/helm/v3/internal/version.version={ctx.version}"]
    for pkg in ("helm.sh/helm/v3/pkg/chartutil", "helm.sh/helm/v3/pkg/lint/rules"):
        flags += [f"-X {pkg}.k8sVersionMajor=1", f"-X {pkg}.k8sVersionMinor={minor}"]
    return flags


def _k8s_ldflags(ctx: BuildContext) -> list[str]:
    major, minor = ctx.version.lstrip("v").split(".")[:2]
    flags = []
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [
            f"-X {pkg}.gitVersion={ctx.version}",
            f"-X {pkg}.gitMajor={major}",
            f"-X {pkg}.gitMinor={minor}",
            f"-X {pkg}.gitTreeState=clean",
            f"-X {pkg}.buildDate=1970-01-01T00:00:00Z",
        ]
    return flags


def _k8s_replaces(ctx: BuildContext) -> list[tuple[str, str]]:
    # k8s.io/kubernetes requires its staging modules at v0.0.0 (replaced by ./staging upstream);
    # v0.X.Y of each staging module is the release of v1.X.Y.
    staging_version = "v0." + ctx.version.lstrip("v").split(".", 1)[1]
    return [(f"{m}@v0.0.0", f"{m}@{staging_version}") for m in ctx.staging_modules()]


def _upstream_replaces(ctx: BuildContext) -> list[tuple[str, str]]:
    """The replace directives of the tool's own go.mod, re-stated for the wrapper module.

    `go install` and a consumer module both ignore a dependency's replace directives; copying
    them keeps the build on the versions upstream tested. Directory replaces (`=> ../x`) cannot
    apply outside upstream's tree and are skipped.
    """
    text = re.sub(r"//[^\n]*", "", ctx.go_mod_text)
    lines = re.findall(r"^\s*replace\s+([^(\s][^\n]*)$", text, re.M)
    for block in re.findall(r"^\s*replace\s*\((.*?)\)", text, re.M | re.S):
        lines += [line for line in block.splitlines() if line.strip()]
    replaces = []
    for line in lines:
        old, _, new = (part.strip() for part in line.partition("=>"))
        old_parts, new_parts = old.split(), new.split()
        if len(new_parts) != 2:  # a local directory
            continue
        old_ref = "@".join(old_parts)
        replaces.append((old_ref, f"{new_parts[0]}@{new_parts[1]}"))
    return replaces


def _register_unittest_plugin(chain: Toolchain, tool: Tool, pkg_dir: Path) -> None:
    """Register helm-unittest as a helm plugin without its download hook (offline)."""
    plugin_dir = chain.helm_plugins_dir / "unittest"
    plugin_dir.mkdir(parents=True, exist_ok=True)
    link = plugin_dir / "untt"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(pkg_dir / "bin" / "untt")
    # Helm 3 reads plugin.yaml strictly: only known keys, and no hooks.
    (plugin_dir / "plugin.yaml").write_text(
        "name: unittest\n"
        f'version: "{tool.version.lstrip("v")}"\n'
        'usage: "unit test for helm charts"\n'
        'description: "helm-unittest, built and registered offline by fadi-seldon"\n'
        "ignoreFlags: false\n"
        "platformCommand:\n"
        '  - command: "$HELM_PLUGIN_DIR/untt"\n',
        encoding="utf-8",
    )


def _install_ct_config(chain: Toolchain, tool: Tool, pkg_dir: Path) -> None:
    """Expose ct's lintconf.yaml and chart_schema.yaml at a stable path."""
    etc = chain.tools_dir / "ct" / "etc"
    etc.mkdir(parents=True, exist_ok=True)
    for name in ("lintconf.yaml", "chart_schema.yaml"):
        src = pkg_dir / "etc" / name
        if not src.is_file():
            raise ToolError(f"ct: {src} is missing from the installed package")
        shutil.copyfile(src, etc / name)


def registry() -> dict[str, Tool]:
    """Every external tool of the project. One entry per tool."""
    tools = [
        Tool(
            name="helm",
            version_key="HELM_VERSION",
            executables=("helm",),
            version_args=("version", "--template", "{{.Version}}"),
            version_pattern=r"^(v?\d+\.\d+\.\d+\S*)",
            group="chart",
            release=_helm_release("helm"),
            go=GoRecipe("helm.sh/helm/v3", {"helm": "helm.sh/helm/v3/cmd/helm"}, ldflags=_helm3_ldflags),
            env_defaults={"HELM_PLUGINS": "{helm_plugins}"},
        ),
        Tool(
            name="helm4",
            version_key="HELM4_VERSION",
            executables=("helm4",),
            version_args=("version", "--template", "{{.Version}}"),
            version_pattern=r"^(v?\d+\.\d+\.\d+\S*)",
            group="chart",
            release=_helm_release("helm4"),
            go=GoRecipe(
                "helm.sh/helm/v4",
                {"helm4": "helm.sh/helm/v4/cmd/helm"},
                # v4 derives its default Kubernetes version from client-go; only the version string.
                ldflags=lambda ctx: [f"-X helm.sh/helm/v4/internal/version.version={ctx.version}"],
            ),
            env_defaults={"HELM_PLUGINS": "{helm_plugins}"},
        ),
        Tool(
            name="ct",
            version_key="CT_VERSION",
            executables=("ct",),
            version_args=("version",),
            version_pattern=r"Version:\s*(v?\d+\.\d+\.\d+\S*)",
            group="chart",
            release=lambda v, o, a: [
                Artifact(
                    f"https://github.com/helm/chart-testing/releases/download/{v}/chart-testing_{v.lstrip('v')}_{o}_{a}.tar.gz",
                    {
                        "ct": "ct",
                        "etc/lintconf.yaml": "etc/lintconf.yaml",
                        "etc/chart_schema.yaml": "etc/chart_schema.yaml",
                    },
                )
            ],
            go=GoRecipe(
                "github.com/helm/chart-testing/v3",
                {"ct": "github.com/helm/chart-testing/v3/ct"},
                ldflags=lambda ctx: [f"-X github.com/helm/chart-testing/v3/ct/cmd.Version={ctx.version}"],
                module_files={
                    "etc/lintconf.yaml": "etc/lintconf.yaml",
                    "etc/chart_schema.yaml": "etc/chart_schema.yaml",
                },
            ),
            after_install=_install_ct_config,
        ),
        Tool(
            name="helm-unittest",
            version_key="HELM_UNITTEST_VERSION",
            executables=("untt",),
            buildinfo_module="github.com/helm-unittest/helm-unittest",
            group="chart",
            release=lambda v, o, a: [
                Artifact(
                    f"https://github.com/helm-unittest/helm-unittest/releases/download/{v}/helm-unittest-{o}-{a}-{v.lstrip('v')}.tgz",
                    {"untt": "untt"},
                )
            ],
            go=GoRecipe(
                "github.com/helm-unittest/helm-unittest",
                {"untt": "github.com/helm-unittest/helm-unittest/cmd/helm-unittest"},
                ldflags=lambda ctx: [
                    f"-X github.com/helm-unittest/helm-unittest/internal/build.version={ctx.version.lstrip('v')}"
                ],
                replaces=lambda ctx: [
                    (
                        "github.com/vmware-labs/yaml-jsonpath@v0.3.2",
                        "github.com/helm-unittest/yaml-jsonpath@v0.4.0",
                    )
                ],
            ),
            after_install=_register_unittest_plugin,
            requires=("helm",),
        ),
        Tool(
            name="etcd",
            version_key="ETCD_VERSION",
            executables=("etcd",),
            version_args=("--version",),
            version_pattern=r"etcd Version:\s*(\S+)",
            group="cluster",
            release=lambda v, o, a: [
                Artifact(
                    f"https://github.com/etcd-io/etcd/releases/download/{v}/etcd-{v}-{o}-{a}.tar.gz",
                    {f"etcd-{v}-{o}-{a}/etcd": "etcd"},
                )
            ],
            go=GoRecipe("go.etcd.io/etcd/server/v3", {"etcd": "go.etcd.io/etcd/server/v3"}),
        ),
        Tool(
            name="kubernetes",
            version_key="KUBERNETES_VERSION",
            executables=("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl"),
            version_args=("--version",),
            version_pattern=r"Kubernetes\s+(v\S+)",
            group="cluster",
            release=lambda v, o, a: [
                Artifact(
                    f"https://dl.k8s.io/release/{v}/bin/{o}/{a}/{exe}",
                    {"": exe},
                    sha256_url=f"https://dl.k8s.io/release/{v}/bin/{o}/{a}/{exe}.sha256",
                )
                for exe in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")
            ],
            go=GoRecipe(
                "k8s.io/kubernetes",
                {
                    "kube-apiserver": "k8s.io/kubernetes/cmd/kube-apiserver",
                    "kube-controller-manager": "k8s.io/kubernetes/cmd/kube-controller-manager",
                    "kube-scheduler": "k8s.io/kubernetes/cmd/kube-scheduler",
                    "kubectl": "k8s.io/kubernetes/cmd/kubectl",
                },
                ldflags=_k8s_ldflags,
                replaces=_k8s_replaces,
            ),
        ),
        Tool(
            name="kwok",
            version_key="KWOK_VERSION",
            executables=("kwok",),
            version_args=("--version",),
            version_pattern=r"(v?\d+\.\d+\.\d+)",
            group="cluster",
            release=lambda v, o, a: [
                Artifact(
                    f"https://github.com/kubernetes-sigs/kwok/releases/download/{v}/kwok-{o}-{a}",
                    {"": "kwok"},
                )
            ],
            go=GoRecipe(
                "sigs.k8s.io/kwok",
                {"kwok": "sigs.k8s.io/kwok/cmd/kwok"},
                ldflags=lambda ctx: [f"-X sigs.k8s.io/kwok/pkg/consts.Version={ctx.version.lstrip('v')}"],
            ),
        ),
        Tool(
            name="seldon-operator",
            version_key="SELDON_OPERATOR_MODULE_VERSION",
            executables=("seldon-operator",),
            # the manager has no --version flag: its build info records the module version
            buildinfo_module="github.com/seldonio/seldon-core/operator",
            group="operator",
            release=None,  # upstream ships only container images, no binary to download
            go=GoRecipe(
                "github.com/seldonio/seldon-core/operator",
                {"seldon-operator": "github.com/seldonio/seldon-core/operator"},
                replaces=_upstream_replaces,
            ),
        ),
    ]
    return {t.name: t for t in tools}


GROUPS = ("chart", "cluster", "operator")


def select(names: Sequence[str], tools: dict[str, Tool] | None = None) -> list[Tool]:
    """Tools named (or groups named) plus what they require, in dependency order."""
    tools = tools if tools is not None else registry()
    wanted: list[str] = []
    for name in names or ["all"]:
        if name == "all":
            wanted += list(tools)
        elif name in GROUPS:
            wanted += [t.name for t in tools.values() if t.group == name]
        elif name in tools:
            wanted.append(name)
        else:
            known = ", ".join([*tools, *GROUPS, "all"])
            raise ToolError(f"unknown tool {name!r}; known tools and groups: {known}")
    ordered: list[str] = []

    def visit(n: str) -> None:
        if n in ordered:
            return
        for dep in tools[n].requires:
            visit(dep)
        ordered.append(n)

    for n in wanted:
        visit(n)
    return [tools[n] for n in ordered]


# --------------------------------------------------------------------------- progress


class Progress:
    """Prints what is happening, with elapsed time, and a heartbeat during long steps."""

    def __init__(self, stream=None, heartbeat: float = 30.0) -> None:
        self.stream = stream or sys.stderr
        self.heartbeat = heartbeat
        self.started = time.monotonic()

    def say(self, message: str) -> None:
        print(f"[tools {_elapsed(time.monotonic() - self.started)}] {message}", file=self.stream, flush=True)

    def run(
        self, label: str, argv: Sequence[str], *, cwd: Path | None, env: dict[str, str], log: Path
    ) -> int:
        """Run a command, appending its output to `log`, printing a heartbeat while it runs."""
        self.say(label)
        step_start = time.monotonic()
        with log.open("a", encoding="utf-8") as out:
            out.write(f"\n$ {' '.join(argv)}\n")
            out.flush()
            proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
            done = threading.Event()

            def beat() -> None:
                while not done.wait(self.heartbeat):
                    self.say(
                        f"  ... still {label.strip()} ({_elapsed(time.monotonic() - step_start)} so far)"
                    )

            t = threading.Thread(target=beat, daemon=True)
            t.start()
            try:
                rc = proc.wait()
            finally:
                done.set()
        return rc


def _elapsed(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m}m{s:02d}s" if m else f"{s}s"


# --------------------------------------------------------------------------- the toolchain


@dataclasses.dataclass
class Result:
    tool: str
    version: str
    source: str  # path | release | go | cached
    changed: bool
    seconds: float
    location: str


def _platform() -> tuple[str, str]:
    os_name = sys.platform if sys.platform != "linux2" else "linux"
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower(), platform.machine().lower()
    )
    return ("darwin" if os_name == "darwin" else "linux"), arch


def find_executable(name: str, bin_dir: Path | None = None) -> str | None:
    """An installed tool's executable: the project's tools folder first, then PATH."""
    candidate = (bin_dir or default_tools_dir() / "bin") / name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    return shutil.which(name)


def default_tools_dir() -> Path:
    return versions.local_dir(
        "FADI_TOOLS_DIR", ".tools", versions.user_dir("XDG_CACHE_HOME", ".cache", "tools")
    )


class Toolchain:
    """Resolves and installs tools. `runner`, `fetch` and `which` are injectable for tests."""

    def __init__(
        self,
        tools_dir: Path | None = None,
        *,
        sources: Sequence[str] | None = None,
        progress: Progress | None = None,
        fetch: Callable[[str], bytes] | None = None,
        which: Callable[[str, str], str | None] | None = None,
        go: str = "go",
    ) -> None:
        self.tools_dir = (tools_dir or default_tools_dir()).resolve()
        env_sources = os.environ.get("FADI_TOOLS_SOURCES")
        chosen = list(sources or (env_sources.split(",") if env_sources else SOURCES))
        for s in chosen:
            if s not in SOURCES:
                raise ToolError(
                    f"unknown tool source {s!r} (FADI_TOOLS_SOURCES); use some of {', '.join(SOURCES)}"
                )
        self.sources = chosen
        self.progress = progress or Progress()
        self.fetch = fetch or _fetch
        self.which = which or (lambda name, path: shutil.which(name, path=path))
        self.go = go
        self.os_name, self.arch = _platform()

    # layout
    @property
    def bin_dir(self) -> Path:
        return self.tools_dir / "bin"

    @property
    def helm_plugins_dir(self) -> Path:
        return self.tools_dir / "helm" / "plugins"

    def pkg_dir(self, tool: Tool) -> Path:
        return self.tools_dir / "pkgs" / tool.name / tool.version

    def stamp_path(self, tool: Tool) -> Path:
        return self.pkg_dir(tool) / "stamp.json"

    def log_path(self, tool: Tool) -> Path:
        return self.tools_dir / "logs" / f"{tool.name}-{tool.version}.log"

    def env(self) -> dict[str, str]:
        """Environment for running the installed tools (PATH first, helm plugins)."""
        env = dict(os.environ)
        env["PATH"] = f"{self.bin_dir}{os.pathsep}{env.get('PATH', '')}"
        env.setdefault("HELM_PLUGINS", str(self.helm_plugins_dir))
        return env

    # querying
    def reported_version(self, tool: Tool, exe: Path | str) -> str | None:
        if tool.buildinfo_module:
            return _buildinfo_version(Path(exe), tool.buildinfo_module)
        if not tool.version_pattern:
            return None
        try:
            proc = subprocess.run(
                [str(exe), *tool.version_args], capture_output=True, text=True, timeout=60, env=self.env()
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        match = re.search(tool.version_pattern, proc.stdout + proc.stderr, re.M)
        return match.group(1) if match else None

    def is_current(self, tool: Tool) -> bool:
        """Stamped, every executable present, and the first one reports the pinned version."""
        if not self.stamp_path(tool).is_file():
            return False
        if not all((self.bin_dir / exe).exists() for exe in tool.executables):
            return False
        reported = self.reported_version(tool, self.bin_dir / tool.executables[0])
        return reported is not None and tool.matches(reported)

    def status(self, tools: Sequence[Tool]) -> list[dict]:
        rows = []
        for tool in tools:
            stamp = {}
            if self.stamp_path(tool).is_file():
                stamp = json.loads(self.stamp_path(tool).read_text(encoding="utf-8"))
            rows.append(
                {
                    "tool": tool.name,
                    "pinned": tool.version,
                    "installed": self.is_current(tool),
                    "source": stamp.get("source"),
                    "executables": [str(self.bin_dir / e) for e in tool.executables],
                }
            )
        return rows

    # installing
    def install(self, tools: Sequence[Tool], *, force: bool = False) -> list[Result]:
        results = []
        for tool in tools:
            results.append(self.install_one(tool, force=force))
        return results

    def install_one(self, tool: Tool, *, force: bool = False) -> Result:
        start = time.monotonic()
        if not force and self.is_current(tool):
            return Result(
                tool.name, tool.version, "cached", False, time.monotonic() - start, str(self.pkg_dir(tool))
            )
        self.bin_dir.mkdir(parents=True, exist_ok=True)
        self.log_path(tool).parent.mkdir(parents=True, exist_ok=True)
        attempts: list[str] = []
        for source in self.sources:
            try:
                method = {"path": self._from_path, "release": self._from_release, "go": self._from_go}[source]
                location = method(tool)
            except ToolError as err:
                attempts.append(f"{source}: {err}")
                continue
            if location is None:
                continue
            self._finish(tool, source)
            seconds = time.monotonic() - start
            self.progress.say(f"{tool.name} {tool.version}: installed from {source} in {_elapsed(seconds)}")
            return Result(tool.name, tool.version, source, True, seconds, location)
        tried = "\n".join(f"    - {a}" for a in attempts) or "    (no source enabled)"
        raise ToolError(
            f"could not install {tool.name} {tool.version}.\n  sources tried:\n{tried}\n"
            f"  fix: {self._suggestion(tool)}"
        )

    def _suggestion(self, tool: Tool) -> str:
        hints = []
        if "go" in self.sources:
            hints.append(
                "check that Go works (`go version`, Go >= the module's go directive) and that the module proxy "
                f"is reachable (`go env GOPROXY`); the build log is {self.log_path(tool)}"
            )
        if "release" not in self.sources or "path" in self.sources:
            hints.append(
                f"or put {tool.executables[0]} {tool.version} on PATH yourself and run `make tools` again"
            )
        return "; ".join(hints) or "enable a source with FADI_TOOLS_SOURCES=path,release,go"

    def _finish(self, tool: Tool, source: str) -> None:
        pkg = self.pkg_dir(tool)
        for exe in tool.executables:
            self._expose(tool, exe, pkg / "bin" / exe)
        if tool.after_install:
            tool.after_install(self, tool, pkg)
        reported = self.reported_version(tool, self.bin_dir / tool.executables[0])
        if reported is None or not tool.matches(reported):
            raise ToolError(
                f"{tool.name}: installed from {source}, but `{tool.executables[0]} {' '.join(tool.version_args)}` "
                f"reports {reported!r}, not {tool.version}"
            )
        _atomic_write(
            self.stamp_path(tool),
            json.dumps({"tool": tool.name, "version": tool.version, "source": source, "time": time.time()})
            + "\n",
        )

    def _expose(self, tool: Tool, exe: str, target: Path) -> None:
        """Link the executable into bin/, or write a wrapper that sets env defaults."""
        dest = self.bin_dir / exe
        if dest.is_symlink() or dest.exists():
            dest.unlink()
        if tool.env_defaults:
            lines = ["#!/bin/sh", f"# fadi-seldon wrapper for {tool.name} {tool.version}"]
            for key, value in tool.env_defaults.items():
                value = value.format(helm_plugins=self.helm_plugins_dir, tools=self.tools_dir)
                lines += [f': "${{{key}:={value}}}"', f"export {key}"]
            lines.append(f'exec "{target}" "$@"')
            dest.write_text("\n".join(lines) + "\n", encoding="utf-8")
            dest.chmod(0o755)
        else:
            dest.symlink_to(target)

    # source 1: PATH
    def _from_path(self, tool: Tool) -> str | None:
        search = os.pathsep.join(
            p for p in os.environ.get("PATH", "").split(os.pathsep) if p and Path(p).resolve() != self.bin_dir
        )
        names = tool.path_names or (tool.executables[0],)
        found = None
        for name in names:
            found = self.which(name, search)
            if found:
                break
        if not found:
            return None
        reported = self.reported_version(tool, found)
        if reported is None or not tool.matches(reported):
            self.progress.say(
                f"{tool.name}: {found} reports {reported or 'no version'}, not {tool.version}; not used"
            )
            return None
        bin_dir = self.pkg_dir(tool) / "bin"
        bin_dir.mkdir(parents=True, exist_ok=True)
        for exe in tool.executables:
            src = Path(found).parent / exe if exe != tool.executables[0] else Path(found)
            if not src.exists():
                return None
            link = bin_dir / exe
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(src.resolve())
        self.progress.say(f"{tool.name} {tool.version}: found on PATH at {found}")
        return found

    # source 2: release download
    def _from_release(self, tool: Tool) -> str | None:
        if tool.release is None:
            return None
        pkg = self.pkg_dir(tool)
        staging = Path(tempfile.mkdtemp(prefix=f".{tool.name}-", dir=self.tools_dir))
        try:
            for art in tool.release(tool.version, self.os_name, self.arch):
                self.progress.say(f"{tool.name} {tool.version}: downloading {art.url}")
                try:
                    data = self.fetch(art.url)
                except Exception as err:  # noqa: BLE001 - any network error means "try the next source"
                    raise ToolError(f"download of {art.url} failed: {err}") from None
                if art.sha256_url:
                    self._verify(art, data)
                _unpack(art, data, staging)
            for exe in tool.executables:
                (staging / "bin" / exe).chmod(0o755)
            if pkg.exists():
                shutil.rmtree(pkg)
            pkg.parent.mkdir(parents=True, exist_ok=True)
            staging.rename(pkg)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        return str(pkg)

    def _verify(self, art: Artifact, data: bytes) -> None:
        try:
            expected = self.fetch(art.sha256_url).decode().split()[0]
        except Exception as err:  # noqa: BLE001
            raise ToolError(f"checksum {art.sha256_url} could not be fetched: {err}") from None
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected:
            raise ToolError(f"checksum mismatch for {art.url}: expected {expected}, got {actual}")

    # source 3: go build from the module proxy
    def _from_go(self, tool: Tool) -> str | None:
        recipe = tool.go
        if recipe is None:
            return None
        if shutil.which(self.go) is None:
            raise ToolError(f"`{self.go}` is not on PATH (install Go from https://go.dev/dl/)")
        log = self.log_path(tool)
        log.write_text(f"# build of {tool.name} {tool.version}\n", encoding="utf-8")
        env = dict(os.environ, CGO_ENABLED="0", GOFLAGS=os.environ.get("GOFLAGS", "-buildvcs=false"))
        env.setdefault("GOTOOLCHAIN", "local")
        module_at = f"{recipe.module}@{tool.version}"

        def go(label: str, *args: str, cwd: Path | None = None, capture: bool = False) -> str:
            if capture:
                proc = subprocess.run([self.go, *args], cwd=cwd, env=env, capture_output=True, text=True)
                with log.open("a", encoding="utf-8") as out:
                    out.write(f"\n$ go {' '.join(args)}\n{proc.stdout}{proc.stderr}")
                rc, tail = proc.returncode, proc.stderr
            else:
                rc = self.progress.run(
                    f"{tool.name} {tool.version}: {label}", [self.go, *args], cwd=cwd, env=env, log=log
                )
                tail = ""
            if rc != 0:
                lines = (tail or log.read_text(encoding="utf-8", errors="replace")).strip().splitlines()[-8:]
                raise ToolError(
                    f"`go {' '.join(args[:3])}...` failed (exit {rc}):\n      "
                    + "\n      ".join(lines)
                    + f"\n      full log: {log}"
                )
            return proc.stdout if capture else ""

        self.progress.say(f"{tool.name} {tool.version}: building from the Go module proxy ({recipe.module})")
        info = json.loads(go("download module", "mod", "download", "-json", module_at, capture=True))
        module_dir = Path(info["Dir"])
        go_mod_text = Path(info["GoMod"]).read_text(encoding="utf-8")
        ctx = BuildContext(tool, tool.version, module_dir, go_mod_text)

        work = self.tools_dir / "build" / f"{tool.name}-{tool.version}"
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
        go_directive = re.search(r"^go\s+(\S+)", go_mod_text, re.M)
        (work / "go.mod").write_text(
            f"module local/fadi-tools/{tool.name}\n\ngo {go_directive.group(1) if go_directive else '1.22'}\n",
            encoding="utf-8",
        )
        edits = [f"-require={module_at}"] + [f"-replace={old}={new}" for old, new in recipe.replaces(ctx)]
        go("set up the wrapper module", "mod", "edit", *edits, cwd=work, capture=True)
        packages = [f"{p}@{tool.version}" for p in dict.fromkeys(recipe.binaries.values())]
        go("resolve dependencies (go get)", "get", *packages, cwd=work)
        staging = Path(tempfile.mkdtemp(prefix=f".{tool.name}-", dir=self.tools_dir))
        try:
            (staging / "bin").mkdir()
            ldflags = " ".join(["-s", "-w", *recipe.ldflags(ctx)])
            for exe, pkg in recipe.binaries.items():
                go(
                    f"go build {exe}",
                    "build",
                    "-trimpath",
                    "-ldflags",
                    ldflags,
                    "-o",
                    str(staging / "bin" / exe),
                    pkg,
                    cwd=work,
                )
            for src, dest in recipe.module_files.items():
                target = staging / dest
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(module_dir / src, target)
            pkg_dir = self.pkg_dir(tool)
            if pkg_dir.exists():
                shutil.rmtree(pkg_dir)
            pkg_dir.parent.mkdir(parents=True, exist_ok=True)
            staging.rename(pkg_dir)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
        return str(self.pkg_dir(tool))


def _buildinfo_version(exe: Path, module: str) -> str | None:
    """Version of `module` recorded in a Go binary's build info (what `go version -m` prints)."""
    try:
        data = exe.resolve().read_bytes()
    except OSError:
        return None
    match = re.search(rb"(?:mod|dep)\t" + re.escape(module.encode()) + rb"\t(v[0-9][^\t\n]*)", data)
    return match.group(1).decode() if match else None


def _fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=20) as resp:  # noqa: S310 - fixed https URLs
        return resp.read()


def _unpack(art: Artifact, data: bytes, staging: Path) -> None:
    def dest_for(name: str) -> Path:
        path = staging / (name if "/" in name else f"bin/{name}")
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    if list(art.members) == [""]:
        dest_for(art.members[""]).write_bytes(data)
        return
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
        for member, name in art.members.items():
            try:
                fh = tar.extractfile(member)
            except KeyError:
                fh = None
            if fh is None:
                raise ToolError(f"{art.url} has no member {member}")
            dest_for(name).write_bytes(fh.read())


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
