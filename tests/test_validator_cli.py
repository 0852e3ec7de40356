"""`fadi-seldon validate` as a CI runs it: exit codes, JSON report, stdin, directories, bad inputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fadi_seldon import cli

VALID = """\
apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata:
  name: iris
spec:
  predictors:
  - name: default
    graph:
      name: classifier
      implementation: SKLEARN_SERVER
      modelUri: gs://seldon-models/v1.17.1/sklearn/iris
"""
OTHER_KIND = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n"
WITH_ERROR = VALID.replace("SKLEARN_SERVER", "SKLEARN_SERVER\n      type: MODELL")  # line 11, column 7
UNKNOWN_SERVER = VALID.replace("SKLEARN_SERVER", "LIGHTGBM_SERVER")
WITH_WARNING = VALID.replace("gs://seldon-models/v1.17.1/sklearn/iris", "models/iris")  # model-uri-scheme
WITH_PLACEHOLDER = VALID.replace("name: iris", 'name: "iris-{{workflow.name}}"')  # name-placeholder


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main(["validate", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "ok.yaml").write_text(VALID + "---\n" + OTHER_KIND)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "bad.yml").write_text(WITH_ERROR)
    (tmp_path / "sub" / "notes.txt").write_text("not a manifest, not looked at")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "x.yaml").write_text(WITH_ERROR)
    return tmp_path


def test_valid_file_exits_0(tmp_path: Path, capsys) -> None:
    (tmp_path / "ok.yaml").write_text(VALID)
    code, out, err = run(capsys, str(tmp_path / "ok.yaml"))
    assert code == 0 and out == ""
    assert "1 SeldonDeployment document(s): 0 error(s)" in err


def test_errors_exit_1_with_location(tmp_path: Path, capsys) -> None:
    (tmp_path / "bad.yaml").write_text(WITH_ERROR)
    code, out, _ = run(capsys, str(tmp_path / "bad.yaml"))
    assert code == 1
    assert f"{tmp_path / 'bad.yaml'}:11:7: error [schema-enum] spec.predictors[0].graph.type:" in out


def test_directory_is_walked_recursively_and_other_kinds_skipped(tree: Path, capsys) -> None:
    code, out, _ = run(capsys, "--output", "json", str(tree))
    report = json.loads(out)
    assert code == 1
    assert report["documents"] == 2 and report["skipped"] == 1
    assert {Path(f["file"]).name for f in report["findings"]} == {"bad.yml"}  # .hidden is not entered


def test_helm_chart_templates_are_not_walked(tmp_path: Path, capsys) -> None:
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 0.1.0\n")
    (chart / "templates" / "sdep.yaml").write_text("{{- if .Values.on }}\n" + VALID + "{{- end }}\n")
    (chart / "values.yaml").write_text("on: true\n")
    code, _, err = run(capsys, str(tmp_path))
    assert (
        code == 0 and "0 SeldonDeployment" in err and "2 document(s) of other kinds skipped" in err
    )  # Chart.yaml, values.yaml
    code, out, _ = run(
        capsys, str(chart / "templates" / "sdep.yaml")
    )  # named explicitly: parsed, with a hint
    assert code == 2 and "[yaml-syntax]" in out and "helm template" in out  # unparsable: exit 2


def test_json_shape(tree: Path, capsys) -> None:
    _, out, _ = run(capsys, "-o", "json", str(tree / "sub" / "bad.yml"))
    report = json.loads(out)
    assert set(report) == {"documents", "errors", "warnings", "skipped", "findings"}
    assert report["errors"] == 1 and report["warnings"] == 0
    (finding,) = report["findings"]
    assert set(finding) == {"file", "document", "line", "column", "path", "rule", "severity", "message"}
    assert (finding["document"], finding["line"], finding["column"]) == (1, 11, 7)
    assert finding["rule"] == "schema-enum" and finding["severity"] == "error"


def test_stdin(monkeypatch, capsys) -> None:
    import io

    monkeypatch.setattr(
        sys, "stdin", io.TextIOWrapper(io.BytesIO((OTHER_KIND + "---\n" + WITH_ERROR).encode()))
    )
    code, out, _ = run(capsys, "-o", "json", "-")
    report = json.loads(out)
    assert code == 1
    assert report["findings"][0]["file"] == "<stdin>"
    assert report["findings"][0]["document"] == 2 and report["findings"][0]["line"] == 16


def test_stdin_json_through_a_real_process(repo_root: Path) -> None:
    manifest = {
        "apiVersion": "machinelearning.seldon.io/v1",
        "kind": "SeldonDeployment",
        "metadata": {"name": "iris"},
        "spec": {"predictors": [{"name": "p", "traffic": "100", "graph": {"name": "m", "type": "MODEL"}}]},
    }
    text = json.dumps(manifest, indent=1)
    proc = subprocess.run(
        [sys.executable, "-m", "fadi_seldon", "validate", "-o", "json", "-"],
        input=text,
        capture_output=True,
        text=True,
        cwd=repo_root,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    rules = {(f["rule"], f["path"]) for f in json.loads(proc.stdout)["findings"]}
    assert ("schema-type", "spec.predictors[0].traffic") in rules
    assert "Traceback" not in proc.stderr


def test_warnings_pass_unless_strict(tmp_path: Path, capsys) -> None:
    (tmp_path / "w.yaml").write_text(WITH_WARNING)
    code, out, _ = run(capsys, str(tmp_path / "w.yaml"))
    assert code == 0 and "warning [model-uri-scheme]" in out
    code, _, _ = run(capsys, "--strict", str(tmp_path / "w.yaml"))
    assert code == 1


def test_a_finding_that_predicts_failed_exits_1(repo_root: Path, capsys) -> None:
    """Admitted, then the operator ends `Failed` (a volumeMount naming no volume): the exit code says so."""
    code, out, _ = run(capsys, str(repo_root / "tests" / "data" / "failed-later" / "pod_volume_mount.yaml"))
    assert code == 1 and "error [pod-volume-mount]" in out


def test_a_template_placeholder_in_the_name_is_named(tmp_path: Path, capsys) -> None:
    (tmp_path / "t.yaml").write_text(WITH_PLACEHOLDER)
    code, out, _ = run(capsys, str(tmp_path / "t.yaml"))
    assert code == 0 and "warning [name-placeholder]" in out and "'{{workflow.name}}'" in out
    (tmp_path / "t.yaml").write_text(WITH_PLACEHOLDER.replace('"iris-', '"Iris_'))
    code, out, _ = run(capsys, str(tmp_path / "t.yaml"))
    assert code == 1 and "error [metadata-name]" in out and "whatever its placeholders become" in out


def test_servers_file_declares_custom_servers(tmp_path: Path, capsys) -> None:
    (tmp_path / "w.yaml").write_text(UNKNOWN_SERVER)
    code, out, _ = run(capsys, str(tmp_path / "w.yaml"))
    assert code == 1 and "error [unknown-server]" in out
    (tmp_path / "values.yaml").write_text("predictor_servers:\n  LIGHTGBM_SERVER:\n    protocols: {}\n")
    code, out, _ = run(
        capsys, "--strict", "--servers", str(tmp_path / "values.yaml"), str(tmp_path / "w.yaml")
    )
    assert code == 0 and out == ""


def test_values_file_adds_servers_to_the_chart_defaults(tmp_path: Path, capsys) -> None:
    (tmp_path / "w.yaml").write_text(UNKNOWN_SERVER + "---\n" + VALID)
    fadi = "seldon-core-operator:\n  enabled: true\n  predictor_servers:\n    LIGHTGBM_SERVER:\n      protocols: {}\n"
    (tmp_path / "fadi.yaml").write_text(fadi)
    code, out, _ = run(capsys, "--strict", "--values", str(tmp_path / "fadi.yaml"), str(tmp_path / "w.yaml"))
    assert code == 0 and out == ""  # LIGHTGBM_SERVER added, SKLEARN_SERVER still there (merged, not replaced)
    (tmp_path / "operator.yaml").write_text("predictor_servers:\n  SKLEARN_SERVER: null\n")
    code, out, _ = run(
        capsys, "--values", str(tmp_path / "operator.yaml"), "-o", "json", str(tmp_path / "w.yaml")
    )
    found = [(f["rule"], f["message"].split(" (")[0]) for f in json.loads(out)["findings"]]
    assert found == [
        ("unknown-server", "No entry in predictors map for LIGHTGBM_SERVER"),
        ("unknown-server", "No entry in predictors map for SKLEARN_SERVER"),
    ]


def test_bad_values_file_is_a_usage_error(tmp_path: Path, capsys) -> None:
    (tmp_path / "v.yaml").write_text("predictor_servers: [LIGHTGBM_SERVER]\n")
    code, _, err = run(capsys, "--values", str(tmp_path / "v.yaml"), str(tmp_path))
    assert code == 2 and "--values" in err and "v.yaml" in err and "must be a mapping" in err
    code, _, err = run(capsys, "--values", str(tmp_path / "missing.yaml"), str(tmp_path))
    assert code == 2 and "missing.yaml" in err


def test_values_and_servers_exclude_each_other(tmp_path: Path, capsys) -> None:
    (tmp_path / "v.yaml").write_text("{}\n")
    with pytest.raises(SystemExit) as info:
        run(
            capsys, "--values", str(tmp_path / "v.yaml"), "--servers", str(tmp_path / "v.yaml"), str(tmp_path)
        )
    assert info.value.code == 2


def test_bad_servers_file_is_a_usage_error(tmp_path: Path, capsys) -> None:
    (tmp_path / "s.yaml").write_text("42\n")
    code, _, err = run(capsys, "--servers", str(tmp_path / "s.yaml"), str(tmp_path))
    assert code == 2 and "--servers" in err and "s.yaml" in err


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("model.bin", b"\x00\x01binary\x00", "binary file"),
        ("latin1.yaml", "name: caf\xe9\n".encode("latin-1"), "not UTF-8"),
    ],
)
def test_unreadable_inputs_exit_2(tmp_path: Path, capsys, name: str, content: bytes, reason: str) -> None:
    (tmp_path / name).write_bytes(content)
    code, out, _ = run(capsys, str(tmp_path / name))
    assert code == 2
    assert "error [unreadable]" in out and reason in out


def test_missing_path_exits_2_even_with_other_errors(tmp_path: Path, capsys) -> None:
    (tmp_path / "bad.yaml").write_text(WITH_ERROR)
    code, out, _ = run(capsys, str(tmp_path / "bad.yaml"), str(tmp_path / "missing.yaml"))
    assert code == 2
    assert "no such file or directory" in out and "[schema-enum]" in out


def test_text_that_is_not_yaml_is_unreadable_input_with_its_line(tmp_path: Path, capsys) -> None:
    """A finding names the line; the exit code is 2 (unreadable input), as for every command."""
    (tmp_path / "README.yaml").write_text("This is prose: it has a colon: and {braces\n")
    code, out, _ = run(capsys, str(tmp_path / "README.yaml"))
    assert code == 2 and "[yaml-syntax]" in out and ":1:" in out


def test_a_syntax_error_exits_2_even_beside_valid_files(tmp_path: Path, capsys) -> None:
    (tmp_path / "ok.yaml").write_text(VALID)
    (tmp_path / "tabs.yaml").write_text("a: 1\n\tb: 2\n")
    code, out, _ = run(capsys, str(tmp_path / "ok.yaml"), str(tmp_path / "tabs.yaml"))
    assert code == 2 and "tabs.yaml:2:1:" in out and "spaces only" in out


def test_scalar_document_is_a_finding(tmp_path: Path, capsys) -> None:
    (tmp_path / "s.yaml").write_text("just a sentence\n")
    code, out, _ = run(capsys, str(tmp_path / "s.yaml"))
    assert code == 1 and "[not-a-mapping]" in out


def test_kind_list_items_are_checked(tmp_path: Path, capsys) -> None:
    items = "\n".join("  " + line for line in ("- " + WITH_ERROR.replace("\n", "\n  ")).splitlines())
    (tmp_path / "list.yaml").write_text("apiVersion: v1\nkind: List\nitems:\n" + items + "\n")
    code, out, _ = run(capsys, "-o", "json", str(tmp_path / "list.yaml"))
    report = json.loads(out)
    assert code == 1 and report["documents"] == 1
    (finding,) = report["findings"]
    assert finding["path"] == "items[0].spec.predictors[0].graph.type" and finding["line"] == 14


def test_usage_error_exits_2(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["validate"])
    assert exc.value.code == 2


def test_help_documents_exit_codes(capsys) -> None:
    with pytest.raises(SystemExit):
        cli.main(["validate", "--help"])
    assert "exit codes" in capsys.readouterr().out
