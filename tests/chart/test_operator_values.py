"""The operator chart's values: upstream compatibility, one source of truth, a strict schema."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

from conftest import tool
from fadi_seldon.runtime import versions
from fadi_seldon.sdep.predictor_servers import DEFAULT_SERVERS

CHART = Path(__file__).resolve().parents[2] / "charts" / "seldon-core-operator"
VALUES = yaml.safe_load((CHART / "values.yaml").read_text())
SCHEMA = json.loads((CHART / "values.schema.json").read_text())
ALL_KEYS_FILE = CHART / "ci" / "upstream-all-keys-values.yaml"

# The values keys of the upstream seldon-core-operator chart 1.17.1 (research/upstream-operator.md §1.2):
# the compatibility contract. predictor_servers is a map of user-chosen names, so only its root counts.
UPSTREAM_KEYS = [
    "namespaceOverride",
    "ambassador.enabled",
    "ambassador.version",
    "ambassador.singleNamespace",
    "istio.enabled",
    "istio.gateway",
    "istio.tlsMode",
    "keda.enabled",
    "certManager.enabled",
    "controllerId",
    "managerCreateResources",
    "defaultUserID",
    "managerUserID",
    "executor.port",
    "executor.metricsPortName",
    "executor.image.pullPolicy",
    "executor.image.registry",
    "executor.image.repository",
    "executor.image.tag",
    "executor.resources.cpuLimit",
    "executor.resources.cpuRequest",
    "executor.resources.memoryLimit",
    "executor.resources.memoryRequest",
    "executor.prometheus.path",
    "executor.serviceAccount.name",
    "executor.user",
    "executor.requestLogger.defaultEndpoint",
    "executor.requestLogger.workQueueSize",
    "executor.requestLogger.writeTimeoutMs",
    "executor.fullHealthChecks",
    "image.pullPolicy",
    "image.registry",
    "image.repository",
    "image.tag",
    "manager.cpuLimit",
    "manager.cpuRequest",
    "manager.memoryLimit",
    "manager.memoryRequest",
    "manager.logLevel",
    "manager.leaderElectionID",
    "manager.leaderElectionResourceLock",
    "manager.priorityClassName",
    "manager.leaderElectionLeaseDurationSecs",
    "manager.leaderElectionRenewDeadlineSecs",
    "manager.leaderElectionRetryPeriodSecs",
    "manager.annotations",
    "manager.containerSecurityContext",
    "manager.deploymentNameAsPrefix",
    "rbac.create",
    "rbac.configmap.create",
    "serviceAccount.create",
    "serviceAccount.name",
    "singleNamespace",
    "storageInitializer.cpuLimit",
    "storageInitializer.cpuRequest",
    "storageInitializer.image",
    "storageInitializer.memoryLimit",
    "storageInitializer.memoryRequest",
    "usageMetrics.enabled",
    "hostNetwork",
    "webhook.port",
    "metrics.port",
    "predictiveUnit.httpPort",
    "predictiveUnit.grpcPort",
    "predictiveUnit.metricsPortName",
    "predictiveUnit.defaultEnvSecretRefName",
    "predictor_servers",
    "crd.create",
    "crd.forceV1",
    "crd.forceV1beta1",
    "crd.annotations",
    "credentials.gcs.gcsCredentialFileName",
    "credentials.s3.s3AccessKeyIDName",
    "credentials.s3.s3SecretAccessKeyName",
    "kubeflow",
    "explainer.image",
    "explainer.image_v2",
]


def _get(tree: dict, dotted: str):
    node = tree
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(dotted)
        node = node[part]
    return node


def _leaf_paths(tree: dict, prefix: str = "") -> list[str]:
    out = []
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value and key != "predictor_servers":
            out += _leaf_paths(value, path + ".")
        else:
            out.append(path)
    return out


def _render(*args: str) -> list[dict]:
    proc = subprocess.run(
        [tool("helm"), "template", "compat", str(CHART), "--namespace", "seldon-system", *args],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    return [d for d in yaml.load_all(proc.stdout, Loader=yaml.CSafeLoader) if d]


def _env(docs: list[dict]) -> dict[str, str]:
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    return {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}


def test_predictor_servers_defaults_match_the_validator():
    assert VALUES["predictor_servers"] == DEFAULT_SERVERS


def test_app_version_and_seldon_image_tags_follow_versions_env():
    version = versions.get("SELDON_CORE_VERSION")
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["appVersion"] == version
    text = (CHART / "values.yaml").read_text()
    tags = re.findall(r"seldonio/(?:rclone-storage-initializer|alibiexplainer):([0-9][^\s\"']*)", text)
    tags += [
        p["defaultImageVersion"]
        for s in VALUES["predictor_servers"].values()
        for p in s["protocols"].values()
        if p["image"].startswith("seldonio/") and p["image"] != "seldonio/mlserver"
    ]
    assert tags and set(tags) == {version}
    assert VALUES["image"]["tag"] == "" and VALUES["executor"]["image"]["tag"] == ""  # appVersion


def test_every_upstream_key_exists_in_values_and_schema():
    missing_values = [k for k in UPSTREAM_KEYS if _safe_has(VALUES, k) is False]
    assert missing_values == []
    for key in UPSTREAM_KEYS:
        node = SCHEMA
        for part in key.split("."):
            node = node["properties"][part]
        assert "description" in node or "type" in node, key


def _safe_has(tree, dotted) -> bool:
    try:
        _get(tree, dotted)
        return True
    except KeyError:
        return False


def test_the_all_keys_file_sets_every_upstream_key():
    values = yaml.safe_load(ALL_KEYS_FILE.read_text())
    assert [k for k in UPSTREAM_KEYS if not _safe_has(values, k)] == []


def test_the_all_keys_file_renders_with_the_same_meaning():
    docs = _render("-f", str(ALL_KEYS_FILE))
    env = _env(docs)
    assert env["CONTROLLER_ID"] == "seldon-id1"
    assert (
        env["EXECUTOR_CONTAINER_IMAGE_AND_VERSION"]
        == "registry.example.com/mirror/seldon-core-executor:1.17.1"
    )
    assert env["EXECUTOR_REQUEST_LOGGER_WORK_QUEUE_SIZE"] == "500"
    assert env["ISTIO_GATEWAY"] == "istio-system/my-gateway"
    assert env["MANAGER_LEADER_ELECTION_RESOURCE_LOCK"] == "leases"
    assert env["DEPLOYMENT_NAME_AS_PREFIX"] == "true"
    assert env["WATCH_NAMESPACE"] == "seldon-system"
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "my-seldon-manager"
    assert pod["priorityClassName"] == "high-priority"
    assert pod["containers"][0]["securityContext"]["runAsGroup"] == 1000
    assert pod["securityContext"]["runAsUser"] == 1000
    config = next(d for d in docs if d["kind"] == "ConfigMap")
    assert "LIGHTGBM_SERVER" in json.loads(config["data"]["predictor_servers"])
    crd = next(d for d in docs if d["kind"] == "CustomResourceDefinition")
    assert crd["metadata"]["annotations"]["example.com/owner"] == "platform"
    bindings = [d for d in docs if d["kind"] == "RoleBinding"]
    assert bindings and all(b["subjects"][0]["name"] == "my-seldon-manager" for b in bindings)


def test_values_yaml_is_valid_against_its_schema():
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    jsonschema.Draft7Validator(SCHEMA).validate(VALUES)
    for ci in sorted((CHART / "ci").glob("*-values.yaml")):
        jsonschema.Draft7Validator(SCHEMA).validate(yaml.safe_load(ci.read_text()) or {})


def test_schema_and_values_declare_the_same_keys():
    def schema_paths(node: dict, prefix: str = "") -> set[str]:
        out = set()
        for key, sub in (node.get("properties") or {}).items():
            path = f"{prefix}{key}"
            if sub.get("properties") and sub.get("additionalProperties") is False:
                out |= schema_paths(sub, path + ".")
            else:
                out.add(path)
        return out

    # `enabled` is set by an umbrella chart, not by us; `global` is open (an umbrella's other globals)
    # but declares its own keys (global.imageRegistry)
    in_schema = schema_paths(SCHEMA) - {"global", "enabled"}
    in_schema |= {f"global.{k}" for k in SCHEMA["properties"]["global"].get("properties", {})}
    in_values = set(_leaf_paths(VALUES))
    # maps whose content is free-form (security contexts, probes, scheduling) are leaves in the schema
    collapsed = {p for p in in_values if not any(p == s or p.startswith(s + ".") for s in in_schema)}
    assert collapsed == set(), "values.yaml keys missing from values.schema.json"
    unused = {s for s in in_schema if not any(p == s or p.startswith(s + ".") for p in in_values)}
    assert unused == set(), "values.schema.json keys missing from values.yaml"


def test_every_schema_property_is_described():
    undescribed = []

    def walk(node: dict, path: str) -> None:
        for key, sub in (node.get("properties") or {}).items():
            if not sub.get("description"):
                undescribed.append(f"{path}.{key}")
            walk(sub, f"{path}.{key}")

    walk(SCHEMA, "")
    assert undescribed == []


def test_schema_is_self_contained_and_closed_where_keys_are_known():
    text = json.dumps(SCHEMA)
    assert '"$ref"' not in text
    open_maps = []

    def walk(node: dict, path: str) -> None:
        if node.get("type") == "object" and node.get("properties") and "additionalProperties" not in node:
            open_maps.append(path)
        for key, sub in (node.get("properties") or {}).items():
            walk(sub, f"{path}.{key}")
        if isinstance(node.get("additionalProperties"), dict):
            walk(node["additionalProperties"], f"{path}.*")

    walk(SCHEMA, "")
    # predictor_servers is user data (entries may carry extra keys); probe maps take any Probe field
    closed_expected = [p for p in open_maps if not p.startswith(".predictor_servers.*")]
    assert set(closed_expected) <= {".manager.livenessProbe", ".manager.readinessProbe"}, open_maps


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "enable=true"], "additional properties 'enable' not allowed"),
        (["--set", "usageMetric.enabled=false"], "additional properties 'usageMetric' not allowed"),
        (["--set", "webhook.timeoutSeconds=60"], "/webhook/timeoutSeconds"),
        (["--set", "manager.logLevel=verbose"], "/manager/logLevel"),
        (["--set", "webhook.url=http://insecure"], "/webhook/url"),
        (["--set-json", 'predictor_servers={"X":{"protocols":{"v2":{"tag":"1"}}}}'], "/predictor_servers/X"),
        (["--set", "istio.enabled=yes"], "/istio/enabled"),
        (["--set", "networkPolicy.enabled=yes"], "/networkPolicy/enabled"),
        (["--set", "networkPolicy.egress.apiServerPorts={70000}"], "/networkPolicy/egress/apiServerPorts/0"),
        (
            ["--set", "manager.podDisruptionBudget.maxUnavailable=one"],
            "/manager/podDisruptionBudget/maxUnavailable",
        ),
        (
            [
                "--set-json",
                'manager.topologySpreadConstraints=[{"maxSkew":0,"topologyKey":"zone",'
                '"whenUnsatisfiable":"ScheduleAnyway"}]',
            ],
            "/manager/topologySpreadConstraints/0/maxSkew",
        ),
        (
            ["--set", "webhook.tls.existingSecret=tls", "--set", "webhook.caBundle=bm90IGEgY2VydA=="],
            "/webhook/caBundle",
        ),
        (["--set", "extraObjects=not-a-list"], "/extraObjects"),
        (["--set", "global.imageRegistry=https://mirror.example.com"], "/global/imageRegistry"),
        (["--set", "image.digest=abc123"], "/image/digest"),
        (["--set", "executor.image.digest=sha256:XYZ"], "/executor/image/digest"),
        (["--set", "metrics.modelPodMonitor.enabled=yes"], "/metrics/modelPodMonitor/enabled"),
        (["--set", "metrics.modelPodMonitor.namespaces={Models}"], "/metrics/modelPodMonitor/namespaces/0"),
    ],
)
def test_schema_rejects_typos_and_wrong_types(args, message):
    proc = subprocess.run(
        [tool("helm"), "template", "compat", str(CHART), *args], capture_output=True, text=True
    )
    assert proc.returncode != 0
    assert message in proc.stderr


def test_cluster_wide_and_namespace_list_modes_are_distinct():
    cluster = _render()
    assert {d["kind"] for d in cluster} >= {"ClusterRole", "ClusterRoleBinding"}
    listed = _render("--set", "watchNamespaces={a,b}")
    workload_roles = [
        d for d in listed if d["kind"] in ("Role", "ClusterRole") and "leader" not in d["metadata"]["name"]
    ]
    assert {d["kind"] for d in workload_roles} == {"Role"}
    assert {d["metadata"]["namespace"] for d in workload_roles} == {"a", "b"}
