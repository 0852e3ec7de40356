#!/usr/bin/env bash
# `make test-compat`: the cluster suite on other Kubernetes releases than the pinned one.
#
# For each release in COMPAT_KUBERNETES (default: see the Makefile), Kubernetes' control plane and
# node binaries are built at that release into .tools/compat/<release>/bin (cached, like every tool),
# the other tools are linked there from .tools/bin (.tools is FADI_TOOLS_DIR when set: the Makefile's
# TOOLS_DIR), and the cluster suite runs with that folder
# (FADI_TOOLS_DIR) and KUBERNETES_VERSION set to the release. Not part of `make test`.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
py="$here/.venv/bin/python"
tools="${FADI_TOOLS_DIR:-$here/.tools}"
releases=${COMPAT_KUBERNETES:?set COMPAT_KUBERNETES, e.g. "v1.30.14 v1.36.3"}
failed=()
for release in $releases; do
  dir="$tools/compat/$release"
  echo "[test-compat] Kubernetes $release: tools in $dir"
  mkdir -p "$dir/bin"
  KUBERNETES_VERSION="$release" "$py" -m fadi_seldon tools install kubernetes kubernetes-node --tools-dir "$dir"
  for tool in "$tools"/bin/*; do
    name=$(basename "$tool")
    [ -e "$dir/bin/$name" ] || ln -s "$tool" "$dir/bin/$name"
  done
  start=$(date +%s)
  if FADI_TOOLS_DIR="$dir" KUBERNETES_VERSION="$release" "$here/scripts/pytest.sh" -m "cluster and not faults" ${PYTEST_ARGS:-} tests/cluster; then
    echo "[test-compat] Kubernetes $release: the cluster suite passed in $(( $(date +%s) - start )) s"
  else
    echo "[test-compat] Kubernetes $release: the cluster suite FAILED" >&2
    failed+=("$release")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "[test-compat] failed on: ${failed[*]}" >&2
  exit 1
fi
echo "[test-compat] passed on: $releases"
