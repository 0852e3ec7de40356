"""Pod-template checks (validator.later) and the operator's pod templates they run on (operator_objects)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from fadi_seldon.sdep import operator_objects, quantity, validator
from fadi_seldon.sdep.validator import later

P = "spec.predictors[0].componentSpecs[0].spec"
C = f"{P}.containers[0]"


def sdep(
    container: dict | None = None, pod: dict | None = None, graph: dict | None = None, **annotations
) -> dict:
    spec = {
        "containers": [{"name": "classifier", "image": "seldonio/mock_classifier:1.0", **(container or {})}]
    }
    predictor = {
        "name": "default",
        "graph": graph or {"name": "classifier", "type": "MODEL"},
        "componentSpecs": [{"spec": {**spec, **(pod or {})}}],
    }
    if annotations:
        predictor["annotations"] = annotations
    return {"apiVersion": "machinelearning.seldon.io/v1", "kind": "SeldonDeployment",
            "metadata": {"name": "iris"}, "spec": {"predictors": [predictor]}}  # fmt: skip


def later_findings(obj: dict) -> set[tuple[str, str]]:
    return {(f.rule, f.path) for f in validator.validate_object(obj) if f.rule in later.RULES}


CASES = [
    ("pod-volume-mount", f"{C}.volumeMounts[0].name",
     {"volumeMounts": [{"name": "models", "mountPath": "/m"}]}, {},
     {"volumes": [{"name": "models", "emptyDir": {}}]}),
    ("pod-duplicate-container", f"{P}.initContainers[0].name",
     {}, {"initContainers": [{"name": "classifier", "image": "busybox"}]},
     {"initContainers": [{"name": "fetch", "image": "busybox"}]}),
    ("pod-duplicate-volume", f"{P}.volumes[1].name",
     {}, {"volumes": [{"name": "a", "emptyDir": {}}, {"name": "a", "emptyDir": {}}]},
     {"volumes": [{"name": "a", "emptyDir": {}}, {"name": "b", "emptyDir": {}}]}),
    ("pod-volume-name", f"{P}.volumes[0].name",
     {}, {"volumes": [{"name": "Cache", "emptyDir": {}}]}, {"volumes": [{"name": "cache", "emptyDir": {}}]}),
    ("pod-port-name", f"{C}.ports[0].name",
     {"ports": [{"name": "my_port", "containerPort": 1}]}, {}, {"ports": [{"name": "my-port", "containerPort": 1}]}),
    ("pod-duplicate-port-name", f"{C}.ports[1].name",
     {"ports": [{"name": "http", "containerPort": 1}, {"name": "http", "containerPort": 2}]}, {},
     {"ports": [{"name": "http", "containerPort": 1}, {"name": "http2", "containerPort": 2}]}),
    ("pod-env-name", f"{C}.env[0].name",
     {"env": [{"name": "A=B", "value": "1"}]}, {}, {"env": [{"name": "my.env-name 1", "value": "1"}]}),
    ("pod-requests-above-limits", f"{C}.resources.requests.cpu",
     {"resources": {"requests": {"cpu": "1.5"}, "limits": {"cpu": "1000m"}}}, {},
     {"resources": {"requests": {"cpu": "1"}, "limits": {"cpu": "1000m"}}}),
    ("pod-requests-above-limits", f"{C}.resources.requests[nvidia.com/gpu]",
     {"resources": {"requests": {"nvidia.com/gpu": 1}, "limits": {"nvidia.com/gpu": 2}}}, {},
     {"resources": {"requests": {"nvidia.com/gpu": 2}, "limits": {"nvidia.com/gpu": "2"}}}),
    ("pod-probe-handlers", f"{C}.livenessProbe.grpc",
     {"livenessProbe": {"exec": {"command": ["true"]}, "grpc": {"port": 1}}}, {},
     {"livenessProbe": {"grpc": {"port": 1}}}),
    ("pod-probe-handlers", f"{C}.startupProbe",
     {"startupProbe": {"periodSeconds": 5}}, {}, {"startupProbe": {"tcpSocket": {"port": 1}}}),
    ("pod-duplicate-mount-path", f"{C}.volumeMounts[1].mountPath",
     {"volumeMounts": [{"name": "a", "mountPath": "/x"}, {"name": "b", "mountPath": "/x"}]},
     {"volumes": [{"name": "a", "emptyDir": {}}, {"name": "b", "emptyDir": {}}]},
     {"volumeMounts": [{"name": "a", "mountPath": "/x"}, {"name": "b", "mountPath": "/y"}]}),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "path", "container", "pod", "fix"), CASES, ids=[c[0] for c in CASES])
def test_rule_fires_at_the_field_and_not_on_the_fix(rule, path, container, pod, fix):
    assert rule in later.RULES
    assert later_findings(sdep(container, pod)) == {(rule, path)}
    fixed_container = {
        **container,
        **{k: v for k, v in fix.items() if k not in ("volumes", "initContainers")},
    }
    fixed_pod = {**pod, **{k: v for k, v in fix.items() if k in ("volumes", "initContainers")}}
    assert later_findings(sdep(fixed_container, fixed_pod)) == set()


def test_every_later_rule_is_an_error_in_the_table():
    """The operator's Deployment is refused and the SeldonDeployment ends `Failed`: exit 1."""
    assert set(validator.RULES) >= later.RULES
    assert all(validator.RULES[r][0] == validator.ERROR for r in later.RULES)


