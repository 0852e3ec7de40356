"""Tool-specific steps the catalog refers to: Go build flags and replaces, and after-install hooks.

The ldflags stamp versions the way upstream release builds do; the replaces restate what
`go install` ignores (see ../shared/research/chart-tooling.md). Builds from a source release
(Seldon's operator and executor) need no tool-specific step: tools.sources.source_go_mod.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from fadi_seldon.runtime.files import atomic_write
from fadi_seldon.tools.layout import Layout, relink
from fadi_seldon.tools.spec import BuildContext, Tool, ToolError

# --------------------------------------------------------------------------- Go builds


def helm3_ldflags(ctx: BuildContext) -> list[str]:
    # helm v3 does not derive its default Kubernetes version from client-go: stamp it, or
    # charts with kubeVersion ">=1.28.0-0" fail to template (default would be v1.20.0).
    client_go = ctx.required_version("k8s.io/client-go")  # v0.37.0 -> Kubernetes 1.37
    minor = client_go.split(".")[1]
    flags = [f"-X helm.sh/helm/v3/internal/version.version={ctx.version}"]
    for pkg in ("helm.sh/helm/v3/pkg/chartutil", "helm.sh/helm/v3/pkg/lint/rules"):
        flags += [f"-X {pkg}.k8sVersionMajor=1", f"-X {pkg}.k8sVersionMinor={minor}"]
    return flags


def k8s_ldflags(ctx: BuildContext) -> list[str]:
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


def k8s_replaces(ctx: BuildContext) -> list[tuple[str, str]]:
    # k8s.io/kubernetes requires its staging modules at v0.0.0 (replaced by ./staging upstream);
    # v0.X.Y of each staging module is the release of v1.X.Y.
    staging_version = "v0." + ctx.version.lstrip("v").split(".", 1)[1]
    return [(f"{m}@v0.0.0", f"{m}@{staging_version}") for m in ctx.staging_modules()]


# --------------------------------------------------------------------------- after install


def register_unittest_plugin(layout: Layout, tool: Tool, pkg_dir: Path) -> None:
    """Register helm-unittest as a helm plugin without its download hook (offline)."""
    plugin_dir = layout.helm_plugins_dir / "unittest"
    plugin_dir.mkdir(parents=True, exist_ok=True)
    relink(plugin_dir / "untt", pkg_dir / "bin" / "untt")
    # Helm 3 reads plugin.yaml strictly: only known keys, and no hooks.
    atomic_write(
        plugin_dir / "plugin.yaml",
        "name: unittest\n"
        f'version: "{tool.version.lstrip("v")}"\n'
        'usage: "unit test for helm charts"\n'
        'description: "helm-unittest, built and registered offline by fadi-seldon"\n'
        "ignoreFlags: false\n"
        "platformCommand:\n"
        '  - command: "$HELM_PLUGIN_DIR/untt"\n',
    )


def install_ct_config(layout: Layout, tool: Tool, pkg_dir: Path) -> None:
    """Expose ct's lintconf.yaml and chart_schema.yaml at a stable path."""
    etc = layout.tools_dir / "ct" / "etc"
    etc.mkdir(parents=True, exist_ok=True)
    for name in ("lintconf.yaml", "chart_schema.yaml"):
        src = pkg_dir / "etc" / name
        if not src.is_file():
            raise ToolError(f"ct: {src} is missing from the installed package")
        shutil.copyfile(src, etc / name)
