"""The tool table: every external tool of the project, its version key, group and sources; and
the system packages a group needs from the operating system.

Adding a tool is one entry in :data:`TOOLS`, a system requirement one entry in
:data:`SYSTEM_PACKAGES`. Versions are read from versions.env when asked (:attr:`Tool.version`),
not at import.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fadi_seldon.runtime import versions
from fadi_seldon.tools import recipes, source_release
from fadi_seldon.tools.spec import (
    Artifact,
    GoRecipe,
    SourceBuild,
    SourceRelease,
    SystemPackage,
    Tool,
    ToolError,
)

GROUPS = ("chart", "cluster", "operator", "node")

KUBERNETES_EXECUTABLES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")
# a real node's agents: a tool of their own, so installing them never rebuilds the control plane
KUBERNETES_NODE_EXECUTABLES = ("kubelet", "kube-proxy")
CONTAINERD_MODULE = "github.com/containerd/containerd/v2"
CONTAINERD_EXECUTABLES = ("containerd", "containerd-shim-runc-v2", "ctr")
# upstream's release tags (Makefile): no docs generator, none of the snapshotters this host lacks;
# the shim without gRPC (it serves ttrpc only)
CONTAINERD_TAGS = ("urfave_cli_no_docs", "no_btrfs", "no_devmapper", "no_zfs")
CONTAINERD_SHIM_TAGS = ("urfave_cli_no_docs", "no_grpc")
SELDON_OPERATOR_MODULE = "github.com/seldonio/seldon-core/operator"
SELDON_EXECUTOR_MODULE = "github.com/seldonio/seldon-core/executor"
TRAEFIK_MODULE = "github.com/traefik/traefik/v3"


def seldon_core_release() -> SourceRelease:
    """Seldon Core's source release, pinned in versions.env: the input of the operator and the executor.

    The Go module proxy refuses `github.com/seldonio/seldon-core/operator` at 1.17.x and the executor
    at every version, so both are built from Seldon's own source release archive (`git archive` of
    tag v1.17.1, holding `operator/` and `executor/`), which the user provides.
    """
    version = versions.get("SELDON_CORE_VERSION")
    return SourceRelease(
        project="Seldon Core",
        version=version,
        file_name=versions.get("SELDON_CORE_SOURCE_FILE"),
        sha256=versions.get("SELDON_CORE_SOURCE_SHA256"),
        top_folder=f"seldon-core-{version}",
        env_var="SELDON_CORE_SOURCE",
        otherwise=(
            f"pull Seldon's published images (docker.io/seldonio/seldon-core-operator:{version}, "
            f"seldon-core-executor:{version}) from a registry instead of building them"
        ),
    )


def seldon_core_source() -> Path:
    """Seldon Core's source release archive, found and checked (sha256, top folder) before any use."""
    return source_release.resolve(seldon_core_release())


def _helm_release(exe: str):
    def artifacts(version: str, os_name: str, arch: str) -> list[Artifact]:
        url = f"https://get.helm.sh/helm-{version}-{os_name}-{arch}.tar.gz"
        return [Artifact(url, {f"{os_name}-{arch}/helm": exe}, sha256_url=url + ".sha256sum")]

    return artifacts


def _kubernetes_release(executables: tuple[str, ...]):
    def artifacts(version: str, os_name: str, arch: str) -> list[Artifact]:
        base = f"https://dl.k8s.io/release/{version}/bin/{os_name}/{arch}"
        return [
            Artifact(f"{base}/{exe}", {"": exe}, sha256_url=f"{base}/{exe}.sha256") for exe in executables
        ]

    return artifacts


def _kubernetes_go(executables: tuple[str, ...]) -> GoRecipe:
    return GoRecipe(
        "k8s.io/kubernetes",
        {exe: f"k8s.io/kubernetes/cmd/{exe}" for exe in executables},
        ldflags=recipes.k8s_ldflags,
        replaces=recipes.k8s_replaces,
    )


def _containerd_release(version: str, os_name: str, arch: str) -> list[Artifact]:
    url = (
        f"https://github.com/containerd/containerd/releases/download/{version}/"
        f"containerd-{version.lstrip('v')}-{os_name}-{arch}.tar.gz"
    )
    return [
        Artifact(url, {f"bin/{exe}": exe for exe in CONTAINERD_EXECUTABLES}, sha256_url=url + ".sha256sum")
    ]


