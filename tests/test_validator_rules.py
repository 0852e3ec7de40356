"""The hand-written corpus of broken manifests: each file states the findings it must produce.

tests/data/invalid/        parseable SeldonDeployments that `kubectl apply` rejects (API server or webhook;
                           k8s-unknown-field: upstream's CRD, ours keeps those types open)
tests/data/failed-later/   manifests the cluster admits and the operator then ends `Failed` on (errors)
tests/data/invalid-input/  files that are not manifests at all (syntax errors, repeated keys, a list)
tests/data/warnings/       manifests the cluster accepts and runs, but that misbehave (warnings)

A file lists `# expect: RULE PATH [LINE]` lines (PATH `-` for findings without a field path); a
JSON file keeps them in `<file>.expect`. Every expected finding must be reported at that path (and
line), and every error reported must be expected: the rule fires where it should and nowhere else.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fadi_seldon.sdep import validator
from fadi_seldon.sdep.validator.findings import RULES

DATA = Path(__file__).parent / "data"
FOLDERS = ("invalid", "failed-later", "invalid-input", "warnings")
CASES = sorted(p for f in FOLDERS for p in (DATA / f).iterdir() if p.suffix in (".yaml", ".yml", ".json"))
INPUT_RULES = {"yaml-syntax", "duplicate-key", "not-a-mapping"}
EXPECT = re.compile(r"^# expect: (\S+) (\S+)(?: (\d+))?\s*$")
# rules about a whole input rather than a manifest's content: covered in test_validator_cli.py
FILE_LEVEL_RULES = {"unreadable"}


def expectations(case: Path) -> list[tuple[str, str, int | None]]:
    source = case.with_name(case.name + ".expect") if case.suffix == ".json" else case
    out = []
    for line in source.read_text(encoding="utf-8").splitlines():
        match = EXPECT.match(line)
        if match:
            rule, path, lineno = match.groups()
            out.append((rule, "" if path == "-" else path, int(lineno) if lineno else None))
    return out


@pytest.mark.parametrize("case", CASES, ids=[f"{c.parent.name}/{c.name}" for c in CASES])
def test_case_reports_exactly_its_expected_findings(case: Path) -> None:
    expected = expectations(case)
    assert expected, f"{case.name} states no `# expect:` line"
    report = validator.validate_paths([str(case)])
    found = {(f.rule, f.path): f for f in report.findings}
    for rule, path, line in expected:
        assert rule in RULES, f"{case.name}: unknown rule id {rule}"
        assert (rule, path) in found, f"{case.name}: expected {rule} at {path or '<document>'}, got " + repr(
            sorted(found)
        )
        finding = found[(rule, path)]
        assert finding.severity == RULES[rule][0]
        if line is not None:
            assert finding.line == line, (
                f"{case.name}: {rule} reported at line {finding.line}, expected {line}"
            )
            assert finding.column > 0
    unexpected = [
        (f.rule, f.path)
        for f in report.findings
        if f.severity == "error" and (f.rule, f.path) not in {(r, p) for r, p, _ in expected}
    ]
    assert not unexpected, f"{case.name}: unexpected errors {unexpected}"


@pytest.mark.parametrize("case", CASES, ids=[f"{c.parent.name}/{c.name}" for c in CASES])
def test_case_is_in_the_folder_of_its_kind(case: Path) -> None:
    rules = {rule for rule, _, _ in expectations(case)}
    errors = {rule for rule in rules if RULES[rule][0] == "error"}
    if case.parent.name == "invalid-input":
        assert rules & INPUT_RULES, f"{case.name}: no input rule: move it to tests/data/invalid"
    elif case.parent.name == "invalid":
        assert errors - validator.FAILED_LATER_RULES and not rules & INPUT_RULES, (
            f"{case.name}: expects no error a cluster would raise at admission"
        )
    elif case.parent.name == "failed-later":
        assert errors and errors <= validator.FAILED_LATER_RULES, (
            f"{case.name}: expects no error the operator's `Failed` state would show"
        )
    else:
        assert not errors, f"{case.name}: expects errors: move it to tests/data/invalid or failed-later"


def test_a_finding_that_predicts_a_refusal_or_failed_is_an_error() -> None:
    """The exit code tells the truth: every rule the operator's `Failed` state confirms is an error,
    and so is every rule stricter than the cluster on purpose."""
    predicted = validator.FAILED_LATER_RULES | validator.STRICTER_THAN_THE_CLUSTER.keys()
    assert predicted <= set(RULES)
    assert {rule for rule in predicted if RULES[rule][0] != "error"} == set()


def test_every_rule_has_a_failing_example() -> None:
    covered = {rule for case in CASES for rule, _, _ in expectations(case)}
    missing = set(RULES) - covered - FILE_LEVEL_RULES
    assert not missing, f"rules without a case in tests/data: {sorted(missing)}"


def test_every_rule_is_documented(repo_root: Path) -> None:
    doc = (repo_root / "docs" / "validation-rules.md").read_text(encoding="utf-8")
    headings = set(re.findall(r"^### `([a-z0-9-]+)`", doc, flags=re.M))
    assert headings == set(RULES), (
        f"undocumented: {sorted(set(RULES) - headings)}; documented but unknown: {sorted(headings - set(RULES))}"
    )
    for rule, (severity, _) in RULES.items():
        section = doc.split(f"### `{rule}`", 1)[1].split("\n### ", 1)[0]
        assert f"Severity: {severity}" in section, f"{rule}: the docs must state severity {severity}"


def test_more_predictors_than_the_crd_allows_is_a_schema_limit():
    """The bound that keeps the CRD's CEL rules within the cost budget (maxItems 64)."""
    from fadi_seldon.sdep import schema

    predictor = {"name": "p", "graph": {"name": "g", "implementation": "SIMPLE_MODEL"}}
    predictors = [{**predictor, "name": f"p{i}", "traffic": 0} for i in range(schema.MAX_PREDICTORS + 1)]
    doc = {"apiVersion": schema.API_VERSIONS[0], "kind": schema.KIND, "metadata": {"name": "m"},
           "spec": {"predictors": predictors}}  # fmt: skip
    found = [(f.rule, f.path) for f in validator.validate_object(doc) if f.rule == "schema-limit"]
    assert found == [("schema-limit", "spec.predictors")]
    doc["spec"]["predictors"] = predictors[: schema.MAX_PREDICTORS]
    assert not [f for f in validator.validate_object(doc) if f.rule == "schema-limit"]
