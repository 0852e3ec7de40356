"""Diagnose a cluster's Seldon Core installation: the failures users hit most, each with its fix.

Two halves, so the checks are testable without a cluster:
- `gather(kubectl)` reads what is needed with `kubectl get -o json` (kubectl handles every
  kind of kubeconfig auth) into a `Snapshot` of plain dicts (gathering.py, through kubectl.py);
- `diagnose(snapshot)` is pure: it returns `Finding`s (checks.py, with tls.py for the webhook's
  certificates, crashes.py for crashed operators, images.py for missing images, graphs.py for
  inference graphs failing in their pods).

The installation is found the way the API server finds it: from the validating webhook named
`v1.vseldondeployment.kb.io`, to its Service, to the Deployment behind the Service's selector,
to the TLS Secret that Deployment mounts. Nothing depends on a release or object name.

The names below are the package's interface (the CLI, the cluster command, tests and benches use them).
"""

from __future__ import annotations

from fadi_seldon.doctor.checks import diagnose
from fadi_seldon.doctor.findings import (
    CONTROLLER_ID_LABEL,
    CRD_NAME,
    CURRENT_WEBHOOK,
    ERROR,
    OK,
    WARNING,
    Finding,
    Snapshot,
    summary,
)
from fadi_seldon.doctor.gathering import gather
from fadi_seldon.doctor.kubectl import DoctorError, Kubectl, kubectl_problem
from fadi_seldon.doctor.tls import cert_info, verifies

__all__ = [
    "CONTROLLER_ID_LABEL",
    "CRD_NAME",
    "CURRENT_WEBHOOK",
    "ERROR",
    "OK",
    "WARNING",
    "DoctorError",
    "Finding",
    "Kubectl",
    "Snapshot",
    "cert_info",
    "diagnose",
    "gather",
    "kubectl_problem",
    "summary",
    "verifies",
]
