"""The checks of an installation, pure functions of a Snapshot: the CRD, leftover webhooks, the
current webhook's operator, endpoints, certificates (tls.py) and namespace labels; `diagnose` runs
them with those of crashes.py, images.py and graphs.py."""

from __future__ import annotations

from fadi_seldon.doctor import crashes, graphs, images, model_storage
from fadi_seldon.doctor.findings import (
    CONTROLLER_ID_LABEL,
    CRD_NAME,
    CRD_VERSIONS,
    CURRENT_WEBHOOK,
    ERROR,
    OK,
    WARNING,
    Finding,
    Snapshot,
    seldon_webhooks,
)
from fadi_seldon.doctor.tls import check_certificates


def diagnose(snap: Snapshot, openssl: str | None = None) -> list[Finding]:
    findings: list[Finding] = []
    findings += check_crd(snap)
    findings += images.check_images(snap)
    findings += model_storage.check_model_downloads(snap)
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
        available: dict = next(
            (c for c in status.get("conditions") or [] if c.get("type") == "Available"), {}
        )
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


def check_namespace_labels(snap: Snapshot, hook: dict, deployments: list[dict]) -> list[Finding]:
    """Single-namespace mode only validates SeldonDeployments in namespaces carrying the controller label."""
    out: list[Finding] = []
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
