"""Where a tool comes from. Each source fills the tool's package folder, or says it cannot.

1. ``path``: already on PATH at the pinned version (nothing is built or downloaded);
2. ``release``: the official release download, checked against its published sha256 when there is one;
3. ``go``: a ``go build`` from the Go module proxy, inside a small wrapper module that carries the
   replace directives ``go install`` refuses, with the ldflags that stamp the version and each
   binary's build tags;
4. ``source``: a ``go build`` with the local Go from a pinned source release archive (Seldon's
   operator and executor, which the module proxy refuses): the archive is checked, extracted once,
   and its modules are required at the release's version by a wrapper module that replaces them by
   their extracted folders, so the binary's build info records that version.

A source returns where it found the tool, None when it does not apply (no release for this tool,
nothing on PATH), and raises ToolError when it applies but failed: the engine then tries the next.
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
import sys
import tarfile
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path

from fadi_seldon.runtime import commands
from fadi_seldon.runtime.files import EXECUTABLE
from fadi_seldon.tools import source_release
from fadi_seldon.tools.layout import Layout, relink
from fadi_seldon.tools.probe import reported_version
from fadi_seldon.tools.progress import Progress
from fadi_seldon.tools.spec import (
    Artifact,
    BuildContext,
    GoRecipe,
    SourceBuild,
    SourceRelease,
    Tool,
    ToolError,
)

SOURCES = ("path", "release", "go", "source")


@dataclasses.dataclass
class SourceContext:
    """What the sources need from the engine; `fetch` and `which` are injectable for tests."""

    layout: Layout
    progress: Progress
    fetch: Callable[[str], bytes]
    which: Callable[[str, str], str | None]
    go: str
    os_name: str
    arch: str


def host_platform() -> tuple[str, str]:
    """(os, arch) as release file names spell them: linux|darwin, amd64|arm64."""
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    return ("darwin" if sys.platform == "darwin" else "linux"), arch


def fetch_url(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=20) as resp:  # noqa: S310 - fixed https URLs
        return resp.read()


# --------------------------------------------------------------------------- 1. PATH


def from_path(ctx: SourceContext, tool: Tool) -> str | None:
    found = _search_path(ctx, tool)
    if not found:
        return None
    reported = reported_version(tool, found, ctx.layout.env())
    if reported is None or not tool.matches(reported):
        ctx.progress.say(
            f"{tool.name}: {found} reports {reported or 'no version'}, not {tool.version}; not used"
        )
        return None
    if not _link_package(ctx.layout, tool, Path(found)):
        return None
    ctx.progress.say(f"{tool.name} {tool.version}: found on PATH at {found}")
    return found


def _search_path(ctx: SourceContext, tool: Tool) -> str | None:
    """The tool on PATH, leaving out the tools folder's own bin/."""
    search = os.pathsep.join(
        p
        for p in os.environ.get("PATH", "").split(os.pathsep)
        if p and Path(p).resolve() != ctx.layout.bin_dir
    )
    for name in tool.path_names or (tool.executables[0],):
        found = ctx.which(name, search)
        if found:
            return found
    return None


def _link_package(layout: Layout, tool: Tool, found: Path) -> bool:
    """A package folder of links to the executables beside `found`; False when one is missing."""
    bin_dir = layout.pkg_dir(tool) / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for exe in tool.executables:
        src = found.parent / exe if exe != tool.executables[0] else found
        if not src.exists():
            return False
        relink(bin_dir / exe, src.resolve())
    return True


# --------------------------------------------------------------------------- 2. release download


def from_release(ctx: SourceContext, tool: Tool) -> str | None:
    if tool.release is None:
        return None
    with ctx.layout.staging(tool) as staging:
        for art in tool.release(tool.version, ctx.os_name, ctx.arch):
            ctx.progress.say(f"{tool.name} {tool.version}: downloading {art.url}")
            data = _download(ctx, art.url)
            if art.sha256_url:
                _verify(ctx, art.url, art.sha256_url, data)
            _unpack(art, data, staging)
        for exe in tool.executables:
            (staging / "bin" / exe).chmod(EXECUTABLE)
    return str(ctx.layout.pkg_dir(tool))


def _download(ctx: SourceContext, url: str) -> bytes:
    try:
        return ctx.fetch(url)
    except Exception as err:  # noqa: BLE001 - any network error means "try the next source"
        raise ToolError(f"download of {url} failed: {err}") from None


