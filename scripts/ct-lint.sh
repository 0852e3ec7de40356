#!/usr/bin/env bash
# chart-testing lint of every chart, offline: ct runs helm lint (each ci/*-values.yaml), yamllint
# with our lintconf.yaml, and yamale with ct's Chart.yaml schema, which ships with ct in the
# tools folder (TOOLS_DIR, as the Makefile sets it) rather than at a fixed path.
# Usage: scripts/ct-lint.sh [CHART_DIR...]   (default: every chart, see scripts/charts.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS_DIR="${TOOLS_DIR:-${FADI_TOOLS_DIR:-$PWD/.tools}}"
export PATH="$TOOLS_DIR/bin:$PWD/.venv/bin:$PATH"
schema="$TOOLS_DIR/ct/etc/chart_schema.yaml"
[ -f "$schema" ] || { echo "[ct] $schema not found: run \`make tools TOOLS=chart\`" >&2; exit 1; }
for tool in ct helm yamllint yamale; do
  command -v "$tool" >/dev/null || { echo "[ct] $tool not found: run \`make tools TOOLS=chart\` (or \`make setup\`)" >&2; exit 1; }
done
if [ $# -gt 0 ]; then
  charts=("$@")
else
  source scripts/charts.sh
  charts=("${CHARTS[@]}")
fi
list=$(IFS=,; echo "${charts[*]}")
# ct runs whatever `helm` is first on PATH: lint once with Helm v3 and once with Helm v4 (helm4)
shim=$(mktemp -d)
trap 'rm -rf "$shim"' EXIT
for helm in helm helm4; do
  command -v "$helm" >/dev/null || { echo "[ct] $helm not found: run \`make tools TOOLS=chart\`" >&2; exit 1; }
  ln -sf "$(command -v "$helm")" "$shim/helm"
  echo "[ct] ct lint --charts $list  (helm $(PATH="$shim:$PATH" helm version --template '{{.Version}}'))"
  # --charts turns off git-based change detection, so no remote or target branch is needed
  PATH="$shim:$PATH" ct lint --config ct.yaml --lint-conf lintconf.yaml --chart-yaml-schema "$schema" --charts "$list"
done
