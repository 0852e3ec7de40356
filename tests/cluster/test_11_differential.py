"""`validate` says what the real stack says: the API server, the operator's webhook, then the operator.

Seeded mutants of the conformance corpus and our examples (values replaced, fields removed or added,
list items duplicated, names changed, pod-level fields the Deployment's validation judges) go through
`kubectl apply --dry-run=server` with strict field validation and the real operator's webhook in the
path; a subset of the admitted ones is created for real and waited on until the operator settles it.
Any disagreement with `validate` fails the test and prints the mutant and both answers.
FADI_DIFF_SEED and FADI_DIFF_MUTANTS choose the seed and the count (at least 300).
"""

from __future__ import annotations

import json
import os
import sys

import pytest

from cluster.kube import RELEASE, RELEASE_NS, set_webhook
from cluster.operator_fixtures import IN_CLUSTER, host_operator_target, seldon_webhooks
from conftest import ROOT
from fadi_seldon.sdep import validator
from machinery import crash_search, differential, mutants

RELEASE_DIFF = NAMESPACE = "seldon-diff"
MODELS = "differential"
SEED = int(os.environ.get("FADI_DIFF_SEED", "31"))
COUNT = max(300, int(os.environ.get("FADI_DIFF_MUTANTS", "400")))
APPLIED = 60  # created for real and waited on


@pytest.fixture(scope="module")
def target(kube, umbrella, tmp_path_factory):
    if IN_CLUSTER:
        pytest.skip(
            "the differential test runs the operator as a host process; on kind its pod does the work"
        )
    # FADI's own release points its webhook at an operator that does not run here
    if kube.helm("status", RELEASE, "-n", RELEASE_NS, check=False).returncode == 0:
        set_webhook(kube, False)
    kube.namespace(MODELS)
    state = tmp_path_factory.mktemp("diff-operator")
    with host_operator_target(kube, state, RELEASE_DIFF, NAMESPACE, ["crd.create=false"]) as operator:
        yield operator


def test_validate_agrees_with_the_api_server_the_webhook_and_the_operator(target, kube):
    hooks = seldon_webhooks(kube)
    assert hooks, "the operator's webhook is not in the path"
    say = lambda line: print(f"[differential seed {SEED}] {line}", file=sys.stderr, flush=True)  # noqa: E731
    run = differential.Differential(target, MODELS, say=say).run(
        mutants.mutants(mutants.checkout_seeds(ROOT), COUNT, SEED, pods=True), applied=APPLIED
    )
    print(json.dumps(run.to_json()), file=sys.stderr)
    assert len(run.cases) == COUNT and run.applied == APPLIED
    assert run.disagreements == [], f"{len(run.disagreements)} disagreement(s):\n\n" + "\n\n".join(
        run.disagreements[:20]
    )
    # every referee had its say: the API server and the webhook refused some, the operator failed some
    assert run.count("api-server") > COUNT // 20 and run.count("webhook") > COUNT // 20
    assert run.failed() > 0 and run.failed() < APPLIED


def test_the_operator_fails_on_a_container_in_two_component_specs_as_validate_predicts(
    target, kube, conformance_dir
):
    """Upstream's old "multiple versions" notebook resource: admitted, then the operator stops."""
    path = conformance_dir / "valid" / "notebooks__resources__model_multiple_versions.json"
    manifest = json.loads(path.read_text())
    manifest["metadata"] = {"name": "multiple-versions"}
    [finding] = [f for f in validator.validate_object(manifest) if f.rule in validator.FAILED_LATER_RULES]
    assert finding.rule == "engine-placement"
    found = crash_search.Search(target, MODELS, state_timeout=60, states=differential.SETTLED).run(
        [(path.name, manifest, ["as written"])]
    )
    [case] = found.cases
    assert case.verdict == "state" and case.detail.startswith("Failed"), case.detail
    assert "no pu with localhost service" in case.detail and "no pu with localhost service" in finding.message
