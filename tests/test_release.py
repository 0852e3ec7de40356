"""Release engineering: `make package` archives are signed, verified and installable; `make dist`
builds the Python distributions; Artifact Hub metadata, the changelog and the release workflow."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

from conftest import tool

ROOT = Path(__file__).resolve().parents[1]
CHARTS = {"seldon-core-operator": ROOT / "charts" / "seldon-core-operator", "fadi": ROOT / "fadi"}
CHANGE_KINDS = {"added", "changed", "deprecated", "removed", "fixed", "security"}


def run(tools_env, *argv: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        list(argv), cwd=ROOT, env={**tools_env, **(env or {})}, capture_output=True, text=True, check=check
    )


@pytest.fixture(scope="module")
def packaged(tmp_path_factory, tools_env) -> Path:
    """scripts/package-charts.sh (what `make package` runs) into a temporary folder, throw-away key."""
    if shutil.which("gpg") is None:
        pytest.fail("gpg is needed to sign the charts (Debian package gnupg)")
    dist = tmp_path_factory.mktemp("dist")
    proc = run(
        tools_env,
        str(ROOT / "scripts" / "package-charts.sh"),
        env={"DIST": str(dist), "FADI_SIGNING_KEY": ""},
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return dist


def chart_version(name: str) -> str:
    return yaml.safe_load((CHARTS[name] / "Chart.yaml").read_text())["version"]


def releases() -> list[dict]:
    """releases.yaml: the released versions, newest first, each with the commit it was released from."""
    return yaml.safe_load((ROOT / "releases.yaml").read_text(encoding="utf-8"))


def semver(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("-", 1)[0].split("."))


def released_charts(version: str, dest: Path) -> Path:
    """Both charts as released at `version`, from its commit in this clone's history (`git archive`),
    into `dest`; returns `dest`. A clone without that commit (shallow) is told how to get it."""
    (entry,) = [r for r in releases() if r["version"] == version]
    paths = ["charts/seldon-core-operator", "fadi"]
    proc = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", entry["commit"], *paths],
                          capture_output=True, timeout=60)  # fmt: skip
    assert proc.returncode == 0, (
        f"release {version} is commit {entry['commit']}, not in this clone's history "
        f"(a shallow clone? `git fetch --unshallow`): {proc.stderr.decode(errors='replace')}"
    )
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as archive:
        archive.extractall(dest, filter="data")
    return dest


def test_package_writes_a_signed_archive_of_each_chart(packaged, tools_env):
    for name in CHARTS:
        archive = packaged / f"{name}-{chart_version(name)}.tgz"
        assert archive.is_file() and (packaged / f"{archive.name}.prov").is_file(), sorted(packaged.iterdir())
        verified = run(
            tools_env,
            tool("helm"),
            "verify",
            str(archive),
            "--keyring",
            str(packaged / "throwaway-pubring.gpg"),
        )
        assert "Signed by: fadi-seldon throw-away signing key" in verified.stdout + verified.stderr


def test_helm_verify_refuses_a_changed_archive(packaged, tools_env, tmp_path):
    name = f"seldon-core-operator-{chart_version('seldon-core-operator')}.tgz"
    changed = tmp_path / name
    changed.write_bytes((packaged / name).read_bytes() + b"\0")
    shutil.copy(packaged / f"{name}.prov", tmp_path / f"{name}.prov")
    proc = run(
        tools_env,
        tool("helm"),
        "verify",
        str(changed),
        "--keyring",
        str(packaged / "throwaway-pubring.gpg"),
        check=False,
    )
    assert proc.returncode != 0 and "sha256 sum does not match" in proc.stderr


def test_the_umbrella_archive_carries_the_operator_chart(packaged):
    with tarfile.open(packaged / f"fadi-{chart_version('fadi')}.tgz") as archive:
        names = archive.getnames()
    # helm package stores the built dependency unpacked
    assert {
        "fadi/charts/seldon-core-operator/Chart.yaml",
        "fadi/charts/seldon-core-operator/dashboards/seldon-core.json",
    } <= set(names)
    with tarfile.open(
        packaged / f"seldon-core-operator-{chart_version('seldon-core-operator')}.tgz"
    ) as archive:
        names = archive.getnames()
    assert "seldon-core-operator/dashboards/seldon-core.json" in names
    assert not [n for n in names if n.startswith("seldon-core-operator/tests/")], (
        "helm-unittest suites stay out"
    )


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("seldon-core-operator", "charts/seldon-core-operator/ci/monitoring-values.yaml"),
        ("fadi", "fadi/ci/seldon-on-values.yaml"),
    ],
)
def test_the_packaged_charts_render(packaged, tools_env, name, values):
    archive = packaged / f"{name}-{chart_version(name)}.tgz"
    out = run(
        tools_env, tool("helm"), "template", "seldon", str(archive), "-n", "seldon-system", "-f", values
    ).stdout
    kinds = {d["kind"] for d in yaml.safe_load_all(out) if d}
    assert {"Deployment", "CustomResourceDefinition", "ValidatingWebhookConfiguration"} <= kinds


def test_dist_builds_the_wheel_and_the_sdist(tools_env, tmp_path):
    proc = run(tools_env, str(ROOT / "scripts" / "dist.sh"), env={"DIST": str(tmp_path)})
    version = re.search(
        r'__version__\s*=\s*"([^"]+)"', (ROOT / "src/fadi_seldon/__init__.py").read_text()
    ).group(1)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f"fadi_seldon-{version}-py3-none-any.whl",
        f"fadi_seldon-{version}.tar.gz",
    ], proc.stdout + proc.stderr


# --------------------------------------------------------------------------- metadata


def annotations(name: str) -> dict[str, str]:
    return yaml.safe_load((CHARTS[name] / "Chart.yaml").read_text())["annotations"]


@pytest.mark.parametrize("name", list(CHARTS))
def test_artifact_hub_annotations(name):
    notes = annotations(name)
    assert all(isinstance(v, str) for v in notes.values()), "Artifact Hub annotations are strings"
    assert notes["artifacthub.io/license"] == "Apache-2.0"
    assert notes["artifacthub.io/containsSecurityUpdates"] == "false"
    changes = yaml.safe_load(notes["artifacthub.io/changes"])
    assert changes and all(c["kind"] in CHANGE_KINDS and c["description"] for c in changes)
    links = yaml.safe_load(notes["artifacthub.io/links"])
    assert all(link["name"] and link["url"].startswith("https://") for link in links)
    app_version = yaml.safe_load((CHARTS["seldon-core-operator"] / "Chart.yaml").read_text())["appVersion"]
    images = {i["name"]: i["image"] for i in yaml.safe_load(notes["artifacthub.io/images"])}
    assert images["seldon-core-operator"] == f"docker.io/seldonio/seldon-core-operator:{app_version}"


def test_artifact_hub_crds_name_the_charts_crd():
    notes = annotations("seldon-core-operator")
    (crd,) = yaml.safe_load(notes["artifacthub.io/crds"])
    assert crd["name"] == "seldondeployments.machinelearning.seldon.io" and crd["kind"] == "SeldonDeployment"
    (example,) = yaml.safe_load(notes["artifacthub.io/crdsExamples"])
    assert example["kind"] == "SeldonDeployment" and example["apiVersion"] == "machinelearning.seldon.io/v1"


def test_every_release_is_a_commit_of_this_history_holding_charts_of_its_version(tmp_path):
    listed = releases()
    assert listed and [r["version"] for r in listed] == sorted(
        (r["version"] for r in listed), key=semver, reverse=True
    ), "newest first"
    for entry in listed:
        charts = released_charts(entry["version"], tmp_path / entry["version"])
        for path in ("charts/seldon-core-operator", "fadi"):
            chart = yaml.safe_load((charts / path / "Chart.yaml").read_text())
            assert chart["version"] == entry["version"], (path, entry)
        (dependency,) = yaml.safe_load((charts / "fadi" / "Chart.yaml").read_text())["dependencies"]
        assert dependency["version"] == entry["version"]


def test_this_checkout_is_newer_than_the_newest_release():
    newest = releases()[0]["version"]
    for name in CHARTS:
        assert semver(chart_version(name)) > semver(newest), (name, chart_version(name), newest)
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert re.search(rf"^## \[{re.escape(newest)}\] - {releases()[0]['date']}$", text, re.M)


def test_a_release_missing_from_the_history_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setattr(
        sys.modules[__name__], "releases", lambda: [{"version": "9.9.9", "commit": "0" * 40, "date": "x"}]
    )
    with pytest.raises(AssertionError, match="not in this clone's history"):
        released_charts("9.9.9", tmp_path)


def test_changelog_keeps_a_changelog():
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert text.startswith("# Changelog\n") and "keepachangelog.com" in text
    sections = re.findall(r"^## \[([^\]]+)\]", text, re.M)
    assert sections and sections[0] == "Unreleased"
    for heading in re.findall(r"^### (.+)$", text, re.M):
        assert heading.lower() in CHANGE_KINDS, heading
    for section in sections:
        assert re.search(rf"^\[{re.escape(section)}\]: https://", text, re.M), f"no link for [{section}]"


def test_release_workflow_runs_the_tests_then_dist_on_a_tag(tools_env):
    path = ROOT / ".github" / "workflows" / "release.yaml"
    workflow = yaml.safe_load(path.read_text())
    assert workflow[True]["push"]["tags"] == ["v*"]  # YAML 1.1 reads the key `on` as True
    steps = [s.get("run", "") for s in workflow["jobs"]["release"]["steps"]]
    test_at = next(i for i, s in enumerate(steps) if ".ci/run" in s or "make test" in s)
    dist_at = next(i for i, s in enumerate(steps) if "make dist" in s)
    assert test_at < dist_at
    assert any("helm push" in s for s in steps) and any("helm repo index" in s for s in steps)
    run(tools_env, tool("actionlint"), str(path))


def test_actionlint_tool_entry(tools_env):
    from fadi_seldon import tools as toolchain
    from fadi_seldon.runtime import versions
    from fadi_seldon.tools import BuildContext

    entry = toolchain.registry()["actionlint"]
    assert entry.group == "chart" and entry.version == versions.get("ACTIONLINT_VERSION")
    assert entry.go.binaries == {"actionlint": "github.com/rhysd/actionlint/cmd/actionlint"}
    ctx = BuildContext(entry, entry.version, Path("/nonexistent"), "module x\n")
    assert entry.go.ldflags(ctx) == [f"-X github.com/rhysd/actionlint.version={entry.version}"]
    (art,) = entry.release(entry.version, "linux", "amd64")
    assert art.url.endswith(f"/{entry.version}/actionlint_{entry.version.lstrip('v')}_linux_amd64.tar.gz")
    out = run(tools_env, tool("actionlint"), *entry.version_args).stdout
    assert entry.matches(re.search(entry.version_pattern, out, re.M).group(1)), out


def test_package_signs_with_the_users_key(tools_env, tmp_path):
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    gpg = {"GNUPGHOME": str(home)}
    uid = "Release Tester <release@example.invalid>"
    try:
        run(tools_env, "gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", "",
            "--quick-generate-key", uid, "rsa2048", "sign", "1d", env=gpg)  # fmt: skip
        secring = tmp_path / "secring.gpg"
        secring.write_bytes(
            subprocess.run(
                ["gpg", "--batch", "--export-secret-keys"],
                env={**tools_env, **gpg},
                capture_output=True,
                check=True,
            ).stdout
        )
    finally:
        subprocess.run(["gpgconf", "--kill", "gpg-agent"], env={**tools_env, **gpg}, capture_output=True)
    dist = tmp_path / "dist"
    proc = run(tools_env, str(ROOT / "scripts" / "package-charts.sh"),
               env={"DIST": str(dist), "FADI_SIGNING_KEY": uid, "FADI_SIGNING_KEYRING": str(secring)}, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not (dist / "throwaway-pubring.gpg").exists()
    archive = dist / f"fadi-{chart_version('fadi')}.tgz"
    verified = run(tools_env, tool("helm"), "verify", str(archive), "--keyring", str(secring))
    assert "Release Tester" in verified.stdout + verified.stderr
