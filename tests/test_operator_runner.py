"""The operator runner's pure parts, against the real chart rendered by the installed helm."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, tool
from fadi_seldon.cli import main as cli_main
from fadi_seldon.localkube import operator as runner

CHART = ROOT / "charts" / "seldon-core-operator"


def render(tools_env, *sets: str, namespace: str = "seldon-system") -> list[dict]:
    argv = [tool("helm"), "template", "rel", str(CHART), "-n", namespace]
    for s in sets:
        argv += ["--set", s]
    proc = subprocess.run(argv, capture_output=True, text=True, env=tools_env, check=True)
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


def test_cluster_wide_release_gives_one_process_with_the_charts_arguments(tools_env):
    docs = render(
        tools_env, "webhook.url=https://127.0.0.1:9443", "webhook.port=9443", "manager.logLevel=DEBUG"
    )
    [spec] = runner.specs_from_manifest(docs, "seldon-system")
    assert spec.deployment == "seldon-controller-manager"
    assert spec.service_account == "seldon-manager"
    assert spec.cert_secret == "seldon-webhook-server-cert"
    assert spec.watch_namespace == ""
    # $(VAR) references are expanded from the container env, as the kubelet does
    assert "--log-level=DEBUG" in spec.args and "--webhook-port=9443" in spec.args
    assert "--leader-election-id=a33bd623.machinelearning.seldon.io" in spec.args
    assert not any("$(" in a for a in spec.args)
    assert not any(a.startswith("--namespace") for a in spec.args)
    # fieldRef metadata.namespace resolves to the release namespace
    assert spec.env["POD_NAMESPACE"] == "seldon-system"
    assert (
        spec.env["EXECUTOR_CONTAINER_IMAGE_AND_VERSION"] == "docker.io/seldonio/seldon-core-executor:1.17.1"
    )


def test_single_namespace_and_namespace_list_modes(tools_env):
    [single] = runner.specs_from_manifest(
        render(tools_env, "singleNamespace=true", namespace="models"), "models"
    )
    assert single.watch_namespace == "models" and "--namespace=models" in single.args
    listed = runner.specs_from_manifest(render(tools_env, "watchNamespaces={a,b}"), "seldon-system")
    assert [(s.deployment, s.watch_namespace) for s in listed] == [
        ("seldon-controller-manager-a", "a"),
        ("seldon-controller-manager-b", "b"),
    ]
    assert "--namespace=b" in listed[1].args
    assert listed[0].env["MANAGER_LEADER_ELECTION_ID"] != listed[1].env["MANAGER_LEADER_ELECTION_ID"]


def test_manager_create_resources_has_no_chart_certificate(tools_env):
    [spec] = runner.specs_from_manifest(render(tools_env, "managerCreateResources=true"), "seldon-system")
    assert spec.cert_secret is None
    assert "--create-resources=true" in spec.args


def test_other_deployments_are_not_operators():
    other = {"kind": "Deployment", "metadata": {"name": "x"}, "spec": {"template": {"spec": {"containers": [{"name": "manager", "command": ["/bin/other"]}]}}}}  # fmt: skip
    assert runner.specs_from_manifest([other, {"kind": "Service"}], "ns") == []


def test_reference_expansion_follows_kubernetes_rules():
    env = {"A": "1", "B": "two"}
    assert runner.expand_references(["--a=$(A)", "$(B)-$(A)", "$(MISSING)", "$$(A)", "cost $$5"], env) == [
        "--a=1",
        "two-1",
        "$(MISSING)",
        "$(A)",
        "cost $5",
    ]


def test_env_values_can_refer_to_earlier_entries_and_unsupported_sources_are_named():
    env = runner.resolve_env(
        [
            {"name": "A", "value": "x"},
            {"name": "B", "value": "$(A)-y"},
            {"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        ],  # fmt: skip
        namespace="ns",
        pod_name="pod-1",
        where="dep",
    )
    assert env == {"A": "x", "B": "x-y", "N": "pod-1"}
    with pytest.raises(runner.OperatorError, match=r"Deployment dep: env S .*secretKeyRef"):
        runner.resolve_env(
            [{"name": "S", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
            namespace="ns",
            pod_name="p",
            where="dep",
        )


def test_host_args_drop_leader_election_and_bind_metrics_to_loopback():
    args = ["--enable-leader-election", "--webhook-port=4443", "--metrics-addr=:8080", "--log-level=INFO", ""]
    assert runner.host_args(args, webhook_port=9443, metrics_port=18080) == [
        "--webhook-port=9443",
        "--metrics-addr=127.0.0.1:18080",
        "--log-level=INFO",
    ]
    assert runner.webhook_port_of(args) == 4443 and runner.webhook_port_of(["--x"]) is None


def test_operator_kubeconfig_holds_only_the_service_account_token():
    text = runner.operator_kubeconfig("https://127.0.0.1:6443", "Q0E=", "tok", "seldon-system", "system:serviceaccount:seldon-system:seldon-manager")  # fmt: skip
    doc = yaml.safe_load(text)
    assert doc["users"] == [
        {"name": "system:serviceaccount:seldon-system:seldon-manager", "user": {"token": "tok"}}
    ]
    server, ca = runner.cluster_of(text, "k")
    assert (server, ca) == ("https://127.0.0.1:6443", "Q0E=")
    assert doc["contexts"][0]["context"]["namespace"] == "seldon-system"


def test_cluster_of_reads_a_ca_file_and_rejects_garbage(tmp_path):
    ca = tmp_path / "ca.crt"
    ca.write_bytes(b"PEM")
    text = yaml.safe_dump(
        {
            "clusters": [
                {"name": "c", "cluster": {"server": "https://h:1", "certificate-authority": str(ca)}}
            ],
            "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
            "current-context": "x",
        }
    )
    assert runner.cluster_of(text, "k") == ("https://h:1", base64.b64encode(b"PEM").decode())
    with pytest.raises(runner.OperatorError, match="k: not a usable kubeconfig"):
        runner.cluster_of("just: [text", "k")


def test_values_prefix_for_the_operator_chart_and_the_umbrella(tmp_path):
    assert runner.values_prefix(CHART) == ""
    umbrella = tmp_path / "fadi"
    umbrella.mkdir()
    (umbrella / "Chart.yaml").write_text("apiVersion: v2\nname: fadi\nversion: 0.1.0\n")
    assert runner.values_prefix(umbrella) == "seldon-core-operator."
    assert runner.nested_get({"a": {"b": {"c": 1}}}, "a.b.c") == 1
    assert runner.nested_get({"a": 1}, "a.b") is None


def test_start_without_a_cluster_says_what_to_do(tmp_path, capsys):
    rc = cli_main(["cluster", "--state-dir", str(tmp_path / "none"), "operator", "start"])
    assert rc == 3
    assert "fadi-seldon cluster up" in capsys.readouterr().err


def test_status_and_stop_when_nothing_runs(tmp_path, capsys):
    state = str(tmp_path / "state")
    assert cli_main(["cluster", "--state-dir", state, "operator", "status", "--output", "json"]) == 3
    assert '"processes": []' in capsys.readouterr().out
    assert cli_main(["cluster", "--state-dir", state, "operator", "stop"]) == 0
    assert "nothing was running" in capsys.readouterr().out


def test_missing_operator_binary_names_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))
    r = runner.OperatorRunner(tmp_path / "kubeconfig", tmp_path / "state", bin_dir=tmp_path / "empty-bin")
    with pytest.raises(runner.OperatorError, match="fadi-seldon tools install operator"):
        r.binary(runner.OPERATOR_TOOL)


def test_status_reports_the_version_the_operator_binary_records(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))
    bin_dir = tmp_path / "bin"
    r = runner.OperatorRunner(tmp_path / "kubeconfig", tmp_path / "state", bin_dir=bin_dir)
    assert r.status()["module_version"] == "1.17.1", "no binary: the pin"
    bin_dir.mkdir()
    # what `go version -m` reads: the main package's module and its version (here an older build)
    binary = bin_dir / runner.OPERATOR_TOOL
    binary.write_bytes(
        b"\x00path\tgithub.com/seldonio/seldon-core/operator\nmod\tgithub.com/seldonio/seldon-core/operator\tv1.15.0\n"
    )
    binary.chmod(0o755)
    assert r.status()["module_version"] == "1.15.0"


def test_cluster_down_also_stops_the_recorded_operator_processes(tmp_path, capsys):
    from fadi_seldon.runtime import processes

    state = tmp_path / "state"
    r = runner.OperatorRunner(state / "kubeconfig", state / "operator")
    rec = processes.spawn("seldon-controller-manager", ["sleep", "60"], state / "operator" / "x.log")
    rec.extra = {"metrics_port": 18080}
    r.save_state({"release": "r", "namespace": "n", "processes": [rec.to_json()]})
    [row] = r.status()["processes"]
    assert row["running"] and row["metrics"] == "http://127.0.0.1:18080/metrics"
    assert cli_main(["cluster", "--state-dir", str(state), "down"]) == 0
    assert "seldon-controller-manager" in capsys.readouterr().out
    assert not processes.is_running(rec.pid, rec.start_time)


def fake_tools(bin_dir, helm_values: str) -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name, body in (("helm", f"echo '{helm_values}'"), ("seldon-operator", "exit 0")):
        exe = bin_dir / name
        exe.write_text(f"#!/bin/sh\n{body}\n")
        exe.chmod(0o755)


def test_no_install_needs_a_release_whose_webhook_points_at_loopback(tmp_path):
    fake_tools(tmp_path / "bin", '{"webhook": {"url": ""}}')
    r = runner.OperatorRunner(tmp_path / "kubeconfig", tmp_path / "state", bin_dir=tmp_path / "bin")
    opts = runner.StartOptions("rel", "ns", CHART, install=False)
    with pytest.raises(
        runner.OperatorError, match=r"release rel in namespace ns .*webhook\.url=https://127\.0\.0\.1"
    ):
        r.start(opts)


def test_a_release_keeps_its_webhook_port_across_restarts(tmp_path):
    fake_tools(tmp_path / "bin", '{"seldon-core-operator": {"webhook": {"url": "https://127.0.0.1:45678"}}}')
    r = runner.OperatorRunner(tmp_path / "kubeconfig", tmp_path / "state", bin_dir=tmp_path / "bin")
    umbrella = tmp_path / "fadi"
    umbrella.mkdir()
    (umbrella / "Chart.yaml").write_text("apiVersion: v2\nname: fadi\nversion: 0.1.0\n")
    opts = runner.StartOptions("fadi", "fadi", umbrella, install=False)
    assert r._webhook_port(opts, runner.values_prefix(umbrella)) == 45678


def _deployment(labels: dict, containers: list[dict]) -> dict:
    return {
        "kind": "Deployment",
        "metadata": {"name": "ctl", "labels": labels},
        "spec": {"template": {"spec": {"containers": containers, "serviceAccountName": "sa"}}},
    }


def test_the_controller_is_found_by_its_labels_not_its_command():
    from fadi_seldon.runtime import names

    ours = _deployment(dict(names.CONTROLLER_LABELS), [{"name": "manager", "command": ["/other-entrypoint"]}])
    upstream = _deployment(dict(names.UPSTREAM_CONTROLLER_LABELS), [{"name": "manager"}])
    unlabelled = _deployment({}, [{"name": "manager", "command": ["/manager"]}])
    webhook = _deployment(
        {names.COMPONENT_LABEL: "webhook", names.PART_OF_LABEL: "seldon-core"}, [{"name": "manager"}]
    )
    assert [runner.is_controller_deployment(d) for d in (ours, upstream, unlabelled, webhook)] == [
        True,
        True,
        False,
        False,
    ]
    [spec] = runner.specs_from_manifest([unlabelled, ours], "ns")
    assert spec.deployment == "ctl" and spec.service_account == "sa"
    no_manager = _deployment(dict(names.CONTROLLER_LABELS), [{"name": "sidecar"}])
    with pytest.raises(
        runner.OperatorError, match=r"Deployment ctl .*no container 'manager' \(containers: sidecar\)"
    ):
        runner.specs_from_manifest([no_manager], "ns")


def test_state_keeps_its_format_and_the_lock_makes_the_folder_private(tmp_path):
    import stat

    r = runner.OperatorRunner(tmp_path / "kubeconfig", tmp_path / "state")
    r.save_state({"release": "r", "namespace": "n", "processes": []})
    assert json.loads(r.state_file.read_text()) == {
        "release": "r",
        "namespace": "n",
        "processes": [],
        "version": 1,
    }
    assert r.load_state()["release"] == "r"
    r.state_file.write_text(json.dumps({"version": 99, "processes": [{"name": "x"}]}))
    assert r.load_state() == {}
    with r.locked():
        assert stat.S_IMODE(r.state_dir.stat().st_mode) == 0o700


def test_tokens_and_webhook_keys_are_written_private_from_creation(tmp_path, monkeypatch):
    import stat

    from fadi_seldon.runtime import files, processes

    writes = []

    def recording(path, data, mode=files.PUBLIC):
        writes.append((Path(path).name, mode))
        return files.atomic_write(path, data, mode)

    monkeypatch.setattr(runner, "atomic_write", recording)
    secret = {
        "data": {"tls.crt": base64.b64encode(b"CERT").decode(), "tls.key": base64.b64encode(b"KEY").decode()}
    }
    answers = {"get": json.dumps(secret), "create": "the-token\n"}
    r = runner.OperatorRunner(tmp_path / "kubeconfig", tmp_path / "state")
    monkeypatch.setattr(r, "run", lambda tool, *args, **kw: answers[args[0]])
    spec = runner.OperatorSpec("ctl", "ns", "sa", ["--webhook-port=1"], {}, cert_secret="cert")
    rec = r._start_one("/bin/true", spec, "https://127.0.0.1:6443", None, 9443)
    processes.stop(processes.ProcessRecord.from_json(rec), timeout=5)
    assert sorted(writes) == [
        ("kubeconfig", files.PRIVATE),
        ("tls.crt", files.PRIVATE),
        ("tls.key", files.PRIVATE),
    ]
    home = tmp_path / "state" / "ctl"
    key = home / "tmp" / "k8s-webhook-server" / "serving-certs" / "tls.key"
    assert key.read_bytes() == b"KEY" and stat.S_IMODE(key.stat().st_mode) == 0o600
    kubeconfig = yaml.safe_load((home / "kubeconfig").read_text())
    assert kubeconfig["users"][0]["user"]["token"] == "the-token"
    assert stat.S_IMODE((home / "kubeconfig").stat().st_mode) == 0o600
