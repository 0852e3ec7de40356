"""Operator chart figures: `helm template` time and output size per ci values set, and the size
of the chart package. Plain script (`make bench`); prints figures, asserts nothing."""

from __future__ import annotations

import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from fadi_seldon.tools.layout import default_tools_dir

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "charts" / "seldon-core-operator"
HELM = str(default_tools_dir() / "bin" / "helm")
RUNS = 5


def template_once(values: Path | None) -> tuple[float, int, int]:
    """Seconds, output bytes, and output bytes without the CRD document."""
    cmd = [HELM, "template", "bench", str(CHART), "--namespace", "seldon-system"]
    if values is not None:
        cmd += ["-f", str(values)]
    start = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, check=True).stdout
    seconds = time.perf_counter() - start
    rest = [d for d in out.split(b"\n---\n") if b"\nkind: CustomResourceDefinition\n" not in d]
    return seconds, len(out), len(b"\n---\n".join(rest))


def main() -> int:
    if not Path(HELM).exists():
        print("helm is not installed: run `make tools`", file=sys.stderr)
        return 1
    print(f"{'values set':40} {'median s':>9} {'bytes':>9} {'without CRD':>12}")
    for values in [None, *sorted((CHART / "ci").glob("*-values.yaml"))]:
        timings, size, without_crd = [], 0, 0
        for _ in range(RUNS):
            seconds, size, without_crd = template_once(values)
            timings.append(seconds)
        name = "(defaults)" if values is None else values.name
        print(f"{name:40} {statistics.median(timings):9.3f} {size:9d} {without_crd:12d}")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([HELM, "package", str(CHART), "-d", tmp], capture_output=True, check=True)
        package = next(Path(tmp).glob("*.tgz"))
        with tarfile.open(package) as tar:
            members = len(tar.getmembers())
        print(f"chart package: {package.stat().st_size} bytes compressed, {members} files")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
