"""The gateway (`cluster gateway`): its manifests (least-privilege RBAC, restricted pods, the listener on
Traefik's entrypoint), the deploy's order against a fake kubectl, the CRDs read from the Go module cache,
the Traefik tool and image, and the version pins. On the real node: tests/cluster/test_17_gateway.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from fadi_seldon import tools as toolchain
from fadi_seldon.images import base, traefik
from fadi_seldon.localkube import gateway
from fadi_seldon.runtime import oci, versions
from fadi_seldon.tools import BuildContext, ToolError, sources
from test_images_executor import layer_files

IMAGE = "docker.io/library/traefik:v3.6.12"


def by_kind(docs: list[dict]) -> dict[str, dict]:
    return {doc["kind"]: doc for doc in docs}


def pod_of(docs: list[dict]) -> dict:
    return by_kind(docs)["Deployment"]["spec"]["template"]["spec"]


# --------------------------------------------------------------------------- manifests


def test_rbac_grants_only_reads_and_status_updates():
    rules = gateway.cluster_role()["rules"]
    grants = {
        (group, res, verb)
        for r in rules
        for group in r["apiGroups"]
        for res in r["resources"]
        for verb in r["verbs"]
    }
    writes = {g for g in grants if g[2] not in ("list", "watch")}
    assert writes == {(gateway.GROUP, f"{r}/status", "update") for r in
                      ("gatewayclasses", "gateways", "httproutes", "grpcroutes", "backendtlspolicies")}  # fmt: skip
    read = {(g, r) for g, r, v in grants if v in ("list", "watch")}
    assert ("", "secrets") in read and ("discovery.k8s.io", "endpointslices") in read
    assert (gateway.GROUP, "grpcroutes") in read and (gateway.GROUP, "referencegrants") in read
    # no wildcard, nothing the provider does not use: pods (OpenTelemetry only), nodes, the experimental routes
    flat = {x for g in grants for x in g}
    assert "*" not in flat
    assert not {"pods", "nodes", "tcproutes", "tlsroutes", "get", "create", "patch", "delete"} & flat
    binding = by_kind(gateway.access_manifests())["ClusterRoleBinding"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "traefik", "namespace": "fadi-gateway"}]
    assert binding["roleRef"]["name"] == gateway.cluster_role()["metadata"]["name"]


def test_the_pod_meets_the_restricted_profile_in_a_namespace_that_enforces_it():
    docs = gateway.manifests(IMAGE)
    namespace = by_kind(docs)["Namespace"]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    pod = pod_of(docs)
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["serviceAccountName"] == "traefik"
    (container,) = pod["containers"]
    ctx = container["securityContext"]
    assert ctx["allowPrivilegeEscalation"] is False and ctx["readOnlyRootFilesystem"] is True
    assert ctx["runAsNonRoot"] is True and ctx["capabilities"] == {"drop": ["ALL"]}
    assert ctx["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["securityContext"]["runAsUser"] == traefik.USER
    assert container["image"] == IMAGE
    assert container["readinessProbe"]["httpGet"] == {"path": "/ping", "port": "ping"}


def entrypoint_ports(args: list[str]) -> dict[str, int]:
    found = (re.fullmatch(r"--entryPoints\.(\w+)\.address=:(\d+)", a) for a in args)
    return {m.group(1): int(m.group(2)) for m in found if m}


def test_the_listener_port_is_the_entrypoint_port_and_the_service_reaches_it():
    docs = gateway.manifests(IMAGE, "10.96.0.42")
    (container,) = pod_of(docs)["containers"]
    ports = entrypoint_ports(container["args"])
    gw = by_kind(docs)["Gateway"]
    (listener,) = gw["spec"]["listeners"]
    assert listener["port"] == ports["web"] == 8000 and listener["protocol"] == "HTTP"
    assert listener["allowedRoutes"] == {"namespaces": {"from": "All"}}
    assert gw["metadata"] == {"name": "fadi", "namespace": "fadi-gateway", "labels": gateway.LABELS}
    assert gw["spec"]["gatewayClassName"] == by_kind(docs)["GatewayClass"]["metadata"]["name"] == "traefik"
    assert by_kind(docs)["GatewayClass"]["spec"] == {"controllerName": "traefik.io/gateway-controller"}
    (svc_port,) = by_kind(docs)["Service"]["spec"]["ports"]
    named = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert svc_port["port"] == gateway.PORT == 8000 and named[svc_port["targetPort"]] == ports["web"]
    assert by_kind(docs)["Service"]["spec"]["type"] == "ClusterIP"
    assert named["ping"] == ports["traefik"]
    assert "--providers.kubernetesgateway=true" in container["args"]
    assert "--providers.kubernetesgateway.statusAddress.ip=10.96.0.42" in container["args"]
    # nothing leaves the machine; no experimental channel: HTTPRoute and GRPCRoute are standard
    assert {"--global.checkNewVersion=false", "--global.sendAnonymousUsage=false"} <= set(container["args"])
    assert not any("experimental" in a.lower() for a in container["args"])


def test_without_a_cluster_ip_no_status_address_is_given():
    (container,) = pod_of(gateway.manifests(IMAGE))["containers"]
    assert not any("statusAddress" in a for a in container["args"])


# --------------------------------------------------------------------------- deploy, against a fake kubectl


CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {{name: {name}}}
---
"""


