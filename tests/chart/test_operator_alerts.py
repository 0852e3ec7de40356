"""The chart's alerts behave: `promtool test rules` feeds each alert series that must fire it and
series that must not, on the rules `helm template` renders (metrics.prometheusRule.enabled).

The annotations are left out of the rules under test (their text holds `$value`, and promtool
compares annotations exactly); `promtool check rules` in `make lint` parses their templates.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, tool

CHART = ROOT / "charts" / "seldon-core-operator"
# the series of the chart's ServiceMonitor target (job = the metrics Service's name)
TARGET = 'namespace="seldon-system", job="seldon-controller-manager-metrics-service"'


def _rules(tmp_path: Path) -> Path:
    out = subprocess.run(
        [tool("helm"), "template", "seldon", str(CHART), "--namespace", "seldon-system"]
        + ["--set", "metrics.prometheusRule.enabled=true"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    [rule] = [d for d in yaml.safe_load_all(out) if d and d.get("kind") == "PrometheusRule"]
    groups = rule["spec"]["groups"]
    for group in groups:
        for r in group["rules"]:
            r.pop("annotations", None)
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    return path


def _alert(name: str, at: str, labels: dict | None) -> dict:
    expected = [{"exp_labels": labels}] if labels is not None else []
    return {"eval_time": at, "alertname": name, "exp_alerts": expected}


def _case(series: list[tuple[str, str]], *alerts: dict) -> dict:
    return {
        "interval": "1m",
        "input_series": [{"series": s, "values": v} for s, v in series],
        "alert_rule_test": list(alerts),
    }


CASES = [
    # down: no target up for 5 minutes; up: silence
    _case(
        [(f"up{{{TARGET}}}", "0x20")],
        _alert("SeldonOperatorDown", "10m", {"severity": "critical"}),
    ),
    _case([(f"up{{{TARGET}}}", "1x20")], _alert("SeldonOperatorDown", "10m", None)),
    # reconcile errors: 20 % of reconciles fail for 15 minutes and more; 1 % does not fire
    _case(
        [
            (
                f'controller_runtime_reconcile_total{{{TARGET}, controller="seldon-controller-manager"}}',
                "0+10x60",
            ),
            (
                f'controller_runtime_reconcile_errors_total{{{TARGET}, controller="seldon-controller-manager"}}',
                "0+2x60",
            ),
        ],
        _alert(
            "SeldonOperatorReconcileErrors",
            "45m",
            {"severity": "warning", "namespace": "seldon-system", "controller": "seldon-controller-manager"},
        ),
    ),
    _case(
        [
            (f'controller_runtime_reconcile_total{{{TARGET}, controller="c"}}', "0+100x60"),
            (f'controller_runtime_reconcile_errors_total{{{TARGET}, controller="c"}}', "0+1x60"),
        ],
        _alert("SeldonOperatorReconcileErrors", "45m", None),
    ),
    # webhook: a tenth of admission reviews answered 500
    _case(
        [
            (
                f'controller_runtime_webhook_requests_total{{{TARGET}, webhook="/validate", code="200"}}',
                "0+9x40",
            ),
            (
                f'controller_runtime_webhook_requests_total{{{TARGET}, webhook="/validate", code="500"}}',
                "0+1x40",
            ),
        ],
        _alert(
            "SeldonWebhookErrors",
            "30m",
            {"severity": "warning", "namespace": "seldon-system", "webhook": "/validate"},
        ),
    ),
    # webhook latency: every review over 2 s (p99 above the 1 s threshold)
    _case(
        [
            (
                f'controller_runtime_webhook_latency_seconds_bucket{{{TARGET}, webhook="/validate", le="1"}}',
                "0x40",
            ),
            (
                f'controller_runtime_webhook_latency_seconds_bucket{{{TARGET}, webhook="/validate", le="2.5"}}',
                "0+5x40",
            ),
            (
                f'controller_runtime_webhook_latency_seconds_bucket{{{TARGET}, webhook="/validate", le="+Inf"}}',
                "0+5x40",
            ),
        ],
        _alert(
            "SeldonWebhookSlow",
            "30m",
            {"severity": "warning", "namespace": "seldon-system", "webhook": "/validate"},
        ),
    ),
    # backlog: 150 items for 20 minutes fires; 50 does not
    _case(
        [(f'workqueue_depth{{{TARGET}, name="seldon-controller-manager"}}', "150x40")],
        _alert(
            "SeldonOperatorBacklog",
            "30m",
            {"severity": "warning", "namespace": "seldon-system", "name": "seldon-controller-manager"},
        ),
    ),
    _case(
        [(f'workqueue_depth{{{TARGET}, name="q"}}', "50x40")], _alert("SeldonOperatorBacklog", "30m", None)
    ),
]


def test_every_alert_fires_on_its_condition_and_stays_silent_otherwise(tmp_path):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is missing: `make tools` installs it (Debian package prometheus)")
    rules = _rules(tmp_path)
    names = {r["alert"] for g in yaml.safe_load(rules.read_text())["groups"] for r in g["rules"]}
    tested = {a["alertname"] for case in CASES for a in case["alert_rule_test"]}
    assert tested == names, f"alerts without a test: {names - tested}"
    spec = {"rule_files": [str(rules)], "evaluation_interval": "1m", "tests": CASES}
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    proc = subprocess.run(
        [promtool, "test", "rules", str(tmp_path / "tests.yaml")], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
