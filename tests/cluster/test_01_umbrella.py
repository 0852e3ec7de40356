"""The user guide's path: FADI as shipped, then `helm upgrade` with seldon-core-operator.enabled=true."""

from __future__ import annotations

import base64

import yaml

from cluster.kube import CRD, RELEASE, RELEASE_NS, condition, wait_until


def test_fadi_as_shipped_installs_no_seldon_object(umbrella):
    assert umbrella["crd"] is None
    seldon = [d for d in umbrella["manifest"] if "seldon" in yaml.safe_dump(d).lower()]
    assert seldon == []


def test_crd_is_established_with_every_version(kube, umbrella):
    crd = kube.get("crd", CRD)
    assert condition(crd, "Established") == "True"
    versions = {v["name"]: v for v in crd["spec"]["versions"]}
    assert set(versions) == {"v1", "v1alpha2", "v1alpha3"}
    assert all(v["served"] for v in versions.values())
    assert [n for n, v in versions.items() if v["storage"]] == ["v1"]
    assert "sdep" in crd["spec"]["names"].get("shortNames", [])
    assert crd["metadata"]["annotations"].get("helm.sh/resource-policy") == "keep"


def test_every_object_of_the_release_exists(kube, umbrella):
    manifest = kube.manifest(RELEASE, RELEASE_NS)
    assert any(d["kind"] == "CustomResourceDefinition" for d in manifest)
    text = yaml.safe_dump_all(manifest)
    # `kubectl get -f` fetches each object of the manifest and fails on any that is missing
    out = kube.kubectl("get", "-f", "-", "-o", "name", "-n", RELEASE_NS, input=text).stdout.split()
    assert len(out) == len(manifest), out


def test_operator_deployment_becomes_available(kube, umbrella):
    deployments = [d for d in kube.manifest(RELEASE, RELEASE_NS) if d["kind"] == "Deployment"]
    assert deployments, "the operator chart rendered no Deployment"
    for dep in deployments:
        ns = dep["metadata"].get("namespace", RELEASE_NS)
        name = dep["metadata"]["name"]
        live = wait_until(
            f"Deployment {ns}/{name} to be Available",
            lambda ns=ns, name=name: (
                (d := kube.get("deployment", name, "-n", ns)) and condition(d, "Available") == "True" and d
            ),
        )
        assert live["status"].get("availableReplicas", 0) >= 1


def test_webhook_is_accepted_and_trusts_the_serving_certificate(kube, umbrella):
    manifest = kube.manifest(RELEASE, RELEASE_NS)
    vwcs = [d for d in manifest if d["kind"] == "ValidatingWebhookConfiguration"]
    assert len(vwcs) == 1
    live = kube.get("validatingwebhookconfiguration", vwcs[0]["metadata"]["name"])
    hook = live["webhooks"][0]
    assert hook["name"] == "v1.vseldondeployment.kb.io"
    svc = hook["clientConfig"]["service"]
    secret = next(d for d in manifest if d["kind"] == "Secret" and d.get("type") == "kubernetes.io/tls")
    live_secret = kube.get("secret", secret["metadata"]["name"], "-n", svc["namespace"])
    assert base64.b64decode(hook["clientConfig"]["caBundle"]) == base64.b64decode(
        live_secret["data"]["ca.crt"]
    )


def test_webhook_service_has_ready_endpoints(kube, umbrella):
    """The Service selector matches the operator pods (kwok makes them Ready with an IP)."""
    vwc = next(d for d in kube.manifest(RELEASE, RELEASE_NS) if d["kind"] == "ValidatingWebhookConfiguration")
    svc = vwc["webhooks"][0]["clientConfig"]["service"]

    def ready_endpoints():
        slices = kube.get(
            "endpointslices", "-n", svc["namespace"], "-l", f"kubernetes.io/service-name={svc['name']}"
        )
        return [
            e
            for s in slices["items"]
            for e in s.get("endpoints") or []
            if (e.get("conditions") or {}).get("ready")
        ]

    assert wait_until("ready endpoints behind the webhook Service", ready_endpoints)


def test_helm_test_passes(kube, umbrella):
    proc = kube.helm("test", RELEASE, "-n", RELEASE_NS, "--timeout", "120s")
    assert "Succeeded" in proc.stdout, proc.stdout
