"""Doctor checks for an operator that dies on an object, and for objects it never reconciles.

A SeldonDeployment the operator cannot handle kills it on every reconcile: in a pod that is a
crash loop, for a host process (`fadi-seldon cluster operator start`) a process gone. Either way
no other model gets a state until the object is removed, and with `failurePolicy: Ignore` the
webhook (served by the same process) lets more of them in. These checks find the operator by its
labels (not by the webhook, which may be off), read its log (fadi_seldon.doctor.operator_log) to name the
culprit, and list the SeldonDeployments still without a state with the operator's last error.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fadi_seldon.doctor import operator_log
from fadi_seldon.doctor.findings import ERROR, OK, WARNING, Finding, Snapshot
from fadi_seldon.runtime import names

# The controller pods: our chart's component label, and upstream's chart label.
CONTROLLER_SELECTORS = names.CONTROLLER_SELECTORS
LOG_TAIL = "3000"  # lines of an operator log read for the culprit and the last errors


def gather_runtime(kubectl, snap: Snapshot, host_state_dirs: list[Path]) -> None:
    """Operator pods and their logs, host operator processes, and every SeldonDeployment."""
    seen: set[str] = set()
    for selector in CONTROLLER_SELECTORS:
        for pod in (kubectl.get("pods", "-A", "-l", selector) or {}).get("items") or []:
            key = f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
            if key in seen:
                continue
            seen.add(key)
            snap.operator_pods.append(pod)
            previous = kubectl.logs(pod, previous=True, tail=LOG_TAIL) if _restarts(pod) else ""
            snap.operator_logs[key] = previous + "\n" + kubectl.logs(pod, previous=False, tail=LOG_TAIL)
    snap.host_operators = [p for d in host_state_dirs for p in read_host_operators(d)]
    if snap.crd is not None:
        snap.sdeps = (kubectl.get("seldondeployments", "-A") or {}).get("items") or []


def read_host_operators(state_dir: Path) -> list[dict]:
    """The operator processes `fadi-seldon cluster operator start` recorded in `state_dir`."""
    from fadi_seldon.localkube.operator import STATE_VERSION
    from fadi_seldon.runtime import processes
    from fadi_seldon.runtime.statedir import StateDir

    state = StateDir(state_dir, version=STATE_VERSION, prefix="[doctor]").load_any()
    out = []
    for rec in state.get("processes") or []:
        try:
            log = Path(rec["log"]).read_text(encoding="utf-8", errors="replace")
        except OSError:
            log = ""
        out.append(
            {
                "name": rec.get("name", "?"),
                "release": state.get("release", ""),
                "namespace": state.get("namespace", ""),
                "running": processes.is_running(rec["pid"], rec.get("start_time")),
                "log": log,
            }
        )
    return out


def _restarts(pod: dict) -> int:
    return sum(c.get("restartCount") or 0 for c in (pod.get("status") or {}).get("containerStatuses") or [])


def _crash_looping(pod: dict) -> bool:
    for c in (pod.get("status") or {}).get("containerStatuses") or []:
        if ((c.get("state") or {}).get("waiting") or {}).get("reason") == "CrashLoopBackOff":
            return True
    return False


def _culprit_fix(crash: operator_log.Crash | None, restart: str) -> str:
    if crash is None or not crash.name:
        return f"read the operator's log for the panic and the last `Reconcile called` line; then {restart}"
    return (
        f"kubectl delete seldondeployment {crash.name} -n {crash.namespace} (or fix it: `kubectl get sdep "
        f"{crash.name} -n {crash.namespace} -o yaml | fadi-seldon validate -`, then re-apply); then {restart}"
    )


def _crash_message(what: str, crash: operator_log.Crash | None) -> str:
    if crash is None:
        return f"{what}; its log holds no Go panic (out of memory, killed, or a start-up error?)"
    where = f" at {crash.location}" if crash.location else ""
    culprit = f" while reconciling SeldonDeployment {crash.culprit}" if crash.name else ""
    return f"{what}: {crash.message}{where}{culprit}"


def check_crashes(snap: Snapshot) -> list[Finding]:
    out = []
    for pod in snap.operator_pods:
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        restarts = _restarts(pod)
        if not restarts and not _crash_looping(pod):
            out.append(Finding("operator-crash", OK, f"Pod {ns}/{name}", "no restarts"))
            continue
        crash = operator_log.parse_crash(snap.operator_logs.get(f"{ns}/{name}", ""))
        state = "is crash-looping" if _crash_looping(pod) else f"restarted {restarts} time(s)"
        out.append(
            Finding(
                "operator-crashed",
                ERROR,
                f"Pod {ns}/{name}",
                _crash_message(f"the operator {state}", crash),
                _culprit_fix(crash, f"kubectl -n {ns} delete pod {name}"),
            )
        )
    for proc in snap.host_operators:
        subject = f"host process {proc['name']} (release {proc['namespace']}/{proc['release']})"
        if proc["running"]:
            out.append(Finding("operator-crash", OK, subject, "running"))
            continue
        crash = operator_log.parse_crash(proc["log"])
        out.append(
            Finding(
                "operator-crashed",
                ERROR,
                subject,
                _crash_message("the operator process is gone", crash),
                _culprit_fix(crash, f"fadi-seldon cluster operator start --release {proc['release']}"),
            )
        )
    return out


def _age(obj: dict, now: dt.datetime) -> float:
    created = (obj.get("metadata") or {}).get("creationTimestamp")
    if not created:
        return 0.0
    when = dt.datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    return (now - when).total_seconds()


def check_stateless(snap: Snapshot) -> list[Finding]:
    """SeldonDeployments without a state for longer than snap.stale_after, with the operator's last error."""
    errors: dict[str, str] = {}
    for text in [*snap.operator_logs.values(), *(p["log"] for p in snap.host_operators)]:
        errors.update(operator_log.last_errors(text))
    out = []
    for sdep in snap.sdeps:
        meta = sdep.get("metadata") or {}
        key = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
        age = _age(sdep, snap.now)
        if (sdep.get("status") or {}).get("state") or age < snap.stale_after:
            continue
        last = errors.get(key)
        out.append(
            Finding(
                "sdep-no-state",
                WARNING,
                f"SeldonDeployment {key}",
                f"no state after {age:.0f}s: "
                + (
                    f"the operator's last error for it: {last}"
                    if last
                    else "the operator logged no error for it"
                ),
                "check that an operator runs and watches this namespace (`fadi-seldon doctor` above), "
                f"then `kubectl describe sdep {meta.get('name')} -n {meta.get('namespace')}`",
            )
        )
    return out


