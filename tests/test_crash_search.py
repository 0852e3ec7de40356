"""The crash search's parts without a cluster: seeded mutants, and the search against a fake cluster."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fadi_seldon.sdep import schema
from machinery import crash_search, mutants

EXAMPLES = sorted((Path(__file__).parents[1] / "examples").glob("*.yaml"))


@pytest.fixture(scope="module")
def seeds():
    found = mutants.seeds_from(EXAMPLES)
    assert found, "the examples hold SeldonDeployments"
    return found


def test_the_same_seed_gives_the_same_mutants(seeds):
    first = list(mutants.mutants(seeds, 50, seed=7))
    assert first == list(mutants.mutants(seeds, 50, seed=7))
    assert first != list(mutants.mutants(seeds, 50, seed=8))


def test_mutants_are_named_uniquely_and_every_operation_is_used(seeds):
    made = list(mutants.mutants(seeds, 400, seed=1))
    assert len({m["metadata"]["name"] for _, m, _ in made}) == 400
    assert all(m["apiVersion"] in schema.API_VERSIONS and m["kind"] == schema.KIND for _, m, _ in made)
    verbs = {label.split()[0] for _, _, labels in made for label in labels}
    assert {"empty", "drop", "duplicate", "set", "add", "annotate", "insert"} <= verbs


def test_the_empty_predictor_list_is_among_the_mutants(seeds):
    made = [m for _, m, _ in mutants.mutants(seeds, 400, seed=1)]
    assert any(m["spec"].get("predictors") == [] for m in made)


def test_seeds_skip_other_kinds_and_broken_files(tmp_path):
    (tmp_path / "a.yaml").write_text("kind: ConfigMap\n---\nkind: SeldonDeployment\nspec: {predictors: []}\n")
    (tmp_path / "b.yaml").write_text(": : :\n\t")
    assert [name for name, _ in mutants.seeds_from(sorted(tmp_path.iterdir()))] == ["a.yaml"]
    with pytest.raises(ValueError):
        next(mutants.mutants([], 1, seed=1))


class FakeCluster:
    """An API server that refuses what our CRD refuses, and an operator that dies on `die` names."""

    def __init__(self, die: set[str], wedge: set[str] = frozenset(), refuse_wrongly: bool = False) -> None:
        self.die, self.wedge, self.refuse_wrongly = die, wedge, refuse_wrongly
        self.objects: dict[str, dict] = {}
        self.alive, self.log, self.restarts = True, "", 0

    def request(self, method, path, body=None):
        if method == "POST":
            obj = json.loads(body)
            name = obj["metadata"]["name"]
            if obj["spec"].get("predictors") == [] or self.refuse_wrongly:
                return 422, {"message": "spec.predictors: Invalid value: Graph contains no predictors"}
            self.objects[name] = obj
            self._reconcile(name)
            return 201, obj
        if method == "GET":
            items = [
                {"metadata": {"name": n}, "status": o.get("status", {})} for n, o in self.objects.items()
            ]
            return 200, {"items": items}
        if method == "DELETE" and path.endswith(schema.PLURAL):
            self.objects.clear()
        elif method == "DELETE":
            self.objects.pop(path.rsplit("/", 1)[-1], None)
        return 200, {}

    def _reconcile(self, name):
        if not self.alive:
            return
        self.log += json.dumps({"msg": "Reconcile called", "SeldonDeployment": f"ns/{name}"}) + "\n"
        if name in self.die:
            self.alive = False
            self.log += "panic: runtime error: invalid memory address or nil pointer dereference\n\n"
            self.log += (
                "goroutine 1 [running]:\ngithub.com/seldonio/seldon-core/operator/controllers.f(0x1)\n"
            )
            self.log += "\tgithub.com/seldonio/seldon-core/operator@v1.17.1/controllers/x.go:12 +0x1\n"
        elif name in self.wedge:
            self.log += (
                json.dumps({"level": "error", "msg": "stuck", "SeldonDeployment": f"ns/{name}"}) + "\n"
            )
        else:
            self.objects[name]["status"] = {"state": "Available"}

    def operator_alive(self):
        return self.alive

    def operator_log(self):
        return self.log

    def restart_operator(self):
        self.alive, self.log = True, ""
        self.restarts += 1
        for name, obj in list(self.objects.items()):
            if not obj.get("status"):
                self._reconcile(name)


def _cases(n):
    return [
        (f"x#{i}", {"apiVersion": schema.API_VERSIONS[0], "kind": schema.KIND, "metadata": {"name": f"m-{i}"},
                    "spec": {"predictors": [{"name": "p", "graph": {"name": "g", "implementation": "SIMPLE_MODEL"}}]}},
         ["none"])
        for i in range(n)
    ]  # fmt: skip


def test_a_crash_is_attributed_the_culprit_removed_and_the_others_reconciled():
    cluster = FakeCluster(die={"m-3"})
    result = crash_search.Search(cluster, "ns", state_timeout=2).run(_cases(8), batch=5)
    [crash] = result.failures()
    assert crash.name == "m-3" and crash.verdict == "crash"
    assert "nil pointer" in crash.detail and crash.location.endswith("controllers/x.go:12")
    assert "m-3" in crash.report() and "predictors" in crash.report()
    assert result.count("state") == 7 and cluster.restarts == 1
    assert result.to_json()["crash"] == 1 and result.disagreements == []


def test_an_object_without_a_state_is_a_wedge_with_the_operators_last_error():
    cluster = FakeCluster(die=set(), wedge={"m-1"})
    result = crash_search.Search(cluster, "ns", state_timeout=0.5).run(_cases(3), batch=3)
    [wedge] = result.failures()
    assert wedge.verdict == "wedge" and "stuck" in wedge.detail


def test_refusals_are_counted_and_checked_against_the_validator():
    cases = _cases(2)
    cases[0][1]["spec"]["predictors"] = []
    result = crash_search.Search(FakeCluster(die=set()), "ns", state_timeout=1).run(cases)
    assert result.count("refused") == 1 and result.count("state") == 1 and result.disagreements == []
    wrong = crash_search.Search(FakeCluster(die=set(), refuse_wrongly=True), "ns", state_timeout=1).run(
        _cases(1)
    )
    assert len(wrong.disagreements) == 1 and "validate: no error" in wrong.disagreements[0]


def test_the_api_server_rules_include_the_crds_cel_rules():
    assert "webhook-no-predictors" in crash_search.API_SERVER_RULES
    assert "webhook-traffic-sum" not in crash_search.API_SERVER_RULES  # the webhook's alone


def test_each_batch_is_deleted_before_the_next_even_when_a_delete_fails_once():
    class Flaky(FakeCluster):
        failed = False

        def request(self, method, path, body=None):
            if method == "DELETE" and path.endswith(schema.PLURAL) and not self.failed:
                self.failed = True
                return 500, {"message": "etcdserver: request timed out"}
            return super().request(method, path, body)

    cluster = Flaky(die=set())
    result = crash_search.Search(cluster, "ns", state_timeout=1).run(_cases(6), batch=3)
    assert result.count("state") == 6 and cluster.failed and cluster.objects == {}


def test_checkout_seeds_read_the_examples_and_the_corpus_beside_the_checkout(tmp_path):
    root = tmp_path / "main"
    (root / "examples").mkdir(parents=True)
    (root / "examples" / "a.yaml").write_text("kind: SeldonDeployment\nspec: {predictors: []}\n")
    assert [n for n, _ in mutants.checkout_seeds(root)] == ["a.yaml"]
    corpus = tmp_path / "shared" / "conformance" / "valid"
    corpus.mkdir(parents=True)
    (corpus / "b.json").write_text('{"kind": "SeldonDeployment", "spec": {"predictors": []}}')
    (corpus / "c.txt").write_text("kind: SeldonDeployment\nspec: {}\n")
    assert [n for n, _ in mutants.checkout_seeds(root)] == ["a.yaml", "b.json"]


def test_the_next_batch_waits_until_the_deleted_objects_are_really_gone():
    class Lingering(FakeCluster):
        """Deleted objects stay listed for a few GETs, as while the API server finalizes them."""

        def __init__(self):
            super().__init__(die=set())
            self.leaving: dict[str, int] = {}
            self.seen_at_create: list[int] = []

        def request(self, method, path, body=None):
            if method == "DELETE" and path.endswith(schema.PLURAL):
                self.leaving.update({name: 3 for name in self.objects})
                self.objects.clear()
                return 200, {}
            if method == "POST":
                self.seen_at_create.append(len(self.leaving))
            if method == "GET":
                status, answer = super().request(method, path, body)
                answer["items"] += [{"metadata": {"name": n}, "status": {}} for n in self.leaving]
                self.leaving = {n: k - 1 for n, k in self.leaving.items() if k > 1}
                return status, answer
            return super().request(method, path, body)

    cluster = Lingering()
    crash_search.Search(cluster, "ns", state_timeout=1).run(_cases(6), batch=3)
    assert cluster.seen_at_create == [0] * 6 and cluster.leaving == {}
