"""chart_docs: the README parameter table comes from values.yaml comments and misses no key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from fadi_seldon.dev import chart_docs
from fadi_seldon.dev.generate import generators

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "seldon-core-operator"


def _chart(tmp_path: Path, values: str, readme_in: str | None = None) -> Path:
    (tmp_path / "Chart.yaml").write_text("apiVersion: v2\nname: demo\ndescription: A demo.\nversion: 1.0.0\n")
    (tmp_path / "values.yaml").write_text(textwrap.dedent(values))
    if readme_in is not None:
        (tmp_path / "README.md.in").write_text(readme_in)
    return tmp_path


def test_rows_sections_and_collapsed_maps(tmp_path):
    chart = _chart(
        tmp_path,
        """\
        # -- Replicas of the thing.
        replicas: 1
        image:
          # -- Repository, with a | pipe.
          repository: nginx
          # -- Tag; empty means
          # the appVersion.
          tag: ""
        # -- Resources as one object.
        resources:
          limits:
            cpu: 1
        # -- Extra labels.
        labels: {}
        """,
    )
    rows = {p.path: p for p in chart_docs.parameters(chart / "values.yaml")}
    assert list(rows) == ["replicas", "image.repository", "image.tag", "resources", "labels"]
    assert rows["image.tag"].description == "Tag; empty means the appVersion."
    assert rows["resources"].default == '`{"limits":{"cpu":1}}`'
    assert rows["replicas"].type == "int" and rows["labels"].type == "object"
    table = chart_docs.parameter_table(chart / "values.yaml")
    assert '| `image.repository` | string | `"nginx"` | Repository, with a \\| pipe. |' in table


def test_an_undocumented_key_is_an_error(tmp_path):
    chart = _chart(tmp_path, "# -- Documented.\na: 1\nb: 2\nsection:\n  # -- Inner.\n  c: 3\n  d: 4\n")
    with pytest.raises(chart_docs.ValuesDocError, match=r"undocumented keys .*: b, section\.d"):
        chart_docs.parameters(chart / "values.yaml")


def test_block_scalars_and_lists_do_not_confuse_the_scanner(tmp_path):
    chart = _chart(
        tmp_path,
        """\
        # -- A script.
        script: |
          key: not-a-key
          other: value
        # -- A list.
        items:
          - name: x
            value: y
        # -- After the list.
        after: true
        """,
    )
    assert [p.path for p in chart_docs.parameters(chart / "values.yaml")] == ["script", "items", "after"]


def test_readme_template_placeholder(tmp_path):
    chart = _chart(tmp_path, "# -- A.\na: 1\n", "# Title\n\nIntro.\n\n<!-- parameters -->\n\nOutro.\n")
    readme = chart_docs.render_readme(chart)
    assert readme.startswith(chart_docs.GENERATED_NOTE)
    assert "Intro.\n\n| Key | Type | Default | Description |" in readme and readme.endswith("Outro.\n")
    (chart / "README.md.in").write_text("# No placeholder\n")
    with pytest.raises(chart_docs.ValuesDocError, match="parameters"):
        chart_docs.render_readme(chart)


def test_default_page_without_template(tmp_path):
    chart = _chart(tmp_path, "# -- A.\na: 1\n")
    readme = chart_docs.render_readme(chart)
    assert "# demo\n\nA demo." in readme and "| `a` | int | `1` | A. |" in readme


def test_operator_readme_is_registered_current_and_complete():
    rel = "charts/seldon-core-operator/README.md"
    assert rel in generators()
    assert (ROOT / rel).read_text() == generators()[rel](ROOT)
    rows = chart_docs.parameters(CHART / "values.yaml")
    paths = {r.path for r in rows}
    assert {
        "webhook.url",
        "watchNamespaces",
        "crd.keep",
        "predictor_servers",
        "manager.livenessProbe",
    } <= paths
    assert all(r.description for r in rows)
