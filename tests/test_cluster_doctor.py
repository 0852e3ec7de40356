"""`fadi-seldon doctor` checks against synthetic cluster snapshots, one fault at a time.

The same faults are injected into the real local cluster in tests/cluster/test_doctor.py.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import subprocess
from pathlib import Path

import pytest

from fadi_seldon import doctor

NS, SVC, SECRET = "seldon-system", "seldon-webhook-service", "seldon-webhook-server-cert"


def _openssl(*args, cwd: Path) -> None:
    subprocess.run(["openssl", *map(str, args)], cwd=cwd, check=True, capture_output=True)


def _ca_and_cert(folder: Path, dns: str, days: int = 365) -> tuple[bytes, bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "30",
             "-subj", "/CN=test-ca", cwd=folder)  # fmt: skip
    (folder / "ext").write_text(f"subjectAltName=DNS:{dns}\n")
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "tls.key", "-out", "tls.csr", "-subj", f"/CN={dns}",
             cwd=folder)  # fmt: skip
    _openssl("x509", "-req", "-in", "tls.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days",
             str(days), "-extfile", "ext", "-out", "tls.crt", cwd=folder)  # fmt: skip
    return (folder / "ca.crt").read_bytes(), (folder / "tls.crt").read_bytes()


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    base = tmp_path_factory.mktemp("certs")
    good = _ca_and_cert(base / "good", f"{SVC}.{NS}.svc")
    other = _ca_and_cert(base / "other", f"{SVC}.{NS}.svc")
    wrong_name = _ca_and_cert(base / "wrong", "somebody-else.default.svc")
    short = _ca_and_cert(base / "short", f"{SVC}.{NS}.svc", days=5)
    return {"good": good, "other": other, "wrong_name": wrong_name, "short": short}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def healthy(certs) -> doctor.Snapshot:
    ca, cert = certs["good"]
    labels = {"app.kubernetes.io/name": "seldon-core-operator", "control-plane": "seldon-controller-manager"}
    guarded = {"type": "array", "x-kubernetes-validations": [{"rule": "size(self) > 0", "message": "m"}]}
    spec = {"type": "object", "properties": {"predictors": guarded}}
    schema = {"openAPIV3Schema": {"type": "object", "properties": {"spec": spec}}}
    return doctor.Snapshot(
        crd={
            "metadata": {"name": doctor.CRD_NAME},
            "spec": {
                "versions": [
                    {"name": "v1", "served": True, "storage": True, "schema": schema},
                    {"name": "v1alpha2", "served": True, "storage": False, "schema": schema},
                    {"name": "v1alpha3", "served": True, "storage": False, "schema": schema},
                ]
            },
            "status": {"conditions": [{"type": "Established", "status": "True"}]},
        },
        validating=[
            {
                "metadata": {"name": f"seldon-validating-webhook-configuration-{NS}"},
                "webhooks": [
                    {
                        "name": doctor.CURRENT_WEBHOOK,
                        "failurePolicy": "Fail",
                        "clientConfig": {"service": {"namespace": NS, "name": SVC}, "caBundle": _b64(ca)},
                        "namespaceSelector": {
                            "matchExpressions": [
                                {"key": doctor.CONTROLLER_ID_LABEL, "operator": "DoesNotExist"}
                            ]
                        },
                    }
                ],
            }
        ],
        services={
            f"{NS}/{SVC}": {"metadata": {"name": SVC, "namespace": NS}, "spec": {"selector": dict(labels)}}
        },
        endpointslices={
            f"{NS}/{SVC}": [{"endpoints": [{"addresses": ["10.244.0.5"], "conditions": {"ready": True}}]}]
        },
        deployments={
            NS: [
                {
                    "metadata": {"name": "seldon-controller-manager", "namespace": NS},
                    "spec": {
                        "replicas": 1,
                        "template": {
                            "metadata": {"labels": {**labels, "extra": "x"}},
                            "spec": {"volumes": [{"name": "cert", "secret": {"secretName": SECRET}}]},
                        },
                    },
                    "status": {
                        "availableReplicas": 1,
                        "conditions": [{"type": "Available", "status": "True"}],
                    },
                }
            ]
        },
        secrets={
            f"{NS}/{SECRET}": {
                "metadata": {"name": SECRET},
                "data": {"tls.crt": _b64(cert), "ca.crt": _b64(ca)},
            }
        },
        namespaces={NS: {"metadata": {"name": NS, "labels": {}}}, "models": {"metadata": {"name": "models"}}},
        operator_pods=[_pod(0)],
        operator_logs={f"{NS}/{POD}": ""},
        sdeps=[_sdep("iris", "Available")],
    )


POD = "seldon-controller-manager-abc"
PANIC_LOG = (
    '{"level":"info","msg":"Reconcile called","SeldonDeployment":"models/empty"}\n'
    "panic: runtime error: index out of range [0] with length 0\n\ngoroutine 9 [running]:\n"
    "github.com/seldonio/seldon-core/operator/controllers.createAddressableResource(0x1)\n"
    "\tgithub.com/seldonio/seldon-core/operator@v1.17.1/controllers/seldondeployment_controller.go:160 +0x1\n"
)


def _pod(restarts: int, waiting: str = "") -> dict:
    state = {"waiting": {"reason": waiting}} if waiting else {"running": {}}
    return {
        "metadata": {"name": POD, "namespace": NS},
        "status": {"containerStatuses": [{"name": "manager", "restartCount": restarts, "state": state}]},
    }


def _sdep(name: str, state: str | None, age_seconds: int = 600) -> dict:
    created = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=age_seconds)
    return {
        "metadata": {
            "name": name,
            "namespace": "models",
            "creationTimestamp": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "status": {"state": state} if state else {},
    }


def problems(snap: doctor.Snapshot) -> set[str]:
    return {f.check for f in doctor.diagnose(snap) if f.severity != doctor.OK}


def test_a_healthy_install_has_no_problem(certs):
    findings = doctor.diagnose(healthy(certs))
    assert [f for f in findings if f.severity != doctor.OK] == []
    assert {"crd", "operator", "webhook-endpoints", "webhook-tls"} <= {f.check for f in findings}


def _mutate(certs, fn) -> doctor.Snapshot:
    snap = copy.deepcopy(healthy(certs))
    fn(snap)
    return snap


def _webhook(snap):
    return snap.validating[0]["webhooks"][0]


FAULTS = {
    "crd-missing": lambda s, c: setattr(s, "crd", None),
    "crd-old": lambda s, c: s.crd["spec"].update(
        versions=[
            {
                "name": "v1alpha2",
                "served": True,
                "storage": True,
                "schema": {"openAPIV3Schema": {"type": "object"}},
            }
        ]
    ),
    "crd-not-established": lambda s, c: s.crd["status"].update(
        conditions=[{"type": "Established", "status": "False"}]
    ),
    "operator-not-ready": lambda s, c: s.deployments[NS][0].update(
        status={
            "availableReplicas": 0,
            "conditions": [{"type": "Available", "status": "False", "message": "x"}],
        }
    ),
    "operator-scaled-to-zero": lambda s, c: s.deployments[NS][0]["spec"].update(replicas=0),
    "webhook-no-endpoints": lambda s, c: s.endpointslices.update({f"{NS}/{SVC}": [{"endpoints": None}]}),
    "cabundle-mismatch": lambda s, c: _webhook(s)["clientConfig"].update(caBundle=_b64(c["other"][0])),
    "cert-expiring": lambda s, c: s.secrets[f"{NS}/{SECRET}"]["data"].update(
        {"tls.crt": _b64(c["short"][1])}
    ),
    "cert-expired": lambda s, c: setattr(s, "now", s.now + dt.timedelta(days=400)),
    "cert-wrong-name": lambda s, c: (
        s.secrets[f"{NS}/{SECRET}"]["data"].update({"tls.crt": _b64(c["wrong_name"][1])}),
        _webhook(s)["clientConfig"].update(caBundle=_b64(c["wrong_name"][0])),
    ),
    "leftover-webhook": lambda s, c: s.mutating.append(
        {
            "metadata": {"name": "mutating-webhook-configuration"},
            "webhooks": [{"name": "v1.mseldondeployment.kb.io"}],
        }
    ),
    "namespace-not-labelled": lambda s, c: _webhook(s).update(
        namespaceSelector={"matchLabels": {doctor.CONTROLLER_ID_LABEL: NS}}
    ),
    "webhook-missing": lambda s, c: s.validating.clear(),
    "webhook-ignore": lambda s, c: _webhook(s).update(failurePolicy="Ignore"),
    "crd-unguarded": lambda s, c: [
        v["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["predictors"].pop(
            "x-kubernetes-validations"
        )
        for v in s.crd["spec"]["versions"][:1]
    ],
    "operator-crashed": lambda s, c: (
        s.operator_pods.__setitem__(0, _pod(4, "CrashLoopBackOff")),
        s.operator_logs.__setitem__(f"{NS}/{POD}", PANIC_LOG),
    ),
    "sdep-no-state": lambda s, c: s.sdeps.append(_sdep("stuck", None)),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_each_fault_is_reported_with_a_fix(certs, fault):
    snap = _mutate(certs, lambda s: FAULTS[fault](s, certs))
    found = doctor.diagnose(snap)
    expected = "operator-not-ready" if fault == "operator-scaled-to-zero" else fault
    assert expected in problems(snap), [f.to_json() for f in found]
    for f in found:
        if f.severity != doctor.OK:
            assert f.fix and f.subject and f.message


def test_an_orphaned_webhook_of_an_uninstalled_release_is_a_leftover(certs):
    def orphan(s):
        s.validating.append(
            {
                "metadata": {"name": "seldon-validating-webhook-configuration-old"},
                "webhooks": [
                    {
                        "name": doctor.CURRENT_WEBHOOK,
                        "clientConfig": {"service": {"namespace": "old", "name": SVC}},
                    }
                ],
            }
        )

    found = [f for f in doctor.diagnose(_mutate(certs, orphan)) if f.check == "leftover-webhook"]
    assert [f.subject for f in found] == [
        "ValidatingWebhookConfiguration seldon-validating-webhook-configuration-old"
    ]
    assert (
        "kubectl delete validatingwebhookconfiguration seldon-validating-webhook-configuration-old"
        in found[0].fix
    )


def test_failure_policy_changes_what_missing_endpoints_mean(certs):
    def ignore(s):
        FAULTS["webhook-no-endpoints"](s, certs)
        _webhook(s)["failurePolicy"] = "Ignore"

    msg = next(
        f.message for f in doctor.diagnose(_mutate(certs, ignore)) if f.check == "webhook-no-endpoints"
    )
    assert "without validation" in msg


def test_labelled_namespace_in_single_namespace_mode_is_fine(certs):
    def labelled(s):
        FAULTS["namespace-not-labelled"](s, certs)
        s.namespaces[NS]["metadata"]["labels"] = {doctor.CONTROLLER_ID_LABEL: NS}

    assert "namespace-not-labelled" not in problems(_mutate(certs, labelled))


def test_cert_info_reads_expiry_and_names(certs):
    info = doctor.cert_info(certs["short"][1])
    assert info["sans"] == [f"{SVC}.{NS}.svc"]
    left = info["not_after"] - dt.datetime.now(dt.UTC)
    assert dt.timedelta(days=4) < left <= dt.timedelta(days=5)
    assert doctor.verifies(certs["good"][0], certs["good"][1])
    assert not doctor.verifies(certs["other"][0], certs["good"][1])


def test_an_unreachable_cluster_is_exit_3_with_one_message_line(tmp_path, capsys):
    """Nothing answers: there is nothing to diagnose (3), said in kubectl's own summary line."""
    from fadi_seldon.cli import main

    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:9'}}]\n"
        "users: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
        "current-context: x\n"
    )
    assert main(["doctor", "--kubeconfig", str(kubeconfig)]) == 3
    err = capsys.readouterr().err
    assert err.startswith("error: cannot reach the cluster:") and "127.0.0.1:9" in err
    assert len(err.strip().splitlines()) == 1, err


