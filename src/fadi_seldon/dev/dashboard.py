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
    for row_title, table in (("Operator", OPERATOR_PANELS), ("Models (executor)", MODEL_PANELS)):
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


def queries() -> list[str]:
    """Every PromQL query of the dashboard: its panels' and its variables' (label_values left out)."""
    return [expr for _, _, targets in OPERATOR_PANELS + MODEL_PANELS for expr, _ in targets]


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
