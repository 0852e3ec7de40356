"""An operator that dies on one object: the API server refuses the shape, doctor names the culprit,
and once the object is gone the restarted operator reconciles everything again.

The crash is injected the way it happens in the field: the CRD of the cluster does not carry our
rule (upstream's CRD, or a cluster restored from a backup made before the chart was upgraded), the
webhook is off, and one `predictors: []` object is stored. The operator's panic on it is upstream's
(`createAddressableResource` takes `Spec.Predictors[0]`).
"""

from __future__ import annotations

import contextlib
import copy
import json
from pathlib import Path

import pytest

from cluster.kube import CRD, Proxy, doctor_report, wait_until
from cluster.operator_fixtures import IN_CLUSTER, host_operator, load_example, wait_available
from conftest import ROOT
from fadi_seldon.doctor import operator_log
from fadi_seldon.sdep import schema
from machinery import crash_search, mutants

RELEASE = NAMESPACE = "seldon-recover"
MODELS = "crash-recovery"
GOOD = ("good-0", "good-1", "good-2")
RULE_PATH = (
    "/spec/versions/{i}/schema/openAPIV3Schema/properties/spec/properties/predictors/x-kubernetes-validations"
)


def model(name: str) -> dict:
    doc = copy.deepcopy(load_example("seldon-model.yaml"))
    doc["metadata"] = {"name": name, "namespace": MODELS}
    return doc


def empty(name: str) -> dict:
    return {"apiVersion": schema.API_VERSIONS[0], "kind": schema.KIND, "metadata": {"name": name, "namespace": MODELS},
            "spec": {"predictors": []}}  # fmt: skip


@contextlib.contextmanager
def crd_without_predictor_rules(kube):
    """The installed CRD without its spec.predictors rules, as upstream's CRD is; put back after."""
    crd = kube.get("crd", CRD)
    indexes = range(len(crd["spec"]["versions"]))
    saved = [crd["spec"]["versions"][i]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["predictors"]["x-kubernetes-validations"] for i in indexes]  # fmt: skip
    remove = [{"op": "remove", "path": RULE_PATH.format(i=i)} for i in indexes]
    kube.kubectl("patch", "crd", CRD, "--type=json", "-p", json.dumps(remove))
    try:
        yield
    finally:
        add = [{"op": "add", "path": RULE_PATH.format(i=i), "value": saved[i]} for i in indexes]
        kube.kubectl("patch", "crd", CRD, "--type=json", "-p", json.dumps(add))


@pytest.fixture(scope="module")
def operator(kube, umbrella, webhook_off, tmp_path_factory):
    if IN_CLUSTER:
        pytest.skip("injects a crash into an operator run as a host process")
    kube.namespace(MODELS)
    runner, opts = host_operator(
        kube,
        tmp_path_factory.mktemp("recover-operator"),
        RELEASE,
        NAMESPACE,
        ["crd.create=false", "webhook.enabled=false"],
    )
    runner.start(opts)
    yield runner, opts
    runner.stop(uninstall=True)


@pytest.fixture(autouse=True)
def no_culprit_left(kube):
    """A test that fails half-way must not leave the object that kills every operator (the next
    tests' and modules' operators would die on it too)."""
    yield
    kube.kubectl("delete", "seldondeployment", "bad", "-n", MODELS, "--ignore-not-found", check=False)


def host_crashes(report: dict) -> list[dict]:
    """The doctor's crash findings about this module's host operator (an operator pod elsewhere in the
    cluster that dies on the same object is a finding of its own)."""
    return [f for f in report["findings"]
            if f["check"] == "operator-crashed" and f["subject"].startswith("host process")]  # fmt: skip


def running(runner) -> bool:
    return all(p["running"] for p in runner.status()["processes"])


def test_the_api_server_refuses_an_empty_predictor_list_with_what_to_do(kube, operator):
    proc = kube.apply([empty("refused")], check=False)
    assert proc.returncode != 0
    assert "Graph contains no predictors: add at least one predictor to spec.predictors" in proc.stderr
    assert kube.get("seldondeployment", "refused", "-n", MODELS) is None


def test_doctor_names_the_culprit_and_the_operator_recovers_once_it_is_removed(kube, operator):
    runner, opts = operator
    kube.apply([model(n) for n in GOOD])
    for name in GOOD:
        wait_available(kube, name, MODELS)
    with crd_without_predictor_rules(kube):
        kube.apply([empty("bad")])
    wait_until("the operator to die on the empty predictor list", lambda: not running(runner), timeout=60)
    kube.apply([model("late")])  # admitted (no webhook), never reconciled while the operator is down

    report = doctor_report(kube, "--operator-state", str(runner.state_dir), "--stale-after", "0")
    [crashed] = host_crashes(report)
    assert f"while reconciling SeldonDeployment {MODELS}/bad" in crashed["message"]
    assert "index out of range [0] with length 0" in crashed["message"]
    assert "controllers/seldondeployment_controller.go:" in crashed["message"]
    assert crashed["fix"].startswith(f"kubectl delete seldondeployment bad -n {MODELS}")
    stale = {f["subject"] for f in report["findings"] if f["check"] == "sdep-no-state"}
    assert f"SeldonDeployment {MODELS}/late" in stale and f"SeldonDeployment {MODELS}/good-0" not in stale
    assert "webhook-missing" in {f["check"] for f in report["findings"]}

    runner.start(opts)  # a restart alone does not help: the same object kills it again
    wait_until("the restarted operator to die again", lambda: not running(runner), timeout=60)

    kube.kubectl("delete", "seldondeployment", "bad", "-n", MODELS)
    log = Path(runner.status()["processes"][0]["log"])
    offset = log.stat().st_size
    runner.start(opts)
    for name in (*GOOD, "late"):
        wait_available(kube, name, MODELS)

    def reconciled() -> set[str]:
        text = log.read_bytes()[offset:].decode(errors="replace")
        return {
            name
            for line in text.splitlines()
            if (found := operator_log.reconciled_object(line))
            for name in [found[1]]
        }

    wait_until("every other SeldonDeployment to be reconciled again", lambda: {*GOOD, "late"} <= reconciled())
    assert running(runner)
    report = doctor_report(kube, "--operator-state", str(runner.state_dir))
    assert host_crashes(report) == []


def test_without_the_crd_rule_the_crash_search_finds_the_crash(kube, operator):
    """The search itself can fail: with the CRD's rule patched out, it reports the operator's panic."""
    runner, opts = operator
    kube.namespace("crash-found")
    seeds = mutants.seeds_from(sorted((ROOT / "examples").glob("*.yaml")))
    empty = [m for m in mutants.mutants(seeds, 300, seed=5) if m[1]["spec"].get("predictors") == []][:2]
    assert len(empty) == 2
    with Proxy(kube) as proxy, crd_without_predictor_rules(kube):
        target = crash_search.HostOperator(runner, opts, proxy)
        result = crash_search.Search(target, "crash-found", state_timeout=60).run(empty, batch=2)
    assert [c.verdict for c in result.cases] == ["crash", "crash"]
    for case in result.cases:
        assert case.detail == "panic: runtime error: index out of range [0] with length 0"
        assert "createAddressableResource controllers/seldondeployment_controller.go:" in case.location
    assert len(result.disagreements) == 2  # the validator refuses what this API server let through
    assert running(runner)  # the search restarted it after removing each culprit