def test_the_operator_defines_seldon_podinfo():
    mount = {"volumeMounts": [{"name": "seldon-podinfo", "mountPath": "/etc/podinfo"}]}
    assert later_findings(sdep(mount)) == set()


def test_the_operator_mounts_podinfo_on_graph_containers_only():
    clash = {"volumeMounts": [{"name": "cfg", "mountPath": "/etc/podinfo"}]}
    volumes = {"volumes": [{"name": "cfg", "emptyDir": {}}]}
    assert later_findings(sdep(clash, volumes)) == {
        ("pod-duplicate-mount-path", f"{C}.volumeMounts[0].mountPath")
    }
    obj = sdep(clash, volumes)
    obj["spec"]["predictors"][0]["graph"]["name"] = "other"  # now a sidecar: no podinfo mount added
    obj["spec"]["predictors"][0]["componentSpecs"][0]["spec"]["containers"].append(
        {"name": "other", "image": "x"}
    )
    assert later_findings(obj) == set()


def test_a_legacy_podinfo_mount_is_dropped_by_the_operator():
    assert later_findings(sdep({"volumeMounts": [{"name": "podinfo", "mountPath": "/etc/podinfo"}]})) == set()


PREPACKAGED = {"name": "classifier", "implementation": "SKLEARN_SERVER", "modelUri": "gs://bucket/iris"}


def test_the_model_initializer_volume_is_defined_and_its_init_container_added():
    obj = sdep({"volumeMounts": [{"name": "classifier-provision-location", "mountPath": "/mnt/models"}]},
               graph=PREPACKAGED)  # fmt: skip
    assert later_findings(obj) == set()
    pod = operator_objects.pod_templates(obj)[0]
    assert [c.name for c in pod.init_containers] == ["classifier-model-initializer"]
    assert {"classifier-provision-location", "seldon-podinfo"} <= pod.volume_names()


def test_a_user_mount_at_mnt_models_clashes_with_the_model_initializer():
    obj = sdep({"volumeMounts": [{"name": "own", "mountPath": "/mnt/models"}]},
               {"volumes": [{"name": "own", "emptyDir": {}}]}, graph=PREPACKAGED)  # fmt: skip
    assert later_findings(obj) == {("pod-duplicate-mount-path", f"{C}.volumeMounts[0].mountPath")}


def test_a_user_volume_named_like_the_operators_is_a_duplicate():
    obj = sdep(
        {}, {"volumes": [{"name": "classifier-provision-location", "emptyDir": {}}]}, graph=PREPACKAGED
    )
    assert later_findings(obj) == {("pod-duplicate-volume", f"{P}.volumes[0].name")}