def test_a_webhook_pointing_at_a_url_is_reported_not_skipped(certs):
    def url_mode(s):
        _webhook(s)["clientConfig"] = {"url": "https://127.0.0.1:9443/validate", "caBundle": "eA=="}

    found = [f for f in doctor.diagnose(_mutate(certs, url_mode)) if f.check == "webhook-url"]
    assert len(found) == 1 and found[0].severity == doctor.WARNING
    assert "https://127.0.0.1:9443/validate" in found[0].message and "webhook.url" in found[0].fix


def test_a_crash_looping_operator_pod_names_the_object_and_the_command_that_removes_it(certs):
    snap = _mutate(certs, lambda s: FAULTS["operator-crashed"](s, certs))
    [found] = [f for f in doctor.diagnose(snap) if f.check == "operator-crashed"]
    assert found.severity == doctor.ERROR and found.subject == f"Pod {NS}/{POD}"
    assert "is crash-looping: panic: runtime error: index out of range [0] with length 0" in found.message
    assert "controllers/seldondeployment_controller.go:160" in found.message
    assert "while reconciling SeldonDeployment models/empty" in found.message
    assert found.fix.startswith("kubectl delete seldondeployment empty -n models")
    assert f"kubectl -n {NS} delete pod {POD}" in found.fix


