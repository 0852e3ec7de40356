"""versions.env is the one place for versions: its parser, and that every consumer agrees with it."""

from __future__ import annotations

import re
import tomllib

import pytest

from fadi_seldon.runtime import versions


def test_parse_reads_keys_and_ignores_comments():
    text = "# comment\n\nHELM_VERSION=v3.22.0\n  # indented comment\nPY_X=1.2\n"
    assert versions.parse(text) == {"HELM_VERSION": "v3.22.0", "PY_X": "1.2"}


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        ("A=1\nhelm_version=v3\n", ":2:", "KEY=VALUE"),
        ("A=1\nB = 2\n", ":2:", "KEY=VALUE"),
        ('A="1"\n', ":1:", "KEY=VALUE"),
        ("A=\n", ":1:", "empty value"),
        ("A=1\nA=2\n", ":2:", "defined twice"),
    ],
)
def test_parse_errors_name_the_line(text, where, what):
    with pytest.raises(versions.VersionsFileError) as err:
        versions.parse(text, "versions.env")
    assert where in str(err.value) and what in str(err.value)


def test_repository_versions_file_has_every_pin(repo_root):
    values = versions.parse((repo_root / "versions.env").read_text())
    for key in (
        "SELDON_CORE_VERSION",
        "HELM_VERSION",
        "HELM4_VERSION",
        "CT_VERSION",
        "HELM_UNITTEST_VERSION",
        "KUBERNETES_VERSION",
        "ETCD_VERSION",
        "KWOK_VERSION",
        "PY_SELDON_CORE",
    ):
        assert key in values
    assert values["SELDON_CORE_VERSION"] == "1.17.1", "1.18+ is under the Business Source License"
    assert values["HELM_VERSION"].startswith("v3.") and values["HELM4_VERSION"].startswith("v4.")
    assert values["KUBERNETES_VERSION"].startswith("v1.36.")
    assert values["ETCD_VERSION"].startswith("v3.6.")


def test_pyproject_pins_follow_versions_file(repo_root):
    pins = versions.parse((repo_root / "versions.env").read_text())
    project = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"] + [d for group in project["optional-dependencies"].values() for d in group]
    expected = {
        "seldon-core": f"=={pins['PY_SELDON_CORE']}",
        "setuptools": f"<{pins['PY_SETUPTOOLS_MAX']}",
        "yamllint": f"=={pins['PY_YAMLLINT']}",
        "yamale": f"=={pins['PY_YAMALE']}",
        "kubernetes-validate": f"=={pins['PY_KUBERNETES_VALIDATE']}",
    }
    found = {}
    for dep in deps:
        name, spec = re.match(r"([A-Za-z0-9_.-]+)\s*(.*)", dep).groups()
        found[name] = spec
    for name, spec in expected.items():
        assert found.get(name) == spec, (
            f"pyproject.toml pins {name}{found.get(name)}, versions.env says {spec}"
        )


def test_makefile_reads_the_versions_file(repo_root):
    assert re.search(r"^include versions\.env$", (repo_root / "Makefile").read_text(), re.M)


def test_packaged_copy_is_current(repo_root):
    packaged = repo_root / "src" / "fadi_seldon" / "data" / "versions.env"
    assert packaged.read_text() == (repo_root / "versions.env").read_text(), "run `make generate`"


def test_generated_files_are_current():
    from fadi_seldon.dev import generate

    stale = generate.stale(versions.repo_root())
    assert not stale, "stale generated files (run `make generate`):\n" + "\n".join(stale.values())


def test_get_names_missing_key():
    with pytest.raises(KeyError, match="NOPE_VERSION is not defined"):
        versions.get("NOPE_VERSION")


def test_local_dir_env_then_checkout_then_per_user(tmp_path, monkeypatch):
    per_user = versions.user_dir("XDG_CACHE_HOME", ".cache", "tools")
    monkeypatch.setenv("FADI_TEST_DIR", str(tmp_path / "mine"))
    assert versions.local_dir("FADI_TEST_DIR", ".tools", per_user) == tmp_path / "mine"
    monkeypatch.delenv("FADI_TEST_DIR")
    assert versions.local_dir("FADI_TEST_DIR", ".tools", per_user) == versions.repo_root() / ".tools"
    monkeypatch.setattr(versions, "repo_root", lambda: None)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    per_user = versions.user_dir("XDG_CACHE_HOME", ".cache", "tools")
    assert (
        versions.local_dir("FADI_TEST_DIR", ".tools", per_user) == tmp_path / "xdg" / "fadi-seldon" / "tools"
    )
