"""Security posture on a real API server: Pod Security admission (restricted) and RBAC scope.

Extra operator releases share the main release's CRD (`crd.create=false`), as several operators
in one cluster must.
"""

from __future__ import annotations

import json

import pytest
import yaml

from cluster.kube import doctor_report, wait_until

OPERATOR = "charts/seldon-core-operator"
RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
    "pod-security.kubernetes.io/warn": "restricted",
}
# what the controller must be able to do where it works (research: upstream-operator.md §2)
NEEDS = (
    ("create", "deployments.apps"),
    ("update", "deployments.apps/status"),
    ("delete", "services"),
    ("watch", "seldondeployments.machinelearning.seldon.io"),
    ("update", "seldondeployments.machinelearning.seldon.io/status"),
    ("update", "seldondeployments.machinelearning.seldon.io/finalizers"),
    ("create", "horizontalpodautoscalers.autoscaling"),
    ("create", "poddisruptionbudgets.policy"),
    ("create", "events"),
    ("get", "secrets"),
)


def operator_sa(kube, namespace: str) -> str:
    deps = kube.get("deployments", "-n", namespace)["items"]
    assert deps, f"no Deployment in {namespace}"
    sa = deps[0]["spec"]["template"]["spec"].get("serviceAccountName") or "default"
    return f"system:serviceaccount:{namespace}:{sa}"


def pod_templates(manifest: list[dict]) -> list[tuple[str, dict]]:
    out = []
    for d in manifest:
        spec = d.get("spec") or {}
        template = spec.get("template") or (spec.get("jobTemplate") or {}).get("spec", {}).get("template")
        if d["kind"] in ("Deployment", "Job", "StatefulSet", "DaemonSet") and template:
            out.append((f"{d['kind']}/{d['metadata']['name']}", template))
    return out


@pytest.fixture(scope="module")
def restricted(kube, umbrella):
    ns = kube.namespace("restricted-seldon", RESTRICTED)
    kube.install("seldon-restricted", ns, OPERATOR, "crd.create=false")
    yield ns
    kube.helm("uninstall", "seldon-restricted", "-n", ns, "--wait", check=False)


def test_restricted_namespace_admits_the_operator(kube, restricted):
    pods = wait_until(
        "operator pods in the restricted namespace", lambda: kube.get("pods", "-n", restricted)["items"]
    )
    assert all(p["status"].get("phase") == "Running" for p in pods)


def test_every_chart_pod_template_passes_restricted_admission(kube, restricted):
    """Each pod template of the release (Deployment, helm test Job) submitted as a Pod, server-side dry run."""
    manifest = [
        d
        for d in yaml.safe_load_all(
            kube.helm("get", "manifest", "seldon-restricted", "-n", restricted).stdout
            + "\n---\n"
            + kube.helm("get", "hooks", "seldon-restricted", "-n", restricted).stdout
        )
        if d
    ]
    templates = pod_templates(manifest)
    assert {k.split("/")[0] for k, _ in templates} >= {"Deployment", "Job"}
    for what, template in templates:
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "pss-probe",
                "namespace": restricted,
                "labels": template["metadata"].get("labels", {}),
            },
            "spec": template["spec"],
        }
        proc = kube.kubectl(
            "create", "--dry-run=server", "-f", "-", "-o", "name", input=json.dumps(pod), check=False
        )
        assert proc.returncode == 0, f"{what} is not admitted under restricted Pod Security: {proc.stderr}"
        assert "would violate" not in proc.stderr, proc.stderr


def test_a_privileged_pod_is_rejected_there(kube, restricted):
    """Proves enforcement is on: the check above can fail."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "bad", "namespace": restricted},
        "spec": {"containers": [{"name": "c", "image": "busybox", "securityContext": {"privileged": True}}]},
    }
    proc = kube.kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(pod), check=False)
    assert proc.returncode != 0 and "violates PodSecurity" in proc.stderr


def test_helm_test_runs_in_the_restricted_namespace(kube, restricted):
    proc = kube.helm("test", "seldon-restricted", "-n", restricted, "--timeout", "120s")
    assert "Succeeded" in proc.stdout


# ---------------------------------------------------------------- namespace scopes
@pytest.fixture(scope="module")
def single(kube, umbrella):
    ns = kube.namespace("seldon-single")
    kube.namespace("seldon-other")
    kube.install("seldon-single", ns, OPERATOR, "crd.create=false", "singleNamespace=true")
    yield ns
    kube.helm("uninstall", "seldon-single", "-n", ns, "--wait", check=False)


def test_single_namespace_operator_works_only_in_its_namespace(kube, single):
    sa = operator_sa(kube, single)
    missing = [f"{v} {r}" for v, r in NEEDS if not kube.can_i(sa, v, r, single)]
    assert missing == [], f"{sa} lacks in {single}: {missing}"
    allowed = [f"{v} {r}" for v, r in NEEDS if kube.can_i(sa, v, r, "seldon-other")]
    assert allowed == [], f"{sa} may in seldon-other: {allowed}"
    assert not kube.can_i(sa, "list", "namespaces")
    assert not kube.can_i(sa, "create", "deployments.apps")  # cluster-wide


def test_doctor_reports_the_unlabelled_single_namespace_until_it_is_labelled(kube, single):
    def unlabelled():
        return [
            f
            for f in doctor_report(kube)["findings"]
            if f["check"] == "namespace-not-labelled" and single in f["subject"]
        ]

    found = unlabelled()
    assert found and f"seldon.io/controller-id={single}" in found[0]["fix"]
    kube.kubectl("label", "namespace", single, f"seldon.io/controller-id={single}", "--overwrite")
    assert unlabelled() == []


@pytest.fixture(scope="module")
def namespace_list(kube, umbrella):
    ns = kube.namespace("seldon-multi")
    for team in ("team-a", "team-b", "team-c"):
        kube.namespace(team)
    kube.install("seldon-multi", ns, OPERATOR, "crd.create=false", "watchNamespaces={team-a,team-b}")
    yield ns
    kube.helm("uninstall", "seldon-multi", "-n", ns, "--wait", check=False)


def test_namespace_list_operator_works_in_listed_namespaces_only(kube, namespace_list):
    sa = operator_sa(kube, namespace_list)
    for team in ("team-a", "team-b"):
        missing = [f"{v} {r}" for v, r in NEEDS if not kube.can_i(sa, v, r, team)]
        assert missing == [], f"{sa} lacks in {team}: {missing}"
    allowed = [f"{v} {r}" for v, r in NEEDS if kube.can_i(sa, v, r, "team-c")]
    assert allowed == [], f"{sa} may in team-c: {allowed}"
    assert not kube.can_i(sa, "create", "deployments.apps")  # no ClusterRole for workloads
    assert kube.can_i(sa, "create", "leases.coordination.k8s.io", namespace_list)  # leader election at home
