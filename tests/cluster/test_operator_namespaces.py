"""Namespace scope with the real operator: it reconciles in the namespaces it watches, ignores the others.

An ignored SeldonDeployment is applied FIRST and a watched one after it; once the watched one is
Available the operator has had its chance at both, so "still untouched" is a real observation
rather than a guess after a sleep.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cluster.kube import wait_until
from cluster.operator_fixtures import (
    IN_CLUSTER,
    load_example,
    names,
    operator_deployments,
    running_operator,
    wait_available,
)


def model(name: str) -> dict:
    doc = load_example("seldon-model.yaml")
    doc["metadata"]["name"] = name
    return doc


def assert_ignored(kube, name: str, namespace: str) -> None:
    sdep = kube.get("seldondeployment", name, "-n", namespace)
    assert sdep is not None, "the SeldonDeployment itself is admitted"
    assert not (sdep.get("status") or {}).get("state"), (
        f"{namespace}/{name} was reconciled: {sdep.get('status')}"
    )
    assert names(kube, "deployments", namespace, name) == set()
    assert names(kube, "services", namespace, name) == set()


@pytest.fixture(scope="module")
def single(kube, umbrella, tmp_path_factory):
    ns = kube.namespace("sdep-single", labels={"seldon.io/controller-id": "sdep-single"})
    kube.namespace("sdep-single-other")
    with running_operator(kube, tmp_path_factory.mktemp("op-single"), "seldon-single-real", ns, "singleNamespace=true") as status:  # fmt: skip
        yield status


def test_single_namespace_operator_reconciles_only_its_namespace(single, kube):
    [operator] = operator_deployments(kube, "sdep-single").values()
    assert "--namespace=sdep-single" in operator["spec"]["template"]["spec"]["containers"][0]["args"]
    assert [p["watch_namespace"] for p in single["processes"]] in ([], ["sdep-single"])  # [] on kind
    kube.apply([model("outside")], "-n", "sdep-single-other")
    kube.apply([model("inside")], "-n", "sdep-single")
    wait_available(kube, "inside", "sdep-single")
    assert names(kube, "deployments", "sdep-single", "inside") == {"inside-example-0-classifier"}
    assert_ignored(kube, "outside", "sdep-single-other")


@pytest.fixture(scope="module")
def listed(kube, umbrella, tmp_path_factory):
    for ns in ("sdep-list-a", "sdep-list-b", "sdep-list-c"):
        kube.namespace(ns)
    with running_operator(kube, tmp_path_factory.mktemp("op-list"), "seldon-list-real", "seldon-list-real", "watchNamespaces={sdep-list-a,sdep-list-b}") as status:  # fmt: skip
        yield status


def test_namespace_list_runs_one_operator_per_namespace_and_ignores_the_rest(listed, kube):
    assert sorted(operator_deployments(kube, "seldon-list-real")) == [
        "seldon-controller-manager-sdep-list-a",
        "seldon-controller-manager-sdep-list-b",
    ]
    if listed["processes"]:  # the local cluster: one host process per Deployment, all serving
        assert sorted(p["watch_namespace"] for p in listed["processes"]) == ["sdep-list-a", "sdep-list-b"]
        assert all(p["running"] and p["serving"] for p in listed["processes"])
    kube.apply([model("unwatched")], "-n", "sdep-list-c")
    for ns in ("sdep-list-a", "sdep-list-b"):
        kube.apply([model("watched")], "-n", ns)
    for ns in ("sdep-list-a", "sdep-list-b"):
        wait_available(kube, "watched", ns)
        assert names(kube, "services", ns, "watched") == {"watched-example", "watched-example-classifier"}
    assert_ignored(kube, "unwatched", "sdep-list-c")


def test_namespace_list_webhook_validates_only_the_listed_namespaces(listed, kube):
    bad = model("bad")
    bad["spec"]["predictors"][0]["graph"]["name"] = "no-such-container"
    refused = kube.apply([bad], "-n", "sdep-list-a", check=False)
    assert refused.returncode != 0 and "Can't find container for Predictive Unit" in refused.stderr
    # outside the list the webhook does not apply: only the CRD schema judges (and admits) it
    assert kube.apply([bad], "-n", "sdep-list-c", check=False).returncode == 0


@pytest.fixture(scope="module")
def without_rbac(kube, umbrella, tmp_path_factory):
    with running_operator(kube, tmp_path_factory.mktemp("op-norbac"), "seldon-norbac-real", "seldon-norbac-real", "rbac.create=false") as status:  # fmt: skip
        yield status


def test_the_operator_has_the_charts_rbac_and_nothing_more(without_rbac, kube):
    """With rbac.create=false its ServiceAccount may do nothing: the API server refuses the operator's
    watches, naming that ServiceAccount. Proof that it does not run with the admin's credentials."""
    ns = "seldon-norbac-real"
    sa = f"system:serviceaccount:{ns}:seldon-manager"

    def log() -> str:
        if IN_CLUSTER:
            return kube.kubectl("logs", "-n", ns, "deployment/seldon-controller-manager", check=False).stdout
        [proc] = without_rbac["processes"]
        return Path(proc["log"]).read_text(errors="replace")

    def refused():
        text = log().replace('\\"', '"')
        return f'User "{sa}" cannot ' in text

    wait_until("the API server to refuse the operator's watches", refused, timeout=90)