def check_failure_policy(hook: dict, config_name: str) -> list[Finding]:
    if hook.get("failurePolicy", "Fail") != "Ignore":
        return []
    return [
        Finding(
            "webhook-ignore",
            WARNING,
            f"ValidatingWebhookConfiguration {config_name}",
            "failurePolicy is Ignore: while the operator is down (restart, upgrade, crash) SeldonDeployments are "
            "admitted unchecked, and the CRD alone must refuse what would crash the operator",
            "set webhook.failurePolicy=Fail in the chart values, and keep the chart's CRD (crd.create=true)",
        )
    ]


def check_crd_guard(crd: dict | None) -> list[Finding]:
    """The installed CRD refuses `predictors: []` (ours does; upstream's does not)."""
    if crd is None:
        return []
    for version in (crd.get("spec") or {}).get("versions") or []:
        props = ((version.get("schema") or {}).get("openAPIV3Schema") or {}).get("properties") or {}
        predictors = ((props.get("spec") or {}).get("properties") or {}).get("predictors") or {}
        rules = [r.get("rule", "") for r in predictors.get("x-kubernetes-validations") or []]
        if not (predictors.get("minItems") or any("size(self) > 0" in r for r in rules)):
            return [
                Finding(
                    "crd-unguarded",
                    WARNING,
                    f"CustomResourceDefinition {crd['metadata']['name']}",
                    f"version {version.get('name')} accepts `predictors: []`, which crashes Seldon Core operators "
                    "up to 1.17.1 whenever the webhook is not in the path (disabled, Ignore, restores)",
                    "install the CRD of this chart (`crd.create=true`): it refuses that shape at the API server",
                )
            ]
    return []
