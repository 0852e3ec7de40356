#!/usr/bin/env python3
"""Write tests/data/validate-golden.json: what `validate` finds on fixed inputs, to keep it that way.

`tests/test_validator_golden.py` checks that the findings (document, line, column, rule, severity,
path, message) and the document counts stay the same on three sets of inputs that do not depend on
the checkout, so that a change of how manifests are read (parser, streaming, `--jobs`) or of how the
checks are computed (caches) can be shown to change nothing:

- every file of the conformance corpus (../shared/conformance, upstream's own manifests);
- the differential test's kind of mutants (machinery.mutants, pod-level operations on),
  seeded from the corpus's valid files only (not examples/, which the checkout changes), with a fixed
  seed and count, dumped as one multi-document YAML file; the golden keeps the text's sha256, so a
  changed generator or corpus is told apart from a changed validator;
- the parser's corner cases written below (tags, anchors, merge keys, duplicate keys, syntax errors
  in a later document, JSON): the inputs a faster reader is most likely to get wrong.

Run it only when a change of findings is intended (and say why in the commit):
    .venv/bin/python scripts/validate_golden.py
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))  # the test machinery (tests/machinery)

from fadi_seldon.sdep import validator  # noqa: E402
from machinery import mutants  # noqa: E402

CORPUS = ROOT.parent / "shared" / "conformance"
GOLDEN = ROOT / "tests" / "data" / "validate-golden.json"
SEED = 2026
COUNT = 400

_HEAD = "apiVersion: machinelearning.seldon.io/v1\nkind: SeldonDeployment\nmetadata:\n  name: m\n"
_GRAPH = (
    "spec:\n  predictors:\n  - name: default\n    graph:\n      name: classifier\n      type: MODEL\n"
    "    componentSpecs:\n    - spec:\n        containers:\n        - name: classifier\n"
    "          image: seldonio/mock_classifier:1.0\n"
)
# name -> (source name, text): the reader's corner cases
EDGE_CASES: dict[str, tuple[str, str]] = {
    "plain": ("plain.yaml", _HEAD + _GRAPH),
    "scalars": (
        "scalars.yaml",
        _HEAD + _GRAPH + "    replicas: 0x10\n    traffic: 1_0\n  annotations:\n    a: yes\n    b: ~\n"
        "    c: 1.5e3\n    d: 2001-12-14\n    e: .inf\n    f: 0o17\n    g: 1:30\n    h: 'yes'\n",
    ),
    "explicit-tags": (
        "tags.yaml",
        _HEAD + _GRAPH + "    replicas: !!int '3'\n    traffic: !!str 100\n  annotations: !!map\n"
        "    a: !!str true\n    b: !!float 1\n    c: !!timestamp 2001-12-14\n    d: !!binary aGk=\n",
    ),
    "unknown-tag": ("tag.yaml", _HEAD + _GRAPH + "    replicas: !custom 3\n"),
    "anchors": (
        "anchors.yaml",
        _HEAD + "spec:\n  predictors:\n  - name: a\n    traffic: 50\n    graph: &g\n      name: classifier\n"
        "      type: MODEL\n    componentSpecs: &c\n    - spec:\n        containers:\n        - name: classifier\n"
        "          image: x:1\n  - name: b\n    traffic: 50\n    graph: *g\n    componentSpecs: *c\n",
    ),
    "merge-key": (
        "merge.yaml",
        _HEAD + "spec:\n  predictors:\n  - &p\n    name: a\n    graph:\n      name: classifier\n"
        "      type: MODEL\n    componentSpecs:\n    - spec:\n        containers:\n        - name: classifier\n"
        "          image: x:1\n  - <<: *p\n    name: b\n    graph:\n      name: classifier\n      nope: 1\n",
    ),
    "duplicate-keys": (
        "dup.yaml",
        _HEAD + _GRAPH + "    replicas: 1\n    replicas: 2\n  annotations:\n    1: a\n    '1': b\n"
        "    ~: c\n    null: d\n---\n" + _HEAD + "metadata:\n  name: n\n" + _GRAPH,
    ),
    "duplicate-with-quoted-merge": (
        "dupmerge.yaml",
        _HEAD + _GRAPH + "  annotations:\n    '<<': a\n    '<<': b\n",
    ),
    "unhashable-key": ("unhashable.yaml", _HEAD + _GRAPH + "  annotations:\n    ? [a, b]\n    : c\n"),
    "value-key": ("value.yaml", _HEAD + _GRAPH + "  annotations:\n    =: a\n"),
    "syntax-in-third": (
        "third.yaml",
        _HEAD
        + _GRAPH
        + "    replicas: x\n---\n"
        + _HEAD
        + _GRAPH
        + "---\n"
        + _HEAD
        + "spec: [a, b\n---\n"
        + _HEAD,
    ),
    "syntax-tab": ("tab.yaml", _HEAD + "spec:\n\tpredictors: []\n"),
    "helm-template": ("helm.yaml", _HEAD + _GRAPH + "---\n" + _HEAD + "  labels: {{ .Values.x }}\n"),
    "empty-documents": ("empty.yaml", "---\n---\n" + _HEAD + _GRAPH + "---\n...\n---\n# only a comment\n"),
    "end-markers": ("end.yaml", _HEAD + _GRAPH + "...\n" + _HEAD + "spec: 3\n...\n"),
    "kind-list": (
        "list.yaml",
        "apiVersion: v1\nkind: List\nitems:\n- "
        + (_HEAD + _GRAPH).replace("\n", "\n  ").rstrip()
        + "\n- 3\n",
    ),
    "not-mappings": ("scalars-doc.yaml", "- a\n---\n3\n---\nnull\n---\n" + _HEAD + "spec: []\n"),
    "other-kinds": (
        "kinds.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n---\n" + _HEAD + _GRAPH,
    ),
    "crlf": ("crlf.yaml", (_HEAD + _GRAPH + "    replicas: x\n").replace("\n", "\r\n")),
    "directive": ("directive.yaml", "%YAML 1.1\n---\n" + _HEAD + _GRAPH + "    replicas: x\n"),
    "flow-style": (
        "flow.yaml",
        '{"apiVersion": "machinelearning.seldon.io/v1", "kind": "SeldonDeployment", "metadata": {"name": "f"},'
        ' "spec": {"predictors": [{"name": "p", "graph": {"name": "c", "type": "MODLE"}}]}}\n',
    ),
    "json-object": (
        "object.json",
        '{\n\t"apiVersion": "machinelearning.seldon.io/v1",\n\t"kind": "SeldonDeployment",\n'
        '\t"metadata": {"name": "j"},\n\t"spec": {"predictors": [{"name": "p", "replicas": "2",\n'
        '\t\t"graph": {"name": "c", "type": "MODEL", "type": "ROUTER"}}]}\n}\n',
    ),
    "json-syntax": ("broken.json", '{"kind": "SeldonDeployment",\n "spec": [1, 2,]\n}\n'),
}


def rows(report: validator.Report) -> dict:
    """A report as plain data: counts, and one list per finding."""
    return {
        "documents": report.documents,
        "skipped": report.skipped,
        "findings": [
            [f.document, f.line, f.column, f.rule, f.severity, f.path, f.message] for f in report.findings
        ],
    }


def corpus_files() -> list[Path]:
    return sorted(p for p in CORPUS.rglob("*") if p.suffix in (".yaml", ".yml", ".json"))


def mutants_text(seed: int = SEED, count: int = COUNT) -> str:
    """The mutants as one multi-document YAML file (seeded from the corpus's valid files only)."""
    seeds = mutants.seeds_from(sorted(p for p in (CORPUS / "valid").iterdir() if p.is_file()))
    docs = [yaml.safe_dump(m, sort_keys=False) for _, m, _ in mutants.mutants(seeds, count, seed, pods=True)]
    return "---\n" + "---\n".join(docs)


def golden() -> dict:
    text = mutants_text()
    return {
        "corpus": {
            p.relative_to(CORPUS).as_posix(): rows(validator.validate_paths([str(p)])) for p in corpus_files()
        },
        "mutants": {
            "seed": SEED,
            "count": COUNT,
            "sha256": hashlib.sha256(text.encode()).hexdigest(),
            **rows(validator.validate_text(text, source="mutants.yaml")),
        },
        "edge": {
            name: rows(validator.validate_text(text, source=src)) for name, (src, text) in EDGE_CASES.items()
        },
    }


def dumps(value: object, indent: int = 0) -> str:
    """Indented JSON with one finding per line, so that a change reads as a short diff."""
    pad = " " * indent
    if isinstance(value, dict):
        items = [f"{pad} {json.dumps(k)}: {dumps(v, indent + 1).lstrip()}" for k, v in sorted(value.items())]
        return pad + "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list) and value:
        rows = [f"{pad} {json.dumps(row, ensure_ascii=False)}" for row in value]
        return pad + "[\n" + ",\n".join(rows) + "\n" + pad + "]"
    return pad + json.dumps(value, ensure_ascii=False)


def main() -> int:
    if not CORPUS.is_dir():
        print(f"conformance corpus not found at {CORPUS}", file=sys.stderr)
        return 2
    data = golden()
    GOLDEN.write_text(dumps(data) + "\n")
    count = sum(len(r["findings"]) for r in data["corpus"].values())
    print(
        f"wrote {GOLDEN.relative_to(ROOT)}: {len(data['corpus'])} corpus files ({count} findings), "
        f"{COUNT} mutants ({len(data['mutants']['findings'])} findings), {len(data['edge'])} corner cases"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
