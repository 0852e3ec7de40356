"""Crash and wedge search at bench size: 1,000 mutants (default) against the real operator, webhook off.

The operator chart is installed with its CRD (our CEL rules) and `webhook.enabled=false`, so the CRD
alone stands between the mutants and the operator. Prints the counts (refused by the API server,
reached a state, crashes, wedges, validator disagreements), the throughput, and every failure with
its manifest, panic and source location. Plain figures, no assertions; the exit code is 1 when a
crash or a wedge was found, so `make bench` shows it.

It runs the same mutants twice on fresh clusters: with the chart's CRD, and with its CEL rules
stripped (what upstream's CRD is like), so the figures show what the rules prevent; the crash
classes of the second run are grouped by panic and source location.

Usage: .venv/bin/python bench/bench_crash_search.py [-o json]
Environment: CRASH_MUTANTS (default 1000), CRASH_SEED (default 2026), CRASH_CRD=ours|stripped|both (default both).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))  # the test machinery (tests/machinery)

from fadi_seldon.localkube import ControlPlane  # noqa: E402
from fadi_seldon.localkube.operator import OperatorRunner, StartOptions  # noqa: E402
from fadi_seldon.tools.layout import default_tools_dir  # noqa: E402
from machinery import crash_search, mutants  # noqa: E402
from machinery.proxy import Proxy  # noqa: E402

BIN = default_tools_dir() / "bin"  # TOOLS_DIR / FADI_TOOLS_DIR, as the Makefile sets it
NAMESPACE = "crash-search"


def search(count: int, seed: int, stripped: bool) -> crash_search.Result:
    with tempfile.TemporaryDirectory(prefix="bench-crash-") as tmp:
        plane = ControlPlane(Path(tmp) / "state", bin_dir=BIN, out=open(os.devnull, "w"))  # noqa: SIM115
        runner = None
        try:
            plane.up(timeout_scale=2.0)
            kubeconfig = plane.layout.kubeconfig
            env = dict(os.environ, KUBECONFIG=str(kubeconfig))
            runner = OperatorRunner(kubeconfig, plane.layout.root / "operator", bin_dir=BIN)
            opts = StartOptions(
                "seldon-core-operator",
                "seldon-system",
                ROOT / "charts" / "seldon-core-operator",
                set_values=["webhook.enabled=false"],
            )
            with Proxy(str(BIN / "kubectl"), env) as proxy:
                target = crash_search.HostOperator(runner, opts, proxy)
                if stripped:
                    crash_search.strip_crd_rules(target)
                proxy.request(
                    "POST", "/api/v1/namespaces", json.dumps({"metadata": {"name": NAMESPACE}}).encode()
                )
                say = lambda line: print(f"  [seed {seed}] {line}", file=sys.stderr, flush=True)  # noqa: E731
                found = mutants.checkout_seeds(ROOT)
                return crash_search.Search(target, NAMESPACE, state_timeout=90, say=say).run(
                    mutants.mutants(found, count, seed), batch=25
                )
        finally:
            if runner is not None:
                runner.stop()
            plane.down()


def classes(result: crash_search.Result) -> dict[str, int]:
    """Crashes grouped by panic and source location."""
    found: dict[str, int] = {}
    for case in result.failures():
        key = f"{case.verdict}: {case.detail} at {case.location or '?'}"
        found[key] = found.get(key, 0) + 1
    return found


def main() -> int:
    count = int(os.environ.get("CRASH_MUTANTS", "1000"))
    seed = int(os.environ.get("CRASH_SEED", "2026"))
    modes = {"ours": [False], "stripped": [True], "both": [False, True]}[os.environ.get("CRASH_CRD", "both")]
    runs = {("stripped" if stripped else "ours"): search(count, seed, stripped) for stripped in modes}
    report = {name: {**r.to_json(), "classes": classes(r)} for name, r in runs.items()}
    if sys.argv[1:] == ["-o", "json"]:
        print(json.dumps({"seed": seed, "mutants": count, **report}, indent=2))
    else:
        for name, figures in report.items():
            crd = "the chart's CRD" if name == "ours" else "the CRD without its CEL rules (as upstream's)"
            print(f"crash search: {count} mutants of the corpus, seed {seed}, webhook off, {crd}")
            for key in ("refused", "state", "crash", "wedge", "disagreements"):
                print(f"  {key:<52} {figures[key]:>12}")
            print(f"  {'time':<52} {figures['seconds']:>10.0f} s")
            print(f"  {'mutants per second':<52} {count / max(figures['seconds'], 0.001):>12.1f}")
            for cls, n in figures["classes"].items():
                print(f"  {n:>4} x {cls}")
            if name == "ours":
                for failure in figures["failures"]:
                    print(failure)
    # a failure with our CRD is a finding; without its rules, crashes are what the rules exist for
    return 1 if "ours" in runs and runs["ours"].failures() else 0


if __name__ == "__main__":
    sys.exit(main())
