#!/usr/bin/env bash
# Everything about the charts that needs no cluster, after `helm lint`:
#   helm-unittest suites, ct lint, and validation of the rendered manifests against the Kubernetes schemas.
# helm lint --strict (v3 and v4, every ci values set) is scripts/lint-charts.sh: `make lint-charts`, a
# prerequisite of both `make lint` and `make test-chart`, so it runs once in `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/charts.sh

# the umbrella's subcharts are packaged by `helm dependency build` in scripts/lint-charts.sh
for chart in "${CHARTS[@]}"; do
  if grep -q '^dependencies:' "$chart/Chart.yaml" && ! compgen -G "$chart/charts/*.tgz" >/dev/null; then
    echo "[test-chart] $chart/charts/ has no subchart archive: run scripts/lint-charts.sh first (\`make test-chart\` does)" >&2
    exit 1
  fi
done

# 1. helm-unittest suites of each chart
for chart in "${CHARTS[@]}"; do
  if [ -d "$chart/tests" ]; then
    echo "[test-chart] helm unittest $chart"
    helm unittest --strict "$chart"
  fi
done

# 2. ct lint (chart-testing): yamllint with lintconf.yaml, ct's Chart.yaml schema, helm lint per ci set
scripts/ct-lint.sh

# 3. rendered manifests against the Kubernetes schemas (kubernetes-validate, strict)
# 3a. operator chart: defaults and every ci/*-values.yaml, Kubernetes 1.25 to the newest shipped
python scripts/validate_rendered.py charts/seldon-core-operator

# 3b. umbrella: Kubernetes schemas for each ci set; Seldon off renders no Seldon object, Seldon on
#     renders every object of the operator chart (same templates, same number of documents)
python scripts/validate_rendered.py fadi --namespace fadi
sources() { helm template fadi "$@" --namespace fadi | sed -n 's|^# Source: \(fadi/charts/\)\{0,1\}||p' | sort | uniq -c; }
subchart_values() { python -c 'import sys, yaml; print(yaml.safe_dump(yaml.safe_load(open(sys.argv[1]))["seldon-core-operator"]))' "$1"; }
off=$(sources fadi -f fadi/ci/seldon-off-values.yaml | grep -c 'seldon-core-operator/' || true)
[ "$off" -eq 0 ] || { echo "[test-chart] fadi with Seldon off still renders $off Seldon template(s)" >&2; exit 1; }
for set in seldon-on seldon-on-single-namespace; do
  if ! diff <(sources fadi -f "fadi/ci/$set-values.yaml") \
            <(sources charts/seldon-core-operator -f <(subchart_values "fadi/ci/$set-values.yaml")); then
    echo "[test-chart] fadi ($set) does not render the same objects as the operator chart" >&2; exit 1
  fi
  echo "[test-chart] fadi ($set) renders every operator chart object"
done

echo "[test-chart] all chart checks passed"
