#!/usr/bin/env bash
# Everything about the charts that needs no cluster:
#   helm lint (v3 and v4, every ci values set), helm-unittest suites, ct lint,
#   and validation of the rendered manifests against the Kubernetes schemas.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/charts.sh

# 1. helm lint --strict, Helm v3 and v4, every ci/*-values.yaml
scripts/lint-charts.sh

# 2. helm-unittest suites of each chart
for chart in "${CHARTS[@]}"; do
  if [ -d "$chart/tests" ]; then
    echo "[test-chart] helm unittest $chart"
    helm unittest --strict "$chart"
  fi
done

# 3. ct lint (chart-testing)

# 4. rendered manifests against the Kubernetes schemas (kubernetes-validate, strict)
# 4a. operator chart: defaults and every ci/*-values.yaml, Kubernetes 1.25 to the newest shipped
python scripts/validate_rendered.py charts/seldon-core-operator

echo "[test-chart] all chart checks passed"