class FakeKubectl:
    """Applies recorded; CRDs Established, the Service with a ClusterIP, the Gateway Programmed once applied."""

    def __init__(self) -> None:
        self.applied: list[list[dict]] = []

    def kinds(self) -> set[str]:
        return {d["kind"] for batch in self.applied for d in batch}

    def get(self, *args: str) -> dict | None:
        ready = {"status": "True", "observedGeneration": 1}
        if args[0] == "crd":
            return {
                "metadata": {"generation": 1},
                "status": {"conditions": [{"type": "Established", **ready}]},
            }
        if args[0] == "service" and "Service" in self.kinds():
            return {"spec": {"clusterIP": "10.96.0.42", "ports": [{"name": "web", "port": 8000}]}}
        if args[0].startswith("gateways.") and "Gateway" in self.kinds():
            return {"metadata": {"generation": 1},
                    "status": {"conditions": [{"type": "Programmed", **ready}],
                               "addresses": [{"type": "IPAddress", "value": "10.96.0.42"}]}}  # fmt: skip
        if args[0] == "endpointslices":
            return {
                "items": [
                    {"ports": [{"name": "web", "port": 8000}], "endpoints": [{"addresses": ["10.244.0.9"]}]}
                ]
            }
        return None

    def apply(self, docs: list[dict]) -> None:
        self.applied.append(docs)


@pytest.fixture
def module(tmp_path, monkeypatch) -> Path:
    """A fake Gateway API module in a fake module cache."""
    folder = tmp_path / "gateway-api" / gateway.CRD_FOLDER
    folder.mkdir(parents=True)
    for name in ("gateways", "httproutes"):
        (folder / f"{gateway.GROUP}_{name}.yaml").write_text(CRD.format(name=f"{name}.{gateway.GROUP}"))
    traefik = tmp_path / "traefik" / gateway.TRAEFIK_CRD_FILE
    traefik.parent.mkdir(parents=True)
    traefik.write_text(CRD.format(name=f"traefikservices.{gateway.TRAEFIK_GROUP}"))
    asked = []

    def module_dir(module, version, go="go"):
        asked.append((module, version))
        return tmp_path / ("traefik" if module == "github.com/traefik/traefik/v3" else "gateway-api")

    monkeypatch.setattr(sources, "module_dir", module_dir)
    return folder


