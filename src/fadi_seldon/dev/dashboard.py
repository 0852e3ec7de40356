"""The Grafana dashboard of the operator chart (`metrics.dashboard.enabled`), written from the tables below.

One row shows the operator (the controller-runtime metrics of its `/metrics`: reconciles, admission
webhook, work queue), one row the models it serves (the executor's
`seldon_api_executor_server_requests_seconds` histogram, whose labels `deployment_name`,
`predictor_name`, `method` and `code` come from the SeldonDeployment). Panels are data, so a test
can parse every query (promtool) and check each metric name; `make generate` writes
charts/seldon-core-operator/dashboards/seldon-core.json from here, never by hand.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

OUTPUT = "charts/seldon-core-operator/dashboards/seldon-core.json"
UID = "fadi-seldon-core"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}

# the operator's series: its namespace (template variable), whichever job scrapes it
OP = 'namespace=~"$namespace"'
# the models' series: one SeldonDeployment and predictor (template variables)
MODEL = 'deployment_name=~"$deployment", predictor_name=~"$predictor"'
EXECUTOR = "seldon_api_executor_server_requests_seconds"
# executor codes: HTTP status for REST, gRPC status names for gRPC
MODEL_ERRORS = 'code!~"2..|OK"'

# (title, unit, [(PromQL, legend)]) per panel, by row
OPERATOR_PANELS: list[tuple[str, str, list[tuple[str, str]]]] = [
    ("Operator pods up", "none", [(f'sum(up{{{OP}, job=~".*controller-manager.*"}})', "pods up")]),
    (
        "Reconciles per second, by result",
        "reqps",
        [
            (
                f"sum by (controller, result) (rate(controller_runtime_reconcile_total{{{OP}}}[$__rate_interval]))",
                "{{controller}} {{result}}",
            )
        ],
    ),
    (
        "Reconcile errors per second",
        "reqps",
        [
            (
                f"sum by (controller) (rate(controller_runtime_reconcile_errors_total{{{OP}}}[$__rate_interval]))",
                "{{controller}}",
            )
        ],
    ),
    (
        "Reconcile duration (p50, p99)",
        "s",
        [
            (
                f"histogram_quantile({q}, sum by (controller, le) "
                f"(rate(controller_runtime_reconcile_time_seconds_bucket{{{OP}}}[$__rate_interval])))",
                f"{{{{controller}}}} p{int(q * 100)}",
            )
            for q in (0.5, 0.99)
        ],
    ),
    (
        "Admission reviews per second, by code",
        "reqps",
        [
            (
                f"sum by (webhook, code) (rate(controller_runtime_webhook_requests_total{{{OP}}}[$__rate_interval]))",
                "{{webhook}} {{code}}",
            )
        ],
    ),
    (
        "Admission review latency (p99)",
        "s",
        [
            (
                "histogram_quantile(0.99, sum by (webhook, le) "
                f"(rate(controller_runtime_webhook_latency_seconds_bucket{{{OP}}}[$__rate_interval])))",
                "{{webhook}}",
            )
        ],
    ),
    ("Work queue depth", "none", [(f"sum by (name) (workqueue_depth{{{OP}}})", "{{name}}")]),
]

MODEL_PANELS: list[tuple[str, str, list[tuple[str, str]]]] = [
    (
        "Requests per second",
        "reqps",
        [
            (
                f"sum by (deployment_name, predictor_name) (rate({EXECUTOR}_count{{{MODEL}}}[$__rate_interval]))",
                "{{deployment_name}}/{{predictor_name}}",
            )
        ],
    ),
    (
        "Latency (p50, p95, p99)",
        "s",
        [
            (
                f"histogram_quantile({q}, sum by (deployment_name, predictor_name, le) "
                f"(rate({EXECUTOR}_bucket{{{MODEL}}}[$__rate_interval])))",
                f"{{{{deployment_name}}}}/{{{{predictor_name}}}} p{int(q * 100)}",
            )
            for q in (0.5, 0.95, 0.99)
        ],
    ),
    (
        "Errors per second, by code",
        "reqps",
        [
            (
                f"sum by (deployment_name, predictor_name, code) "
                f"(rate({EXECUTOR}_count{{{MODEL}, {MODEL_ERRORS}}}[$__rate_interval]))",
                "{{deployment_name}}/{{predictor_name}} {{code}}",
            )
        ],
    ),
    (
        "Error ratio",
        "percentunit",
        [
            (
                f"sum by (deployment_name, predictor_name) (rate({EXECUTOR}_count{{{MODEL}, {MODEL_ERRORS}}}[$__rate_interval]))"
                f" / sum by (deployment_name, predictor_name) (rate({EXECUTOR}_count{{{MODEL}}}[$__rate_interval]))",
                "{{deployment_name}}/{{predictor_name}}",
            )
        ],
    ),
]

# the Seldon Python wrapper's own series (every model container built with it): feedback and its reward,
# labelled with the SeldonDeployment, predictor and model the operator's env names
FEEDBACK = "seldon_api_model_feedback"
WRAPPER_PANELS: list[tuple[str, str, list[tuple[str, str]]]] = [
    (
        "Feedback per second",
        "reqps",
        [
            (
                f"sum by (deployment_name, predictor_name, model_name) (rate({FEEDBACK}_total{{{MODEL}}}[$__rate_interval]))",
                "{{deployment_name}}/{{predictor_name}}/{{model_name}}",
            )
        ],
    ),
    (
        "Mean reward per feedback",
        "none",
        [
            (
                f"sum by (deployment_name, predictor_name, model_name) "
                f"(rate({FEEDBACK}_reward_total{{{MODEL}}}[$__rate_interval]))"
                f" / sum by (deployment_name, predictor_name, model_name) "
                f"(rate({FEEDBACK}_total{{{MODEL}}}[$__rate_interval]))",
                "{{deployment_name}}/{{predictor_name}}/{{model_name}}",
            )
        ],
    ),
]
ROWS = (
    ("Operator", OPERATOR_PANELS),
    ("Models (executor)", MODEL_PANELS),
    ("Models (Seldon Python wrapper)", WRAPPER_PANELS),
)

# (name, label, query) of the query variables; each also offers "All"
VARIABLES: list[tuple[str, str, str]] = [
    ("namespace", "Operator namespace", "label_values(controller_runtime_reconcile_total, namespace)"),
    ("deployment", "SeldonDeployment", f"label_values({EXECUTOR}_count, deployment_name)"),
    (
        "predictor",
        "Predictor",
        f'label_values({EXECUTOR}_count{{deployment_name=~"$deployment"}}, predictor_name)',
    ),
]


def _panel(panel_id: int, title: str, unit: str, targets: list[tuple[str, str]], x: int, y: int) -> dict:
    return {
        "id": panel_id,
        "type": "timeseries",
        "title": title,
        "datasource": DATASOURCE,
        "gridPos": {"h": 8, "w": 12, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
        "targets": [
            {"refId": chr(ord("A") + i), "datasource": DATASOURCE, "expr": expr, "legendFormat": legend}
            for i, (expr, legend) in enumerate(targets)
        ],
    }


def _variable(name: str, label: str, query: str) -> dict:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "query": {"query": query, "refId": name},
        "definition": query,
        "refresh": 2,
        "includeAll": True,
        "multi": True,
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "sort": 1,
    }


def panels() -> list[dict]:
    """Both rows, each a row panel followed by its panels two to a line."""
    out: list[dict] = []
    y = 0
    for row_title, table in ROWS:
        out.append(
            {
                "id": len(out) + 1,
                "type": "row",
                "title": row_title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                "panels": [],
            }
        )
        y += 1
        for i, (title, unit, targets) in enumerate(table):
            out.append(_panel(len(out) + 1, title, unit, targets, 12 * (i % 2), y + 8 * (i // 2)))
        y += 8 * ((len(table) + 1) // 2)
    return out


_TABLES = tuple(table for _, table in ROWS)


def queries(tables=_TABLES) -> list[str]:
    """Every PromQL query of the dashboard's panels (of the given rows' tables)."""
    return [expr for table in tables for _, _, targets in table for expr, _ in targets]


# labels Prometheus gives a target (not in the scrape), and PromQL keywords that look like names
TARGET_LABELS = frozenset({"namespace", "job", "instance", "pod", "container", "service", "endpoint"})
_SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}")
_BY = re.compile(r"\bby \(([^)]*)\)")
_MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*"')


def queried_series(tables) -> dict[str, set[str]]:
    """{metric: the labels the queries need from its scrape}: the matchers in its selector and the
    labels the queries aggregate by (target labels left out), for checking against a real scrape."""
    out: dict[str, set[str]] = {}
    for expr in queries(tables):
        grouped = {label.strip() for group in _BY.findall(expr) for label in group.split(",")}
        for metric, matchers in _SELECTOR.findall(expr):
            named = set(_MATCHER.findall(matchers))
            labels = (named | grouped) - TARGET_LABELS
            if metric.endswith("_bucket"):
                labels.add("le")
            else:
                labels.discard("le")
            out.setdefault(metric, set()).update(labels)
    return out


def dashboard() -> dict[str, Any]:
    variables = [
        {
            "name": "datasource",
            "label": "Data source",
            "type": "datasource",
            "query": "prometheus",
            "current": {},
            "hide": 0,
        },
        *(_variable(*v) for v in VARIABLES),
    ]
    return {
        "uid": UID,
        "title": "Seldon Core (FADI)",
        "description": "The Seldon Core operator and the SeldonDeployments it serves. Generated by fadi-seldon.",
        "tags": ["seldon", "fadi", "machine-learning"],
        "editable": True,
        "graphTooltip": 1,
        "refresh": "30s",
        "schemaVersion": 39,
        "time": {"from": "now-6h", "to": "now"},
        "timezone": "browser",
        "templating": {"list": variables},
        "annotations": {"list": []},
        "links": [],
        "panels": panels(),
    }


def render(root: Path | None = None) -> str:
    """The dashboard file's text (a generate.py generator: the repo root is not needed)."""
    return json.dumps(dashboard(), indent=2, sort_keys=False) + "\n"
