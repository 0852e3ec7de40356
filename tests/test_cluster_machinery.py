"""Fast tests of the local-cluster machinery: keys, kubeconfigs, kwok stages, process handling.

No control-plane binary is needed; processes are played by Python interpreters.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from fadi_seldon.cli import main
from fadi_seldon.localkube import ClusterError, ControlPlane, kubeconfig, pki, stages
from fadi_seldon.localkube.controlplane import COMPONENTS
from fadi_seldon.runtime import processes


# ------------------------------------------------------------------ pki
@pytest.fixture(scope="module")
def generated_pki(tmp_path_factory) -> pki.PKI:
    keys = pki.PKI(tmp_path_factory.mktemp("pki"))
    assert keys.ensure() is True
    return keys


def test_pki_creates_a_ca_signed_server_cert_with_the_api_server_names(generated_pki):
    verify = subprocess.run(
        ["openssl", "verify", "-CAfile", generated_pki.ca_cert, generated_pki.server_cert],
        capture_output=True,
        text=True,
    )
    assert verify.returncode == 0, verify.stderr
    text = subprocess.run(
        ["openssl", "x509", "-noout", "-ext", "subjectAltName", "-in", generated_pki.server_cert],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for name in ("IP Address:127.0.0.1", "DNS:kubernetes.default.svc", "IP Address:10.96.0.1"):
        assert name in text


def test_pki_is_reused_and_private_keys_are_owner_only(generated_pki):
    before = generated_pki.server_cert.read_bytes()
    assert generated_pki.ensure() is False
    assert generated_pki.server_cert.read_bytes() == before
    for key in (generated_pki.ca_key, generated_pki.server_key, generated_pki.sa_key):
        assert key.stat().st_mode & 0o077 == 0, key


def test_private_keys_are_written_owner_only_from_creation(tmp_path, monkeypatch):
    from fadi_seldon.runtime import files

    modes = {}

    def recording(path, data, mode=files.PUBLIC):
        modes[Path(path).name] = mode
        return files.atomic_write(path, data, mode)

    monkeypatch.setattr(pki, "atomic_write", recording)
    keys = pki.PKI(tmp_path / "pki")
    assert keys.ensure() is True
    private = {name for name, mode in modes.items() if mode == files.PRIVATE}
    assert private == {"ca.key", "apiserver.key", "sa.key"}
    assert {p.name for p in keys.files()} <= set(modes)
    assert b"PRIVATE KEY" in keys.sa_key.read_bytes() and b"PUBLIC KEY" in keys.sa_pub.read_bytes()


def test_sa_public_key_matches_signing_key(generated_pki):
    derived = subprocess.run(
        ["openssl", "rsa", "-in", generated_pki.sa_key, "-pubout"], capture_output=True, check=True
    ).stdout
    assert derived.strip() == generated_pki.sa_pub.read_bytes().strip()


def test_missing_openssl_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(pki.PKIError, match="openssl"):
        pki.PKI(tmp_path / "pki").ensure()


def test_tokens_file_gives_admin_system_masters_and_is_stable(tmp_path):
    path = tmp_path / "tokens.csv"
    tokens = pki.ensure_tokens(path)
    assert set(tokens) == set(pki.IDENTITIES)
    assert len(set(tokens.values())) == len(tokens)
    assert pki.ensure_tokens(path) == tokens == pki.read_tokens(path)
    admin = next(line for line in path.read_text().splitlines() if line.startswith(tokens["admin"]))
    assert admin.split(",", 3)[1] == "admin" and '"system:masters"' in admin
    cm = next(
        line for line in path.read_text().splitlines() if line.startswith(tokens["kube-controller-manager"])
    )
    assert cm.split(",")[1] == "system:kube-controller-manager"


# ------------------------------------------------------------------ kubeconfig
def test_kubeconfig_embeds_the_ca_and_token(generated_pki, tmp_path):
    text = kubeconfig.render("https://127.0.0.1:6443", generated_pki.ca_cert, "tok", namespace="default")
    doc = yaml.safe_load(text)
    cluster = doc["clusters"][0]["cluster"]
    assert base64.b64decode(cluster["certificate-authority-data"]) == generated_pki.ca_cert.read_bytes()
    assert "insecure-skip-tls-verify" not in cluster
    assert doc["users"][0]["user"]["token"] == "tok"
    assert doc["current-context"] == doc["contexts"][0]["name"]
    path = tmp_path / "kc"
    kubeconfig.write(path, text)
    assert path.stat().st_mode & 0o077 == 0
    assert kubeconfig.server_of(path) == "https://127.0.0.1:6443"
    assert kubeconfig.server_of(tmp_path / "absent") is None


def test_tokens_and_kubeconfigs_are_never_readable_by_others_not_even_while_written(tmp_path, monkeypatch):
    """The file is created owner-only before the token is written (runtime.files.atomic_write), not
    chmod-ed afterwards."""
    import stat

    from fadi_seldon.runtime import files

    modes = []
    real_fdopen = os.fdopen

    def spy(fd, *args, **kwargs):
        modes.append(stat.S_IMODE(os.fstat(fd).st_mode))
        return real_fdopen(fd, *args, **kwargs)

    monkeypatch.setattr(files.os, "fdopen", spy)
    kubeconfig.write(tmp_path / "config" / "kc", "token: secret\n")
    pki.ensure_tokens(tmp_path / "pki" / "tokens.csv")
    assert modes == [0o600, 0o600]
    assert sorted(p.name for p in (tmp_path / "config").iterdir()) == ["kc"]  # no temporary file left


# ------------------------------------------------------------------ kwok stages
def test_stages_are_kwok_stage_objects_with_unique_names():
    docs = list(yaml.safe_load_all(stages.render()))
    assert docs == stages.stages()
    assert all(d["apiVersion"] == "kwok.x-k8s.io/v1alpha1" and d["kind"] == "Stage" for d in docs)
    names = [d["metadata"]["name"] for d in docs]
    assert len(names) == len(set(names))
    kinds = {d["spec"]["resourceRef"]["kind"] for d in docs}
    assert kinds == {"Node", "Pod"}


def _selects(stage: dict, key: str) -> dict:
    return next(e for e in stage["spec"]["selector"]["matchExpressions"] if e["key"] == key)


def test_bare_helm_test_pods_complete():
    """kwok's stock stages only complete Job pods: `helm test` would hang without this stage."""
    by_name = {d["metadata"]["name"]: d for d in stages.stages()}
    hook = by_name["fadi-helm-test-pod-succeeded"]
    expr = _selects(hook, '.metadata.annotations["helm.sh/hook"]')
    assert expr["operator"] == "In" and "test" in expr["values"]
    assert _selects(hook, ".status.phase")["values"] == ["Running"]
    assert "phase: Succeeded" in hook["spec"]["next"]["statusTemplate"]
    assert "exitCode: 0" in hook["spec"]["next"]["statusTemplate"]