def expected_sha256(text: str, url: str) -> str:
    """The hash a checksum file gives for `url`'s file: its one hash, or from a list of
    `HASH  NAME` lines (one file for a whole release, as Traefik's), the line naming that file."""
    lines = [line.split() for line in text.splitlines() if line.strip()]
    if len(lines) <= 1:
        return lines[0][0] if lines else ""
    name = url.rsplit("/", 1)[-1]
    return next((words[0] for words in lines if words[-1].lstrip("*") == name), "")


def _verify(ctx: SourceContext, url: str, sha256_url: str, data: bytes) -> None:
    try:
        expected = expected_sha256(ctx.fetch(sha256_url).decode(), url)
    except Exception as err:  # noqa: BLE001
        raise ToolError(f"checksum {sha256_url} could not be fetched: {err}") from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise ToolError(f"checksum mismatch for {url}: expected {expected}, got {actual}")


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


# --------------------------------------------------------------------------- 3. go build


def go_env(base: Mapping[str, str], *, cgo: bool = False, fill_go_sum: bool = False) -> dict[str, str]:
    """The environment of a build: cgo off unless the code needs it, no VCS stamping, the local Go.

    `fill_go_sum` adds `-mod=mod`: the build may add the go.sum lines the wrapper module lacks,
    fetched from the module proxy and checked against the checksum database.
    """
    goflags = base.get("GOFLAGS", "-buildvcs=false")
    if fill_go_sum and "-mod=" not in goflags:
        goflags = f"{goflags} -mod=mod"
    env = dict(base, CGO_ENABLED="1" if cgo else "0", GOFLAGS=goflags)
    env.setdefault("GOTOOLCHAIN", "local")
    return env


def module_dir(module: str, version: str, go: str = "go") -> Path:
    """The folder of `module@version` in the Go module cache (read-only files the go command owns):
    downloaded from the module proxy the first time, found in the cache afterwards without the network.
    For data a module ships (the Gateway API's CRDs) that the project reads and never copies."""
    if shutil.which(go) is None:
        raise ToolError(f"`{go}` is not on PATH (install Go from https://go.dev/dl/): it fetches {module}")
    proc = commands.run(
        [go, "mod", "download", "-json", f"{module}@{version}"], env=go_env(os.environ), timeout=600
    )
    try:
        info = json.loads(proc.stdout or "{}")
    except ValueError:
        info = {}
    if not proc.ok or info.get("Error") or not info.get("Dir"):
        problem = info.get("Error") or proc.stderr.strip() or f"exit {proc.code}"
        raise ToolError(f"`go mod download {module}@{version}` failed: {problem}")
    return Path(info["Dir"])


class _Go:
    """Runs `go` for one tool's build: output into the tool's build log, failures as ToolError."""

    def __init__(
        self, ctx: SourceContext, tool: Tool, *, cgo: bool = False, fill_go_sum: bool = False
    ) -> None:
        self.exe = ctx.go
        self.label = f"{tool.name} {tool.version}"
        self.progress = ctx.progress
        self.log = ctx.layout.log_path(tool)
        self.env = go_env(os.environ, cgo=cgo, fill_go_sum=fill_go_sum)

    def capture(self, *args: str, cwd: Path | None = None) -> str:
        """A quick go command whose output is needed: logged, returned."""
        proc = commands.run([self.exe, *args], cwd=cwd, env=self.env)
        with self.log.open("a", encoding="utf-8") as out:
            out.write(f"\n$ go {' '.join(args)}\n{proc.stdout}{proc.stderr}")
        self._check(proc.code, args, proc.stderr)
        return proc.stdout

    def run(self, label: str, *args: str, cwd: Path | None = None) -> None:
        """A long go command: streamed into the log, with progress and a heartbeat."""
        rc = self.progress.run(
            f"{self.label}: {label}", [self.exe, *args], cwd=cwd, env=self.env, log=self.log
        )
        self._check(rc, args, "")

    def _check(self, rc: int, args: tuple[str, ...], stderr: str) -> None:
        if rc == 0:
            return
        lines = (stderr or self.log.read_text(encoding="utf-8", errors="replace")).strip().splitlines()[-8:]
        raise ToolError(
            f"`go {' '.join(args[:3])}...` failed (exit {rc}):\n      "
            + "\n      ".join(lines)
            + f"\n      full log: {self.log}"
        )