def test_a_host_operator_that_is_gone_is_a_crash_and_a_running_one_is_fine(certs):
    host = {"name": "seldon-controller-manager", "release": "seldon", "namespace": "seldon", "running": False}
    snap = _mutate(certs, lambda s: s.host_operators.append({**host, "log": PANIC_LOG}))
    [found] = [f for f in doctor.diagnose(snap) if f.check == "operator-crashed"]
    assert "the operator process is gone" in found.message and "models/empty" in found.message
    assert "fadi-seldon cluster operator start --release seldon" in found.fix
    snap = _mutate(certs, lambda s: s.host_operators.append({**host, "running": True, "log": ""}))
    assert "operator-crashed" not in problems(snap)
    snap = _mutate(certs, lambda s: s.host_operators.append({**host, "log": "killed\n"}))
    [found] = [f for f in doctor.diagnose(snap) if f.check == "operator-crashed"]
    assert "no Go panic" in found.message and "read the operator's log" in found.fix


def test_a_restarted_pod_without_a_panic_in_its_log_is_still_reported(certs):
    snap = _mutate(certs, lambda s: s.operator_pods.__setitem__(0, _pod(1)))
    [found] = [f for f in doctor.diagnose(snap) if f.check == "operator-crashed"]
    assert "restarted 1 time(s)" in found.message