def test_pods_become_ready_with_an_ip_and_deleted_pods_go_away():
    by_name = {d["metadata"]["name"]: d for d in stages.stages()}
    running = by_name["fadi-pod-running"]["spec"]["next"]["statusTemplate"]
    assert "phase: Running" in running and "podIP:" in running and '"Ready"' in running
    remove = by_name["fadi-pod-remove"]
    assert remove["spec"]["next"] == {"delete": True}
    assert _selects(remove, ".metadata.deletionTimestamp")["operator"] == "Exists"
    # the running stage must not pick up pods being deleted (they would never go away)
    assert _selects(by_name["fadi-pod-running"], ".metadata.deletionTimestamp")["operator"] == "DoesNotExist"


# ------------------------------------------------------------------ processes
PY_SLEEP = "import time, os\nos.fork() == 0 and time.sleep(120)\ntime.sleep(120)"


def _sleeper(tmp_path: Path, name: str = "sleeper", *extra: str) -> processes.ProcessRecord:
    """A process (with a child of its own) started the way components are."""
    exe = tmp_path / "bin" / name
    exe.parent.mkdir(exist_ok=True)
    if not exe.exists():
        exe.symlink_to(os.path.realpath(sys.executable))
    return processes.spawn(name, [str(exe), "-c", PY_SLEEP, *extra], tmp_path / "logs" / f"{name}.log")


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rfind(")") + 2 :].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def _wait_for(cond, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def test_stop_ends_the_whole_process_group(tmp_path):
    rec = _sleeper(tmp_path)
    assert _wait_for(lambda: _children(rec.pid)), "the sleeper did not fork"
    child = _children(rec.pid)[0]
    assert processes.is_running(rec.pid, rec.start_time)
    assert processes.stop(rec, timeout=5)
    assert not processes.is_running(rec.pid)
    assert _wait_for(lambda: not processes.is_running(child)), "the grandchild survived"
    assert processes.stop(rec) is False  # already gone: nothing to do


def test_a_reused_pid_is_not_mistaken_for_our_process(tmp_path):
    rec = _sleeper(tmp_path)
    try:
        stale = processes.ProcessRecord.from_json({**rec.to_json(), "start_time": rec.start_time - 1})
        assert not processes.is_running(stale.pid, stale.start_time)
        assert processes.stop(stale) is False
        assert processes.is_running(rec.pid, rec.start_time), "a stale record must never stop another process"
    finally:
        processes.stop(rec, timeout=5)


def test_leftovers_are_found_by_program_and_state_folder(tmp_path):
    marker = str(tmp_path / "state")
    ours = _sleeper(tmp_path, "etcd", f"--data-dir={marker}/etcd")
    other_program = _sleeper(tmp_path, "sleeper", f"--data-dir={marker}/etcd")
    other_folder = _sleeper(tmp_path, "kwok", "--config=/elsewhere/kwok.yaml")
    try:
        found = processes.processes_mentioning(marker, COMPONENTS)
        assert ours.pid in found
        assert other_program.pid not in found and other_folder.pid not in found
    finally:
        for rec in (ours, other_program, other_folder):
            processes.stop(rec, timeout=5)


def test_free_port_is_free_and_port_open_detects_listeners():
    import socket

    port = processes.free_port()
    assert not processes.port_open(port)
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        s.listen()
        assert processes.port_open(port)


# ------------------------------------------------------------------ control plane without binaries
def test_status_of_a_cluster_never_started(tmp_path, capsys):
    plane = ControlPlane(tmp_path / "c")
    status = plane.status()
    assert status["started"] is False and status["ready"] is False
    assert [c["name"] for c in status["components"]] == list(COMPONENTS)
    assert main(["cluster", "--state-dir", str(tmp_path / "c"), "status", "--output", "json"]) == 3
    assert json.loads(capsys.readouterr().out)["ready"] is False


def test_env_without_a_cluster_says_what_to_do(tmp_path, capsys):
    assert main(["cluster", "--state-dir", str(tmp_path / "none"), "env"]) == 3
    assert "cluster up" in capsys.readouterr().err


def test_up_without_binaries_names_the_fix_and_starts_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    plane = ControlPlane(tmp_path / "c", bin_dir=tmp_path / "nobin", out=sys.stderr)
    with pytest.raises(ClusterError, match="make tools TOOLS=cluster"):
        plane.up()
    assert main(["cluster", "--state-dir", str(tmp_path / "c2"), "up"]) == 1
    assert "not installed" in capsys.readouterr().err


def test_down_after_a_crash_stops_recorded_and_unrecorded_leftovers(tmp_path):
    state = tmp_path / "state"
    plane = ControlPlane(state, bin_dir=tmp_path / "nobin")
    plane.layout.ensure()
    recorded = _sleeper(tmp_path, "kube-apiserver", f"--cert-dir={state}/pki")
    unrecorded = _sleeper(tmp_path, "etcd", f"--data-dir={state}/etcd")
    bystander = _sleeper(tmp_path, "kwok", "--config=/somewhere/else")
    # a record whose PID now belongs to someone else (the bystander): must be left alone
    reused = {**bystander.to_json(), "name": "kwok", "start_time": (bystander.start_time or 0) + 7}
    plane.save_state({"ports": {}, "components": {"kube-apiserver": recorded.to_json(), "kwok": reused}})
    try:
        stopped = plane.down()
        assert any(str(recorded.pid) in s for s in stopped) and any(str(unrecorded.pid) in s for s in stopped)
        assert not processes.is_running(recorded.pid) and not processes.is_running(unrecorded.pid)
        assert processes.is_running(bystander.pid, bystander.start_time)
        assert not state.exists()
        assert plane.down() == []
    finally:
        for rec in (recorded, unrecorded, bystander):
            processes.stop(rec, timeout=5)


def test_down_stops_companion_processes_recorded_in_the_state_folder(tmp_path):
    """Host processes of other tools (the real operator) are stopped by any caller of down()."""
    state = tmp_path / "state"
    plane = ControlPlane(state, bin_dir=tmp_path / "nobin")
    plane.layout.ensure()
    companion = _sleeper(tmp_path, "manager")
    (state / "operator").mkdir()
    (state / "operator" / "state.json").write_text(json.dumps({"processes": [companion.to_json()]}))
    try:
        stopped = plane.down()
        assert any(str(companion.pid) in s for s in stopped), stopped
        assert not processes.is_running(companion.pid, companion.start_time)
    finally:
        processes.stop(companion, timeout=5)
