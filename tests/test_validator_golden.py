"""`validate` finds exactly what it found before its reader and checks were made fast (issue 29).

tests/data/validate-golden.json holds the findings (document, line, column, rule, severity, path,
message) and counts of the validator as it was, on the conformance corpus, on 400 seeded mutants of
it (the differential test's operations) and on the parser's corner cases; scripts/validate_golden.py
wrote it. Each is checked with libyaml's parser and with PyYAML's pure-Python one (the fallback when
libyaml is missing), and the mutants once more as one file cut into pieces for `--jobs 2`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from pathlib import Path

import pytest

from fadi_seldon.sdep import validator
from fadi_seldon.sdep.validator import loading, parallel

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = json.loads((ROOT / "tests" / "data" / "validate-golden.json").read_text(encoding="utf-8"))


def _script():
    spec = importlib.util.spec_from_file_location("validate_golden", ROOT / "scripts" / "validate_golden.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("validate_golden", module)
    spec.loader.exec_module(module)
    return module


GENERATOR = _script()


@pytest.fixture(params=["libyaml", "python"])
def parser(request, monkeypatch) -> str:
    """Both parsers: libyaml's (the default) and PyYAML's pure-Python fallback."""
    if request.param == "libyaml":
        if not loading.LIBYAML:
            pytest.skip("PyYAML is built without libyaml here")
    else:
        monkeypatch.setattr(loading, "LOADER", loading.PYTHON_LOADER)
    return request.param


def _same_parse(rows: dict, parser: str) -> dict:
    """The pure-Python parser words its syntax errors its own way (same place, same rule)."""
    if parser == "libyaml":
        return rows
    findings = [f[:6] + ["(wording of the parser)"] if f[3] == "yaml-syntax" else f for f in rows["findings"]]
    return {**rows, "findings": findings}


def _mutants() -> str:
    text = GENERATOR.mutants_text(GOLDEN["mutants"]["seed"], GOLDEN["mutants"]["count"])
    if hashlib.sha256(text.encode()).hexdigest() != GOLDEN["mutants"]["sha256"]:
        pytest.fail(
            "the mutants are not those of the golden file (machinery.mutants or the corpus changed): "
            "the validator cannot be compared; regenerate with scripts/validate_golden.py on a validator "
            "known to be right"
        )
    return text


def test_corpus_findings_are_the_golden_ones(conformance_dir: Path, parser: str) -> None:
    found = {
        p.relative_to(conformance_dir).as_posix(): GENERATOR.rows(validator.validate_paths([str(p)]))
        for p in GENERATOR.corpus_files()
    }
    assert found == GOLDEN["corpus"]


def test_mutant_findings_are_the_golden_ones(conformance_dir: Path, parser: str) -> None:
    report = validator.validate_text(_mutants(), source="mutants.yaml")
    expected = {k: v for k, v in GOLDEN["mutants"].items() if k in ("documents", "skipped", "findings")}
    assert GENERATOR.rows(report) == expected


@pytest.mark.parametrize("case", sorted(GENERATOR.EDGE_CASES))
def test_corner_case_findings_are_the_golden_ones(case: str, parser: str) -> None:
    source, text = GENERATOR.EDGE_CASES[case]
    found = GENERATOR.rows(validator.validate_text(text, source=source))
    assert _same_parse(found, parser) == _same_parse(GOLDEN["edge"][case], parser)


def test_mutants_cut_over_two_processes_give_the_golden_findings(
    conformance_dir: Path, tmp_path: Path, monkeypatch
) -> None:
    path = tmp_path / "mutants.yaml"
    path.write_text(_mutants(), encoding="utf-8")
    monkeypatch.setattr(parallel, "MIN_CUT", 4096)  # dozens of pieces from a 300 KB file
    assert len(loading.scan_file(path, parallel.MIN_CUT).cuts) > 20
    report = validator.validate_paths([str(path)], jobs=2)
    rows = GENERATOR.rows(report)
    assert {k: rows[k] for k in ("documents", "skipped")} == {
        k: GOLDEN["mutants"][k] for k in ("documents", "skipped")
    }
    # the golden names the text "mutants.yaml"; here the file has its temporary path
    assert rows["findings"] == GOLDEN["mutants"]["findings"]
    assert all(f.file == str(path) for f in report.findings)
