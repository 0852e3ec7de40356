#!/usr/bin/env bash
# `make dist`: the Python wheel and sdist of fadi-seldon into dist/ (next to the chart archives
# `make package` writes), built offline from a copy of the checkout with setuptools' PEP 517 backend
# (no build isolation: the venv's setuptools and wheel), so no build/ or *.egg-info is left here.
# DIST=<dir> writes elsewhere than dist/.
set -euo pipefail
cd "$(dirname "$0")/.."
DIST=$(mkdir -p "${DIST:-dist}" && cd "${DIST:-dist}" && pwd)
work=$(mktemp -d /tmp/fadi-dist.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir "$work/src"
cp -r src/fadi_seldon "$work/src/"
cp pyproject.toml README.md "$work/"
[ -f LICENSE ] && cp LICENSE "$work/"
find "$work" \( -name __pycache__ -o -name '*.egg-info' \) -prune -exec rm -rf {} +
# setuptools rewrites sys.argv while it builds: the folder is read once, first
if ! (cd "$work" && python - "$DIST" >"$work/build.log" 2>&1 <<'PY'
import sys
from setuptools import build_meta

dist = sys.argv[1]
names = [build_meta.build_sdist(dist), build_meta.build_wheel(dist)]
print("[dist] built " + " ".join(names), file=sys.stderr)
PY
); then
  cat "$work/build.log" >&2
  echo "[dist] building the Python distributions failed" >&2
  exit 1
fi
grep '^\[dist\]' "$work/build.log"
echo "[dist] in $DIST: $(cd "$DIST" && ls | tr '\n' ' ')"
