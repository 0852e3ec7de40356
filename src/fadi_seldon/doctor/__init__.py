"""Diagnose a cluster's Seldon Core installation: the failures users hit most, each with its fix.

Two halves, so the checks are testable without a cluster:
- `gather(kubectl)` reads what is needed with `kubectl get -o json` (kubectl handles every
  kind of kubeconfig auth) into a `Snapshot` of plain dicts;
- `diagnose(snapshot)` is pure: it returns `Finding`s.

The installation is found the way the API server finds it: from the validating webhook named
`v1.vseldondeployment.kb.io`, to its Service, to the Deployment behind the Service's selector,
to the TLS Secret that Deployment mounts. Nothing depends on a release or object name.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fadi_seldon.runtime import names

CRD_NAME = names.CRD_NAME
CRD_VERSIONS = ("v1", "v1alpha2", "v1alpha3")
WEBHOOK_SUFFIXES = (".vseldondeployment.kb.io", ".mseldondeployment.kb.io")
CURRENT_WEBHOOK = "v1.vseldondeployment.kb.io"
CONTROLLER_ID_LABEL = "seldon.io/controller-id"
EXPIRY_WARNING_DAYS = 30

ERROR, WARNING, OK = "error", "warning", "ok"


@dataclass
class Finding:
    check: str
    severity: str  # error | warning | ok
    subject: str
    message: str
    fix: str = ""

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Snapshot:
    crd: dict | None = None
    validating: list[dict] = field(default_factory=list)
    mutating: list[dict] = field(default_factory=list)
    services: dict[str, dict] = field(default_factory=dict)  # "ns/name" -> Service
    endpointslices: dict[str, list[dict]] = field(default_factory=dict)  # "ns/service" -> slices
    deployments: dict[str, list[dict]] = field(default_factory=dict)  # namespace -> Deployments
    secrets: dict[str, dict] = field(default_factory=dict)  # "ns/name" -> Secret
    namespaces: dict[str, dict] = field(default_factory=dict)  # name -> Namespace
    operator_pods: list[dict] = field(default_factory=list)  # controller pods, found by their labels
    operator_logs: dict[str, str] = field(default_factory=dict)  # "ns/pod" -> previous + current log
    host_operators: list[dict] = field(default_factory=list)  # `cluster operator start` processes
    sdeps: list[dict] = field(default_factory=list)  # every SeldonDeployment
    image_waits: list[dict] = field(
        default_factory=list
    )  # containers waiting for an image (doctor/images.py)
    graph_pods: list[dict] = field(
        default_factory=list
    )  # executor pods: graph, executor and component logs (doctor/graphs.py)
    stale_after: float = 120.0  # seconds without a state before a SeldonDeployment is reported
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


class DoctorError(RuntimeError):
    """The cluster could not be read at all (no kubectl, unreachable, forbidden). `unreachable`:
    there is no cluster to read (no kubeconfig, nothing answering), as opposed to one refusing."""

    def __init__(self, message: str, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


# kubectl's words for "nothing answers there" (no kubeconfig falls back to localhost:8080)
_UNREACHABLE = (
    "connection to the server",
    "unable to connect to the server",
    "connection refused",
    "no such host",
    "i/o timeout",
    "context deadline exceeded",
    "handshake timeout",
    "network is unreachable",
    "no route to host",
    "no configuration has been provided",
)
# klog's prefix (`E1206 05:14:04.858629   15534 memcache.go:265] ...`): a log line, not the message
_KLOG_LINE = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+\s")


def kubectl_problem(stderr: str) -> tuple[str, bool]:
    """kubectl's own summary of a failure (its last line that is not a log line, without `error: `),
    and whether it says the cluster cannot be reached."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip() and not _KLOG_LINE.match(ln.strip())]
    last = lines[-1] if lines else (stderr.strip().splitlines() or ["no message"])[-1]
    last = re.sub(r"^error:\s*", "", _KLOG_LINE.sub("", last), flags=re.I)
    return last, any(marker in stderr.lower() for marker in _UNREACHABLE)


