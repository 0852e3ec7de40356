"""Benchmarks of the real Seldon operator on the local cluster (plain figures, no assertions).

- `cluster operator start`: helm install of the operator chart, token, certificate, process, to
  the webhook serving
- the user guide's SeldonDeployment from `kubectl apply` to status.state Available (median of 5)
- `kubectl delete` to the operator's Deployments and Services gone (median of 5)

Needs the cluster and operator tools (`fadi-seldon tools install cluster operator`).
Usage: .venv/bin/python bench/bench_operator.py
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from fadi_seldon.localkube import ControlPlane  # noqa: E402
from fadi_seldon.localkube.operator import OperatorRunner, StartOptions  # noqa: E402
from fadi_seldon.tools.layout import default_tools_dir  # noqa: E402

BIN = default_tools_dir() / "bin"  # TOOLS_DIR / FADI_TOOLS_DIR, as the Makefile sets it
EXAMPLE = ROOT / "examples" / "seldon-model.yaml"


def kubectl(kubeconfig: Path, *args: str) -> str:
    env = dict(os.environ, KUBECONFIG=str(kubeconfig))
    return subprocess.run(
        [str(BIN / "kubectl"), *args], check=True, capture_output=True, text=True, env=env
    ).stdout


def until(cond, timeout: float = 180.0) -> float:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if cond():
            return time.perf_counter() - t0
        time.sleep(0.05)
    raise SystemExit(f"timed out after {timeout:.0f}s")


def figure(name: str, value: str) -> None:
    print(f"  {name:<52} {value:>12}")


def main() -> int:
    print("real Seldon operator on the local cluster")
    with tempfile.TemporaryDirectory(prefix="bench-operator-") as tmp:
        plane = ControlPlane(Path(tmp) / "state", bin_dir=BIN, out=open(os.devnull, "w"))  # noqa: SIM115
        try:
            plane.up(timeout_scale=2.0)
            kc = plane.layout.kubeconfig
            runner = OperatorRunner(kc, plane.layout.root / "operator", bin_dir=BIN)
            t0 = time.perf_counter()
            runner.start(
                StartOptions(
                    "seldon-core-operator", "seldon-system", ROOT / "charts" / "seldon-core-operator"
                )
            )
            figure("operator start (helm install .. webhook serving)", f"{time.perf_counter() - t0:.1f} s")
            available, deleted = [], []
            for _ in range(5):
                kubectl(kc, "apply", "-n", "default", "-f", str(EXAMPLE))
                available.append(
                    until(
                        lambda: (
                            kubectl(kc, "get", "sdep", "seldon-model", "-o", "jsonpath={.status.state}")
                            == "Available"
                        )
                    )
                )
                kubectl(kc, "delete", "sdep", "seldon-model", "--wait=false")
                deleted.append(
                    until(
                        lambda: (
                            not kubectl(
                                kc,
                                "get",
                                "deploy,svc",
                                "-l",
                                "seldon-deployment-id=seldon-model",
                                "-o",
                                "name",
                            )
                        )  # fmt: skip
                    )
                )
            figure("apply -> Available, median of 5", f"{statistics.median(available):.2f} s")
            figure(
                "delete -> Deployments and Services gone, median of 5", f"{statistics.median(deleted):.2f} s"
            )
            runner.stop(uninstall=True)
        finally:
            OperatorRunner(plane.layout.kubeconfig, plane.layout.root / "operator").stop()
            plane.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
