"""Benchmark: building the example model's image without Docker, cold and cached (plain figures).

- cold: an empty images cache: debootstrap of the Debian python3 rootfs, pip install of the
  requirements into the dependency layer, the app layer, the archive;
- cached: the same build again (rootfs and dependency layers reused, app layer and archive rewritten);
- after a code change: the model file edited, built again (what a data scientist's loop costs);
- the pause and operator images, cold and cached.

`--reuse-base` copies the project's cached rootfs into the scratch cache, so "cold" measures pip and
the layers without the minute of debootstrap. Needs root (debootstrap), the Debian mirror and PyPI.
Usage: .venv/bin/python bench/bench_images.py [--reuse-base]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from fadi_seldon.images import cache_dir, model, operator, pause  # noqa: E402
from fadi_seldon.model import packaging  # noqa: E402

MODEL_DIR = ROOT / "examples" / "iris-model"
IMAGE = "fadi-seldon/iris-model:0.1.0"


def timed(label: str, build) -> float:
    t0 = time.perf_counter()
    built = build()
    seconds = time.perf_counter() - t0
    print(f"{label:<42} {seconds:7.1f} s   {built.size / 1e6:6.0f} MB  {built.ref}", flush=True)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reuse-base", action="store_true", help="start from the project's cached rootfs")
    args = parser.parse_args()
    project_base = cache_dir() / "base"
    operator_binary = operator.operator_binary()  # from the project's tools, before the cache moves
    with tempfile.TemporaryDirectory(prefix="bench-images-") as tmp:
        os.environ["FADI_TOOLS_DIR"] = str(Path(tmp) / "tools")
        if args.reuse_base and project_base.is_dir():
            shutil.copytree(project_base, cache_dir() / "base")
        folder = Path(tmp) / "iris-model"
        shutil.copytree(MODEL_DIR, folder)
        packaging.write(folder, packaging.render(packaging.Options(folder, image=IMAGE)).files, force=True)
        archive = Path(tmp) / "iris.oci.tar"
        quiet = open(os.devnull, "w")  # noqa: SIM115
        sys.stderr, stderr = quiet, sys.stderr
        try:
            print(
                f"model image of {MODEL_DIR.name} ({'rootfs reused' if args.reuse_base else 'from scratch'})"
            )
            timed("model: cold", lambda: model.build(folder, IMAGE, archive=archive))
            timed("model: cached", lambda: model.build(folder, IMAGE, archive=archive))
            source = folder / "IrisModel.py"
            source.write_text(source.read_text() + "\n# edited\n")
            timed("model: after a code change", lambda: model.build(folder, IMAGE, archive=archive))
            timed("pause: cold (gcc -static)", pause.build)
            timed("pause: cached", pause.build)
            timed("operator: cold (rootfs with curl)", lambda: operator.build(binary=operator_binary))
            timed("operator: cached", lambda: operator.build(binary=operator_binary))
        finally:
            sys.stderr = stderr
            quiet.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
