"""Benchmarks of the local cluster and the demo (plain figures, no assertions).

- `cluster up` from a fresh state folder to ready, with the binaries already built (target <= 20 s)
- `cluster up --nodes 10` from a fresh state folder, and a running cluster taken from 1 to 10 nodes
- `make demo` (scripts/demo.sh) with cached tools, on its own fresh cluster (target <= 90 s)
- the Helm release Secret of FADI with Seldon enabled (target <= 150 KiB)
- `helm template` of the umbrella with Seldon enabled (median of 5)

Usage: .venv/bin/python bench/bench_cluster.py [--skip-demo]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from fadi_seldon.localkube import ControlPlane  # noqa: E402
from fadi_seldon.localkube.nodes import NodeSpec  # noqa: E402
from fadi_seldon.tools.layout import default_tools_dir  # noqa: E402

BIN = default_tools_dir() / "bin"  # TOOLS_DIR / FADI_TOOLS_DIR, as the Makefile sets it


def env(**extra: str) -> dict[str, str]:
    e = dict(os.environ)
    e["PATH"] = f"{BIN}:{ROOT / '.venv' / 'bin'}:{e.get('PATH', '')}"
    for key, sub in (
        ("HELM_PLUGINS", "plugins"),
        ("HELM_CACHE_HOME", "cache"),
        ("HELM_CONFIG_HOME", "config"),
        ("HELM_DATA_HOME", "data"),
    ):
        e.setdefault(key, str(default_tools_dir() / "helm" / sub))
    e.update(extra)
    return e


def run(argv: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kw)


def figure(name: str, value: str, target: str = "") -> None:
    print(f"  {name:<52} {value:>12}   {target}")


def bench_template(charts: Path) -> None:
    run([str(BIN / "helm"), "dependency", "build", str(charts / "fadi")], env=env())
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        run(
            [
                str(BIN / "helm"),
                "template",
                "fadi",
                str(charts / "fadi"),
                "--set",
                "seldon-core-operator.enabled=true",
            ],
            env=env(),
        )
        times.append(time.perf_counter() - t0)
    figure("helm template fadi (Seldon enabled), median of 5", f"{statistics.median(times):.2f} s")


def bench_cluster_and_release(charts: Path, tmp: Path) -> None:
    plane = ControlPlane(tmp / "cluster", bin_dir=BIN, out=open(os.devnull, "w"))  # noqa: SIM115
    try:
        t0 = time.perf_counter()
        plane.up()
        figure("cluster up, fresh state, to ready", f"{time.perf_counter() - t0:.1f} s", "(target <= 20 s)")
        plane.down(keep_state=True)
        t0 = time.perf_counter()
        plane.up()
        figure("cluster up, existing state (keys, etcd data)", f"{time.perf_counter() - t0:.1f} s")
        e = env(KUBECONFIG=str(plane.layout.kubeconfig))
        t0 = time.perf_counter()
        run([str(BIN / "helm"), "install", "fadi", str(charts / "fadi"), "-n", "fadi", "--create-namespace",
             "--set", "seldon-core-operator.enabled=true", "--wait", "--timeout", "180s"], env=e)  # fmt: skip
        figure("helm install fadi (Seldon enabled) --wait", f"{time.perf_counter() - t0:.1f} s")
        secrets = json.loads(
            run(
                [
                    str(BIN / "kubectl"),
                    "get",
                    "secrets",
                    "-n",
                    "fadi",
                    "-l",
                    "owner=helm,name=fadi",
                    "-o",
                    "json",
                ],
                env=e,
            ).stdout
        )
        secret = secrets["items"][-1]
        release_b64 = secret["data"]["release"]
        figure(
            "Helm release Secret, data.release (as stored)",
            f"{len(release_b64) / 1024:.1f} KiB",
            "(target <= 150 KiB)",
        )
        figure("Helm release Secret, whole object as JSON", f"{len(json.dumps(secret)) / 1024:.1f} KiB")
        inner = base64.b64decode(base64.b64decode(release_b64))
        figure("  of which gzip-compressed release record", f"{len(inner) / 1024:.1f} KiB")
    finally:
        plane.down()


def bench_nodes(tmp: Path) -> None:
    plane = ControlPlane(tmp / "nodes-cluster", bin_dir=BIN, out=open(os.devnull, "w"))  # noqa: SIM115
    try:
        t0 = time.perf_counter()
        plane.up(nodes=NodeSpec(count=10))
        figure("cluster up --nodes 10, fresh state, to ready", f"{time.perf_counter() - t0:.1f} s")
        plane.up(nodes=NodeSpec(count=1))
        t0 = time.perf_counter()
        plane.up(nodes=NodeSpec(count=10))
        figure("cluster up --nodes 10 on a running 1-node cluster", f"{time.perf_counter() - t0:.1f} s")
    finally:
        plane.down()


def bench_demo(tmp: Path) -> None:
    state = tmp / "demo-cluster"
    e = env(FADI_CLUSTER_DIR=str(state))
    e.pop("KUBECONFIG", None)
    t0 = time.perf_counter()
    proc = subprocess.run([str(ROOT / "scripts" / "demo.sh")], env=e, capture_output=True, text=True)
    took = time.perf_counter() - t0
    try:
        if proc.returncode != 0:
            print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n")
            figure("make demo (cached tools)", "FAILED", f"exit {proc.returncode}")
        else:
            figure("make demo (cached tools), fresh cluster", f"{took:.1f} s", "(target <= 90 s)")
    finally:
        # the CLI's `down`, which also stops the operator host process the demo started
        subprocess.run(
            [sys.executable, "-m", "fadi_seldon", "cluster", "--state-dir", str(state), "down"],
            env=e,
            capture_output=True,
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--skip-demo", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fadi-bench-") as tmpdir:
        tmp = Path(tmpdir)
        charts = tmp / "charts"
        for name in ("fadi", "charts"):
            shutil.copytree(ROOT / name, charts / name, ignore=shutil.ignore_patterns("*.tgz"))
        print("local cluster and release figures:")
        bench_template(charts)
        bench_cluster_and_release(charts, tmp)
        bench_nodes(tmp)
        if not args.skip_demo:
            bench_demo(tmp)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
