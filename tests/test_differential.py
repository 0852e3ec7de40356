"""The differential test's parts without a cluster: who refused, what validate predicts, the comparison."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from fadi_seldon.sdep import schema, validator
from machinery import differential, mutants
from test_crash_search import FakeCluster

EXAMPLES = sorted((Path(__file__).parents[1] / "examples").glob("*.yaml"))
WEBHOOK_SAYS = 'admission webhook "v1.vseldondeployment.kb.io" denied the request: Traffic must sum to 100'


class FakeStack(FakeCluster):
    """API server + webhook at admission (dry runs), an operator that fails on invalid predictor names."""

    def __init__(self, admit_everything: bool = False, never_fail: bool = False) -> None:
        super().__init__(die=set())
        self.admit_everything, self.never_fail, self.dry_runs = admit_everything, never_fail, 0

    def request(self, method, path, body=None):
        if method == "POST" and "dryRun=All" in path:
            self.dry_runs += 1
            predictors = json.loads(body)["spec"]["predictors"]
            if self.admit_everything:
                return 201, {}
            if not predictors:
                return 422, {"message": "spec.predictors: Invalid value: Graph contains no predictors"}
            if len(predictors) > 1 and sum(p.get("traffic", 0) for p in predictors) != 100:
                return 400, {"message": WEBHOOK_SAYS}
            return 201, {}
        return super().request(method, path, body)

    def _reconcile(self, name):
        predictor = self.objects[name]["spec"]["predictors"][0]["name"]
        failed = predictor != predictor.lower() and not self.never_fail
        self.objects[name]["status"] = {"state": "Failed" if failed else "Available"}


def _sdep(name: str, predictors: list[dict]) -> tuple[str, dict, list[str]]:
    manifest = {"apiVersion": schema.API_VERSIONS[0], "kind": schema.KIND, "metadata": {"name": name}}
    manifest["spec"] = {"predictors": predictors}
    return f"{name}.yaml#0", manifest, ["hand-made"]


def _predictor(name: str = "p", traffic: int | None = None) -> dict:
    pod = {"spec": {"containers": [{"name": "g", "image": "me/model:1"}]}}
    out = {"name": name, "graph": {"name": "g", "type": "MODEL"}, "componentSpecs": [pod]}
    return out if traffic is None else {**out, "traffic": traffic}


CASES = [
    _sdep("ok", [_predictor()]),
    _sdep("empty", []),
    _sdep("traffic", [_predictor("a", 50), _predictor("b", 40)]),
    _sdep("upper", [_predictor("Bad")]),  # invalid-name: admitted, then Failed
]


def test_agreement_counts_each_referee_and_applies_predicted_failures_and_successes():
    stack = FakeStack()
    result = differential.Differential(stack, "ns", state_timeout=2).run(copy.deepcopy(CASES), applied=2)
    assert result.disagreements == []
    assert [c.answer.refused_by for c in result.cases] == ["", "api-server", "webhook", ""]
    assert stack.dry_runs == 4 and result.applied == 2
    states = {c.name: c.state for c in result.cases if c.state}
    assert states == {"ok": "Available", "upper": "Failed"}
    assert result.to_json()["agreement"] == 1.0 and result.to_json()["failed_later"] == 1


def test_an_admission_validate_did_not_predict_is_reported_with_the_mutant_and_both_answers():
    result = differential.Differential(FakeStack(admit_everything=True), "ns", state_timeout=2).run(
        copy.deepcopy(CASES[:3]), applied=0
    )
    assert len(result.disagreements) == 2
    report = result.disagreements[1]
    assert "validate predicts webhook: traffic" in report and "cluster: admitted" in report
    assert "[webhook-traffic-sum]" in report and "traffic: 40" in report
    assert result.agreement() == pytest.approx(1 / 3)


def test_a_failure_validate_did_not_predict_and_a_missed_one_are_both_disagreements():
    result = differential.Differential(FakeStack(never_fail=True), "ns", state_timeout=2).run(
        copy.deepcopy(CASES), applied=2
    )
    [missed] = result.disagreements
    assert "validate predicts Failed after the operator's reconcile: upper" in missed
    assert "then Available" in missed and "[invalid-name]" in missed


def test_a_refusal_by_the_wrong_referee_is_a_disagreement():
    finding = validator.Finding("f", 1, 0, 0, "spec", "webhook-traffic-sum", validator.ERROR, "m")
    assert differential.expected_refuser([finding]) == {"webhook"}
    schema_error = validator.Finding("f", 1, 0, 0, "spec", "schema-type", validator.ERROR, "m")
    assert differential.expected_refuser([finding, schema_error]) == {"api-server"}
    assert differential.expected_refuser([]) == {""}
    case = differential.Case(
        "o", [], {"metadata": {"name": "x"}}, [finding], differential.Answer("api-server", "no")
    )
    assert "validate predicts webhook" in differential.admission_disagreement(case)


def test_rules_stricter_than_the_cluster_allow_an_admission(monkeypatch):
    monkeypatch.setitem(validator.STRICTER_THAN_THE_CLUSTER, "model-uri-scheme", "why")
    strict = validator.Finding("f", 1, 0, 0, "spec", "model-uri-scheme", validator.ERROR, "m")
    assert differential.expected_refuser([strict]) == {""}


def test_classify_tells_the_webhook_from_the_api_server():
    assert differential.classify(201, {}).refused_by == ""
    assert differential.classify(400, {"message": WEBHOOK_SAYS}).refused_by == "webhook"
    assert differential.classify(422, {"message": "spec.x: Unsupported value"}).refused_by == "api-server"


def test_pod_operations_only_with_pods_and_the_crash_search_mutants_unchanged():
    seeds = mutants.seeds_from(EXAMPLES)
    plain = list(mutants.mutants(seeds, 200, seed=5))
    assert not any(label.startswith("pod ") for _, _, labels in plain for label in labels)
    with_pods = list(mutants.mutants(seeds, 200, seed=5, pods=True))
    touched = [label for _, _, labels in with_pods for label in labels if label.startswith("pod ")]
    assert len(touched) > 20
    keys = {label.split("'")[2].split(":")[0].strip() for label in touched if "container" in label}
    assert {"ports", "env", "resources", "readinessProbe", "volumeMounts"} <= keys
