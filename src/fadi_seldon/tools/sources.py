"""Where a tool comes from. Each source fills the tool's package folder, or says it cannot.

1. ``path``: already on PATH at the pinned version (nothing is built or downloaded);
2. ``release``: the official release download, checked against its published sha256 when there is one;
3. ``go``: a ``go build`` from the Go module proxy, inside a small wrapper module that carries the
   replace directives ``go install`` refuses, with the ldflags that stamp the version and each
   binary's build tags.

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
import subprocess
import sys
import tarfile
import urllib.request
from collections.abc import Callable
from pathlib import Path

from fadi_seldon.runtime.files import EXECUTABLE
from fadi_seldon.tools.layout import Layout, relink
from fadi_seldon.tools.probe import reported_version
from fadi_seldon.tools.progress import Progress
from fadi_seldon.tools.spec import Artifact, BuildContext, Tool, ToolError

SOURCES = ("path", "release", "go")


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
                _verify(ctx, art, data)
            _unpack(art, data, staging)
        for exe in tool.executables:
            (staging / "bin" / exe).chmod(EXECUTABLE)
    return str(ctx.layout.pkg_dir(tool))


def _download(ctx: SourceContext, url: str) -> bytes:
    try:
        return ctx.fetch(url)
    except Exception as err:  # noqa: BLE001 - any network error means "try the next source"
        raise ToolError(f"download of {url} failed: {err}") from None


def _verify(ctx: SourceContext, art: Artifact, data: bytes) -> None:
    try:
        expected = ctx.fetch(art.sha256_url).decode().split()[0]
    except Exception as err:  # noqa: BLE001
        raise ToolError(f"checksum {art.sha256_url} could not be fetched: {err}") from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise ToolError(f"checksum mismatch for {art.url}: expected {expected}, got {actual}")


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


class _Go:
    """Runs `go` for one tool's build: output into the tool's build log, failures as ToolError."""

    def __init__(self, ctx: SourceContext, tool: Tool) -> None:
        self.exe = ctx.go
        self.label = f"{tool.name} {tool.version}"
        self.progress = ctx.progress
        self.log = ctx.layout.log_path(tool)
        self.env = dict(os.environ, CGO_ENABLED="0", GOFLAGS=os.environ.get("GOFLAGS", "-buildvcs=false"))
        self.env.setdefault("GOTOOLCHAIN", "local")

    def capture(self, *args: str, cwd: Path | None = None) -> str:
        """A quick go command whose output is needed: logged, returned."""
        proc = subprocess.run([self.exe, *args], cwd=cwd, env=self.env, capture_output=True, text=True)
        with self.log.open("a", encoding="utf-8") as out:
            out.write(f"\n$ go {' '.join(args)}\n{proc.stdout}{proc.stderr}")
        self._check(proc.returncode, args, proc.stderr)
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
    work = _wrapper_module(ctx.layout, go, build)
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


def _wrapper_module(layout: Layout, go: _Go, build: BuildContext) -> Path:
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
    edits = [f"-require={tool.go.module}@{tool.version}"]
    edits += [f"-replace={old}={new}" for old, new in tool.go.replaces(build)]
    go.capture("mod", "edit", *edits, cwd=work)
    return work


SOURCE_FUNCTIONS: dict[str, Callable[[SourceContext, Tool], str | None]] = {
    "path": from_path,
    "release": from_release,
    "go": from_go,
}