def test_stateless_deployments_carry_the_operators_last_error_and_respect_the_threshold(certs):
    error = '{"level":"error","msg":"Reconciler error","name":"stuck","namespace":"models","error":"quota"}\n'

    def fault(s):
        s.sdeps += [_sdep("stuck", None), _sdep("young", None, age_seconds=5)]
        s.operator_logs[f"{NS}/{POD}"] = error

    found = [f for f in doctor.diagnose(_mutate(certs, fault)) if f.check == "sdep-no-state"]
    assert [f.subject for f in found] == ["SeldonDeployment models/stuck"]
    assert "Reconciler error: quota" in found[0].message


def test_operator_pods_and_host_state_are_gathered(tmp_path):
    """gather_runtime: pods by label, previous logs of restarted ones, host processes from their state file."""
    from fadi_seldon.doctor import crashes

    class FakeKubectl:
        def __init__(self):
            self.calls = []

        def get(self, *args):
            self.calls.append(args)
            if args[0] == "pods":
                return {"items": [_pod(2)]}
            return {"items": [_sdep("iris", None)]}

        def logs(self, pod, *, previous, tail):
            return PANIC_LOG if previous else "current\n"

    (tmp_path / "op.log").write_text(PANIC_LOG)
    (tmp_path / "state.json").write_text(
        '{"release": "r", "namespace": "n", "processes": [{"name": "m", "pid": 999999999, "log": "%s"}]}'
        % (tmp_path / "op.log")
    )
    snap = doctor.Snapshot(crd={"metadata": {"name": doctor.CRD_NAME}})
    kubectl = FakeKubectl()
    crashes.gather_runtime(kubectl, snap, [tmp_path, tmp_path / "missing"])
    assert [p["metadata"]["name"] for p in snap.operator_pods] == [POD]  # once, though two selectors match it
    assert (
        snap.operator_logs[f"{NS}/{POD}"].startswith(PANIC_LOG)
        and "current" in snap.operator_logs[f"{NS}/{POD}"]
    )
    assert [(h["release"], h["running"]) for h in snap.host_operators] == [("r", False)]
    assert snap.sdeps and ("seldondeployments", "-A") in kubectl.calls
