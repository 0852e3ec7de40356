"""Requests a model loses while things change: every case of the fault suite, in one table.

Runs `tests/cluster/test_15_faults.py` whole (what `make test-faults` runs: its own local cluster with
a real node, the user guide's model behind Seldon's executor called 20 times a second through its
Service during each change) and prints, per case, requests sent, failed, the windows of failures, the
longest gap between two answers and the case's own figure (time to roll, to recover, to come back).
The cases themselves assert what must hold; this prints the numbers for the README.

Needs root and `make tools`. Usage: .venv/bin/python bench/bench_faults.py
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINE = re.compile(
    r"\[faults\] (?P<case>.+?): (?P<sent>\d+) sent, (?P<failed>\d+) failed \(windows of (?P<windows>[^)]*)\), "
    r"longest gap (?P<gap>[\d.]+) s, slowest answer [\d.]+ s \[.*?\](?P<extra>.*)$"
)


def main() -> int:
    argv = [str(ROOT / "scripts" / "pytest.sh"), "-m", "cluster", "tests/cluster/test_15_faults.py", "-s", "-q",
            "-p", "no:cacheprovider"]  # fmt: skip
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    rows = [
        m.groupdict()
        for line in proc.stderr.splitlines() + proc.stdout.splitlines()
        if (m := LINE.search(line))
    ]
    seen, unique = set(), []
    for row in rows:  # pytest -s repeats a case's line in its report
        if row["case"] not in seen:
            seen.add(row["case"])
            unique.append(row)
    print(
        f"  {'case':<58} {'sent':>6} {'failed':>7}  {'failure windows (s)':<20} {'longest gap':>11}  figure"
    )
    for r in unique:
        print(f"  {r['case']:<58} {r['sent']:>6} {r['failed']:>7}  {r['windows']:<20} {r['gap']:>9} s "
              f"{r['extra'].strip(', ')}")  # fmt: skip
    summary = [line for line in proc.stdout.splitlines() if " passed" in line or " failed" in line]
    print(f"  suite: {summary[-1] if summary else 'no summary'} (exit {proc.returncode})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
