"""`fadi-seldon values`: exit codes, messages, backups, dry runs, and files left untouched on errors."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from fadi_seldon import cli

FULL = Path(__file__).parent / "data" / "fadi-values-full.yaml"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(["values", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def values(tmp_path: Path) -> Path:
    path = tmp_path / "values.yaml"
    path.write_bytes(FULL.read_bytes())
    return path


def test_enable_writes_backup_and_changes_one_line(capsys, values):
    before = values.read_bytes()
    code, out, _ = run(capsys, "enable", "--file", str(values))
    assert code == 0
    assert "Seldon Core enabled" in out and "make install VALUES=" in out
    backup = values.with_name("values.yaml.bak")
    assert backup.read_bytes() == before
    changed = [
        (a, b)
        for a, b in zip(before.decode().splitlines(), values.read_text().splitlines(), strict=True)
        if a != b
    ]
    assert changed == [("  enabled: false", "  enabled: true")]


def test_dry_run_prints_a_diff_and_writes_nothing(capsys, values):
    before = values.read_bytes()
    code, out, err = run(capsys, "enable", "--file", str(values), "--dry-run")
    assert code == 0
    assert "-  enabled: false\n+  enabled: true\n" in out
    assert out.startswith(f"--- {values}\n+++ {values} (edited)\n")
    assert "not written" in err
    assert values.read_bytes() == before
    assert not values.with_name("values.yaml.bak").exists()


def test_no_change_does_not_touch_the_file(capsys, tmp_path):
    path = tmp_path / "v.yaml"
    path.write_text("seldon-core-operator:\n  enabled: true\n")
    os.utime(path, (1_000_000, 1_000_000))
    code, out, _ = run(capsys, "enable", "-f", str(path))
    assert code == 0 and "nothing to change" in out
    assert path.stat().st_mtime == 1_000_000
    assert not path.with_name("v.yaml.bak").exists()


def test_set_get_roundtrip_with_types(capsys, values):
    code, out, _ = run(
        capsys, "set", "-f", str(values), "singleNamespace=true", "webhook.port=8443", "--no-backup"
    )
    assert code == 0, out
    assert not values.with_name("values.yaml.bak").exists()
    code, out, _ = run(capsys, "get", "-f", str(values), "webhook.port", "--output", "json")
    assert code == 0
    assert json.loads(out) == {
        "file": str(values),
        "path": "seldon-core-operator.webhook.port",
        "found": True,
        "value": 8443,
    }
    code, out, _ = run(capsys, "get", "-f", str(values), "singleNamespace")
    assert (code, out) == (0, "true\n")


def test_get_missing_key_reports_the_chart_default(capsys, values):
    code, out, err = run(capsys, "get", "-f", str(values), "singleNamespace")
    assert code == 1 and out == ""
    assert "seldon-core-operator.singleNamespace is not set" in err
    code, out, _ = run(capsys, "get", "-f", str(values), "singleNamespace", "--output", "json")
    assert code == 1
    assert json.loads(out)["found"] is False


def test_set_that_breaks_the_schema_is_refused_unless_forced(capsys, values):
    before = values.read_bytes()
    code, _, err = run(capsys, "set", "-f", str(values), "enable=true")
    assert code == 1
    assert "unknown key 'enable' (did you mean 'enabled'?)" in err
    assert "left unchanged" in err
    assert values.read_bytes() == before
    code, _, _ = run(capsys, "set", "-f", str(values), "enabled=maybe")
    assert code == 1
    assert values.read_bytes() == before
    code, _, _ = run(capsys, "set", "-f", str(values), "enabled=maybe", "--force")
    assert code == 0
    assert "enabled: maybe" in values.read_text()


def test_check_valid_full_file_warns_about_other_services(capsys, values):
    code, out, _ = run(capsys, "check", "-f", str(values))
    assert code == 0
    assert "valid (0 error(s)" in out
    assert f"{values}:7:1: warning: traefik: not a service of this chart; Helm ignores it" in out
    code, _, _ = run(capsys, "check", "-f", str(values), "--strict")
    assert code == 1


def test_check_reports_typos_with_their_lines(capsys, tmp_path):
    path = tmp_path / "v.yaml"
    path.write_text(
        "seldon-core-operator:\n"
        "  enable: true\n"
        "  usageMetric:\n"
        "    enabled: false\n"
        "  singleNamespace: 'yes'\n"
        "  image:\n"
        "    pullPolicy: Sometimes\n"
        "seldon-core-operater:\n"
        "  enabled: true\n"
    )
    code, out, _ = run(capsys, "check", "-f", str(path), "--output", "json")
    assert code == 1
    report = json.loads(out)
    where = {(f["line"], f["path"]): f for f in report["findings"]}
    assert (
        where[(2, "seldon-core-operator.enable")]["message"]
        == "unknown key 'enable' (did you mean 'enabled'?)"
    )
    assert "did you mean 'usageMetrics'?" in where[(3, "seldon-core-operator.usageMetric")]["message"]
    assert (
        where[(5, "seldon-core-operator.singleNamespace")]["message"] == 'expected boolean, got string "yes"'
    )
    assert "Sometimes" in where[(7, "seldon-core-operator.image.pullPolicy")]["message"]
    assert "did you mean 'seldon-core-operator'?" in where[(8, "seldon-core-operater")]["message"]
    assert report["errors"] == 5 and report["warnings"] == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("seldon-core-operator:\n  enabled: [true\n", "v.yaml:3:1: invalid YAML"),
        ("- a\n- b\n", "the top level is a list; a values file must be a mapping"),
        ("just a string\n", "the top level is a str scalar"),
        ("a: 1\n---\nb: 2\n", "holds 2 YAML documents"),
        ("a: 1\na: 2\n", "invalid YAML"),
    ],
)
@pytest.mark.parametrize("action", ["enable", "disable", "set", "get", "check"])
def test_unusable_files_are_reported_and_left_untouched(capsys, tmp_path, content, message, action):
    path = tmp_path / "v.yaml"
    path.write_text(content)
    extra = ["enabled=true"] if action == "set" else []
    code, out, err = run(capsys, action, "-f", str(path), *extra)
    assert code == 2
    assert message in err and err.startswith("error: ")
    assert "Traceback" not in err
    assert path.read_text() == content
    assert not path.with_name("v.yaml.bak").exists()


def test_missing_file(capsys, tmp_path):
    code, _, err = run(capsys, "enable", "-f", str(tmp_path / "nope.yaml"))
    assert code == 2
    assert "nope.yaml: no such file" in err
    assert not (tmp_path / "nope.yaml").exists()


def test_read_only_file_is_refused_even_for_root(capsys, values):
    values.chmod(0o444)
    before = values.read_bytes()
    code, _, err = run(capsys, "enable", "-f", str(values))
    assert code == 2
    assert "file is read-only (mode 0444); nothing was changed" in err
    assert values.read_bytes() == before
    assert stat.S_IMODE(values.stat().st_mode) == 0o444
    # a dry run still works on a read-only file
    code, out, _ = run(capsys, "enable", "-f", str(values), "--dry-run")
    assert code == 0 and "+  enabled: true" in out


def test_mode_and_symlink_are_kept(capsys, tmp_path, values):
    values.chmod(0o640)
    link = tmp_path / "link.yaml"
    link.symlink_to(values)
    code, _, _ = run(capsys, "enable", "-f", str(link))
    assert code == 0
    assert link.is_symlink()
    assert stat.S_IMODE(values.stat().st_mode) == 0o640
    assert "  enabled: true\n  usageMetrics" in values.read_text()
    assert not list(tmp_path.glob(".*.tmp"))


def test_bad_assignment_is_a_usage_error(capsys, values):
    code, _, err = run(capsys, "set", "-f", str(values), "singleNamespace")
    assert code == 2
    assert "expected KEY=VALUE" in err


# --------------------------------------------------------------------------- a hand-edited file

# A FADI values file as people keep them: a `---` start, trailing spaces, a child indented 4 in a
# 2-space file, lists indented under their key, `key :` spacing, block scalars, no final newline.
HAND_EDITED = Path(__file__).parent / "data" / "fadi-values-hand-edited.yaml"
SELDON_BLOCK = "seldon-core-operator:\n  enabled: true\n  usageMetrics:\n    enabled: false\n"
SCRAPE = "manager.annotations.prometheus\\.io/scrape='true'"  # the example of docs/umbrella.md
SCRAPE_LINES = ["  manager:", "    annotations:", "      prometheus.io/scrape: 'true'"]


def _added_lines(before: str, after: str) -> list[str]:
    """The lines `after` adds to `before`; fails if any line of `before` changed or went away."""
    import difflib

    ops = difflib.SequenceMatcher(None, before.splitlines(), after.splitlines(), autojunk=False)
    added = []
    for tag, i1, i2, j1, j2 in ops.get_opcodes():
        assert tag in ("equal", "insert"), (tag, before.splitlines()[i1:i2], after.splitlines()[j1:j2])
        if tag == "insert":
            added += after.splitlines()[j1:j2]
    return added


@pytest.mark.parametrize("where", ["middle", "end"])
def test_set_on_a_hand_edited_file_adds_only_the_new_lines(capsys, tmp_path, where):
    text = HAND_EDITED.read_text(encoding="utf-8")
    assert " \n" in text and "swaggerui :" in text and not text.endswith("\n")  # the file is what it claims
    if where == "end":  # the block last, the file still without a final newline
        text = text.replace(SELDON_BLOCK + "\n", "") + "\n" + SELDON_BLOCK.rstrip("\n")
    path = tmp_path / "values.yaml"
    path.write_text(text, encoding="utf-8")
    code, out, err = run(capsys, "set", "-f", str(path), SCRAPE)
    assert code == 0, err
    after = path.read_text(encoding="utf-8")
    assert _added_lines(text, after) == SCRAPE_LINES
    assert not after.endswith("\n")  # the final newline as it was


def test_set_a_quoted_true_over_a_boolean_changes_it_in_its_line(capsys, tmp_path):
    """`'true'` is a string for Helm (an annotation must be one), not the boolean already there."""
    path = tmp_path / "v.yaml"
    text = "seldon-core-operator:\n  manager:\n    annotations:\n      prometheus.io/scrape: true  # on\n"
    path.write_text(text)
    code, out, err = run(capsys, "set", "-f", str(path), SCRAPE)
    assert code == 0, err
    assert "already" not in out
    assert path.read_text() == text.replace("scrape: true  # on", "scrape: 'true' # on")


def test_enable_adds_the_block_with_the_files_own_indentation(capsys, tmp_path):
    """A 2-space file whose lists are indented under their key: the new block is indented 2."""
    text = HAND_EDITED.read_text(encoding="utf-8").replace(SELDON_BLOCK + "\n", "")
    assert "seldon-core-operator" not in text
    path = tmp_path / "values.yaml"
    path.write_text(text, encoding="utf-8")
    code, _, err = run(capsys, "enable", "-f", str(path))
    assert code == 0, err
    after = path.read_text(encoding="utf-8")
    added = _added_lines(text, after)
    assert [line for line in added if line and not line.startswith("#")] == SELDON_BLOCK.splitlines()
    assert not after.endswith("\n")


def test_enable_on_a_small_two_space_file(capsys, tmp_path):
    path = tmp_path / "values.yaml"
    text = "grafana:\n  ingress:\n    hosts:\n      - fadi.minikube\n"
    path.write_text(text)
    assert run(capsys, "enable", "-f", str(path))[0] == 0
    assert path.read_text().startswith(text)
    assert path.read_text().endswith("\n" + SELDON_BLOCK)