def _coredns_release(version: str, os_name: str, arch: str) -> list[Artifact]:
    url = (
        f"https://github.com/coredns/coredns/releases/download/{version}/"
        f"coredns_{version.lstrip('v')}_{os_name}_{arch}.tgz"
    )
    return [Artifact(url, {"coredns": "coredns"}, sha256_url=url + ".sha256")]


def _traefik_release(version: str, os_name: str, arch: str) -> list[Artifact]:
    base = f"https://github.com/traefik/traefik/releases/download/{version}"
    return [
        Artifact(
            f"{base}/traefik_{version}_{os_name}_{arch}.tar.gz",
            {"traefik": "traefik"},
            sha256_url=f"{base}/traefik_{version}_checksums.txt",  # one list for the release's files
        )
    ]


TOOLS: tuple[Tool, ...] = (
    Tool(
        name="helm",
        version_key="HELM_VERSION",
        executables=("helm",),
        version_args=("version", "--template", "{{.Version}}"),
        version_pattern=r"^(v?\d+\.\d+\.\d+\S*)",
        group="chart",
        release=_helm_release("helm"),
        go=GoRecipe("helm.sh/helm/v3", {"helm": "helm.sh/helm/v3/cmd/helm"}, ldflags=recipes.helm3_ldflags),
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
        after_install=recipes.install_ct_config,
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
        after_install=recipes.register_unittest_plugin,
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
        executables=KUBERNETES_EXECUTABLES,
        version_args=("--version",),
        version_pattern=r"Kubernetes\s+(v\S+)",
        group="cluster",
        release=_kubernetes_release(KUBERNETES_EXECUTABLES),
        go=_kubernetes_go(KUBERNETES_EXECUTABLES),
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
                f"https://github.com/kubernetes-sigs/kwok/releases/download/{v}/kwok-{o}-{a}", {"": "kwok"}
            )
        ],
        go=GoRecipe(
            "sigs.k8s.io/kwok",
            {"kwok": "sigs.k8s.io/kwok/cmd/kwok"},
            ldflags=lambda ctx: [f"-X sigs.k8s.io/kwok/pkg/consts.Version={ctx.version.lstrip('v')}"],
        ),
    ),
    # Upstream ships only container images (no binary to download) and the module proxy refuses both
    # modules at 1.17.x: built from Seldon's source release. Neither has a --version flag; the build
    # info records the module's version (the wrapper module requires it at the release's version).
    Tool(
        name="seldon-operator",
        version_key="SELDON_CORE_VERSION",
        executables=("seldon-operator",),
        buildinfo_module=SELDON_OPERATOR_MODULE,
        group="operator",
        # upstream: `go build -o manager .` in operator/ (cgo unused; its image is distroless static)
        source=SourceBuild(
            seldon_core_release,
            SELDON_OPERATOR_MODULE,
            SELDON_OPERATOR_MODULE,
            {SELDON_OPERATOR_MODULE: "operator"},
        ),
    ),
    Tool(
        name="seldon-executor",
        version_key="SELDON_CORE_VERSION",
        executables=("seldon-executor",),
        buildinfo_module=SELDON_EXECUTOR_MODULE,
        group="operator",
        # upstream: `go build -o executor cmd/executor/main.go` in executor/ with ../operator copied to
        # ./_operator (its go.mod replaces the operator by that folder); cgo for confluent-kafka-go
        source=SourceBuild(
            seldon_core_release,
            SELDON_EXECUTOR_MODULE,
            f"{SELDON_EXECUTOR_MODULE}/cmd/executor",
            {SELDON_EXECUTOR_MODULE: "executor", SELDON_OPERATOR_MODULE: "operator"},
            cgo=True,
        ),
    ),
    Tool(
        name="kubernetes-node",
        version_key="KUBERNETES_VERSION",
        executables=KUBERNETES_NODE_EXECUTABLES,
        version_args=("--version",),
        version_pattern=r"Kubernetes\s+(v\S+)",
        group="node",
        release=_kubernetes_release(KUBERNETES_NODE_EXECUTABLES),
        go=_kubernetes_go(KUBERNETES_NODE_EXECUTABLES),
    ),
    Tool(
        name="containerd",
        version_key="CONTAINERD_VERSION",
        executables=CONTAINERD_EXECUTABLES,
        version_args=("--version",),  # "containerd github.com/containerd/containerd/v2 v2.4.2 "
        version_pattern=r"^containerd\s+\S+\s+(v?\d+\.\d+\.\d+\S*)",
        group="node",
        release=_containerd_release,
        go=GoRecipe(
            CONTAINERD_MODULE,
            {exe: f"{CONTAINERD_MODULE}/cmd/{exe}" for exe in CONTAINERD_EXECUTABLES},
            ldflags=lambda ctx: [f"-X {CONTAINERD_MODULE}/version.Version={ctx.version}"],
            tags={
                "containerd": CONTAINERD_TAGS,
                "containerd-shim-runc-v2": CONTAINERD_SHIM_TAGS,
                "ctr": CONTAINERD_TAGS,
            },
        ),
    ),
    Tool(
        name="coredns",
        version_key="COREDNS_VERSION",
        executables=("coredns",),
        # the version is a constant of the source ("CoreDNS-1.15.0"): nothing to stamp
        version_args=("-version",),
        version_pattern=r"CoreDNS-(\d+\.\d+\.\d+\S*)",
        group="node",
        release=_coredns_release,
        go=GoRecipe("github.com/coredns/coredns", {"coredns": "github.com/coredns/coredns"}),
    ),
    # rclone: the storage initializer's program (`rclone copy SRC /mnt/models`), the local object store
    # (`rclone serve s3`) and `fadi-seldon upload`. Upstream's initializer image carries 1.59.1; one newer
    # build serves all three because `serve s3` exists only from 1.65 (docs/prepackaged-servers.md).
    Tool(
        name="rclone",
        version_key="RCLONE_VERSION",
        executables=("rclone",),
        version_args=("version",),  # "rclone v1.76.0\n- os/version: ..."
        version_pattern=r"^rclone\s+(v\d+\.\d+\.\d+\S*)",
        group="node",
        # releases are zip files (the installer unpacks tar archives): built from the module proxy
        go=GoRecipe(
            "github.com/rclone/rclone",
            {"rclone": "github.com/rclone/rclone"},
            ldflags=lambda ctx: [f"-X github.com/rclone/rclone/fs.Version={ctx.version}"],
        ),
    ),
    # Traefik: the Gateway API implementation of `cluster gateway` (its kubernetesgateway provider). Its
    # release archive, else built from the module proxy restating its go.mod's forks (gorilla/mux,
    # go-http-auth, minheap) and exclude. v3.7.x cannot be built so: its go.mod replaces a nested module
    # by a folder (./pkg/config/dynamic/ext) that the module proxy does not serve (docs/gateway.md).
    Tool(
        name="traefik",
        version_key="TRAEFIK_VERSION",
        executables=("traefik",),
        version_args=("version",),  # "Version:      v3.6.12\nCodename: ..."
        version_pattern=r"^Version:\s+(v?\d+\.\d+\.\d+\S*)",
        group="node",
        release=_traefik_release,
        go=GoRecipe(
            TRAEFIK_MODULE,
            {"traefik": f"{TRAEFIK_MODULE}/cmd/traefik"},
            ldflags=lambda ctx: [
                f"-X {TRAEFIK_MODULE}/pkg/version.Version={ctx.version}",
                f"-X {TRAEFIK_MODULE}/pkg/version.BuildDate=1970-01-01T00:00:00Z",
            ],
            upstream_directives=True,
        ),
    ),
    Tool(
        name="actionlint",
        version_key="ACTIONLINT_VERSION",
        executables=("actionlint",),
        # "v1.7.12\ninstalled by ..."; a build from a wrapper module would say "(devel)" unstamped
        version_args=("-version",),
        version_pattern=r"^(v?\d+\.\d+\.\d+\S*)",
        group="chart",
        release=lambda v, o, a: [
            Artifact(
                f"https://github.com/rhysd/actionlint/releases/download/{v}/actionlint_{v.lstrip('v')}_{o}_{a}.tar.gz",
                {"actionlint": "actionlint"},
            )
        ],
        go=GoRecipe(
            "github.com/rhysd/actionlint",
            {"actionlint": "github.com/rhysd/actionlint/cmd/actionlint"},
            ldflags=lambda ctx: [f"-X github.com/rhysd/actionlint.version={ctx.version}"],
        ),
    ),
)

