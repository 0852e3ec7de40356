"""The API server and `fadi-seldon validate` agree on real SeldonDeployments.

Every document is sent as a server-side dry-run apply with strict field validation (what
`kubectl apply --server-side --dry-run=server` does), through `kubectl proxy` so that hundreds
of requests take seconds. Accepted by the server must mean accepted by the validator; every
invalid case the CRD schema can express (the validator's `schema-*` rules) must be rejected by
both, and the validator must also reject the rest (webhook rules the schema cannot express).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cluster.kube import Proxy
from conftest import ROOT

NS = "conformance"


def _documents(path: Path) -> list[tuple[int, dict]]:
    text = path.read_text(encoding="utf-8")
    docs = [json.loads(text)] if path.suffix == ".json" else list(yaml.safe_load_all(text))
    return [
        (i, d)
        for i, d in enumerate(docs, start=1)
        if isinstance(d, dict) and d.get("kind") == "SeldonDeployment"
    ]


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml", ".json"))


@pytest.fixture(scope="module")
def server(kube, webhook_off):
    kube.namespace(NS)
    proxy = Proxy(kube)
    yield proxy
    proxy.close()


def dry_run_apply(proxy: Proxy, doc: dict) -> tuple[int, str]:
    doc = json.loads(json.dumps(doc))
    meta = doc.setdefault("metadata", {})
    meta["namespace"] = NS
    name = meta.get("name") or "unnamed"
    version = doc.get("apiVersion", "").split("/")[-1]
    path = (
        f"/apis/machinelearning.seldon.io/{version}/namespaces/{NS}/seldondeployments/{name}"
        "?dryRun=All&fieldManager=fadi-conformance&force=true&fieldValidation=Strict"
    )
    status, body = proxy.request("PATCH", path, json.dumps(doc).encode(), "application/apply-patch+yaml")
    return status, (body or {}).get("message", "") if isinstance(body, dict) else str(body)


def validate(paths: list[Path]) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "fadi_seldon", "validate", "--output", "json", *map(str, paths)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


def test_valid_corpus_is_accepted_by_the_server_and_the_validator(server, conformance_dir):
    files = _files(conformance_dir / "valid")
    rejected = []
    count = 0
    for path in files:
        for index, doc in _documents(path):
            count += 1
            status, message = dry_run_apply(server, doc)
            if status >= 300:
                rejected.append(f"{path.name}#{index}: HTTP {status}: {message[:300]}")
    assert count > 100
    assert rejected == [], "\n".join(rejected)
    report = validate(files)
    errors = [f for f in report["findings"] if f["severity"] == "error"]
    assert errors == [], errors[:5]


def _invalid_files(conformance_dir: Path) -> list[Path]:
    files = _files(conformance_dir / "invalid")
    files += _files(ROOT / "tests" / "data" / "invalid")  # the validator's own negative cases
    return files


def test_invalid_cases_the_schema_expresses_are_rejected_by_both(server, conformance_dir):
    files = _invalid_files(conformance_dir)
    assert files
    report = validate(files)
    by_doc: dict[tuple[str, int], set[str]] = {}
    for f in report["findings"]:
        if f["severity"] == "error":
            by_doc.setdefault((Path(f["file"]).resolve().as_posix(), f["document"]), set()).add(f["rule"])
    disagreements = []
    schema_cases = 0
    for path in files:
        for index, doc in _documents(path):
            rules = by_doc.get((path.resolve().as_posix(), index), set())
            status, message = dry_run_apply(server, doc)
            where = f"{path.relative_to(path.parents[1])}#{index}"
            if not rules:
                disagreements.append(f"{where}: the validator accepts an invalid case")
            schema = any(r.startswith("schema-") for r in rules)
            schema_cases += schema
            if schema and status < 300:
                disagreements.append(f"{where}: schema rules {sorted(rules)} but the server accepted it")
            if status >= 300 and not schema:
                disagreements.append(
                    f"{where}: the server rejected it ({message[:200]}) but the validator's rules are {sorted(rules)}"
                )
    assert schema_cases >= 1
    assert disagreements == [], "\n".join(disagreements)
