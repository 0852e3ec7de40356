"""The webhook's TLS: the serving certificate's expiry and names, and whether the caBundle signed it
(read with openssl; without openssl nothing is reported rather than a false problem)."""

from __future__ import annotations

import base64
import datetime as dt
import shutil
import tempfile
from pathlib import Path

from fadi_seldon.doctor.findings import ERROR, OK, WARNING, Finding, Snapshot, mounted_secrets
from fadi_seldon.runtime import commands

EXPIRY_WARNING_DAYS = 30


def check_certificates(
    snap: Snapshot,
    ns: str,
    svc_name: str,
    cfg_name: str,
    hook: dict,
    deployments: list[dict],
    openssl: str | None,
) -> list[Finding]:
    tls = _serving_secret(snap, ns, deployments)
    if tls is None:
        if not deployments:
            return []
        return [
            Finding(
                "webhook-cert-missing",
                ERROR,
                f"namespace {ns}",
                "the operator Deployment mounts no Secret with tls.crt: the webhook server cannot serve TLS",
                "reinstall the chart (it creates the webhook certificate), or enable cert-manager (`certManager.enabled=true`)",
            )
        ]
    secret_name = tls["metadata"]["name"]
    cert_pem = base64.b64decode(tls["data"]["tls.crt"])
    info = cert_info(cert_pem, openssl)
    subject = f"Secret {ns}/{secret_name}"
    days = (info["not_after"] - snap.now).total_seconds() / 86400 if info.get("not_after") else None
    dns = f"{svc_name}.{ns}.svc"
    out = _check_expiry(subject, days, _renew_fix(ns, secret_name))
    if info.get("sans") is not None and dns not in info["sans"]:
        out.append(
            Finding(
                "cert-wrong-name",
                ERROR,
                subject,
                f"the serving certificate is not valid for {dns} (names: {', '.join(info['sans']) or 'none'})",
                _renew_fix(ns, secret_name),
            )
        )
    ca_bundle = (hook.get("clientConfig") or {}).get("caBundle") or ""
    out += _check_ca_bundle(ca_bundle, cert_pem, f"{ns}/{secret_name}", cfg_name, openssl)
    if not out:
        left = f", expires in {days:.0f} days" if days is not None else ""
        out.append(
            Finding("webhook-tls", OK, subject, f"caBundle matches the serving certificate for {dns}{left}")
        )
    return out


def _serving_secret(snap: Snapshot, ns: str, deployments: list[dict]) -> dict | None:
    """The Secret with tls.crt that one of the operator Deployments mounts."""
    secrets = [
        snap.secrets[f"{ns}/{s}"]
        for dep in deployments
        for s in mounted_secrets(dep)
        if f"{ns}/{s}" in snap.secrets
    ]
    return next((s for s in secrets if "tls.crt" in (s.get("data") or {})), None)


def _check_expiry(subject: str, days: float | None, fix: str) -> list[Finding]:
    if days is not None and days < 0:
        return [
            Finding(
                "cert-expired",
                ERROR,
                subject,
                f"the webhook serving certificate expired {-days:.0f} day(s) ago",
                fix,
            )
        ]
    if days is not None and days < EXPIRY_WARNING_DAYS:
        return [
            Finding(
                "cert-expiring",
                WARNING,
                subject,
                f"the webhook serving certificate expires in {days:.0f} day(s)",
                fix,
            )
        ]
    return []


def _check_ca_bundle(
    ca_bundle: str, cert_pem: bytes, secret: str, cfg_name: str, openssl: str | None
) -> list[Finding]:
    subject = f"ValidatingWebhookConfiguration {cfg_name}"
    if not ca_bundle:
        return [
            Finding(
                "cabundle-mismatch",
                ERROR,
                subject,
                "the webhook has no caBundle: the API server cannot trust the operator's certificate",
                "with cert-manager, check the `cert-manager.io/inject-ca-from` annotation and cainjector; "
                "otherwise `helm upgrade` the release to re-render the caBundle",
            )
        ]
    if not verifies(base64.b64decode(ca_bundle), cert_pem, openssl):
        return [
            Finding(
                "cabundle-mismatch",
                ERROR,
                subject,
                f"the caBundle did not sign the serving certificate in Secret {secret}: webhook calls fail "
                "with 'x509: certificate signed by unknown authority'",
                f"`helm upgrade` the release so both are rendered together, or delete Secret {secret} "
                "and upgrade to regenerate both",
            )
        ]
    return []


def _renew_fix(ns: str, secret: str) -> str:
    return f"delete Secret {ns}/{secret} and `helm upgrade` the release (the chart regenerates it), or let cert-manager renew it"


def _openssl(openssl: str | None) -> str | None:
    return openssl or shutil.which("openssl")


def cert_info(pem: bytes, openssl: str | None = None) -> dict:
    """notAfter (UTC) and DNS SANs of a PEM certificate; empty when openssl is missing."""
    exe = _openssl(openssl)
    if not exe:
        return {}
    # a PEM is ASCII text: anything else openssl refuses, as it would the bytes
    proc = commands.run(
        [exe, "x509", "-noout", "-enddate", "-ext", "subjectAltName"], input=pem.decode(errors="replace")
    )
    if not proc.ok:
        return {"not_after": None, "sans": []}
    text = proc.stdout
    info: dict = {"not_after": None, "sans": []}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("notAfter="):
            info["not_after"] = dt.datetime.strptime(
                line[len("notAfter=") :], "%b %d %H:%M:%S %Y %Z"
            ).replace(tzinfo=dt.UTC)
        elif "DNS:" in line:
            info["sans"] = [p.strip()[4:] for p in line.split(",") if p.strip().startswith("DNS:")]
    return info


def verifies(ca_pem: bytes, cert_pem: bytes, openssl: str | None = None) -> bool:
    exe = _openssl(openssl)
    if not exe:
        return True  # cannot check: do not report a false problem
    with tempfile.TemporaryDirectory() as tmp:
        ca, cert = Path(tmp, "ca.crt"), Path(tmp, "tls.crt")
        ca.write_bytes(ca_pem)
        cert.write_bytes(cert_pem)
        # -no_check_time: expiry is reported separately, here only the chain matters
        proc = commands.run([exe, "verify", "-no_check_time", "-CAfile", ca, cert])
    return proc.ok