def from_go(ctx: SourceContext, tool: Tool) -> str | None:
    recipe = tool.go
    if recipe is None:
        return None
    if shutil.which(ctx.go) is None:
        raise ToolError(f"`{ctx.go}` is not on PATH (install Go from https://go.dev/dl/)")
    go = _Go(ctx, tool)
    go.log.write_text(f"# build of {tool.name} {tool.version}\n", encoding="utf-8")
    ctx.progress.say(f"{tool.name} {tool.version}: building from the Go module proxy ({recipe.module})")
    info = json.loads(go.capture("mod", "download", "-json", f"{recipe.module}@{tool.version}"))
    build = BuildContext(
        tool, tool.version, Path(info["Dir"]), Path(info["GoMod"]).read_text(encoding="utf-8")
    )
    work = _wrapper_module(ctx.layout, go, build, recipe)
    packages = [f"{p}@{tool.version}" for p in dict.fromkeys(recipe.binaries.values())]
    go.run("resolve dependencies (go get)", "get", *packages, cwd=work)
    with ctx.layout.staging(tool) as staging:
        (staging / "bin").mkdir()
        ldflags = " ".join(["-s", "-w", *recipe.ldflags(build)])
        for exe, pkg in recipe.binaries.items():
            out = str(staging / "bin" / exe)
            tags = ["-tags", ",".join(recipe.tags[exe])] if recipe.tags.get(exe) else []
            go.run(
                f"go build {exe}", "build", "-trimpath", *tags, "-ldflags", ldflags, "-o", out, pkg, cwd=work
            )
        for src, dest in recipe.module_files.items():
            (staging / dest).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(build.module_dir / src, staging / dest)
    shutil.rmtree(work, ignore_errors=True)
    return str(ctx.layout.pkg_dir(tool))


def _wrapper_module(layout: Layout, go: _Go, build: BuildContext, recipe: GoRecipe) -> Path:
    """A fresh module that requires the tool at its version, with the recipe's replace directives."""
    tool = build.tool
    work = layout.build_dir(tool)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    go_directive = re.search(r"^go\s+(\S+)", build.go_mod_text, re.M)
    (work / "go.mod").write_text(
        f"module local/fadi-tools/{tool.name}\n\ngo {go_directive.group(1) if go_directive else '1.22'}\n",
        encoding="utf-8",
    )
    edits = [f"-require={recipe.module}@{tool.version}"]
    if recipe.upstream_directives:
        edits += upstream_edits(build)
    edits += [f"-replace={old}={new}" for old, new in recipe.replaces(build)]
    go.capture("mod", "edit", *edits, cwd=work)
    return work


def upstream_edits(build: BuildContext) -> list[str]:
    """`go mod edit` flags restating the replace and exclude directives of the tool's own go.mod, which
    Go ignores once the tool is a dependency of the wrapper module. A replace by a folder of upstream's
    repository (a nested module the module proxy does not serve) cannot be restated: a ToolError."""
    edits = []
    for directive in go_mod_directives(build.go_mod_text, "replace"):
        old, _, new = (part.strip() for part in directive.partition("=>"))
        if len(new.split()) == 1:
            raise ToolError(
                f"{build.tool.name} {build.version}: its go.mod replaces {old} by the folder {new}, "
                "which the Go module proxy does not serve; pin an older version in versions.env"
            )
        edits.append(f"-replace={'@'.join(old.split())}={'@'.join(new.split())}")
    edits += [f"-exclude={'@'.join(d.split())}" for d in go_mod_directives(build.go_mod_text, "exclude")]
    return edits


# --------------------------------------------------------------------------- 4. source release


def from_source(ctx: SourceContext, tool: Tool) -> str | None:
    """Build from the pinned source release with the local Go; the archive is checked before anything."""
    recipe = tool.source
    if recipe is None:
        return None
    release = recipe.release()
    archive = source_release.resolve(release)
    _check_compilers(ctx, tool, recipe)
    go = _Go(ctx, tool, cgo=recipe.cgo, fill_go_sum=True)
    go.log.write_text(
        f"# build of {tool.name} {tool.version} from {archive} (sha256 {release.sha256})\n", encoding="utf-8"
    )
    ctx.progress.say(
        f"{tool.name} {tool.version}: building from {release.project}'s source release {archive}"
    )
    tree = source_release.extract(release, archive, ctx.layout, ctx.progress)
    work = _source_module(ctx.layout, tool, recipe, release, tree)
    exe = tool.executables[0]
    with ctx.layout.staging(tool) as staging:
        (staging / "bin").mkdir()
        out = str(staging / "bin" / exe)
        cgo = "cgo on" if recipe.cgo else "cgo off"
        go.run(
            f"go build {exe} ({recipe.package}, {cgo})",
            "build",
            "-trimpath",
            "-o",
            out,
            recipe.package,
            cwd=work,
        )
    shutil.rmtree(work, ignore_errors=True)
    return str(ctx.layout.pkg_dir(tool))


