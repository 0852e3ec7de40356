"""The FADI umbrella chart, rendered with the real helm (v3 and v4).

The chart is copied with its file:// dependency into a temporary folder and its dependencies are
built there, so the test neither races other runs over fadi/charts/ nor depends on a stale build;
`helm dependency build` also fails when Chart.lock is out of sync with Chart.yaml.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import tool
from fadi_seldon import cli

SELDON = "seldon-core-operator"


def helm(tools_env, *args: str, binary: str = "helm") -> subprocess.CompletedProcess:
    return subprocess.run([tool(binary), *args], env=tools_env, capture_output=True, text=True)


def template(tools_env, chart: Path, *args: str, binary: str = "helm") -> list[dict]:
    run = helm(tools_env, "template", "fadi", str(chart), "--namespace", "fadi", *args, binary=binary)
    assert run.returncode == 0, run.stderr
    return [d for d in yaml.safe_load_all(run.stdout) if d]


def _objects(docs: list[dict]) -> list[tuple[str, str, str]]:
    return sorted((d["kind"], d["metadata"]["name"], d["metadata"].get("namespace", "")) for d in docs)


def test_dependency_points_at_the_operator_chart_with_its_version(repo_root):
    meta = yaml.safe_load((repo_root / "fadi" / "Chart.yaml").read_text())
    sub = yaml.safe_load((repo_root / "charts" / SELDON / "Chart.yaml").read_text())
    lock = yaml.safe_load((repo_root / "fadi" / "Chart.lock").read_text())
    (dep,) = [d for d in meta["dependencies"] if d["name"] == SELDON]
    assert dep["condition"] == f"{SELDON}.enabled"
    assert dep["repository"] == f"file://../charts/{SELDON}"
    assert dep["version"] == sub["version"]
    assert [(d["name"], d["version"]) for d in lock["dependencies"]] == [(SELDON, sub["version"])]


def test_dependency_list_is_in_sync(umbrella, tools_env):
    run = helm(tools_env, "dependency", "list", str(umbrella / "fadi"))
    assert run.returncode == 0, run.stderr
    row = next(line for line in run.stdout.splitlines() if line.startswith(SELDON))
    assert row.split()[-1] == "ok"


@pytest.mark.parametrize("binary", ["helm", "helm4"])
def test_seldon_off_renders_no_object(umbrella, tools_env, binary):
    assert template(tools_env, umbrella / "fadi", binary=binary) == []
    assert (
        template(tools_env, umbrella / "fadi", "-f", str(umbrella / "fadi/ci/seldon-off-values.yaml")) == []
    )


@pytest.mark.parametrize("ci_set", ["seldon-on", "seldon-on-single-namespace"])
def test_seldon_on_renders_every_object_of_the_operator_chart(umbrella, tools_env, ci_set):
    values_file = umbrella / "fadi" / "ci" / f"{ci_set}-values.yaml"
    sub_values = umbrella / f"{ci_set}-operator.yaml"
    sub_values.write_text(yaml.safe_dump(yaml.safe_load(values_file.read_text())[SELDON]))
    via_fadi = _objects(template(tools_env, umbrella / "fadi", "-f", str(values_file)))
    alone = _objects(template(tools_env, umbrella / "charts" / SELDON, "-f", str(sub_values)))
    assert via_fadi == alone
    kinds = {kind for kind, _, _ in via_fadi}
    assert {"CustomResourceDefinition", "Deployment", "ValidatingWebhookConfiguration", "ConfigMap"} <= kinds


def test_single_namespace_grants_no_cluster_role_for_workloads(umbrella, tools_env):
    docs = template(
        tools_env, umbrella / "fadi", "-f", str(umbrella / "fadi/ci/seldon-on-single-namespace-values.yaml")
    )
    cluster_roles = [d["metadata"]["name"] for d in docs if d["kind"] == "ClusterRole"]
    assert not [name for name in cluster_roles if name.startswith("seldon-manager-role")]
    assert any(d["kind"] == "Role" and d["metadata"]["name"] == "seldon-manager-role" for d in docs)


@pytest.mark.parametrize("binary", ["helm", "helm4"])
@pytest.mark.parametrize("enabled", ["true", "false"])
@pytest.mark.parametrize(
    ("values", "message"),
    [
        (f"{SELDON}:\n  enable: true\n", "'enable'"),
        (f"{SELDON}:\n  usageMetric:\n    enabled: false\n", "'usageMetric'"),
        (f'{SELDON}:\n  singleNamespace: "true"\n', "singleNamespace"),
    ],
    ids=["enable", "usageMetric", "string-boolean"],
)
def test_helm_rejects_typos_under_seldon_even_when_it_is_off(
    umbrella, tools_env, tmp_path, binary, enabled, values, message, capsys
):
    bad = tmp_path / "bad.yaml"
    bad.write_text(values)
    run = helm(
        tools_env,
        "template",
        "fadi",
        str(umbrella / "fadi"),
        "-f",
        str(bad),
        "--set",
        f"{SELDON}.enabled={enabled}",
        binary=binary,
    )
    assert run.returncode != 0
    assert "values don't meet the specifications of the schema" in run.stderr
    assert f"/{SELDON}" in run.stderr and message in run.stderr
    # the offline check finds the same mistake, with its line
    assert cli.main(["values", "check", "--file", str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"{bad}:2:" in out or f"{bad}:3:" in out


@pytest.mark.parametrize("binary", ["helm", "helm4"])
def test_helm_accepts_the_shipped_and_ci_values(umbrella, tools_env, capsys, binary):
    for values in [
        umbrella / "fadi" / "values.yaml",
        *sorted((umbrella / "fadi" / "ci").glob("*-values.yaml")),
    ]:
        run = helm(tools_env, "template", "fadi", str(umbrella / "fadi"), "-f", str(values), binary=binary)
        assert run.returncode == 0, (values.name, run.stderr)
        assert cli.main(["values", "check", "--file", str(values)]) == 0
    capsys.readouterr()


def test_a_full_fadi_values_file_installs_seldon_and_ignores_other_services(
    umbrella, tools_env, repo_root, tmp_path
):
    values = tmp_path / "values.yaml"
    values.write_bytes((repo_root / "tests" / "data" / "fadi-values-full.yaml").read_bytes())
    assert cli.main(["values", "enable", "--file", str(values)]) == 0
    docs = template(tools_env, umbrella / "fadi", "-f", str(values))
    assert any(
        d["kind"] == "Deployment" and d["metadata"]["name"] == "seldon-controller-manager" for d in docs
    )


def test_lintconf_rejects_yaml11_booleans_and_accepts_the_charts(repo_root, tmp_path):
    yamllint = [str(repo_root / ".venv" / "bin" / "yamllint"), "-c", str(repo_root / "lintconf.yaml")]
    bad = tmp_path / "values.yaml"
    bad.write_text("seldon-core-operator:\n  enabled: yes\n")
    run = subprocess.run([*yamllint, str(bad)], capture_output=True, text=True)
    assert run.returncode == 1
    assert "truthy value should be one of [false, true]" in run.stdout
    files = [repo_root / "fadi" / "values.yaml", repo_root / "fadi" / "Chart.yaml", repo_root / "ct.yaml"]
    files += sorted((repo_root / "fadi" / "ci").glob("*.yaml"))
    run = subprocess.run([*yamllint, *map(str, files)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout
