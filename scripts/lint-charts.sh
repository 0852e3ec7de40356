#!/usr/bin/env bash
# helm lint --strict of every chart, with each of its ci/*-values.yaml, under Helm v3 and v4.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/charts.sh
[ ${#CHARTS[@]} -gt 0 ] || { echo "[lint] no charts found" >&2; exit 1; }
for helm in helm helm4; do
  for chart in "${CHARTS[@]}"; do
    if grep -q '^dependencies:' "$chart/Chart.yaml"; then
      "$helm" dependency build "$chart" >/dev/null
    fi
    sets=("")
    for v in "$chart"/ci/*-values.yaml; do [ -f "$v" ] && sets+=("$v"); done
    for v in "${sets[@]}"; do
      echo "[lint] $helm lint --strict $chart ${v:+-f $v}"
      "$helm" lint --strict "$chart" ${v:+-f "$v"} >/tmp/fadi-lint.$$ 2>&1 || { cat /tmp/fadi-lint.$$; rm -f /tmp/fadi-lint.$$; exit 1; }
    done
  done
done
rm -f /tmp/fadi-lint.$$
# the operator chart's alert rules and dashboard queries, parsed by promtool (skipped, saying so, without it)
python scripts/promtool_check.py charts/seldon-core-operator
echo "[lint] charts clean"
