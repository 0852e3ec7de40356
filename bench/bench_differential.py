"""How often `validate` agrees with the real stack, at bench size: 1,000 mutants (default).

A local cluster (simulated nodes), the operator chart with its webhook, the operator as a host
process (machinery.differential): every mutant through `--dry-run=server` admission (API server
with strict field validation, then the operator's webhook), then a subset created for real and
waited on. Prints who refused how many, the agreement rate, the disagreements (mutant and both
answers), and `validate`'s own throughput on the same mutants. Plain figures, no assertions; the
exit code is 1 when a disagreement was found, so `make bench` shows it.

Usage: .venv/bin/python bench/bench_differential.py [-o json]
Environment: DIFF_MUTANTS (default 1000), DIFF_SEED (default 2026), DIFF_APPLIED (default 100).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))  # the test machinery (tests/machinery)

from fadi_seldon.localkube import ControlPlane  # noqa: E402
from fadi_seldon.localkube.operator import OperatorRunner, StartOptions  # noqa: E402
from fadi_seldon.sdep import validator  # noqa: E402
from fadi_seldon.tools.layout import default_tools_dir  # noqa: E402
from machinery import crash_search, differential, mutants  # noqa: E402
from machinery.proxy import Proxy  # noqa: E402

BIN = default_tools_dir() / "bin"  # TOOLS_DIR / FADI_TOOLS_DIR, as the Makefile sets it
NAMESPACE = "differential"


def run(cases: list, applied: int) -> differential.Result:
    with tempfile.TemporaryDirectory(prefix="bench-diff-") as tmp:
        plane = ControlPlane(Path(tmp) / "state", bin_dir=BIN, out=sys.stderr)
        runner = None
        try:
            plane.up(timeout_scale=2.0, node_kind="simulated")
            kubeconfig = plane.layout.kubeconfig
            env = dict(os.environ, KUBECONFIG=str(kubeconfig))
            runner = OperatorRunner(kubeconfig, plane.layout.root / "operator", bin_dir=BIN)
            opts = StartOptions(
                "seldon-core-operator", "seldon-system", ROOT / "charts" / "seldon-core-operator"
            )
            with Proxy(str(BIN / "kubectl"), env) as proxy:
                target = crash_search.HostOperator(runner, opts, proxy)
                proxy.request(
                    "POST", "/api/v1/namespaces", json.dumps({"metadata": {"name": NAMESPACE}}).encode()
                )
                say = lambda line: print(f"  [differential] {line}", file=sys.stderr, flush=True)  # noqa: E731
                return differential.Differential(target, NAMESPACE, say=say).run(cases, applied)
        finally:
            if runner is not None:
                runner.stop()
            plane.down()


def throughput(cases: list) -> float:
    """validate_object over the mutants, documents per second (best of 3, one core)."""
    validator.validate_object(cases[0][1])  # schema compilation, not counted
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _, manifest, _ in cases:
            validator.validate_object(manifest)
        best = min(best, time.perf_counter() - start)
    return len(cases) / best


def main() -> int:
    count = int(os.environ.get("DIFF_MUTANTS", "1000"))
    seed = int(os.environ.get("DIFF_SEED", "2026"))
    applied = int(os.environ.get("DIFF_APPLIED", "100"))
    cases = list(mutants.mutants(mutants.checkout_seeds(ROOT), count, seed, pods=True))
    rate = throughput(cases)
    result = run(cases, applied)
    figures = {"seed": seed, **result.to_json(), "validate_documents_per_second": round(rate)}
    if sys.argv[1:] == ["-o", "json"]:
        print(json.dumps({**figures, "disagreement_reports": result.disagreements}, indent=2))
    else:
        print(f"differential test: {count} mutants of the corpus, seed {seed}, webhook on, {applied} applied")
        for key, value in figures.items():
            print(f"  {key:<40} {value:>12}")
        for report in result.disagreements:
            print(report)
    return 1 if result.disagreements else 0


if __name__ == "__main__":
    sys.exit(main())
