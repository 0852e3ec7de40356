# Sourced by the chart scripts: the list of charts, in dependency order (subcharts first).
# Add a FADI service chart here and it is linted and tested like the others.
CHARTS=()
for c in charts/*/ fadi/; do
  [ -f "$c/Chart.yaml" ] && CHARTS+=("${c%/}")
done
