#!/usr/bin/env python3
"""PromQL of the operator chart checked by Prometheus' own parser: `promtool check rules` over

1. the PrometheusRule the chart renders (`metrics.prometheusRule.enabled`) with its defaults and with
   each ci/*-values.yaml that enables it;
2. every query of the Grafana dashboard (charts/seldon-core-operator/dashboards/*.json), each
   written as a recording rule with Grafana's variables replaced by what they stand for.

Skipped, with a message, when promtool is not installed (`make tools` installs it: the Debian
package prometheus). Run by scripts/lint-charts.sh; usage: scripts/promtool_check.py [CHART].
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "charts" / "seldon-core-operator"
# Grafana's variables, as Prometheus would see them once Grafana fills them in
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}


def rendered_rule_groups(chart: Path, values: Path | None) -> list[dict]:
    """The rule groups of every PrometheusRule `helm template` renders with the rule switched on."""
    argv = ["helm", "template", "seldon", str(chart), "--namespace", "seldon-system"]
    argv += ["--set", "metrics.prometheusRule.enabled=true"]
    if values is not None:
        argv += ["-f", str(values)]
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    groups: list[dict] = []
    for doc in yaml.safe_load_all(out):
        if doc and doc.get("kind") == "PrometheusRule":
            groups += doc["spec"]["groups"]
    return groups


def dashboard_rule_groups(chart: Path) -> list[dict]:
    """Each dashboard query as a recording rule (variables replaced), one group per dashboard."""
    groups = []
    for path in sorted((chart / "dashboards").glob("*.json")):
        board = json.loads(path.read_text(encoding="utf-8"))
        rules = []
        for panel in board.get("panels", []):
            for target in panel.get("targets", []):
                expr = target["expr"]
                for var, value in GRAFANA_VARIABLES.items():
                    expr = expr.replace(var, value)
                # a template variable in a matcher ($namespace...) becomes "everything"
                for variable in board.get("templating", {}).get("list", []):
                    expr = expr.replace(f"${variable['name']}", ".*")
                rules.append({"record": f"dashboard:panel_{panel['id']}_{target['refId']}", "expr": expr})
        groups.append({"name": f"dashboard-{path.stem}", "rules": rules})
    return groups


def main(argv: list[str]) -> int:
    chart = Path(argv[0]) if argv else CHART
    promtool = shutil.which("promtool")
    if promtool is None:
        print(
            "[lint] promtool not found: alert rules and dashboard queries NOT checked "
            "(`make tools` installs it, from the Debian package prometheus)"
        )
        return 0
    # the defaults, and the ci sets that set prometheusRule (the others render the same rules)
    sets: list[Path | None] = [None]
    sets += [v for v in sorted((chart / "ci").glob("*-values.yaml")) if "prometheusRule" in v.read_text()]
    files: dict[str, list[dict]] = {}
    for values in sets:
        files[f"rules-{values.stem if values else 'defaults'}.yaml"] = rendered_rule_groups(chart, values)
    files["dashboard.yaml"] = dashboard_rule_groups(chart)
    with tempfile.TemporaryDirectory(prefix="fadi-promtool-") as tmp:
        paths = []
        for name, groups in files.items():
            path = Path(tmp) / name
            path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False), encoding="utf-8")
            paths.append(str(path))
        proc = subprocess.run([promtool, "check", "rules", *paths], capture_output=True, text=True)
    print(f"[lint] promtool check rules: {', '.join(files)}")
    if proc.returncode != 0:
        print(proc.stdout + proc.stderr, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
