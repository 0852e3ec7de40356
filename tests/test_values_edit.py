"""The values editor changes exactly the lines an edit needs, byte for byte, and nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest

from fadi_seldon.values import document as vf

DATA = Path(__file__).parent / "data"
FULL = DATA / "fadi-values-full.yaml"


def _edit(tmp_path: Path, text: str, op, name: str = "values.yaml") -> tuple[str, vf.Edit]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    doc = vf.read(path)
    edit = op(doc)
    return vf.render(doc), edit


def _line_of(lines: list[str], needle: str, after: str) -> int:
    start = lines.index(after)
    return next(i for i in range(start, len(lines)) if lines[i] == needle)


def test_enable_full_fadi_file_changes_only_the_enabled_line(tmp_path):
    original = FULL.read_text(encoding="utf-8")
    new, edit = _edit(tmp_path, original, vf.enable)
    lines = original.splitlines(keepends=True)
    at = _line_of(lines, "  enabled: false\n", "seldon-core-operator:\n")
    expected = lines[:at] + ["  enabled: true\n"] + lines[at + 1 :]
    assert edit.changed
    assert new == "".join(expected)


def test_disable_after_enable_restores_the_original_bytes(tmp_path):
    original = FULL.read_text(encoding="utf-8")
    enabled, _ = _edit(tmp_path, original, vf.enable)
    disabled, edit = _edit(tmp_path, enabled, vf.disable)
    assert edit.changed
    assert disabled == original


def test_enable_twice_is_a_no_op(tmp_path):
    text = "seldon-core-operator:\n  enabled: true\n"
    new, edit = _edit(tmp_path, text, vf.enable)
    assert not edit.changed
    assert new == text


def test_enable_adds_the_fadi_block_at_the_end_when_missing(tmp_path):
    block = "## Machine learning model serving\nseldon-core-operator:\n  enabled: false\n  usageMetrics:\n    enabled: false\n\n"
    original = FULL.read_text(encoding="utf-8").replace(block, "")
    assert "seldon-core-operator" not in original
    new, edit = _edit(tmp_path, original, vf.enable)
    assert edit.changed
    assert new.startswith(original)
    added = new[len(original) :]
    assert added == (
        "\n# Seldon Core operator: serves machine learning models as SeldonDeployments.\n"
        "# See docs/umbrella.md; usage metrics stay off, as FADI ships them.\n"
        "seldon-core-operator:\n"
        "  enabled: true\n"
        "  usageMetrics:\n"
        "    enabled: false\n"
    )


def test_enable_on_empty_file_creates_the_block(tmp_path):
    new, _ = _edit(tmp_path, "", vf.enable)
    doc = vf.read_text(vf.read(_write(tmp_path, "x.yaml", new)), new)
    assert vf.to_plain(doc.data) == {
        "seldon-core-operator": {"enabled": True, "usageMetrics": {"enabled": False}}
    }


def test_enable_fills_an_empty_block(tmp_path):
    new, _ = _edit(tmp_path, "spark:\n  enabled: true\nseldon-core-operator:\n", vf.enable)
    assert new.startswith("spark:\n  enabled: true\nseldon-core-operator:\n")
    assert vf.to_plain(_load(tmp_path, new))["seldon-core-operator"]["enabled"] is True


def test_disable_without_a_block_changes_nothing(tmp_path):
    new, edit = _edit(tmp_path, "spark:\n  enabled: true\n", vf.disable)
    assert not edit.changed
    assert "already disabled" in edit.summary
    assert new == "spark:\n  enabled: true\n"


def test_disable_keeps_the_block_settings(tmp_path):
    text = "seldon-core-operator:\n  enabled: true\n  singleNamespace: true\n"
    new, _ = _edit(tmp_path, text, vf.disable)
    assert new == "seldon-core-operator:\n  enabled: false\n  singleNamespace: true\n"


def test_inline_edit_keeps_comment_column_quotes_and_flow_style(tmp_path):
    text = (
        "a:\n    b: 1\n"
        "seldon-core-operator:\n"
        "    enabled: false   # off for now\n"
        '    image: {tag: "1.0", pullPolicy: Always}\n'
        "    executor:\n        image:\n            tag: '1.0'   # pinned\n"
    )

    def op(doc):
        vf.enable(doc)
        vf.set_value(doc, vf.seldon_path("image.tag"), "1.17.1")
        vf.set_value(doc, vf.seldon_path("image.pullPolicy"), "IfNotPresent")
        vf.set_value(doc, vf.seldon_path("executor.image.tag"), "1.17.1")
        return vf.Edit("", True)

    new, _ = _edit(tmp_path, text, op)
    assert new == (
        "a:\n    b: 1\n"
        "seldon-core-operator:\n"
        "    enabled: true    # off for now\n"
        '    image: {tag: "1.17.1", pullPolicy: IfNotPresent}\n'
        "    executor:\n        image:\n            tag: '1.17.1' # pinned\n"
    )


def test_new_keys_follow_the_blocks_own_indentation(tmp_path):
    text = "spark:\n  enabled: true\nseldon-core-operator:\n    enabled: false\n    usageMetrics:\n        enabled: false\n"

    def op(doc):
        return vf.set_value(doc, vf.seldon_path("manager.logLevel"), "DEBUG")

    new, _ = _edit(tmp_path, text, op)
    assert new == text + "    manager:\n        logLevel: DEBUG\n"


def test_layout_the_round_trip_would_change_is_kept_outside_the_edit(tmp_path):
    """ruamel re-indents 4-space blocks and re-aligns comments; those lines must not change."""
    original = FULL.read_text(encoding="utf-8")

    def op(doc):
        return vf.set_value(doc, vf.seldon_path("singleNamespace"), True)

    new, _ = _edit(tmp_path, original, op)
    lines = original.splitlines(keepends=True)
    at = _line_of(lines, "    enabled: false\n", "  usageMetrics:\n") + 1
    assert new == "".join(lines[:at] + ["  singleNamespace: true\n"] + lines[at:])


def test_set_creates_nested_mappings_and_types_values(tmp_path):
    def op(doc):
        vf.set_value(doc, vf.seldon_path("singleNamespace"), vf.parse_scalar("true"))
        vf.set_value(doc, vf.seldon_path("webhook.port"), vf.parse_scalar("4443"))
        vf.set_value(doc, vf.seldon_path("defaultUserID"), vf.parse_scalar('"8888"'))
        vf.set_value(
            doc, vf.seldon_path("manager.annotations.prometheus\\.io/scrape"), vf.parse_scalar("'true'")
        )
        return vf.Edit("", True)

    new, _ = _edit(tmp_path, "seldon-core-operator:\n  enabled: true\n", op)
    assert vf.to_plain(_load(tmp_path, new))["seldon-core-operator"] == {
        "enabled": True,
        "singleNamespace": True,
        "webhook": {"port": 4443},
        "defaultUserID": "8888",
        "manager": {"annotations": {"prometheus.io/scrape": "true"}},
    }


def test_set_through_a_scalar_is_refused(tmp_path):
    path = _write(tmp_path, "v.yaml", "seldon-core-operator:\n  image: seldonio/x:1\n")
    doc = vf.read(path)
    with pytest.raises(
        vf.ValuesFileError, match=r"v.yaml:2: seldon-core-operator.image is a string, not a mapping"
    ):
        vf.set_value(doc, vf.seldon_path("image.tag"), "1.17.1")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True),
        ("yes", True),
        ("off", False),
        ("3", 3),
        ("0.5", 0.5),
        ('"3"', "3"),
        ("'true'", "true"),
        ("null", None),
        ("[a, b]", ["a", "b"]),
        ("1.17.1", "1.17.1"),
        ("2024-01-01", "2024-01-01"),
        ("", ""),
        ("a: b: c", "a: b: c"),
    ],
)
def test_parse_scalar_types_like_helm(text, value):
    assert vf.parse_scalar(text) == value
    assert type(vf.to_plain(vf.parse_scalar(text))) is type(value)  # as Helm reads it back


def test_split_path_escapes_dots():
    assert vf.split_path("a.b\\.c.d") == ["a", "b.c", "d"]
    with pytest.raises(vf.ValuesFileError, match="invalid key path"):
        vf.split_path("a..b")
    assert vf.seldon_path("seldon-core-operator.enabled") == ["seldon-core-operator", "enabled"]


def test_to_plain_reads_yaml11_booleans_but_not_quoted_ones(tmp_path):
    data = _load(tmp_path, "a: yes\nb: 'yes'\nc: Off\nd: null\ne: 2024-01-01\n")
    assert vf.to_plain(data) == {"a": True, "b": "yes", "c": False, "e": "2024-01-01"}


def test_crlf_and_bom_are_kept(tmp_path):
    path = tmp_path / "v.yaml"
    path.write_bytes(
        b"\xef\xbb\xbfspark:\r\n  enabled: true\r\nseldon-core-operator:\r\n  enabled: false\r\n"
    )
    doc = vf.read(path)
    vf.enable(doc)
    vf.write(doc, vf.render(doc), backup=False)
    assert (
        path.read_bytes()
        == b"\xef\xbb\xbfspark:\r\n  enabled: true\r\nseldon-core-operator:\r\n  enabled: true\r\n"
    )


def test_missing_final_newline_is_handled(tmp_path):
    new, _ = _edit(tmp_path, "spark:\n  enabled: true", vf.enable)
    assert new.startswith("spark:\n  enabled: true\n")
    assert vf.to_plain(_load(tmp_path, new))["seldon-core-operator"]["enabled"] is True


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _load(tmp_path: Path, text: str):
    return vf.read(_write(tmp_path, "reload.yaml", text)).data


def test_new_key_goes_before_the_next_sections_comment_and_keeps_end_of_line_comments(tmp_path):
    text = (
        "seldon-core-operator:\n  enabled: true\n  usageMetrics:\n    enabled: false   # as FADI ships it\n"
        "\n## Identity and access\nopenldap:\n  enabled: true\n"
    )

    def op(doc):
        return vf.set_value(doc, vf.seldon_path("manager.logLevel"), "DEBUG")

    new, _ = _edit(tmp_path, text, op)
    assert new == (
        "seldon-core-operator:\n  enabled: true\n  usageMetrics:\n    enabled: false   # as FADI ships it\n"
        "  manager:\n    logLevel: DEBUG\n"
        "\n## Identity and access\nopenldap:\n  enabled: true\n"
    )


def test_editing_through_a_yaml_alias_is_refused(tmp_path):
    path = _write(tmp_path, "v.yaml", "base: &b {enabled: false}\nseldon-core-operator: *b\n")
    with pytest.raises(vf.ValuesFileError, match=r"v.yaml:2: seldon-core-operator is a YAML alias") as err:
        vf.enable(vf.read(path))
    assert err.value.exit_code == 1


def test_merge_keys_get_an_own_value_and_leave_the_anchor_alone(tmp_path):
    text = "base: &b\n  enabled: false\nseldon-core-operator:\n  <<: *b\n"
    new, _ = _edit(tmp_path, text, vf.enable)
    assert new == text + "  enabled: true\n"


def test_a_block_that_is_not_a_mapping_is_refused(tmp_path):
    path = _write(tmp_path, "v.yaml", "spark: {}\nseldon-core-operator: [a]\n")
    with pytest.raises(
        vf.ValuesFileError, match=r"v.yaml:2: seldon-core-operator is a list, expected a mapping"
    ):
        vf.enable(vf.read(path))


@pytest.mark.parametrize(
    ("original", "baseline", "edited", "expected"),
    [
        # a change next to re-indented lines leaves them as the user wrote them
        ("a:\n    b: 1\nc: 2\n", "a:\n  b: 1\nc: 2\n", "a:\n  b: 1\nc: 3\n", "a:\n    b: 1\nc: 3\n"),
        # lines appended after a re-indented block go after it, untouched
        ("a:\n   b: 1\n", "a:\n  b: 1\n", "a:\n  b: 1\nz: 0\n", "a:\n   b: 1\nz: 0\n"),
        # lines inserted before an anchor keep the re-indented lines before them
        (
            "a:\n   b: 1\nc: 2\n",
            "a:\n  b: 1\nc: 2\n",
            "a:\n  b: 1\n  n: 0\nc: 2\n",
            "a:\n   b: 1\n  n: 0\nc: 2\n",
        ),
        # two separate edits, layout differences between and around them kept
        (
            "x: 1\ny:\n    k: v\nz: 2\n",
            "x: 1\ny:\n  k: v\nz: 2\n",
            "x: 9\ny:\n  k: v\nz: 8\n",
            "x: 9\ny:\n    k: v\nz: 8\n",
        ),
        # a change inside re-laid-out lines can only take ruamel's layout for that region
        ("a:\n    b: 1\n", "a:\n  b: 1\n", "a:\n  b: 2\n", "a:\n  b: 2\n"),
    ],
)
def test_carry_over_applies_only_the_edit(original, baseline, edited, expected):
    from fadi_seldon.values import line_patch

    assert line_patch.carry_over(original, baseline, edited) == expected