def test_a_prepackaged_node_without_componentspecs_gets_a_pod():
    obj = sdep(graph=PREPACKAGED)
    del obj["spec"]["predictors"][0]["componentSpecs"]
    pods = operator_objects.pod_templates(obj)
    assert [c.name for c in pods[0].containers] == ["classifier", "seldon-container-engine"]
    assert pods[0].deployment == "iris-default-0-classifier"


def test_the_executor_is_not_in_a_no_engine_pod():
    names = [c.name for c in operator_objects.pod_templates(sdep())[0].containers]
    assert names == ["classifier", "seldon-container-engine"]
    obj = sdep(**{"seldon.io/no-engine": "true"})
    assert [c.name for c in operator_objects.pod_templates(obj)[0].containers] == ["classifier"]
    init = {"initContainers": [{"name": "seldon-container-engine", "image": "x"}]}
    assert later_findings(sdep({}, init)) == {("pod-duplicate-container", f"{P}.initContainers[0].name")}
    assert later_findings(sdep({}, init, **{"seldon.io/no-engine": "true"})) == set()


def test_long_deployment_names_are_hashed_like_upstream():
    obj = sdep()
    obj["metadata"]["name"] = "x" * 60
    name = operator_objects.pod_templates(obj)[0].deployment
    assert name.startswith("seldon-") and len(name) == 39


def test_quantities_compare_exactly():
    assert quantity.amount("500m") == quantity.amount("0.5") == quantity.amount("5e-1")
    assert quantity.amount("1Gi") == 1024**3 and quantity.amount("1G") == 10**9
    assert quantity.amount("1GB") is None and quantity.amount(True) is None


def test_broken_shapes_give_no_exception():
    for mutate in ({"volumeMounts": "x"}, {"ports": [None, {"name": 3}]}, {"env": [{}]}, {"resources": []}):
        later_findings(sdep(mutate))
    obj = sdep()
    obj["spec"]["predictors"][0]["componentSpecs"] = [None, {"spec": []}]
    later_findings(obj)


def _documents(paths: list[Path]) -> list[Path]:
    return [p for p in paths if p.suffix in (".yaml", ".yml", ".json")]


# Two corpus files the operator (1.17.1) cannot deploy although admission accepts one of them: the same
# container in two componentSpecs (an old "multiple versions" notebook) leaves no graph node marked
# localhost, and the operator stops with "engine not separate and no pu with localhost service"
# (tests/cluster/test_11_differential.py applies it and sees `Failed` with that message);
# broken_chain has graph nodes without containers (the webhook refuses it too).
OPERATOR_FAILS = {
    "notebooks__resources__model_multiple_versions.json": "engine-placement",
    "executor__samples__local__metadata__broken_chain.yaml": "engine-placement",
}


def test_valid_corpus_and_examples_get_no_later_finding(conformance_dir: Path, repo_root: Path):
    files = _documents(sorted(conformance_dir.rglob("*"))) + sorted((repo_root / "examples").rglob("*.yaml"))
    report = validator.validate_paths([str(p) for p in files])
    assert report.documents > 0
    found = {(Path(f.file).name, f.rule) for f in report.findings if f.rule in later.RULES}
    assert found == set(OPERATOR_FAILS.items())


def test_check_does_not_modify_the_object():
    obj = sdep({"volumeMounts": [{"name": "podinfo", "mountPath": "/p"}]}, graph=PREPACKAGED)
    before = copy.deepcopy(obj)
    later.check(obj)
    assert obj == before


def test_a_long_predictor_name_fails_only_as_the_version_label():
    """Upstream's defaulting labels pods version=<predictor> only when labels.version is unset."""
    obj = sdep({})
    predictor = obj["spec"]["predictors"][0]
    predictor["name"] = "p" * 64
    assert "name-too-long" in {f.rule for f in validator.validate_object(obj)}
    predictor["labels"] = {"version": "v1"}
    rules = {f.rule for f in validator.validate_object(obj)}
    assert "name-too-long" not in rules and "hashed-name" in rules
