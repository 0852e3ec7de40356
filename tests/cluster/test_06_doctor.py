"""`fadi-seldon doctor` on a real installation, with each fault injected and then repaired."""

from __future__ import annotations

import base64
import json
import subprocess
import sys

import pytest

from cluster.kube import RELEASE, RELEASE_NS, doctor_report, set_webhook, wait_until


def problems(kube) -> set[str]:
    return {f["check"] for f in doctor_report(kube)["findings"] if f["severity"] != "ok"}


@pytest.fixture(scope="module")
def install(kube, umbrella):
    set_webhook(kube, True)
    manifest = kube.manifest(RELEASE, RELEASE_NS)
    info = {
        "deployment": next(d for d in manifest if d["kind"] == "Deployment")["metadata"]["name"],
        "vwc": next(d for d in manifest if d["kind"] == "ValidatingWebhookConfiguration")["metadata"]["name"],
        "secret": next(d for d in manifest if d["kind"] == "Secret" and d.get("type") == "kubernetes.io/tls")[
            "metadata"
        ]["name"],
    }
    wait_until("a clean doctor report", lambda: not problems(kube), timeout=60)
    return info


def test_a_healthy_install_is_clean(kube, install):
    report = doctor_report(kube)
    assert report["errors"] == 0 and report["warnings"] == 0, report["findings"]
    assert {"crd", "operator", "webhook-endpoints", "webhook-tls"} <= {f["check"] for f in report["findings"]}


def test_operator_scaled_down(kube, install):
    kube.kubectl("scale", "deployment", install["deployment"], "-n", RELEASE_NS, "--replicas=0")
    try:
        found = wait_until(
            "doctor to see the operator gone",
            lambda: (p := problems(kube)) >= {"operator-not-ready", "webhook-no-endpoints"} and p,
            timeout=60,
        )
        assert "operator-not-ready" in found
    finally:
        kube.kubectl("scale", "deployment", install["deployment"], "-n", RELEASE_NS, "--replicas=1")
    wait_until("the operator back", lambda: not problems(kube), timeout=90)


def _patch_ca_bundle(kube, vwc: str, ca_b64: str) -> None:
    patch = [{"op": "replace", "path": "/webhooks/0/clientConfig/caBundle", "value": ca_b64}]
    kube.kubectl("patch", "validatingwebhookconfiguration", vwc, "--type=json", "-p", json.dumps(patch))


def _openssl(tmp_path, *args):
    subprocess.run(["openssl", *args], cwd=tmp_path, check=True, capture_output=True)


def test_ca_bundle_not_matching_the_serving_certificate(kube, install, tmp_path):
    original = kube.get("validatingwebhookconfiguration", install["vwc"])["webhooks"][0]["clientConfig"][
        "caBundle"
    ]
    _openssl(
        tmp_path,
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "k",
        "-out",
        "c",
        "-days",
        "9",
        "-subj",
        "/CN=x",
    )
    _patch_ca_bundle(kube, install["vwc"], base64.b64encode((tmp_path / "c").read_bytes()).decode())
    try:
        assert "cabundle-mismatch" in problems(kube)
    finally:
        _patch_ca_bundle(kube, install["vwc"], original)
    assert "cabundle-mismatch" not in problems(kube)


def test_serving_certificate_close_to_expiry(kube, install, tmp_path):
    secret = kube.get("secret", install["secret"], "-n", RELEASE_NS)
    vwc = kube.get("validatingwebhookconfiguration", install["vwc"])
    svc = vwc["webhooks"][0]["clientConfig"]["service"]
    dns = f"{svc['name']}.{svc['namespace']}.svc"
    _openssl(tmp_path, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "tls.key", "-out", "tls.crt",
             "-days", "5", "-subj", f"/CN={dns}", "-addext", f"subjectAltName=DNS:{dns}")  # fmt: skip
    crt = base64.b64encode((tmp_path / "tls.crt").read_bytes()).decode()
    key = base64.b64encode((tmp_path / "tls.key").read_bytes()).decode()
    patch = {"data": {"tls.crt": crt, "tls.key": key, "ca.crt": crt}}
    kube.kubectl("patch", "secret", install["secret"], "-n", RELEASE_NS, "-p", json.dumps(patch))
    _patch_ca_bundle(kube, install["vwc"], crt)
    try:
        found = problems(kube)
        assert "cert-expiring" in found and "cabundle-mismatch" not in found, found
    finally:
        kube.kubectl(
            "patch", "secret", install["secret"], "-n", RELEASE_NS, "-p", json.dumps({"data": secret["data"]})
        )
        _patch_ca_bundle(kube, install["vwc"], vwc["webhooks"][0]["clientConfig"]["caBundle"])
    assert not problems(kube)


def test_leftover_webhook_of_an_old_install(kube, install):
    old = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": "mutating-webhook-configuration-seldon-old"},
        "webhooks": [
            {
                "name": "v1.mseldondeployment.kb.io",
                "admissionReviewVersions": ["v1"],
                "sideEffects": "None",
                "failurePolicy": "Ignore",
                "clientConfig": {"service": {"name": "webhook-server-service", "namespace": "seldon-old"}},
                "rules": [
                    {
                        "apiGroups": ["machinelearning.seldon.io"],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE"],
                        "resources": ["seldondeployments"],
                    }
                ],
                # matches nothing, so the rest of the suite is unaffected while it exists
                "objectSelector": {"matchLabels": {"fadi-seldon-test": "never"}},
            }
        ],
    }
    kube.apply([old])
    try:
        report = doctor_report(kube)
        found = [f for f in report["findings"] if f["check"] == "leftover-webhook"]
        assert (
            found
            and "kubectl delete mutatingwebhookconfiguration mutating-webhook-configuration-seldon-old"
            in found[0]["fix"]
        )
    finally:
        kube.kubectl("delete", "mutatingwebhookconfiguration", old["metadata"]["name"])
    assert "leftover-webhook" not in problems(kube)


def test_text_output_prints_each_problem_with_its_fix(kube, install):
    kube.kubectl("scale", "deployment", install["deployment"], "-n", RELEASE_NS, "--replicas=0")
    try:
        proc = wait_until(
            "doctor text output",
            lambda: (
                (
                    p := subprocess.run(
                        [sys.executable, "-m", "fadi_seldon", "doctor"],
                        capture_output=True,
                        text=True,
                        env=kube.env,
                    )
                ).returncode
                == 1
                and "webhook-no-endpoints" in p.stdout
                and p
            ),
            timeout=60,
        )
        assert "fix: " in proc.stdout and "ERROR" in proc.stdout
    finally:
        kube.kubectl("scale", "deployment", install["deployment"], "-n", RELEASE_NS, "--replicas=1")
    wait_until("the operator back", lambda: not problems(kube), timeout=90)
