"""What the doctor reads and what it says: the cluster as a `Snapshot` of plain dicts, `Finding`s.

Gathering (gathering.py) fills a Snapshot with kubectl; the checks (checks.py, tls.py, crashes.py,
images.py, graphs.py) read it and return Findings, with no cluster. Both follow the installation the
way the API server finds it: from the validating webhook named `v1.vseldondeployment.kb.io`
(`seldon_webhooks`), to its Service, to the Deployment behind the Service's selector, to the TLS
Secret that Deployment mounts (`mounted_secrets`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field

from fadi_seldon.runtime import names

CRD_NAME = names.CRD_NAME
CRD_VERSIONS = ("v1", "v1alpha2", "v1alpha3")
WEBHOOK_SUFFIXES = (".vseldondeployment.kb.io", ".mseldondeployment.kb.io")
CURRENT_WEBHOOK = "v1.vseldondeployment.kb.io"
CONTROLLER_ID_LABEL = "seldon.io/controller-id"
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
    model_downloads: list[dict] = field(
        default_factory=list
    )  # storage initializers that failed: status and log (doctor/model_storage.py)
    stale_after: float = 120.0  # seconds without a state before a SeldonDeployment is reported
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


def summary(findings: list[Finding]) -> dict:
    return {
        "errors": sum(f.severity == ERROR for f in findings),
        "warnings": sum(f.severity == WARNING for f in findings),
        "ok": sum(f.severity == OK for f in findings),
    }


def seldon_webhooks(config: dict) -> list[dict]:
    return [w for w in config.get("webhooks") or [] if str(w.get("name", "")).endswith(WEBHOOK_SUFFIXES)]


def mounted_secrets(deployment: dict) -> list[str]:
    vols = (((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}).get("volumes") or []
    return [v["secret"]["secretName"] for v in vols if (v.get("secret") or {}).get("secretName")]