# ---------------------------------------------------------------------------- gathering
class Kubectl:
    def __init__(
        self, exe: str | None = None, kubeconfig: str | None = None, context: str | None = None
    ) -> None:
        self.exe = exe or _kubectl()
        if not self.exe:
            raise DoctorError("kubectl is not installed: run `make tools TOOLS=cluster` or install kubectl")
        self.base = [self.exe]
        if kubeconfig:
            self.base.append(f"--kubeconfig={kubeconfig}")
        if context:
            self.base.append(f"--context={context}")

    def get(self, *args: str, missing_ok: bool = True) -> dict | None:
        try:
            proc = subprocess.run(
                [*self.base, "get", *args, "-o", "json", "--request-timeout=20s"],
                capture_output=True,
                text=True,
                timeout=60,
            )
        except subprocess.TimeoutExpired:
            raise DoctorError(
                f"cannot reach the cluster: `kubectl get {' '.join(args)}` did not answer within 60 s",
                unreachable=True,
            ) from None
        if proc.returncode != 0:
            err = proc.stderr.strip()
            if missing_ok and ("NotFound" in err or "not found" in err):
                return None
            problem, unreachable = kubectl_problem(err)
            if unreachable:
                raise DoctorError(f"cannot reach the cluster: {problem}", unreachable=True)
            raise DoctorError(f"`kubectl get {' '.join(args)}` failed: {problem}")
        return json.loads(proc.stdout)

    def logs(
        self, pod: dict, *, previous: bool, tail: str, container: str | None = None, since: str | None = None
    ) -> str:
        """A pod's log, all its containers' or one's ("" when there is none: no previous container,
        a container not started or absent)."""
        meta = pod["metadata"]
        argv = [*self.base, "logs", meta["name"], "-n", meta["namespace"], f"--tail={tail}"]
        argv += ["-c", container] if container else ["--all-containers"]
        if since:
            argv.append(f"--since={since}")
        if previous:
            argv.append("--previous")
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        except subprocess.TimeoutExpired:
            return ""
        return proc.stdout if proc.returncode == 0 else ""

    def server(self) -> str:
        proc = subprocess.run(
            [*self.base, "config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"],
            capture_output=True,
            text=True,
        )
        return proc.stdout.strip() if proc.returncode == 0 else "?"


def _kubectl() -> str | None:
    """The project's pinned kubectl (`make tools`) if installed, else the one on PATH."""
    from fadi_seldon import tools as toolchain

    pinned = toolchain.default_tools_dir() / "bin" / "kubectl"
    return str(pinned) if pinned.is_file() else shutil.which("kubectl")


def _items(doc: dict | None) -> list[dict]:
    return list((doc or {}).get("items") or [])


def seldon_webhooks(config: dict) -> list[dict]:
    return [w for w in config.get("webhooks") or [] if str(w.get("name", "")).endswith(WEBHOOK_SUFFIXES)]


def gather(
    kubectl: Kubectl, host_state_dirs: list[Path] | None = None, stale_after: float = 120.0
) -> Snapshot:
    """What the checks need; `host_state_dirs` hold the state of operators run as host processes."""
    from fadi_seldon.doctor import crashes, graphs, images

    snap = Snapshot(stale_after=stale_after)
    _gather_install(kubectl, snap)
    crashes.gather_runtime(kubectl, snap, host_state_dirs or [])
    images.gather(kubectl, snap)
    graphs.gather(kubectl, snap)  # after the SeldonDeployments: their graphs are the fallback
    return snap


def _gather_install(kubectl: Kubectl, snap: Snapshot) -> None:
    snap.crd = kubectl.get("customresourcedefinition", CRD_NAME)
    snap.validating = [
        c for c in _items(kubectl.get("validatingwebhookconfigurations")) if seldon_webhooks(c)
    ]
    snap.mutating = [c for c in _items(kubectl.get("mutatingwebhookconfigurations")) if seldon_webhooks(c)]
    snap.namespaces = {n["metadata"]["name"]: n for n in _items(kubectl.get("namespaces"))}
    wanted_ns: set[str] = set()
    for config in snap.validating + snap.mutating:
        for hook in seldon_webhooks(config):
            svc = (hook.get("clientConfig") or {}).get("service")
            if not svc:
                continue
            ns, name = svc.get("namespace", "default"), svc.get("name", "")
            key = f"{ns}/{name}"
            if ns in snap.namespaces and key not in snap.services:
                found = kubectl.get("service", name, "-n", ns)
                if found:
                    snap.services[key] = found
                    slices = kubectl.get(
                        "endpointslices", "-n", ns, "-l", f"kubernetes.io/service-name={name}"
                    )
                    snap.endpointslices[key] = _items(slices)
            wanted_ns.add(ns)
    for ns in sorted(wanted_ns & set(snap.namespaces)):
        snap.deployments[ns] = _items(kubectl.get("deployments", "-n", ns))
        for dep in snap.deployments[ns]:
            for secret in _mounted_secrets(dep):
                key = f"{ns}/{secret}"
                if key not in snap.secrets:
                    found = kubectl.get("secret", secret, "-n", ns)
                    if found:
                        snap.secrets[key] = found


