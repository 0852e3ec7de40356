"""The install engine: each tool from the first source that works, kept while its version holds.

A tool whose stamp and executables are present and whose binary reports the pinned version is
left alone, so a second install only runs the version commands. Otherwise the sources are tried
in order; the first that succeeds is linked into bin/, its after-install hook runs, the version
is checked once more, and the stamp is written last. When every source fails, the error lists
each source with its reason and a fix. System packages (runc, iptables, CNI plugins) are checked,
and installed with apt-get when missing, by :mod:`.system`, before the tools.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from fadi_seldon.runtime.files import EXECUTABLE, atomic_write
from fadi_seldon.tools import probe
from fadi_seldon.tools.layout import Layout, relink
from fadi_seldon.tools.progress import Progress, elapsed
from fadi_seldon.tools.sources import SOURCE_FUNCTIONS, SOURCES, SourceContext, fetch_url, host_platform
from fadi_seldon.tools.spec import SourceBuild, SystemPackage, Tool, ToolError
from fadi_seldon.tools.system import SystemPackages


@dataclasses.dataclass
class Result:
    tool: str
    version: str
    source: str  # path | release | go | cached; system packages: system (already there) | apt
    changed: bool
    seconds: float
    location: str


def _chosen_sources(requested: Sequence[str] | None) -> list[str]:
    from_env = os.environ.get("FADI_TOOLS_SOURCES")
    chosen = list(requested or (from_env.split(",") if from_env else SOURCES))
    for s in chosen:
        if s not in SOURCES:
            raise ToolError(
                f"unknown tool source {s!r} (FADI_TOOLS_SOURCES); use some of {', '.join(SOURCES)}"
            )
    return chosen


class Toolchain:
    """Resolves and installs tools. `fetch`, `which`, `go` and `system` are injectable for tests."""

    def __init__(
        self,
        tools_dir: Path | None = None,
        *,
        sources: Sequence[str] | None = None,
        progress: Progress | None = None,
        fetch: Callable[[str], bytes] | None = None,
        which: Callable[[str, str], str | None] | None = None,
        go: str = "go",
        system: SystemPackages | None = None,
    ) -> None:
        self.layout = Layout(tools_dir)
        self.sources = _chosen_sources(sources)
        self.progress = progress or Progress()
        self.system = system or SystemPackages(
            self.progress, self.layout.tools_dir / "logs" / "system-packages.log"
        )
        self.fetch = fetch or fetch_url
        self.which = which or (lambda name, path: shutil.which(name, path=path))
        self.go = go
        self.os_name, self.arch = host_platform()

    # the tools folder (see layout.py)
    @property
    def tools_dir(self) -> Path:
        return self.layout.tools_dir

    @property
    def bin_dir(self) -> Path:
        return self.layout.bin_dir

    @property
    def helm_plugins_dir(self) -> Path:
        return self.layout.helm_plugins_dir

    def pkg_dir(self, tool: Tool) -> Path:
        return self.layout.pkg_dir(tool)

    def stamp_path(self, tool: Tool) -> Path:
        return self.layout.stamp_path(tool)

    def log_path(self, tool: Tool) -> Path:
        return self.layout.log_path(tool)

    def env(self) -> dict[str, str]:
        return self.layout.env()

    # querying
    def reported_version(self, tool: Tool, exe: Path | str) -> str | None:
        return probe.reported_version(tool, exe, self.env())

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

    def system_status(self, packages: Sequence[SystemPackage]) -> list[dict]:
        """Status rows of system packages, shaped like :meth:`status` rows."""
        rows = []
        for pkg in packages:
            found = self.system.find(pkg)
            rows.append(
                {
                    "tool": pkg.name,
                    "pinned": f"(debian {pkg.debian_package})",
                    "installed": found is not None,
                    "source": "system" if found else None,
                    "executables": [found or ", ".join(self.system.missing(pkg))],
                }
            )
        return rows

    # installing
    def install(self, tools: Sequence[Tool], *, force: bool = False) -> list[Result]:
        return [self.install_one(tool, force=force) for tool in tools]

    def install_system(self, packages: Sequence[SystemPackage]) -> list[Result]:
        """Check system packages, installing the missing ones with apt-get (see :mod:`.system`)."""
        start = time.monotonic()
        installed = self.system.ensure(packages)
        seconds = time.monotonic() - start
        if installed:
            self.progress.say(f"system packages: {', '.join(installed)} installed in {elapsed(seconds)}")
        return [
            Result(
                pkg.name,
                self.system.version(pkg),
                "apt" if pkg.name in installed else "system",
                pkg.name in installed,
                seconds if pkg.name in installed else 0.0,
                self.system.find(pkg) or "",
            )
            for pkg in packages
        ]

    def install_one(self, tool: Tool, *, force: bool = False) -> Result:
        start = time.monotonic()
        if not force and self.is_current(tool):
            return Result(
                tool.name, tool.version, "cached", False, time.monotonic() - start, str(self.pkg_dir(tool))
            )
        self.bin_dir.mkdir(parents=True, exist_ok=True)
        self.log_path(tool).parent.mkdir(parents=True, exist_ok=True)
        ctx = SourceContext(
            self.layout, self.progress, self.fetch, self.which, self.go, self.os_name, self.arch
        )
        attempts: list[str] = []
        for source in self.sources:
            try:
                location = SOURCE_FUNCTIONS[source](ctx, tool)
            except ToolError as err:
                attempts.append(f"{source}: {err}")
                continue
            if location is None:
                continue
            self._finish(tool, source)
            seconds = time.monotonic() - start
            self.progress.say(f"{tool.name} {tool.version}: installed from {source} in {elapsed(seconds)}")
            return Result(tool.name, tool.version, source, True, seconds, location)
        tried = "\n".join(f"    - {a}" for a in attempts) or "    (no source enabled)"
        raise ToolError(
            f"could not install {tool.name} {tool.version}.\n  sources tried:\n{tried}\n"
            f"  fix: {self._suggestion(tool)}"
        )

    def _suggestion(self, tool: Tool) -> str:
        if tool.source is not None:
            return self._source_suggestion(tool, tool.source)
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

    def _source_suggestion(self, tool: Tool, recipe: SourceBuild) -> str:
        """A tool built from a source release: the archive (its error says which), Go, gcc, the log."""
        if "source" not in self.sources:
            return (
                f"{tool.name} is built from {recipe.release().project}'s source release: add `source` to "
                "FADI_TOOLS_SOURCES (or --sources), or put it on PATH yourself"
            )
        log = self.log_path(tool)
        return (
            "see the source's error above (the archive, Go or gcc); with the archive in place, check that Go "
            "works (`go version`) and that the module proxy is reachable for dependencies (`go env GOPROXY`)"
            + (f"; the build log is {log}" if log.is_file() else "")
        )

    def _finish(self, tool: Tool, source: str) -> None:
        """Link the package into bin/, run the tool's hook, check its version, then stamp it."""
        pkg = self.pkg_dir(tool)
        for exe in tool.executables:
            self._expose(tool, exe, pkg / "bin" / exe)
        if tool.after_install:
            tool.after_install(self.layout, tool, pkg)
        reported = self.reported_version(tool, self.bin_dir / tool.executables[0])
        if reported is None or not tool.matches(reported):
            raise ToolError(
                f"{tool.name}: installed from {source}, but `{tool.executables[0]} {' '.join(tool.version_args)}` "
                f"reports {reported!r}, not {tool.version}"
            )
        stamp = {"tool": tool.name, "version": tool.version, "source": source, "time": time.time()}
        atomic_write(self.stamp_path(tool), json.dumps(stamp) + "\n")

    def _expose(self, tool: Tool, exe: str, target: Path) -> None:
        """Link the executable into bin/, or write a wrapper that sets env defaults."""
        dest = self.bin_dir / exe
        if not tool.env_defaults:
            relink(dest, target)
            return
        lines = ["#!/bin/sh", f"# fadi-seldon wrapper for {tool.name} {tool.version}"]
        for key, value in tool.env_defaults.items():
            value = value.format(helm_plugins=self.helm_plugins_dir, tools=self.tools_dir)
            lines += [f': "${{{key}:={value}}}"', f"export {key}"]
        lines.append(f'exec "{target}" "$@"')
        if dest.is_symlink():
            dest.unlink()
        atomic_write(dest, "\n".join(lines) + "\n", EXECUTABLE)