# What a real node needs from the operating system (Debian packages; see ../shared/research/real-node.md).
# kube-proxy clears conntrack entries over netlink, so the `conntrack` program is not needed.
CNI_DIR = "/usr/lib/cni"
SYSTEM_PACKAGES: tuple[SystemPackage, ...] = (
    SystemPackage(
        "runc", "runc", "node", ("runc",), purpose="the OCI runtime containerd starts containers with"
    ),
    SystemPackage(
        "iptables",
        "iptables",
        "node",
        ("iptables", "iptables-save", "iptables-restore"),
        purpose="kube-proxy's Service rules and kubelet's chains",
    ),
    SystemPackage(
        "ip6tables",
        "iptables",
        "node",
        ("ip6tables", "ip6tables-save", "ip6tables-restore"),
        purpose="kubelet's IPv6 chains",
    ),
    SystemPackage(
        "cni",
        "containernetworking-plugins",
        "node",
        tuple(f"{CNI_DIR}/{plugin}" for plugin in ("bridge", "host-local", "loopback", "portmap")),
        location=CNI_DIR,
        purpose="the pod network plugins (containerd's CNI bin_dirs)",
    ),
    SystemPackage(
        "nft",
        "nftables",
        "node",
        ("nft",),
        purpose="the host snapshot and `cluster down` removing the empty tables iptables-nft leaves",
    ),
    SystemPackage("ip", "iproute2", "node", ("ip",), purpose="the node's bridge (cluster up/down)"),
    SystemPackage("debootstrap", "debootstrap", "node", ("debootstrap",), purpose="Debian base images"),
    SystemPackage("gcc", "gcc", "node", ("gcc",), purpose="the static pause binary"),
    SystemPackage(
        "libc.a",
        "libc6-dev",
        "node",
        ("/usr/lib/*-linux-gnu/libc.a",),
        purpose="static linking of the pause binary (gcc -static)",
    ),
    # Debian's prometheus package ships promtool (its service is not started by the install)
    SystemPackage(
        "promtool",
        "prometheus",
        "chart",
        ("promtool",),
        purpose="`promtool check rules` of the chart's alert rules and dashboard queries (scripts/lint-charts.sh)",
    ),
)


