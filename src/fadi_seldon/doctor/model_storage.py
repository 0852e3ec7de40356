"""Prepackaged servers whose model cannot be fetched, told from the storage initializer's own log.

The operator gives each prepackaged server an init container, `<container>-model-initializer`, that
runs `rclone copy MODEL_URI /mnt/models` (the chart's storage initializer image) with the variables of
the Secret named by `envSecretRefName`. When it fails, the pod stays in `Init:` states and the
SeldonDeployment in `Creating` with no word of why; the reason is in that container's log or status:

- a Secret that does not exist: the kubelet does not start the container (CreateContainerConfigError,
  `secret "NAME" not found`);
- no remote of the URI's scheme: rclone says `didn't find section in config file ("s3")` (no Secret
  gives RCLONE_CONFIG_S3_*, or none is named);
- a bucket that does not exist: `directory not found` (exit 3). A missing *folder* in an existing
  bucket is an empty folder to S3: the copy succeeds with nothing, and the server fails to load;
- wrong keys: the store answers 403 (`Forbidden`, `InvalidAccessKeyId`, `SignatureDoesNotMatch`);
- a store out of reach: `connection refused`, `no such host`, `i/o timeout`.

The lines are those of rclone 1.76 against `rclone serve s3`, seen in tests/cluster/test_16_prepackaged.py.
"""

from __future__ import annotations

import re

from fadi_seldon.doctor.findings import ERROR, Finding, Snapshot
from fadi_seldon.doctor.graphs import SDEP_LABEL
from fadi_seldon.sdep.validator.webhook import as_dict, as_list, as_str

INITIALIZER_SUFFIX = "-model-initializer"
LOG_TAIL = "200"
# (check, pattern, what it means, what to do), most specific first
CAUSES = (
    ("model-secret-missing", re.compile(r'secret "(?P<secret>[^"]+)" not found'),
     'the Secret "{secret}" named by envSecretRefName does not exist in the namespace',
     "create it (`fadi-seldon upload --print-secret NAME` writes one for an S3 endpoint) or fix envSecretRefName"),
    ("model-storage-unconfigured", re.compile(r"didn't find section in config file \(\"(?P<remote>[^\"]+)\"\)"),
     'the storage initializer has no "{remote}" remote: no Secret gives it RCLONE_CONFIG_{REMOTE}_* variables',
     "name a Secret with RCLONE_CONFIG_{REMOTE}_TYPE, _ENDPOINT and the keys in the node's envSecretRefName "
     "(or the chart's predictiveUnit.defaultEnvSecretRefName)"),
    ("model-not-found", re.compile(r"directory not found|NoSuchBucket|bucket does not exist"),
     "the bucket or folder of the modelUri does not exist in the object store",
     "upload the model there (`fadi-seldon upload DIR s3://BUCKET/PATH`) or fix the modelUri"),
    ("model-access-denied", re.compile(r"StatusCode: 403|InvalidAccessKeyId|SignatureDoesNotMatch|AccessDenied|Forbidden"),
     "the object store refused the Secret's keys (HTTP 403)",
     "put the store's access key and secret in the Secret's RCLONE_CONFIG_S3_ACCESS_KEY_ID and _SECRET_ACCESS_KEY"),
    ("model-storage-unreachable", re.compile(r"connection refused|no such host|i/o timeout|network is unreachable"),
     "the object store cannot be reached from the pod",
     "check the Secret's RCLONE_CONFIG_S3_ENDPOINT (a URL the pod can reach, e.g. http://minio.NS.svc.cluster.local:9000)"),
)  # fmt: skip
GENERIC = (
    "model-download-failed",
    "the storage initializer failed",
    "read its log: kubectl logs POD -c CONTAINER",
)


def gather(kubectl, snap: Snapshot) -> None:
    """Every failing model initializer of the cluster's SeldonDeployments."""
    snap.model_downloads = failures(
        kubectl, (kubectl.get("pods", "-A", "-l", SDEP_LABEL) or {}).get("items") or []
    )


def failures(kubectl, pods: list[dict]) -> list[dict]:
    """Each model initializer of `pods` that failed or cannot start: its pod, status and log."""
    found = []
    for pod in pods:
        for status in as_list(as_dict(pod.get("status")).get("initContainerStatuses")):
            status = as_dict(status)
            if as_str(status.get("name")).endswith(INITIALIZER_SUFFIX) and failing(status):
                meta = pod["metadata"]
                log = kubectl.logs(pod, previous=False, tail=LOG_TAIL, container=status["name"])
                if not log.strip():
                    log = kubectl.logs(pod, previous=True, tail=LOG_TAIL, container=status["name"])
                found.append({
                    "pod": f"{meta['namespace']}/{meta['name']}", "container": status["name"],
                    "sdep": as_dict(meta.get("labels")).get(SDEP_LABEL, ""), "status": status_text(status),
                    "log": log,
                })  # fmt: skip
    return found


def explain(item: dict) -> dict:
    """A failure as `status` shows it: the check, what it means, the rclone line, what to do."""
    check, message, fix = cause(f"{item['status']}\n{item['log']}")
    evidence = last_error(item["log"]) or item["status"]
    return {"pod": item["pod"], "container": item["container"], "check": check, "message": message,
            "evidence": evidence, "fix": fix}  # fmt: skip


def failing(status: dict) -> bool:
    """Not started for a config error, or ended (now or last time) with a non-zero code."""
    state, last = as_dict(status.get("state")), as_dict(status.get("lastState"))
    waiting = as_dict(state.get("waiting"))
    if as_str(waiting.get("reason")) in (
        "CreateContainerConfigError",
        "CrashLoopBackOff",
        "RunContainerError",
    ):
        return True
    ended = as_dict(state.get("terminated")) or as_dict(last.get("terminated"))
    return bool(ended) and ended.get("exitCode") not in (0, None)


def status_text(status: dict) -> str:
    state = as_dict(status.get("state"))
    waiting = as_dict(state.get("waiting"))
    if waiting:
        return f"{as_str(waiting.get('reason'))}: {as_str(waiting.get('message'))}".rstrip(": ")
    ended = as_dict(state.get("terminated")) or as_dict(as_dict(status.get("lastState")).get("terminated"))
    return f"exit {ended.get('exitCode')}"


def cause(text: str) -> tuple[str, str, str]:
    """(check, message, fix) for the status and log of a failed initializer."""
    for check, pattern, message, fix in CAUSES:
        match = pattern.search(text)
        if match:
            words = {k: v for k, v in match.groupdict().items() if v}
            words["REMOTE"] = words.get("remote", "S3").upper()
            return check, message.format(**words), fix.format(**words)
    return GENERIC


def last_error(log: str) -> str:
    """The initializer's last ERROR/CRITICAL/NOTICE Failed line, for the message."""
    lines = [line.strip() for line in log.splitlines() if re.search(r"ERROR|CRITICAL|Failed to", line)]
    return lines[-1][-300:] if lines else ""


def check_model_downloads(snap: Snapshot) -> list[Finding]:
    """One finding per failing initializer: the cause and the rclone line that shows it."""
    findings = []
    for item in snap.model_downloads:
        found = explain(item)
        subject = (
            f"SeldonDeployment {item['pod'].split('/')[0]}/{item['sdep']}" if item["sdep"] else item["pod"]
        )
        message = f"{found['message']} ({item['pod']}, {item['container']}: {found['evidence']})"
        findings.append(Finding(found["check"], ERROR, subject, message, found["fix"]))
    return findings
