"""Nothing a user applies crashes or wedges the operator, with the webhook out of the path.

Seeded mutants of the conformance corpus (and of our examples) are created for real through the
API server with the CRD alone between them and the real operator (webhook.enabled=false). Each
accepted one must reach a state while the operator stays alive; a refusal must be what `validate`
predicts. A failure prints the manifest, the operator's panic and its source location.
FADI_CRASH_SEED and FADI_CRASH_MUTANTS choose the seed and the count (at least 300).
"""

from __future__ import annotations

import os
import sys

import pytest

from cluster.operator_fixtures import IN_CLUSTER, host_operator_target, seldon_webhooks
from conftest import ROOT
from machinery import crash_search, mutants

RELEASE = NAMESPACE = "seldon-crash"
MODELS = "crash-search"
SEED = int(os.environ.get("FADI_CRASH_SEED", "17"))
COUNT = max(300, int(os.environ.get("FADI_CRASH_MUTANTS", "1000")))


@pytest.fixture(scope="module")
def target(kube, umbrella, webhook_off, tmp_path_factory):
    if IN_CLUSTER:
        pytest.skip(
            "the crash search restarts the operator as a host process; on kind its pod restarts itself"
        )
    kube.namespace(MODELS)
    state = tmp_path_factory.mktemp("crash-operator")
    values = ["crd.create=false", "webhook.enabled=false"]
    with host_operator_target(kube, state, RELEASE, NAMESPACE, values) as operator:
        yield operator


def test_no_mutant_crashes_or_wedges_the_operator_with_the_webhook_off(target, kube):
    hooks = seldon_webhooks(kube)
    assert not hooks, f"a Seldon webhook is in the path: {hooks}"
    seeds = mutants.checkout_seeds(ROOT)
    say = lambda line: print(f"[crash-search seed {SEED}] {line}", file=sys.stderr, flush=True)  # noqa: E731
    search = crash_search.Search(target, MODELS, state_timeout=90, say=say)
    result = search.run(mutants.mutants(seeds, COUNT, SEED), batch=20)
    print(result.to_json(), file=sys.stderr)
    assert len(result.cases) == COUNT
    assert result.failures() == [], "\n\n".join(c.report() for c in result.failures())
    assert result.disagreements == [], "\n".join(result.disagreements)
    # the search exercised both halves: the CRD refused some, the operator reconciled others
    assert result.count("refused") > COUNT // 10 and result.count("state") > COUNT // 3