def test_deploy_applies_the_crds_first_then_traefik_with_the_service_ip(module):
    kubectl, said = FakeKubectl(), []
    result = gateway.deploy(kubectl, IMAGE, said.append, timeout=2, local_proxy=False)
    first, second, third = kubectl.applied
    assert [d["metadata"]["name"] for d in first] == [
        f"gateways.{gateway.GROUP}",
        f"httproutes.{gateway.GROUP}",
        f"traefikservices.{gateway.TRAEFIK_GROUP}",  # Traefik's own, for the shadows' mirroring
    ]
    assert {d["kind"] for d in second} == {
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Service",
    }
    assert [d["kind"] for d in third] == ["Deployment", "GatewayClass", "Gateway"]
    args = third[0]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--providers.kubernetesgateway.statusAddress.ip=10.96.0.42" in args
    assert {
        "--providers.kubernetescrd=true",
        "--providers.kubernetescrd.disableClusterScopeResources=true",
    } <= set(args)
    assert result["url"] == "http://10.96.0.42:8000" and result["addresses"] == ["10.96.0.42"]
    assert (result["namespace"], result["gateway"], result["port"], result["service"]) == (
        "fadi-gateway",
        "fadi",
        8000,
        "traefik",
    )
    assert any("programmed" in line for line in said)


def test_a_gateway_never_programmed_says_where_to_look(module):
    class Never(FakeKubectl):
        def get(self, *args: str) -> dict | None:
            return None if args[0].startswith("gateways.") else super().get(*args)

    with pytest.raises(gateway.GatewayError, match="not Programmed after .*logs deploy/traefik"):
        gateway.deploy(Never(), IMAGE, lambda _: None, timeout=0.3, local_proxy=False)


def test_a_stale_condition_is_not_the_current_one():
    obj = {
        "metadata": {"generation": 2},
        "status": {"conditions": [{"type": "Programmed", "status": "True", "observedGeneration": 1}]},
    }
    assert gateway.condition(obj, "Programmed") is None


def test_the_crds_are_read_from_the_module_cache_never_copied(module):
    files = gateway.crd_files()
    assert [f.parent for f in files] == [module, module]
    assert {d["metadata"]["name"] for d in gateway.crds(files)} == {
        f"gateways.{gateway.GROUP}",
        f"httproutes.{gateway.GROUP}",
    }
    repo = Path(__file__).resolve().parents[1]
    tracked = [
        p for p in repo.rglob(f"{gateway.GROUP}_*.yaml") if ".venv" not in p.parts and ".tools" not in p.parts
    ]
    assert not tracked, "the Gateway API CRDs are read from the module cache, not kept in the repository"


def test_module_dir_asks_the_go_command(tmp_path, monkeypatch):
    go = tmp_path / "go"
    go.write_text('#!/bin/sh\necho \'{"Path": "sigs.k8s.io/gateway-api", "Dir": "/cache/gw@v1"}\'\n')
    go.chmod(0o755)
    assert sources.module_dir("sigs.k8s.io/gateway-api", "v1.4.0", str(go)) == Path("/cache/gw@v1")
    go.write_text('#!/bin/sh\necho \'{"Error": "not found: 404"}\'\nexit 1\n')
    with pytest.raises(ToolError, match="not found: 404"):
        sources.module_dir("sigs.k8s.io/gateway-api", "v9.9.9", str(go))


# --------------------------------------------------------------------------- the tool, the pins, the image


def test_traefik_is_a_node_tool_released_or_built_from_the_module_proxy_with_its_version_stamped():
    tool = toolchain.registry()["traefik"]
    assert tool.group == "node" and tool.version == versions.get("TRAEFIK_VERSION")
    assert "traefik" in [t.name for t in toolchain.select(["node"])]
    module = "github.com/traefik/traefik/v3"
    assert tool.go.module == module and tool.go.binaries == {"traefik": f"{module}/cmd/traefik"}
    ctx = BuildContext(tool, tool.version, Path("/nonexistent"), "module x\n")
    assert f"-X {module}/pkg/version.Version={tool.version}" in tool.go.ldflags(ctx)
    assert tool.go.upstream_directives
    (art,) = tool.release(tool.version, "linux", "amd64")
    base = f"https://github.com/traefik/traefik/releases/download/{tool.version}"
    assert art.url == f"{base}/traefik_{tool.version}_linux_amd64.tar.gz" and art.members == {
        "traefik": "traefik"
    }
    assert art.sha256_url == f"{base}/traefik_{tool.version}_checksums.txt"
    printed = f"Version:      {tool.version}\nCodename:     x\n"  # what `traefik version` prints
    assert re.search(tool.version_pattern, printed, re.M).group(1) == tool.version


