"""Validation throughput over the conformance corpus: documents per second, one process, one core.

Target (DESIGN.md): >= 500 SeldonDeployment documents/s, schema compiled once. The texts are read
first, so the figure measures parsing and checking, not the disk.
"""

from __future__ import annotations

import time
from pathlib import Path

from fadi_seldon.sdep import validator
from fadi_seldon.sdep.validator import loading

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "conformance"
ROUNDS = 5


def main() -> None:
    files = sorted(p for p in CORPUS.rglob("*") if p.suffix in loading.MANIFEST_SUFFIXES)
    if not files:
        print(f"conformance corpus not found at {CORPUS}: nothing to measure")
        return
    sources = [loading.read_path(p) for p in files]
    t0 = time.perf_counter()
    validator.validate_text("kind: SeldonDeployment\n")  # schema compilation, counted apart
    compile_s = time.perf_counter() - t0
    best = float("inf")
    documents = findings = 0
    for _ in range(ROUNDS):
        start = time.perf_counter()
        documents = findings = 0
        for source in sources:
            report = validator.validate_source(source)
            documents += report.documents
            findings += len(report.findings)
        best = min(best, time.perf_counter() - start)
    print(f"schema compile (once per process): {compile_s * 1000:.0f} ms")
    print(f"corpus: {len(files)} files, {documents} SeldonDeployment documents, {findings} findings")
    print(f"validate: {documents / best:.0f} documents/s (best of {ROUNDS}, {best * 1000:.0f} ms per pass)")


if __name__ == "__main__":
    main()