def _check_compilers(ctx: SourceContext, tool: Tool, recipe: SourceBuild) -> None:
    if shutil.which(ctx.go) is None:
        raise ToolError(f"`{ctx.go}` is not on PATH (install Go from https://go.dev/dl/)")
    compiler = (os.environ.get("CC") or "gcc").split()[0]
    if recipe.cgo and shutil.which(compiler) is None:
        raise ToolError(
            f"{tool.name} needs cgo and `{compiler}` is not on PATH: install a C compiler "
            "(`apt-get install gcc`) or set CC"
        )


def _source_module(
    layout: Layout, tool: Tool, recipe: SourceBuild, release: SourceRelease, tree: Path
) -> Path:
    """A fresh wrapper module for a source build: go.mod (source_go_mod) and upstream's go.sum lines."""
    work = layout.build_dir(tool)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    upstream = (tree / recipe.folders[recipe.module] / "go.mod").read_text(encoding="utf-8")
    (work / "go.mod").write_text(source_go_mod(tool, release, tree, work, upstream), encoding="utf-8")
    (work / "go.sum").write_text(source_go_sum(recipe, tree), encoding="utf-8")
    return work


def go_mod_directives(go_mod_text: str, verb: str) -> list[str]:
    """The arguments of every `verb` directive (replace, exclude) of a go.mod, alone or in a block."""
    text = re.sub(r"//[^\n]*", "", go_mod_text)
    lines = re.findall(rf"^\s*{verb}\s+([^(\s][^\n]*)$", text, re.M)
    for block in re.findall(rf"^\s*{verb}\s*\((.*?)\)", text, re.M | re.S):
        lines += block.splitlines()
    return [line.strip() for line in lines if line.strip()]


def _local_path(path: Path, work: Path) -> str:
    """A folder as a go.mod replacement path, relative to the wrapper module (so the build info, which
    records it, is the same wherever the tools folder is), quoted when Go needs quotes."""
    rel = os.path.relpath(path, work)
    rel = rel if rel.startswith("../") else f"./{rel}"
    return json.dumps(rel) if re.search(r"[\s\"'`\\]", rel) else rel


def source_go_mod(tool: Tool, release: SourceRelease, tree: Path, work: Path, upstream_go_mod: str) -> str:
    """The wrapper module's go.mod: each of the release's modules required at the release's version and
    replaced by its extracted folder, then the replace and exclude directives of the go.mod of the
    module upstream builds (`recipe.module`), which Go ignores in a dependency: version replaces as
    they are, folder replaces (`./proto/tensorflow/core`) pointed at the extracted folder, those of the
    release's own modules (`=> ./_operator`) superseded by the first ones."""
    recipe = tool.source
    assert recipe is not None, f"{tool.name} is not built from a source release"
    go_version = re.search(r"^go\s+(\S+)", upstream_go_mod, re.M)
    lines = [
        f"// fadi-seldon: builds {tool.name} from {release.file_name} (sha256 {release.sha256})",
        f"module local/fadi-tools/{tool.name}",
        "",
        f"go {go_version.group(1) if go_version else '1.17'}",
        "",
        "require (",
        *(f"\t{module} {release.module_version}" for module in sorted(recipe.folders)),
        ")",
        "",
    ]
    lines += [
        f"replace {module} => {_local_path(tree / folder, work)}"
        for module, folder in sorted(recipe.folders.items())
    ]
    upstream_dir = tree / recipe.folders[recipe.module]
    for directive in go_mod_directives(upstream_go_mod, "replace"):
        old, _, new = (part.strip() for part in directive.partition("=>"))
        if old.split()[0] in recipe.folders:
            continue
        if len(new.split()) == 1:  # a folder, relative to upstream's module
            new = _local_path(upstream_dir / new.strip('"'), work)
        lines.append(f"replace {old} => {new}")
    lines += ["", *(f"exclude {directive}" for directive in go_mod_directives(upstream_go_mod, "exclude"))]
    return "\n".join(lines) + "\n"


def source_go_sum(recipe: SourceBuild, tree: Path) -> str:
    """The go.sum lines of the release's modules, so dependencies are checked against the hashes
    upstream recorded; `-mod=mod` adds what they lack."""
    found: set[str] = set()
    for folder in recipe.folders.values():
        go_sum = tree / folder / "go.sum"
        if go_sum.is_file():
            found.update(
                line.strip() for line in go_sum.read_text(encoding="utf-8").splitlines() if line.strip()
            )
    return "".join(f"{line}\n" for line in sorted(found))


SOURCE_FUNCTIONS: dict[str, Callable[[SourceContext, Tool], str | None]] = {
    "path": from_path,
    "release": from_release,
    "go": from_go,
    "source": from_source,
}
