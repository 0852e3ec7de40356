"""chart_docs: the README parameter table comes from values.yaml comments and misses no key."""

from __future__ import annotations

import json
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


# values.schema.json: descriptions from the same comments, constraints by hand

SCHEMA_DEMO = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "global": {"type": "object", "description": "Hand-written: no values key."},
        "image": {
            "type": "object",
            "additionalProperties": False,
            "required": ["tag"],
            "properties": {
                "tag": {"type": "string", "description": "stale", "pattern": "^[a-z0-9.]*$", "maxLength": 9},
                "pullPolicy": {"enum": ["Always", "IfNotPresent"]},
            },
            "description": "old section text",
        },
        "servers": {
            "type": "object",
            "description": "stale",
            "additionalProperties": {"type": "object", "description": "user data, not a values key"},
        },
    },
}
VALUES_DEMO = """\
# -- Image of the thing.
image:
  # -- Tag; empty means
  # the appVersion.
  tag: ""
  # -- Pull policy.
  pullPolicy: Always
# -- Servers by name.
servers: {}
"""


def _schema_chart(tmp_path: Path, values: str = VALUES_DEMO, schema: dict | None = None) -> Path:
    chart = _chart(tmp_path, values)
    (chart / "values.schema.json").write_text(chart_docs.render_json(schema or SCHEMA_DEMO))
    return chart


def _strip_descriptions(node):
    if isinstance(node, dict):
        return {k: _strip_descriptions(v) for k, v in node.items() if k != "description"}
    if isinstance(node, list):
        return [_strip_descriptions(v) for v in node]
    return node


def test_schema_descriptions_come_from_the_comments_and_nothing_else_changes(tmp_path, monkeypatch):
    chart = _schema_chart(tmp_path)
    monkeypatch.setitem(chart_docs.SCHEMA_ONLY_PROPERTIES, chart.name, {"global": "set by Helm"})
    text = chart_docs.render_schema(chart)
    schema = json.loads(text)
    props = schema["properties"]
    assert props["image"]["description"] == "Image of the thing."
    assert props["image"]["properties"]["tag"]["description"] == "Tag; empty means the appVersion."
    assert props["image"]["properties"]["pullPolicy"] == {
        "enum": ["Always", "IfNotPresent"],
        "description": "Pull policy.",
    }
    assert props["servers"]["description"] == "Servers by name."
    # exempt and non-property descriptions stay as written
    assert props["global"]["description"] == "Hand-written: no values key."
    assert props["servers"]["additionalProperties"]["description"] == "user data, not a values key"
    # constraints and key order untouched, the file formatted like the committed ones
    assert json.dumps(_strip_descriptions(schema)) == json.dumps(_strip_descriptions(SCHEMA_DEMO))
    assert list(props["image"]["properties"]["tag"]) == ["type", "description", "pattern", "maxLength"]
    assert text == json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
    # a second run changes nothing
    (chart / "values.schema.json").write_text(text)
    assert chart_docs.render_schema(chart) == text


@pytest.mark.parametrize(
    ("values", "exempt", "message"),
    [
        # a schema property without a comment (no exemption for `global` here)
        (VALUES_DEMO, {}, r"schema properties without a `# --` comment in values\.yaml: global$"),
        # a nested one is named by its full path
        (
            VALUES_DEMO.replace("  # -- Pull policy.\n", ""),
            {"global": "x"},
            r"comment in values\.yaml: image\.pullPolicy$",
        ),
        # a comment of a key the schema does not have
        (
            VALUES_DEMO + "# -- Not in the schema.\nextra: 1\n",
            {"global": "x"},
            r"not schema properties: extra$",
        ),
        # an exemption that no longer matches a property
        (
            VALUES_DEMO,
            {"global": "x", "image.gone": "y"},
            r"exempted keys that are not schema properties: image\.gone$",
        ),
    ],
)
def test_schema_and_comments_must_match_key_for_key(tmp_path, monkeypatch, values, exempt, message):
    chart = _schema_chart(tmp_path, values)
    monkeypatch.setitem(chart_docs.SCHEMA_ONLY_PROPERTIES, chart.name, exempt)
    with pytest.raises(chart_docs.ValuesDocError, match=message):
        chart_docs.render_schema(chart)


