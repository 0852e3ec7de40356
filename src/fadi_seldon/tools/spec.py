"""What a tool entry is: the tool, its release files, its Go build recipes, system packages, the error type.

Plain data: nothing here touches the disk, the network or a subprocess.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from fadi_seldon.runtime import versions

if TYPE_CHECKING:
    from fadi_seldon.tools.layout import Layout


class ToolError(RuntimeError):
    """A tool could not be installed; the message names the tool, sources tried and a fix."""


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
    # executable name -> Go build tags for that binary (`go build -tags a,b`); none by default
    tags: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    # restate the tool's own go.mod replace (to a module version) and exclude directives, which Go
    # ignores in a dependency; a replace by a folder cannot be restated and fails the build clearly
    upstream_directives: bool = False


@dataclasses.dataclass(frozen=True)
class SourceRelease:
    """A project's source release archive, pinned by file name and sha256: the input of source builds.

    It is never copied into this repository: the user says where it is (`env_var`), or it sits in
    `../shared/vendor/` beside the checkout; `otherwise` is the way out that needs no archive.
    """

    project: str  # "Seldon Core"
    version: str  # "1.17.1"
    file_name: str  # "seldon-core-1.17.1.tar.gz"
    sha256: str
    top_folder: str  # every member of the archive is below it: "seldon-core-1.17.1"
    env_var: str  # "SELDON_CORE_SOURCE": the archive's path
    otherwise: str  # what to do instead of building, e.g. pull the published images

    @property
    def module_version(self) -> str:
        """The version Go modules of the release are required at in a wrapper module: v1.17.1."""
        return "v" + self.version.lstrip("v")


@dataclasses.dataclass(frozen=True)
class SourceBuild:
    """How to build a tool with the local Go from a source release, never from the module proxy.

    `folders` are the release's Go modules the build uses (module path -> folder below the archive's
    top folder): a wrapper module requires each at the release's version and replaces it by its
    extracted folder, so the binary's build info records that version. `module` is the one holding
    the main `package`; its go.mod's own replace and exclude directives are restated (a dependency's
    are ignored by Go), so the build selects the versions upstream's own build selects.
    """

    release: Callable[[], SourceRelease]  # read when needed (versions.env), not at import
    module: str
    package: str
    folders: dict[str, str]
    cgo: bool = False  # CGO_ENABLED=1 (and a C compiler) when the code needs it


@dataclasses.dataclass(frozen=True)
class Tool:
    name: str
    version_key: str
    executables: tuple[str, ...]
    group: str  # one of catalog.GROUPS
    version_args: tuple[str, ...] = ()
    version_pattern: str = ""  # regex with one group capturing the reported version
    release: Callable[[str, str, str], list[Artifact]] | None = None  # (version, os, arch)
    go: GoRecipe | None = None
    source: SourceBuild | None = None  # built from a source release archive (tools.sources.from_source)
    env_defaults: dict[str, str] = dataclasses.field(default_factory=dict)  # set in a wrapper script
    # run after the executables are linked into bin/: (the tools folder, the tool, its package folder)
    after_install: Callable[[Layout, Tool, Path], None] | None = None
    requires: tuple[str, ...] = ()
    path_names: tuple[str, ...] = ()  # names to look for on PATH (default: executables[0])
    pin: str | None = None  # explicit version instead of versions.env (tests, one-off overrides)
    # For binaries that cannot print their version (helm-unittest): the Go module whose version the
    # binary's embedded build info records ("mod" or "dep" line), read from the file itself.
    buildinfo_module: str | None = None

    @property
    def version(self) -> str:
        return self.pin or versions.get(self.version_key)

    @property
    def cache_key(self) -> str:
        """What an installed package is kept under: the version, plus the archive's sha256 for a
        source build (another archive of the same version is another package)."""
        if self.source is None:
            return self.version
        return f"{self.version}-{self.source.release().sha256[:12]}"

    def matches(self, reported: str) -> bool:
        return reported.lstrip("v") == self.version.lstrip("v")


@dataclasses.dataclass(frozen=True)
class SystemPackage:
    """Something a tool group needs from the operating system, installed by the Debian package manager.

    `needs` are all required: a bare name is an executable (looked up on PATH and in the sbin
    folders), an absolute path is a file or folder (glob patterns allowed, e.g. multiarch libc.a).
    `location` is what :func:`fadi_seldon.tools.system_path` answers (default: where needs[0] is).
    """

    name: str
    debian_package: str
    group: str  # one of catalog.GROUPS
    needs: tuple[str, ...]
    location: str | None = None
    purpose: str = ""


@dataclasses.dataclass
class BuildContext:
    """What a Go recipe's ldflags and replaces may look at: the tool's version and its go.mod."""

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
