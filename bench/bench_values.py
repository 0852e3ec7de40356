"""Benchmarks of `fadi-seldon values` on a FADI-sized values file (plain figures, no assertions).

- read + enable + minimal-diff render, in process (median of 20)
- the same for a structural edit (`set manager.logLevel=DEBUG`: new keys, round-trip re-dump and patch)
- `values check` against the umbrella schema, in process (median of 20)
- the whole CLI `fadi-seldon values check` as a subprocess, start-up included (median of 5)

Usage: .venv/bin/python bench/bench_values.py
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from fadi_seldon.values import check as values_check  # noqa: E402
from fadi_seldon.values import document as vf  # noqa: E402

FULL = ROOT / "tests" / "data" / "fadi-values-full.yaml"


def median_ms(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "values.yaml"
        shutil.copyfile(FULL, path)
        lines = len(FULL.read_text().splitlines())
        schema = values_check.load_schema()

        def enable():
            doc = vf.read(path)
            vf.enable(doc)
            return vf.render(doc)

        def structural():
            doc = vf.read(path)
            vf.set_value(doc, vf.seldon_path("manager.logLevel"), "DEBUG")
            return vf.render(doc)

        def check():
            return values_check.check(vf.read(path), schema)

        def cli_check():
            subprocess.run(
                [str(ROOT / ".venv" / "bin" / "fadi-seldon"), "values", "check", "-f", str(path)],
                capture_output=True,
                check=False,
            )

        print(f"values file: {FULL.name}, {lines} lines, {FULL.stat().st_size} B")
        print(f"  enable (read + edit + in-line render)     {median_ms(enable, 20):7.1f} ms")
        print(f"  set new key (round-trip re-dump + patch)  {median_ms(structural, 20):7.1f} ms")
        print(f"  check against the umbrella schema         {median_ms(check, 20):7.1f} ms")
        print(f"  CLI `values check` (process start incl.)  {median_ms(cli_check, 5):7.1f} ms")


if __name__ == "__main__":
    main()