def test_a_release_checksum_list_gives_the_line_of_the_file():
    url = "https://x.invalid/v1/traefik_v1_linux_amd64.tar.gz"
    listing = "aaa  traefik_v1_darwin_arm64.tar.gz\nbbb  traefik_v1_linux_amd64.tar.gz\nccc  traefik_v1_linux_arm64.tar.gz\n"
    assert sources.expected_sha256(listing, url) == "bbb"
    assert sources.expected_sha256("ddd  other.tar.gz\neee *x.tgz\n", url) == ""
    # one line: its hash, whatever the name
    assert sources.expected_sha256("fff  traefik.tgz\n", url) == "fff"
    assert sources.expected_sha256("fff\n", url) == "fff"


GO_MOD = """module github.com/traefik/traefik/v3

go 1.25.0

require sigs.k8s.io/gateway-api v1.4.0

// forks
replace (
\tgithub.com/gorilla/mux => github.com/containous/mux v0.0.0-20250523120546-41b6ec3aed59
\tgithub.com/a/b v1.0.0 => github.com/c/d v1.1.0
)

exclude github.com/tencentcloud/tencentcloud-sdk-go v3.0.83+incompatible
"""


def test_upstream_replaces_and_excludes_are_restated_and_a_folder_replace_refused():
    tool = toolchain.registry()["traefik"]
    edits = sources.upstream_edits(BuildContext(tool, "v3.6.12", Path("/x"), GO_MOD))
    assert edits == [
        "-replace=github.com/gorilla/mux=github.com/containous/mux@v0.0.0-20250523120546-41b6ec3aed59",
        "-replace=github.com/a/b@v1.0.0=github.com/c/d@v1.1.0",
        "-exclude=github.com/tencentcloud/tencentcloud-sdk-go@v3.0.83+incompatible",
    ]
    folder = GO_MOD + "replace github.com/traefik/traefik/dynamic/ext => ./pkg/config/dynamic/ext\n"
    with pytest.raises(ToolError, match="folder ./pkg/config/dynamic/ext.*pin an older version"):
        sources.upstream_edits(BuildContext(tool, "v3.7.13", Path("/x"), folder))


def test_the_gateway_api_pin_is_what_traefiks_go_mod_requires():
    pinned = versions.get("GATEWAY_API_VERSION")
    assert tuple(int(x) for x in pinned.lstrip("v").split(".")) <= (1, 6, 3), "v1.7.0 needs a newer Go"
    go_mod = (
        base.module_cache()
        / "cache/download/github.com/traefik/traefik/v3/@v"
        / f"{versions.get('TRAEFIK_VERSION')}.mod"
    )
    if not go_mod.is_file():
        pytest.skip(f"Traefik's go.mod is not in the module cache ({go_mod}): `make tools TOOLS=traefik`")
    tool = toolchain.registry()["traefik"]
    assert (
        BuildContext(tool, tool.version, go_mod.parent, go_mod.read_text()).required_version(
            "sigs.k8s.io/gateway-api"
        )
        == pinned
    )


def test_the_image_is_traefik_as_user_65532(tmp_path, tools_dir, fake_base):
    binary = tmp_path / "traefik"
    binary.write_bytes(b"\x7fELF traefik")
    built = traefik.build(binary=binary)
    assert built.ref == f"docker.io/library/traefik:{versions.get('TRAEFIK_VERSION')}"
    config = oci.read_config(built.archive)["config"]
    assert config["Entrypoint"] == ["traefik"] and config["User"] == "65532:65532"
    assert any(e.startswith("PATH=") for e in config["Env"])
    files = layer_files(built.archive, 1)
    assert files["<data>usr/local/bin/traefik"] == b"\x7fELF traefik" and "licenses/traefik.md" in files
    assert files["usr/local/bin/traefik"].mode == 0o755
    assert traefik.build(binary=binary).cached
    json.dumps(built.ref)  # a plain string, as `cluster load -o json` prints it


