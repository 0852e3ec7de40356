"""The chart-issued webhook certificate is coherent: one CA signs the serving certificate for the
names the API server calls, and the webhook's caBundle is that CA (checked with openssl)."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import tool

CHART = Path(__file__).resolve().parents[2] / "charts" / "seldon-core-operator"


def _render(*args: str) -> dict[str, dict]:
    out = subprocess.run(
        [
            tool("helm"),
            "template",
            "tls",
            str(CHART),
            "--namespace",
            "ml",
            "--set",
            "crd.create=false",
            *args,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {d["kind"]: d for d in yaml.safe_load_all(out) if d}


def _openssl(*args: str, stdin: bytes | None = None) -> str:
    proc = subprocess.run(["openssl", *args], input=stdin, capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout.decode()


@pytest.mark.parametrize(
    ("args", "names"),
    [
        ([], ["DNS:seldon-webhook-service.ml.svc", "DNS:seldon-webhook-service.ml.svc.cluster.local"]),
        (
            ["--set", "webhook.url=https://127.0.0.1:9443"],
            ["IP Address:127.0.0.1", "DNS:seldon-webhook-service.ml.svc"],
        ),
        (["--set", "webhook.url=https://webhook.example.com"], ["DNS:webhook.example.com"]),
    ],
)
def test_serving_certificate_is_signed_by_the_ca_in_the_cabundle(tmp_path, args, names):
    objects = _render(*args)
    secret = objects["Secret"]["data"]
    vwc = objects["ValidatingWebhookConfiguration"]
    assert vwc["webhooks"][0]["clientConfig"]["caBundle"] == secret["ca.crt"]
    ca = tmp_path / "ca.crt"
    ca.write_bytes(base64.b64decode(secret["ca.crt"]))
    cert = tmp_path / "tls.crt"
    cert.write_bytes(base64.b64decode(secret["tls.crt"]))
    assert "OK" in _openssl("verify", "-CAfile", str(ca), str(cert))
    text = _openssl("x509", "-in", str(cert), "-noout", "-text")
    for name in names:
        assert name in text
    # the private key belongs to the certificate
    key_pub = _openssl("pkey", "-pubout", stdin=base64.b64decode(secret["tls.key"]))
    cert_pub = _openssl("x509", "-in", str(cert), "-noout", "-pubkey")
    assert key_pub == cert_pub


def test_expiry_annotation_matches_the_certificate(tmp_path):
    objects = _render("--set", "webhook.tls.validityDays=400", "--set", "webhook.tls.renewBeforeDays=20")
    secret = objects["Secret"]
    cert = tmp_path / "tls.crt"
    cert.write_bytes(base64.b64decode(secret["data"]["tls.crt"]))
    not_after = _openssl("x509", "-in", str(cert), "-noout", "-enddate", "-dateopt", "iso_8601").strip()
    # notAfter=2027-12-29 12:00:00Z vs annotation 2027-12-29T12:00:00Z: same day is enough
    assert not_after.split("=")[1][:10] == secret["metadata"]["annotations"]["seldon.io/cert-not-after"][:10]


def test_the_pod_checksum_follows_a_newly_issued_certificate():
    first = _render()["Deployment"]["spec"]["template"]["metadata"]["annotations"]["checksum/webhook-cert"]
    second = _render()["Deployment"]["spec"]["template"]["metadata"]["annotations"]["checksum/webhook-cert"]
    # without a cluster every render issues a new certificate, so the checksum follows it
    assert first != second
