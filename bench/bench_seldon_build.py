"""Seldon's own programs and images from Seldon's 1.17.1 source release, built cold (plain figures).

- `seldon-operator` and `seldon-executor`: `tools install` into a fresh tools folder with empty Go
  build and module caches (modules come again from the Go module proxy), one after the other;
- the operator, executor and `mock_classifier` images into that fresh folder (the Debian base from
  debootstrap, the wrapper from PyPI), then each once more from the cache.

Usage: .venv/bin/python bench/bench_seldon_build.py   (several minutes on 2 cores; not in `make test`)
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_cluster import ROOT, figure


def timed(argv: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{proc.stderr[-3000:]}")
    return time.perf_counter() - t0


IMAGE_BUILD = "from fadi_seldon.images import {0}; print({0}.build().archive)"


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="fadi-seldon-build-") as tmp:
        env = dict(os.environ, FADI_TOOLS_DIR=str(Path(tmp) / "tools"), GOCACHE=str(Path(tmp) / "gocache"),
                   GOMODCACHE=str(Path(tmp) / "gomod"), GOFLAGS="-modcacherw")  # fmt: skip
        fadi = [sys.executable, "-m", "fadi_seldon"]
        for tool in ("seldon-operator", "seldon-executor"):
            took = timed([*fadi, "tools", "install", tool], env)
            figure(f"{tool} from the source release, cold Go caches", f"{took:.1f} s")
        timed([*fadi, "tools", "install", "helm"], env)  # the operator image renders the chart's resources
        for module in ("operator", "executor", "mock_classifier"):
            cold = timed([sys.executable, "-c", IMAGE_BUILD.format(module)], env)
            cached = timed([sys.executable, "-c", IMAGE_BUILD.format(module)], env)
            figure(f"{module} image, first build / cached", f"{cold:.1f} s / {cached:.1f} s")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    sys.exit(main())