def test_operator_schema_descriptions_are_the_values_comments():
    """Fails when a description of values.schema.json differs from the `# --` comment of its key."""
    rel = "charts/seldon-core-operator/values.schema.json"
    assert rel in generators()
    schema = json.loads((ROOT / rel).read_text())
    docs = chart_docs.comments(CHART / "values.yaml")
    exempt = chart_docs.SCHEMA_ONLY_PROPERTIES["seldon-core-operator"]
    differing = {}
    for path, node in chart_docs.schema_properties(schema):
        dotted = ".".join(path)
        if dotted in exempt:
            assert path not in docs, f"{dotted} is exempt but has a comment: drop the exemption"
            continue
        if node.get("description") != docs.get(path):
            differing[dotted] = (node.get("description"), docs.get(path))
    assert differing == {}, "run `make generate`: " + json.dumps(differing, indent=1)[:3000]
    # every comment reaches the schema: sections and leaves alike
    described = {p for p, _ in chart_docs.schema_properties(schema)}
    assert set(docs) <= described
    assert {("webhook",), ("webhook", "tls"), ("webhook", "tls", "validityDays")} <= set(docs)
    assert (ROOT / rel).read_text() == generators()[rel](ROOT)


def test_umbrella_schema_describes_its_own_keys_from_fadi_values():
    schema = json.loads((ROOT / "fadi" / "values.schema.json").read_text())
    docs = chart_docs.comments(ROOT / "fadi" / "values.yaml")
    operator = schema["properties"]["seldon-core-operator"]
    assert schema["properties"]["global"]["description"] == docs[("global",)]
    assert operator["properties"]["enabled"]["description"] == docs[("seldon-core-operator", "enabled")]
    # where fadi/values.yaml documents a key of the service, its comment wins
    key = ("seldon-core-operator", "usageMetrics", "enabled")
    assert operator["properties"]["usageMetrics"]["properties"]["enabled"]["description"] == docs[key]
    # the other keys keep the operator chart's descriptions, i.e. its values.yaml comments
    operator_docs = chart_docs.comments(CHART / "values.yaml")
    assert (
        operator["properties"]["webhook"]["properties"]["url"]["description"]
        == operator_docs[("webhook", "url")]
    )


def test_umbrella_schema_refuses_an_undocumented_service_switch(tmp_path):
    from fadi_seldon.dev import umbrella_schema

    (tmp_path / "fadi").mkdir()
    (tmp_path / "fadi" / "Chart.yaml").write_text(
        "apiVersion: v2\nname: fadi\nversion: 0.1.0\ndependencies:\n"
        "  - name: svc\n    version: 1.0.0\n    repository: file://../charts/svc\n    condition: svc.enabled\n"
    )
    (tmp_path / "fadi" / "values.yaml").write_text("# -- Shared.\nglobal: {}\nsvc:\n  enabled: false\n")
    with pytest.raises(
        chart_docs.ValuesDocError, match=r"without a `# --` comment in values\.yaml: svc\.enabled$"
    ):
        umbrella_schema.render(tmp_path)
    (tmp_path / "fadi" / "values.yaml").write_text(
        "# -- Shared.\nglobal: {}\nsvc:\n  # -- Install svc.\n  enabled: false\n  # -- No such key.\n  tpyo: 1\n"
    )
    with pytest.raises(chart_docs.ValuesDocError, match=r"not schema properties: svc\.tpyo$"):
        umbrella_schema.render(tmp_path)
    (tmp_path / "fadi" / "values.yaml").write_text(
        "# -- Shared.\nglobal: {}\nsvc:\n  # -- Install svc.\n  enabled: false\n"
    )
    schema = json.loads(umbrella_schema.render(tmp_path))
    assert schema["properties"]["svc"]["properties"]["enabled"]["description"] == "Install svc."


def test_generate_writes_until_nothing_is_stale_and_keeps_file_modes(tmp_path, monkeypatch):
    from fadi_seldon.dev import generate

    (tmp_path / "first.txt").write_text("old\n")
    (tmp_path / "first.txt").chmod(0o755)

    def first(root: Path) -> str:
        return "new\n"

    def second(root: Path) -> str:  # reads the other generator's output, listed before it
        return "copy of " + (root / "first.txt").read_text()

    monkeypatch.setattr(generate, "generators", lambda: {"second.txt": second, "first.txt": first})
    assert generate.write(tmp_path) == ["second.txt", "first.txt", "second.txt"]
    assert (tmp_path / "second.txt").read_text() == "copy of new\n"
    assert (tmp_path / "first.txt").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "second.txt").stat().st_mode & 0o777 == 0o644
    assert generate.write(tmp_path) == [] and generate.stale(tmp_path) == {}
