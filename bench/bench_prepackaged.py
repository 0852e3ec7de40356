"""Prepackaged servers on the real node: time from `kubectl apply` to the first answer, and p50/p99 at
concurrency 1, for each server and protocol, beside the custom-image path (examples/iris-model).

Runs `tests/cluster/test_16_prepackaged.py` with FADI_BENCH_ONE_AT_A_TIME=1 (each SeldonDeployment applied
alone, after the previous one answers; every image already built and on the node, the model already in the
store), its own local cluster with a real node, and prints the figures the test logs. The first answer
includes the storage initializer's copy from the object store, the server's start (MLServer's readiness
probe waits 20 s before its first check) and the executor's readiness.

Needs root and `make tools`. Usage: .venv/bin/python bench/bench_prepackaged.py
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINE = re.compile(
    r"\[prepackaged\] timing (?P<name>\S+): (?P<server>.+?) (?P<protocol>seldon|v2), first answer "
    r"(?P<first>[\d.]+) s, p50 (?P<p50>[\d.]+) ms, p99 (?P<p99>[\d.]+) ms"
)


def main() -> int:
    argv = [str(ROOT / "scripts" / "pytest.sh"), "-m", "cluster", "tests/cluster/test_16_prepackaged.py", "-s", "-q",
            "-p", "no:cacheprovider", "-k", "timed"]  # fmt: skip
    env = {**os.environ, "FADI_BENCH_ONE_AT_A_TIME": "1"}
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, env=env)
    rows = {m["name"]: m.groupdict() for line in proc.stderr.splitlines() if (m := LINE.search(line))}
    print(f"  {'server':<16} {'protocol':<9} {'apply -> first answer':>22} {'p50':>9} {'p99':>9}")
    for r in rows.values():
        print(f"  {r['server']:<16} {r['protocol']:<9} {r['first']:>20} s {r['p50']:>6} ms {r['p99']:>6} ms")
    summary = [line for line in proc.stdout.splitlines() if " passed" in line or " failed" in line]
    print(f"  suite: {summary[-1] if summary else 'no summary'} (exit {proc.returncode})")
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