def registry() -> dict[str, Tool]:
    """Every external tool of the project, by name."""
    return {t.name: t for t in TOOLS}


def system_registry() -> dict[str, SystemPackage]:
    """Every system package a group needs, by name."""
    return {p.name: p for p in SYSTEM_PACKAGES}


def _names(names: Sequence[str], tools: dict[str, Tool]) -> list[str]:
    """The tool names that `names` (tools, groups, or "all") stand for, in the order given.

    System package names are accepted and stand for no tool (see :func:`select_system`).
    """
    wanted: list[str] = []
    system = system_registry()
    for name in names or ["all"]:
        if name == "all":
            wanted += list(tools)
        elif name in GROUPS:
            wanted += [t.name for t in tools.values() if t.group == name]
        elif name in tools:
            wanted.append(name)
        elif name not in system:
            known = ", ".join([*tools, *GROUPS, "all"])
            raise ToolError(
                f"unknown tool {name!r}; known tools and groups: {known}; system packages: {', '.join(system)}"
            )
    return wanted


def select(names: Sequence[str], tools: dict[str, Tool] | None = None) -> list[Tool]:
    """Tools named (or groups named) plus what they require, in dependency order."""
    tools = tools if tools is not None else registry()
    ordered: list[str] = []

    def visit(n: str) -> None:
        if n in ordered:
            return
        for dep in tools[n].requires:
            visit(dep)
        ordered.append(n)

    for n in _names(names, tools):
        visit(n)
    return [tools[n] for n in ordered]


def select_system(names: Sequence[str]) -> list[SystemPackage]:
    """System packages that `names` (groups, "all", or system package names) need, in table order."""
    asked = set(names or ["all"])
    return [p for p in SYSTEM_PACKAGES if {"all", p.group, p.name} & asked]
