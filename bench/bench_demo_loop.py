"""`make demo` N times in a row, each on a fresh cluster (`cluster down` between): every run must end
with the prediction. The race it guards against: a ClusterIP called before kube-proxy had the
Service's rules used to leave the machine (docs/local-cluster.md, "What may leave the host").

Also checks, after each run, that the host's route table is as it was before the first `up`, and
prints each step's median time over the runs (the demo's own step timer).

Usage: .venv/bin/python bench/bench_demo_loop.py [--runs 5]   (not part of `make test`)
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_cluster import ROOT, env, figure

from fadi_seldon.localkube import host

STEP_TIME = re.compile(r"^\s*([0-9.]+)s\s+\[demo (\d+)\] (.*)$", re.M)


def step_times(stdout: str) -> dict[str, float]:
    """The demo's closing table: `  12.0s  [demo 3] what` -> {"3 what": 12.0}."""
    return {f"{n:>2} {what[:90]}": float(t) for t, n, what in STEP_TIME.findall(stdout)}


def one_run(state: Path) -> tuple[bool, float, str]:
    e = env(FADI_CLUSTER_DIR=str(state))
    e.pop("KUBECONFIG", None)
    t0 = time.perf_counter()
    proc = subprocess.run([str(ROOT / "scripts" / "demo.sh")], env=e, capture_output=True, text=True)
    took = time.perf_counter() - t0
    subprocess.run([sys.executable, "-m", "fadi_seldon", "cluster", "--state-dir", str(state), "down"],
                   env=e, capture_output=True)  # fmt: skip
    # the demo's last step is the prediction; it exits non-zero when that fails
    ok = proc.returncode == 0 and "[demo] done" in proc.stdout
    return ok, took, proc.stdout if ok else (proc.stdout + proc.stderr)[-1500:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    routes_before = host.snapshot()["routes"]
    passed = 0
    steps: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="fadi-demo-loop-") as tmp:
        for n in range(1, args.runs + 1):
            ok, took, tail = one_run(Path(tmp) / f"cluster-{n}")
            same_routes = host.snapshot()["routes"] == routes_before
            passed += ok and same_routes
            print(f"[demo-loop] run {n}: {'prediction' if ok else 'FAILED'} in {took:.1f} s; "
                  f"routes {'as before' if same_routes else 'CHANGED'}", flush=True)  # fmt: skip
            if not ok:
                print(tail)
            for name, took_step in step_times(tail).items():
                steps.setdefault(name, []).append(took_step)
    for name, values in sorted(steps.items(), key=lambda kv: int(kv[0].split()[0])):
        figure(f"[demo {name}]", f"median {statistics.median(values):.1f} s over {len(values)} run(s)")
    figure(f"make demo, {args.runs} fresh runs in a row", f"{passed}/{args.runs} ended with the prediction",
           "all")  # fmt: skip
    return 0 if passed == args.runs else 1


if __name__ == "__main__":
    sys.exit(main())