def _mounted_secrets(deployment: dict) -> list[str]:
    vols = (((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}).get("volumes") or []
    return [v["secret"]["secretName"] for v in vols if (v.get("secret") or {}).get("secretName")]


# ---------------------------------------------------------------------------- checks
def diagnose(snap: Snapshot, openssl: str | None = None) -> list[Finding]:
    from fadi_seldon.doctor import crashes, graphs, images

    findings: list[Finding] = []
    findings += check_crd(snap)
    findings += images.check_images(snap)
    findings += graphs.check_graphs(snap)
    findings += crashes.check_crd_guard(snap.crd)
    findings += crashes.check_crashes(snap)
    findings += crashes.check_stateless(snap)
    current = [c for c in snap.validating if any(w["name"] == CURRENT_WEBHOOK for w in seldon_webhooks(c))]
    findings += check_leftover_webhooks(snap)
    if not current:
        findings.append(
            Finding(
                "webhook-missing",
                WARNING,
                f"ValidatingWebhookConfiguration with {CURRENT_WEBHOOK}",
                "no Seldon validating webhook is registered (webhook.enabled=false, or the operator is not "
                "installed): SeldonDeployments are not validated at admission, only the CRD refuses bad shapes",
                "install the operator: `helm upgrade --install fadi ./fadi --set seldon-core-operator.enabled=true`, "
                "or run `fadi-seldon validate` on manifests before applying them",
            )
        )
    for config in current:
        for hook in seldon_webhooks(config):
            if hook["name"] == CURRENT_WEBHOOK:
                findings += crashes.check_failure_policy(hook, config["metadata"]["name"])
                findings += check_webhook(snap, config, hook, openssl)
    return findings


def _crd_problems(crd: dict) -> list[str]:
    spec = crd.get("spec") or {}
    versions = {v.get("name"): v for v in spec.get("versions") or []}
    missing = [v for v in CRD_VERSIONS if not (versions.get(v) or {}).get("served")]
    storage = [n for n, v in versions.items() if v.get("storage")]
    schema_ok = all(
        "spec" in (((v.get("schema") or {}).get("openAPIV3Schema") or {}).get("properties") or {})
        for v in versions.values()
    )
    problems = []
    if missing:
        problems.append(f"versions not served: {', '.join(missing)}")
    if storage != ["v1"]:
        problems.append(f"storage version is {', '.join(storage) or 'none'} (expected v1)")
    if not schema_ok:
        problems.append("no structural schema for spec (an old CRD that validates nothing)")
    return problems


def check_crd(snap: Snapshot) -> list[Finding]:
    fix = (
        "install or upgrade the operator chart with `crd.create=true` (the default): "
        "`helm upgrade --install fadi ./fadi --set seldon-core-operator.enabled=true`"
    )
    subject = f"CustomResourceDefinition {CRD_NAME}"
    if snap.crd is None:
        return [Finding("crd-missing", ERROR, subject, "the CRD is not installed", fix)]
    out = []
    problems = _crd_problems(snap.crd)
    if problems:
        out.append(Finding("crd-old", ERROR, subject, "; ".join(problems), fix))
    conditions = {c.get("type"): c for c in (snap.crd.get("status") or {}).get("conditions") or []}
    est = conditions.get("Established") or {}
    if est.get("status") != "True":
        out.append(
            Finding(
                "crd-not-established",
                ERROR,
                subject,
                f"the CRD is not Established: {est.get('message') or 'no condition yet'}",
                f"`kubectl describe crd {CRD_NAME}` shows why (e.g. a names conflict)",
            )
        )
    if not out:
        served = sorted(v.get("name") for v in (snap.crd.get("spec") or {}).get("versions") or [])
        out.append(Finding("crd", OK, subject, f"Established, storage v1, served {', '.join(served)}"))
    return out


def check_leftover_webhooks(snap: Snapshot) -> list[Finding]:
    out = []
    for config in snap.mutating:
        name = config["metadata"]["name"]
        out.append(
            Finding(
                "leftover-webhook",
                ERROR,
                f"MutatingWebhookConfiguration {name}",
                "a mutating Seldon webhook from an install older than Seldon Core 1.6 is still registered; "
                "its service is gone or outdated, so SeldonDeployment requests can fail or be altered",
                f"kubectl delete mutatingwebhookconfiguration {name}",
            )
        )
    for config in snap.validating:
        name = config["metadata"]["name"]
        hooks = seldon_webhooks(config)
        stale_names = [w["name"] for w in hooks if w["name"] != CURRENT_WEBHOOK]
        orphaned = []
        for w in hooks:
            svc = (w.get("clientConfig") or {}).get("service")
            if svc and f"{svc.get('namespace', 'default')}/{svc.get('name')}" not in snap.services:
                orphaned.append(f"{svc.get('namespace', 'default')}/{svc.get('name')}")
        if stale_names or orphaned:
            why = []
            if stale_names:
                why.append(f"webhooks of an older release ({', '.join(stale_names)})")
            if orphaned:
                why.append(
                    f"its Service {', '.join(sorted(set(orphaned)))} does not exist (release uninstalled?)"
                )
            out.append(
                Finding(
                    "leftover-webhook",
                    ERROR,
                    f"ValidatingWebhookConfiguration {name}",
                    "leftover of an older or removed install: " + "; ".join(why),
                    f"kubectl delete validatingwebhookconfiguration {name}",
                )
            )
    return out


def check_webhook(snap: Snapshot, config: dict, hook: dict, openssl: str | None) -> list[Finding]:
    out: list[Finding] = []
    cfg_name = config["metadata"]["name"]
    url = (hook.get("clientConfig") or {}).get("url")
    if url:  # e.g. `webhook.url` for an operator run as a host process (fadi-seldon cluster operator)
        return [
            Finding(
                "webhook-url",
                WARNING if hook.get("failurePolicy", "Fail") == "Fail" else OK,
                f"ValidatingWebhookConfiguration {cfg_name}",
                f"the webhook calls {url} directly, not a Service: the operator Deployment, endpoint and "
                "certificate checks do not apply, and SeldonDeployment requests fail while nothing serves that URL",
                "outside local development, unset `webhook.url` so the webhook calls the operator's Service",
            )
        ]
    svc_ref = (hook.get("clientConfig") or {}).get("service") or {}
    ns, svc_name = svc_ref.get("namespace", "default"), svc_ref.get("name", "")
    key = f"{ns}/{svc_name}"
    service = snap.services.get(key)
    if service is None:
        return out  # reported as leftover-webhook
    deployments = _deployments_behind(snap, ns, service)
    out += check_operator(ns, svc_name, deployments)
    out += check_endpoints(snap, key, hook)
    out += check_certificates(snap, ns, svc_name, cfg_name, hook, deployments, openssl)
    out += check_namespace_labels(snap, hook, deployments)
    return out


def _deployments_behind(snap: Snapshot, ns: str, service: dict) -> list[dict]:
    selector = (service.get("spec") or {}).get("selector") or {}
    if not selector:
        return []
    found = []
    for dep in snap.deployments.get(ns, []):
        labels = ((dep.get("spec") or {}).get("template") or {}).get("metadata", {}).get("labels") or {}
        if all(labels.get(k) == v for k, v in selector.items()):
            found.append(dep)
    return found


def check_operator(ns: str, svc_name: str, deployments: list[dict]) -> list[Finding]:
    if not deployments:
        return [
            Finding(
                "operator-not-ready",
                ERROR,
                f"Service {ns}/{svc_name}",
                "no Deployment in the namespace matches the webhook Service's selector: the operator is not running",
                f"`kubectl -n {ns} get deploy,pods` and reinstall the operator chart",
            )
        ]
    out = []
    for dep in deployments:
        name = dep["metadata"]["name"]
        want = (dep.get("spec") or {}).get("replicas", 1)
        status = dep.get("status") or {}
        have = status.get("availableReplicas") or 0
        available = next((c for c in status.get("conditions") or [] if c.get("type") == "Available"), {})
        if want == 0:
            out.append(
                Finding(
                    "operator-not-ready",
                    ERROR,
                    f"Deployment {ns}/{name}",
                    "the operator is scaled to 0 replicas: nothing reconciles SeldonDeployments or serves the webhook",
                    f"kubectl -n {ns} scale deploy {name} --replicas=1 (or `helm upgrade` the release)",
                )
            )
        elif have < want or available.get("status") != "True":
            out.append(
                Finding(
                    "operator-not-ready",
                    ERROR,
                    f"Deployment {ns}/{name}",
                    f"{have}/{want} replicas available ({available.get('message') or 'no Available condition'})",
                    f"`kubectl -n {ns} describe deploy {name}` and `kubectl -n {ns} get events`; "
                    "typical causes: image pull errors, Pod Security rejections, missing service account",
                )
            )
        else:
            out.append(
                Finding("operator", OK, f"Deployment {ns}/{name}", f"{have}/{want} replicas available")
            )
    return out


def check_endpoints(snap: Snapshot, key: str, hook: dict) -> list[Finding]:
    ready = 0
    for slc in snap.endpointslices.get(key, []):
        for ep in slc.get("endpoints") or []:
            if (ep.get("conditions") or {}).get("ready", True):
                ready += 1
    if ready:
        return [Finding("webhook-endpoints", OK, f"Service {key}", f"{ready} ready endpoint(s)")]
    policy = hook.get("failurePolicy", "Fail")
    effect = (
        "every SeldonDeployment create/update fails with 'no endpoints available for service'"
        if policy == "Fail"
        else "SeldonDeployments are admitted without validation (failurePolicy Ignore)"
    )
    ns, name = key.split("/", 1)
    return [
        Finding(
            "webhook-no-endpoints",
            ERROR,
            f"Service {key}",
            f"the webhook Service has no ready endpoints: {effect}",
            f"check the operator pods (`kubectl -n {ns} get pods`) and that the Service selector matches them "
            f"(`kubectl -n {ns} get svc {name} -o yaml`)",
        )
    ]


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
        for s in _mounted_secrets(dep)
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


def check_namespace_labels(snap: Snapshot, hook: dict, deployments: list[dict]) -> list[Finding]:
    """Single-namespace mode only validates SeldonDeployments in namespaces carrying the controller label."""
    out = []
    wanted = ((hook.get("namespaceSelector") or {}).get("matchLabels") or {}).get(CONTROLLER_ID_LABEL)
    if not wanted:
        return out
    ns = snap.namespaces.get(wanted)
    labels = ((ns or {}).get("metadata") or {}).get("labels") or {}
    if ns is None:
        out.append(
            Finding(
                "namespace-not-labelled",
                WARNING,
                f"namespace {wanted}",
                "the webhook selects namespace labelled "
                f"{CONTROLLER_ID_LABEL}={wanted}, but that namespace does not exist",
                f"kubectl create namespace {wanted} && kubectl label namespace {wanted} {CONTROLLER_ID_LABEL}={wanted}",
            )
        )
    elif labels.get(CONTROLLER_ID_LABEL) != wanted:
        out.append(
            Finding(
                "namespace-not-labelled",
                ERROR,
                f"namespace {wanted}",
                f"single-namespace mode: the namespace lacks the label {CONTROLLER_ID_LABEL}={wanted}, so the webhook "
                "never validates SeldonDeployments there",
                f"kubectl label namespace {wanted} {CONTROLLER_ID_LABEL}={wanted} --overwrite",
            )
        )
    else:
        out.append(
            Finding("namespace-labels", OK, f"namespace {wanted}", f"labelled {CONTROLLER_ID_LABEL}={wanted}")
        )
    return out


# ---------------------------------------------------------------------------- certificates (openssl)
def _openssl(openssl: str | None) -> str | None:
    return openssl or shutil.which("openssl")


def cert_info(pem: bytes, openssl: str | None = None) -> dict:
    """notAfter (UTC) and DNS SANs of a PEM certificate; empty when openssl is missing."""
    exe = _openssl(openssl)
    if not exe:
        return {}
    proc = subprocess.run(
        [exe, "x509", "-noout", "-enddate", "-ext", "subjectAltName"], input=pem, capture_output=True
    )
    if proc.returncode != 0:
        return {"not_after": None, "sans": []}
    text = proc.stdout.decode(errors="replace")
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
        proc = subprocess.run(
            [exe, "verify", "-no_check_time", "-CAfile", str(ca), str(cert)], capture_output=True
        )
    return proc.returncode == 0


def summary(findings: list[Finding]) -> dict:
    return {
        "errors": sum(f.severity == ERROR for f in findings),
        "warnings": sum(f.severity == WARNING for f in findings),
        "ok": sum(f.severity == OK for f in findings),
    }
