"""`validate` reads as it checks (flat memory) and `--jobs N` cuts files without changing a finding."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fadi_seldon import cli
from fadi_seldon.sdep import validator
from fadi_seldon.sdep.validator import loading, parallel

DOC = """\
apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata:
  name: m{i}
spec:
  predictors:
  - name: default
    replicas: {replicas}
    graph:
      name: classifier
      type: MODEL
    componentSpecs:
    - spec:
        containers:
        - name: classifier
          image: seldonio/mock_classifier:1.0
"""


def _docs(count: int, start: int = 0) -> str:
    """Documents with an error every third one (replicas: x) and another every fifth (a bad predictor name,
    invalid-name: the operator fails later)."""
    out = []
    for i in range(start, start + count):
        text = DOC.format(i=i, replicas="x" if i % 3 == 0 else 1)
        out.append(text.replace("name: default", "name: Bad_Name") if i % 5 == 0 else text)
    return "---\n" + "---\n".join(out)


@pytest.fixture
def inputs(tmp_path: Path) -> list[str]:
    """Several files: large ones to cut (a syntax error in the middle of one, a duplicate key, a byte
    order mark, CRLF line ends), another kind, JSON, a file that cannot be read."""
    big = tmp_path / "big.yaml"
    big.write_text(_docs(300), encoding="utf-8")
    broken = tmp_path / "broken.yaml"
    broken.write_text(_docs(100) + "---\nspec: [a, b\n---\n" + _docs(100, 100), encoding="utf-8")
    dup = tmp_path / "dup.yaml"
    dup.write_text(
        _docs(50) + "---\n" + DOC.format(i=1, replicas=1).replace("    graph:", "    replicas: 2\n    graph:")
    )
    bom = tmp_path / "bom.yaml"
    bom.write_bytes(b"\xef\xbb\xbf" + _docs(60).encode())
    crlf = tmp_path / "crlf.yaml"
    crlf.write_bytes(_docs(60).replace("\n", "\r\n").encode())
    (tmp_path / "other.yaml").write_text("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n")
    (tmp_path / "one.json").write_text(json.dumps({"kind": "SeldonDeployment", "spec": {"predictors": 3}}))
    (tmp_path / "binary.yaml").write_bytes(b"\x00\x01\x02")
    return [str(p) for p in (big, broken, dup, bom, crlf)] + [str(tmp_path)]


def _run(capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main(["validate", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_jobs_print_what_one_process_prints(inputs: list[str], capsys, monkeypatch, fmt: str) -> None:
    monkeypatch.setattr(parallel, "MIN_CUT", 2048)  # many pieces from files of tens of KB
    one = _run(capsys, "-o", fmt, *inputs)
    assert one[0] == 2  # a syntax error and an unreadable file
    assert one[1].count("\n") > 100
    assert _run(capsys, "-o", fmt, "--jobs", "2", *inputs) == one
    assert _run(capsys, "-o", fmt, "--jobs", "3", *inputs) == one


def test_the_files_were_cut(inputs: list[str]) -> None:
    for name in inputs[:5]:
        assert len(loading.scan_file(Path(name), 2048).cuts) > 3, name


def test_a_syntax_error_stops_its_file_once(inputs: list[str], monkeypatch) -> None:
    """The error is in one piece; the pieces after it are not reported (one process stops there)."""
    monkeypatch.setattr(parallel, "MIN_CUT", 2048)
    broken = inputs[1]
    report = validator.validate_paths([broken], jobs=2)
    assert report == validator.validate_paths([broken])
    syntax = [f for f in report.findings if f.rule == "yaml-syntax"]
    assert len(syntax) == 1 and syntax[0].document == 101
    assert max(f.document for f in report.findings) == 101
    assert report.documents == 100


def test_bad_jobs_value_is_a_usage_error(tmp_path: Path, capsys) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(_docs(1))
    for value in ("-1", "two"):
        with pytest.raises(SystemExit) as exit_info:
            cli.main(["validate", "--jobs", value, str(path)])
        assert exit_info.value.code == 2
        assert "--jobs" in capsys.readouterr().err


def _document_starts(data: bytes, every: int) -> list[tuple[int, int]]:
    cuts, last = [], 0
    for match in re.finditer(rb"^---(?=[ \t\r\n]|\Z)", data, re.M):
        if match.start() - last >= every:
            cuts.append((match.start(), data.count(b"\n", 0, match.start())))
            last = match.start()
    return cuts


@pytest.mark.parametrize("block", [7, 100, 4096, 1 << 20])
def test_cut_points_are_document_starts_with_their_lines(tmp_path: Path, monkeypatch, block: int) -> None:
    """Read in blocks of any size, the cuts are the `---` lines, `every` bytes apart at least."""
    monkeypatch.setattr(loading, "_BLOCK", block)
    path = tmp_path / "m.yaml"
    data = (_docs(40) + "----\nx: 1\n--- |\n  text\n---\t# c\n---").encode()
    path.write_bytes(data)
    for every in (1, 500, 3000):
        assert loading.scan_file(path, every).cuts == _document_starts(data, every)


@pytest.mark.parametrize(
    "text",
    ["a: 1\r---\r", "%YAML 1.1\n---\na: 1\n---\nb: 2\n", "a: 1\n---\nb: \u2028\n---\n", "a: \x85\n---\n"],
)
def test_files_whose_lines_libyaml_counts_otherwise_are_not_cut(tmp_path: Path, text: str) -> None:
    path = tmp_path / "m.yaml"
    path.write_bytes(text.encode())
    assert loading.scan_file(path, 1).cuts == []


def test_documents_are_checked_as_they_are_read(tmp_path: Path) -> None:
    """The first part of the report comes before the parser reaches the error at the end."""
    path = tmp_path / "m.yaml"
    path.write_text(_docs(validator.BATCH + 10) + "---\nspec: [a\n")
    parts = validator.stream_paths([str(path)])
    first = next(parts)
    assert first.documents == validator.BATCH and first.errors > 0
    assert all(f.rule != "yaml-syntax" for f in first.findings)
    assert any(f.rule == "yaml-syntax" for part in parts for f in part.findings)


def test_memory_stays_flat_with_input_size(tmp_path: Path) -> None:
    """14,000 documents (4.5 MB) in less than 100 MB: reading and composing the file whole took about
    200 MB for this one, and grew with it (600 MB for 13 MB)."""
    path = tmp_path / "big.yaml"
    chunk = _docs(1000)
    with path.open("w", encoding="utf-8") as out:
        for _ in range(14):
            out.write(chunk)
    # VmHWM, the peak of this process's own memory: getrusage's ru_maxrss also counts the parent's
    # resident size, which a vfork()ed child inherits at exec (the whole pytest process, here)
    code = (
        "import re, sys; from fadi_seldon.sdep import validator; "
        "r = validator.Report(); [r.merge(p, keep=False) for p in validator.stream_paths([sys.argv[1]])]; "
        "hwm = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1); "
        "print(r.documents, int(hwm) // 1024)"
    )
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    documents, peak_mb = map(int, done.stdout.split())
    assert documents == 14_000
    assert peak_mb < 100, f"{peak_mb} MB for a {path.stat().st_size // 2**20} MB file"
