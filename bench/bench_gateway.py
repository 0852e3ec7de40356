"""The gateway's cost: seconds from `kubectl apply` of a SeldonDeployment to its first answer through
the gateway (the route controller's HTTPRoute on Traefik), and the latency it adds (p50/p99 of the same
model called through the gateway and through its predictor's Service, 500 requests each, taking turns,
one client).

Runs `tests/cluster/test_18_routes.py -k timed` (its own local cluster with a real node, the gateway,
the operator and its route controller as pods, a constant model of examples/components) and prints the
figures the test logs. The first answer includes the executor's readiness probe, which waits 20 s.

Needs root and `make tools`. Usage: .venv/bin/python bench/bench_gateway.py
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINE = re.compile(
    r"\[routes\] timing: apply -> first routed answer (?P<first>[\d.]+) s; service p50 (?P<sp50>[\d.]+) ms, "
    r"p99 (?P<sp99>[\d.]+) ms; gateway p50 (?P<gp50>[\d.]+) ms, p99 (?P<gp99>[\d.]+) ms"
)


def main() -> int:
    argv = [str(ROOT / "scripts" / "pytest.sh"), "-m", "cluster", "tests/cluster/test_18_routes.py", "-s", "-q",
            "-p", "no:cacheprovider", "-k", "timed"]  # fmt: skip
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    found = next((m for line in proc.stderr.splitlines() if (m := LINE.search(line))), None)
    if found:
        f = {k: float(v) for k, v in found.groupdict().items()}
        print(f"  apply -> first answer through the gateway: {f['first']:.1f} s")
        print(f"  {'path':<26} {'p50':>9} {'p99':>9}")
        print(f"  {'predictor Service':<26} {f['sp50']:>6.2f} ms {f['sp99']:>6.2f} ms")
        print(f"  {'gateway (Traefik)':<26} {f['gp50']:>6.2f} ms {f['gp99']:>6.2f} ms")
        print(
            f"  {'added by the gateway':<26} {f['gp50'] - f['sp50']:>+6.2f} ms {f['gp99'] - f['sp99']:>+6.2f} ms"
        )
    summary = [line for line in proc.stdout.splitlines() if " passed" in line or " failed" in line]
    print(f"  suite: {summary[-1] if summary else 'no summary'} (exit {proc.returncode})")
    return 0 if found else 1


if __name__ == "__main__":
    sys.exit(main())
