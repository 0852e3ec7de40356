"""The operator chart's monitoring: the generated Grafana dashboard (dev/dashboard.py) and the alert
rules, their PromQL parsed by promtool and their metric names those the operator and executor export."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import tool
from fadi_seldon.dev import dashboard, generate

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "charts" / "seldon-core-operator"
MONITORING_VALUES = CHART / "ci" / "monitoring-values.yaml"

# What the Seldon 1.17.1 operator (controller-runtime and client-go's work queue) and executor export
# (executor/api/metric: server histogram and its labels), plus Prometheus' own `up`.
OPERATOR_METRICS = {
    "up",
    "controller_runtime_reconcile_total",
    "controller_runtime_reconcile_errors_total",
    "controller_runtime_reconcile_time_seconds_bucket",
    "controller_runtime_webhook_requests_total",
    "controller_runtime_webhook_latency_seconds_bucket",
    "workqueue_depth",
}
EXECUTOR_METRICS = {
    "seldon_api_executor_server_requests_seconds_count",
    "seldon_api_executor_server_requests_seconds_bucket",
}
# the Seldon Python wrapper's (seldon_core/metrics.py; a real scrape checks them, tests/test_serve.py)
WRAPPER_METRICS = {"seldon_api_model_feedback_total", "seldon_api_model_feedback_reward_total"}
EXECUTOR_LABELS = {
    "deployment_name",
    "predictor_name",
    "predictor_version",
    "service",
    "method",
    "code",
    "le",
}
PROMQL_WORDS = {
    "sum",
    "max",
    "by",
    "rate",
    "histogram_quantile",
    "absent",
    "label_values",
    "le",
}
IDENT = re.compile(r"(?<![\w$\"{=~.:])([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?=[{(\[]|\s*$|\s*[)/>])")


def metric_names(expr: str) -> set[str]:
    """The metric names an expression reads: identifiers followed by a selector, range or operator,
    that are neither functions nor keywords (quoted strings and label matchers left out)."""
    bare = re.sub(r'"[^"]*"', '""', expr)
    bare = re.sub(r"\{[^}]*\}", "{}", bare)
    bare = re.sub(r"by \([^)]*\)", "", bare)
    return {name for name in IDENT.findall(bare) if name not in PROMQL_WORDS}


def test_the_committed_dashboard_is_the_generated_one():
    assert dashboard.OUTPUT in generate.generators()
    committed = (ROOT / dashboard.OUTPUT).read_text(encoding="utf-8")
    assert committed == dashboard.render(ROOT), "run `make generate`"
    assert json.loads(committed)["uid"] == dashboard.UID


def test_panels_have_unique_ids_and_do_not_overlap():
    panels = dashboard.panels()
    assert len({p["id"] for p in panels}) == len(panels)
    cells = set()
    for p in panels:
        g = p["gridPos"]
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not cells & mine, f"panel {p['title']!r} overlaps another"
        cells |= mine
    assert {p["type"] for p in panels} == {"row", "timeseries"}


def test_every_query_reads_a_metric_the_operator_the_executor_or_the_wrapper_exports():
    seen = set()
    for expr in dashboard.queries():
        names = metric_names(expr)
        assert names, expr
        assert names <= OPERATOR_METRICS | EXECUTOR_METRICS | WRAPPER_METRICS, (
            f"unknown metric in {expr}: {names}"
        )
        seen |= names
    assert seen >= EXECUTOR_METRICS, "the models' row shows the executor's requests"
    assert seen >= WRAPPER_METRICS, "the wrapper's row shows feedback and reward"


def test_model_panels_group_and_filter_by_the_executors_labels():
    for _, _, targets in dashboard.MODEL_PANELS:
        for expr, _ in targets:
            used = set(re.findall(r"by \(([^)]*)\)", expr))
            labels = {label.strip() for group in used for label in group.split(",")}
            matchers = set(re.findall(r"(\w+)\s*[!=]~?\"", expr))
            assert labels | matchers <= EXECUTOR_LABELS, expr
            assert {"deployment_name", "predictor_name"} <= labels | matchers


def test_metric_names_parser():
    assert metric_names('sum by (a) (rate(x_total{job=~"a|b"}[5m])) / sum(rate(y_total[5m])) > 0.1') == {
        "x_total",
        "y_total",
    }
    assert metric_names('absent(up{a="b"} == 1)') == {"up"}


def rendered(*args: str) -> list[dict]:
    helm = tool("helm")
    out = subprocess.run(
        [helm, "template", "seldon", str(CHART), "--namespace", "seldon-system", *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def test_the_monitoring_values_set_renders_each_object_once():
    kinds = sorted(
        (d["kind"], d["metadata"]["name"])
        for d in rendered("-f", str(MONITORING_VALUES))
        if d["kind"] in ("ServiceMonitor", "PodMonitor", "PrometheusRule", "ConfigMap", "Service")
    )
    assert kinds == [
        ("ConfigMap", "seldon-config"),
        ("ConfigMap", "seldon-dashboard"),
        ("PodMonitor", "seldon-controller-manager"),
        ("PodMonitor", "seldon-models"),
        ("PrometheusRule", "seldon-controller-manager"),
        ("Service", "seldon-controller-manager-metrics-service"),
        ("Service", "seldon-webhook-service"),
        ("ServiceMonitor", "seldon-controller-manager"),
    ]


def test_the_rendered_dashboard_is_the_generated_file_and_the_alerts_read_known_metrics():
    docs = rendered("-f", str(MONITORING_VALUES))
    (cm,) = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "seldon-dashboard"]
    assert json.loads(cm["data"]["seldon-core.json"]) == dashboard.dashboard()
    (rule,) = [d for d in docs if d["kind"] == "PrometheusRule"]
    alerts = [r for r in rule["spec"]["groups"][0]["rules"] if "alert" in r]
    assert len(alerts) == 5
    for r in alerts:
        assert metric_names(r["expr"]) <= OPERATOR_METRICS, r["expr"]
        assert r["labels"]["severity"] in ("critical", "warning")
        assert r["annotations"]["summary"] and r["annotations"]["description"]


def test_the_alert_rules_and_dashboard_queries_pass_promtool(tools_env):
    if shutil.which("promtool") is None:
        pytest.skip("promtool is not installed (`make tools` installs it: Debian package prometheus)")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "promtool_check.py"), str(CHART)],
        capture_output=True,
        text=True,
        env=tools_env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "rules-monitoring-values.yaml" in proc.stdout and "dashboard.yaml" in proc.stdout


def test_promtool_refuses_a_broken_query(tmp_path):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed")
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        yaml.safe_dump({"groups": [{"name": "x", "rules": [{"record": "a:b", "expr": "sum by (a (x)"}]}]})
    )
    assert subprocess.run([promtool, "check", "rules", str(rules)], capture_output=True).returncode != 0
