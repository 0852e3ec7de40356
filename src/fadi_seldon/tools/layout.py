"""Where installed tools live on disk, and finding an installed tool's executable.

    <tools>/pkgs/<tool>/<key>/bin/...        one folder per tool and version (etc/ for config files)
    <tools>/pkgs/<tool>/<key>/stamp.json     written last: the install is complete
    <tools>/bin/<executable>                 links (or env wrappers) into the package folders
    <tools>/helm/plugins/                    helm plugins (helm-unittest)
    <tools>/logs/<tool>-<key>.log            build logs
    <tools>/build/<tool>-<key>/              Go wrapper modules, removed after a build
    <tools>/src/<top folder>-<sha256[:12]>/  source release archives, extracted once (source builds)

<key> is the version, plus the first 12 hex digits of the source archive's sha256 for a tool built
from a source release (Tool.cache_key).

A package folder is filled in a temporary folder beside it and renamed into place, so a failed
install never leaves half a package behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from fadi_seldon.runtime import versions


class ToolKey(Protocol):
    """What a folder of the layout is named after: a tool's name and its cache key (spec.Tool has
    both; only those are read here, so the layout needs nothing else of a tool entry)."""

    @property
    def name(self) -> str: ...

    @property
    def cache_key(self) -> str: ...


def default_tools_dir() -> Path:
    return versions.local_dir(
        "FADI_TOOLS_DIR", ".tools", versions.user_dir("XDG_CACHE_HOME", ".cache", "tools")
    )


def find_executable(name: str, bin_dir: Path | None = None) -> str | None:
    """An installed tool's executable: the project's tools folder first, then PATH."""
    candidate = (bin_dir or default_tools_dir() / "bin") / name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    return shutil.which(name)


def relink(link: Path, target: Path) -> None:
    """Point `link` at `target`, replacing whatever `link` was."""
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(target)


class Layout:
    """The paths of one tools folder."""

    def __init__(self, tools_dir: Path | None = None) -> None:
        self.tools_dir = (tools_dir or default_tools_dir()).resolve()

    @property
    def bin_dir(self) -> Path:
        return self.tools_dir / "bin"

    @property
    def helm_plugins_dir(self) -> Path:
        return self.tools_dir / "helm" / "plugins"

    def pkg_dir(self, tool: ToolKey) -> Path:
        return self.tools_dir / "pkgs" / tool.name / tool.cache_key

    def stamp_path(self, tool: ToolKey) -> Path:
        return self.pkg_dir(tool) / "stamp.json"

    def log_path(self, tool: ToolKey) -> Path:
        return self.tools_dir / "logs" / f"{tool.name}-{tool.cache_key}.log"

    def build_dir(self, tool: ToolKey) -> Path:
        return self.tools_dir / "build" / f"{tool.name}-{tool.cache_key}"

    @property
    def source_dir(self) -> Path:
        """Where source release archives are extracted (tools.source_release.extract)."""
        return self.tools_dir / "src"

    def env(self) -> dict[str, str]:
        """Environment for running the installed tools (PATH first, helm plugins)."""
        env = dict(os.environ)
        env["PATH"] = f"{self.bin_dir}{os.pathsep}{env.get('PATH', '')}"
        env.setdefault("HELM_PLUGINS", str(self.helm_plugins_dir))
        return env

    @contextlib.contextmanager
    def staging(self, tool: ToolKey) -> Iterator[Path]:
        """A fresh folder that becomes the tool's package folder when the block succeeds.

        On an exception the folder is removed and the existing package folder is left as it was.
        """
        staging = Path(tempfile.mkdtemp(prefix=f".{tool.name}-", dir=self.tools_dir))
        try:
            yield staging
            pkg = self.pkg_dir(tool)
            if pkg.exists():
                shutil.rmtree(pkg)
            pkg.parent.mkdir(parents=True, exist_ok=True)
            staging.rename(pkg)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
