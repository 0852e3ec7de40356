"""Install the project's external tools, pinned by versions.env, into a git-ignored folder.

Every tool is resolved from the first source that works: already on PATH at the pinned version,
the official release download, a ``go build`` from the Go module proxy, or (Seldon's operator and
executor) a ``go build`` from a pinned source release archive the user provides. Installed tools
live in ``.tools/pkgs/<tool>/<version>/`` with a stamp file; ``.tools/bin`` holds the links (or tiny env
wrappers) the Makefile puts first on PATH. A tool whose stamp and binary are present and whose
binary reports the pinned version is left alone, so a second ``make tools`` only runs the version
commands.

One concern per module; imports flow down this list (and to ``fadi_seldon.runtime``, never to the CLI):

- :mod:`.install`  the engine: sources in order, cache by version, stamps, the failure message;
- :mod:`.system`   system packages (runc, iptables, CNI plugins): found, or installed with apt-get;
- :mod:`.sources`  PATH lookup, release download with checksum, Go module proxy build, source
  release build;
- :mod:`.catalog`  the tool table (what each tool is, its version key, group, sources), the system
  packages each group needs, ``select`` and ``select_system``;
- :mod:`.recipes`  tool-specific Go ldflags and replaces, and after-install hooks;
- :mod:`.source_release` source release archives: found (``SELDON_CORE_SOURCE``, or
  ``../shared/vendor/`` beside the checkout), checked (sha256, top folder), extracted once;
- :mod:`.progress` the progress lines and the heartbeat of long steps;
- :mod:`.probe`    asking a binary its version (version command or Go build info);
- :mod:`.layout`   the folder layout, ``default_tools_dir`` and ``find_executable``;
- :mod:`.spec`     the data types (``Tool``, ``Artifact``, ``GoRecipe``, ``SourceBuild``, ``SourceRelease``,
  ``SystemPackage``, ``BuildContext``, ``ToolError``).

Adding a tool is one entry in :data:`fadi_seldon.tools.catalog.TOOLS`. This package re-exports
what the rest of the project uses, so ``from fadi_seldon import tools`` keeps working: an installed
tool's path is ``find_executable("kubelet")``, a system package's ``system_path("runc")``, Seldon's
checked source release archive ``seldon_core_source()``.
"""

from __future__ import annotations

from fadi_seldon.tools.catalog import (
    GROUPS,
    registry,
    seldon_core_release,
    seldon_core_source,
    select,
    select_system,
    system_registry,
)
from fadi_seldon.tools.install import Result, Toolchain
from fadi_seldon.tools.layout import Layout, default_tools_dir, find_executable
from fadi_seldon.tools.progress import Progress
from fadi_seldon.tools.sources import SOURCES
from fadi_seldon.tools.spec import (
    Artifact,
    BuildContext,
    GoRecipe,
    SourceBuild,
    SourceRelease,
    SystemPackage,
    Tool,
    ToolError,
)
from fadi_seldon.tools.system import SystemPackages, system_path

__all__ = [
    "GROUPS",
    "SOURCES",
    "Artifact",
    "BuildContext",
    "GoRecipe",
    "Layout",
    "Progress",
    "Result",
    "SourceBuild",
    "SourceRelease",
    "SystemPackage",
    "SystemPackages",
    "Tool",
    "ToolError",
    "Toolchain",
    "default_tools_dir",
    "find_executable",
    "registry",
    "seldon_core_release",
    "seldon_core_source",
    "select",
    "select_system",
    "system_path",
    "system_registry",
]