# --------------------------------------------------------------------------- cluster up and cluster gateway


class FakePlane:
    """A cluster that is up at once, with a real node or not; the lines it says kept."""

    def __init__(self, real: bool, root: Path) -> None:
        from fadi_seldon.localkube.layout import Layout

        self.real_node, self.said, self.layout = real, [], Layout(root)
        root.mkdir(parents=True, exist_ok=True)
        self.layout.kubeconfig.write_text("apiVersion: v1\nkind: Config\n")

    def node_spec(self, **_):
        return None

    def up(self, **_) -> dict:
        return {"started": True, "ready": True, "components": [], "state_dir": str(self.layout.root)}

    def say(self, message: str) -> None:
        self.said.append(message)


@pytest.fixture
def plane(tmp_path, monkeypatch):
    """`cluster` commands against a FakePlane; `gateway.up` recorded, never run."""
    import fadi_seldon.localkube as localkube
    from fadi_seldon.doctor import kubectl
    from fadi_seldon.tools import layout

    made: dict = {"real": True, "calls": []}

    def control_plane(root):
        made["plane"] = FakePlane(made["real"], tmp_path / "state")
        return made["plane"]

    def up(kubectl, layout, say, timeout):
        made["calls"].append(timeout)
        say("  gateway fadi-gateway/fadi programmed")
        return {"url": "http://10.96.0.42:8000", "namespace": gateway.NAMESPACE, "gateway": gateway.GATEWAY}

    monkeypatch.setattr(localkube, "ControlPlane", control_plane)
    monkeypatch.setattr(kubectl, "_kubectl", lambda: "/bin/true")
    monkeypatch.setattr(gateway, "up", up)
    monkeypatch.setattr(layout, "find_executable", lambda name: f"/fake/bin/{name}")
    return made


def test_cluster_up_brings_the_gateway_up_on_a_real_node_unless_told_not_to(capsys, plane):
    from conftest import run_cli

    code, out, _ = run_cli(capsys, ["cluster", "up", "-o", "json"])
    assert code == 0 and json.loads(out)["gateway"]["url"] == "http://10.96.0.42:8000"
    assert plane["calls"] == [120.0] and any("gateway ready in" in line for line in plane["plane"].said)
    code, out, _ = run_cli(capsys, ["cluster", "up", "--no-gateway", "--timeout-scale", "2", "-o", "json"])
    assert code == 0 and "gateway" not in json.loads(out) and plane["calls"] == [120.0]
    plane["real"] = False  # a simulated node runs no pods: no gateway, and no error either
    code, out, _ = run_cli(capsys, ["cluster", "up", "-o", "json"])
    assert code == 0 and "gateway" not in json.loads(out) and plane["calls"] == [120.0]


def test_cluster_up_without_traefik_installed_says_so_and_stays_up(capsys, plane, monkeypatch):
    from conftest import run_cli
    from fadi_seldon.tools import layout

    monkeypatch.setattr(layout, "find_executable", lambda name: None)
    code, out, _ = run_cli(capsys, ["cluster", "up", "-o", "json"])
    assert code == 0 and json.loads(out)["gateway"] is None and plane["calls"] == []
    assert any("tools install traefik" in line for line in plane["plane"].said)


def test_cluster_gateway_prints_the_url_and_needs_a_real_node(capsys, plane):
    from conftest import run_cli

    code, out, _ = run_cli(capsys, ["cluster", "gateway"])
    assert (code, out.strip()) == (0, "http://10.96.0.42:8000")
    code, out, _ = run_cli(capsys, ["cluster", "gateway", "--wait", "30", "-o", "json"])
    assert code == 0 and json.loads(out)["gateway"] == "fadi" and plane["calls"] == [120.0, 30.0]
    plane["real"] = False
    code, _, err = run_cli(capsys, ["cluster", "gateway"])
    assert code == 3 and "needs the real node" in err and "cluster up --node real" in err
