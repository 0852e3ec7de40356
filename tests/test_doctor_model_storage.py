"""Why a prepackaged server's model cannot be fetched, told from its storage initializer.

The log lines are rclone 1.76's, captured against `rclone serve s3` (the same lines the cluster suite
sees in tests/cluster/test_16_prepackaged.py, which checks `status` and `doctor` on real pods).
"""

from __future__ import annotations

import pytest

from fadi_seldon.doctor import model_storage
from fadi_seldon.doctor.checks import diagnose
from fadi_seldon.doctor.findings import Snapshot
from fadi_seldon.doctor.model_status import log_targets, summarize

NOTICE = '2026/12/06 11:49:09 NOTICE: Config file "/.config/rclone/rclone.conf" not found - using defaults\n'
LOGS = {
    "bucket": NOTICE + "2026/12/06 11:49:26 ERROR : S3 bucket nosuch path iris: error reading source root "
    "directory: directory not found\n2026/12/06 11:49:26 NOTICE: Failed to copy: directory not found\n",
    "keys": NOTICE + "2026/12/06 11:49:26 ERROR : Attempt 3/3 failed with 1 errors and: operation error S3: "
    "HeadObject, https response error StatusCode: 403, RequestID: 720FEA65E2C5BEBC, api error Forbidden: "
    "Forbidden\n",
    "remote": NOTICE + '2026/12/06 11:49:09 CRITICAL: Failed to create file system for "s3://models/iris": '
    'didn\'t find section in config file ("s3")\n',
    "endpoint": NOTICE
    + "2026/12/06 11:49:09 NOTICE: Failed to copy: operation error S3: HeadObject, request "
    'send failed, Head "http://store:9000/models/iris": dial tcp 10.0.0.9:9000: connect: connection refused\n',
    "other": NOTICE + "2026/12/06 11:49:09 ERROR : something new\n",
}
CRASHED = {"state": {"waiting": {"reason": "CrashLoopBackOff"}}, "lastState": {"terminated": {"exitCode": 3}}}
NO_SECRET = {
    "state": {"waiting": {"reason": "CreateContainerConfigError", "message": 'secret "models-s3" not found'}}
}


class FakeKubectl:
    def __init__(self, pods: list[dict], logs: dict[str, str]) -> None:
        self.pods, self.logs_by_pod, self.calls = pods, logs, []

    def get(self, *args: str) -> dict:
        return {"items": self.pods}

    def logs(self, pod, *, previous, tail, container=None, since=None) -> str:
        self.calls.append((pod["metadata"]["name"], container, previous))
        return "" if not previous else self.logs_by_pod.get(pod["metadata"]["name"], "")


def pod(name: str, status: dict, init: str = "classifier-model-initializer") -> dict:
    return {
        "metadata": {"name": name, "namespace": "models", "labels": {"seldon-deployment-id": name}},
        "spec": {
            "initContainers": [{"name": init, "image": "i"}],
            "containers": [{"name": "classifier", "image": "s"}],
        },
        "status": {"initContainerStatuses": [{"name": init, **status}], "containerStatuses": []},
    }


@pytest.mark.parametrize(
    ("status", "log", "check", "words"),
    [
        (CRASHED, "bucket", "model-not-found", "bucket or folder of the modelUri does not exist"),
        (CRASHED, "keys", "model-access-denied", "refused the Secret's keys"),
        (
            CRASHED,
            "remote",
            "model-storage-unconfigured",
            'no "s3" remote: no Secret gives it RCLONE_CONFIG_S3_',
        ),
        (CRASHED, "endpoint", "model-storage-unreachable", "cannot be reached"),
        (CRASHED, "other", "model-download-failed", "storage initializer failed"),
        (
            NO_SECRET,
            None,
            "model-secret-missing",
            'the Secret "models-s3" named by envSecretRefName does not exist',
        ),
    ],
)
def test_each_cause_is_named_with_the_line_that_shows_it(status, log, check, words):
    kubectl = FakeKubectl([pod("iris", status)], {"iris": LOGS[log]} if log else {})
    snap = Snapshot()
    model_storage.gather(kubectl, snap)
    (finding,) = [f for f in diagnose(snap) if f.check.startswith("model-")]
    assert (finding.check, finding.severity, finding.subject) == (
        check,
        "error",
        "SeldonDeployment models/iris",
    )
    assert words in finding.message and finding.fix
    if log:  # the evidence: rclone's own last error line
        assert [line for line in LOGS[log].splitlines() if "ERROR" in line or "Failed" in line][-1][
            -60:
        ] in finding.message
    else:
        assert 'CreateContainerConfigError: secret "models-s3" not found' in finding.message


@pytest.mark.parametrize(
    "status",
    [
        {"state": {"terminated": {"exitCode": 0}}},
        {"state": {"running": {}}},
        {"state": {"waiting": {"reason": "PodInitializing"}}},
    ],
)
def test_an_initializer_that_works_or_runs_is_no_finding(status):
    snap = Snapshot()
    model_storage.gather(FakeKubectl([pod("iris", status)], {}), snap)
    assert snap.model_downloads == []


def test_only_model_initializers_are_read():
    snap = Snapshot()
    model_storage.gather(FakeKubectl([pod("iris", CRASHED, init="setup")], {"iris": LOGS["bucket"]}), snap)
    assert snap.model_downloads == []


def test_status_gives_the_cause_as_the_reason_and_logs_reach_the_initializer():
    raw = {
        "sdep": {"metadata": {"name": "iris", "namespace": "models"}, "spec": {}, "status": {"state": "Creating"}},
        "deployments": [], "pods": [], "services": [], "events": [],
        "downloads": model_storage.failures(FakeKubectl([], {"iris": LOGS["bucket"]}), [pod("iris", CRASHED)]),
    }  # fmt: skip
    result = summarize(raw, None)
    assert result["reason"] == "the bucket or folder of the modelUri does not exist in the object store"
    (download,) = result["model_downloads"]
    assert download["check"] == "model-not-found" and "directory not found" in download["evidence"]
    targets = [c for _, c in log_targets([pod("iris", CRASHED)], "classifier-model-initializer")]
    assert targets == ["classifier-model-initializer"]
