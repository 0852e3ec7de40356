"""scripts/validate_rendered.py catches schema errors, counts skipped custom resources, and runs
over every ci values set of a chart."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import tool

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "validate_rendered.py"


@pytest.fixture(scope="module")
def vr():
    spec = importlib.util.spec_from_file_location("validate_rendered", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_versions_cover_1_25_to_the_newest_shipped(vr):
    shipped = vr.shipped_versions()
    assert shipped[0] == "1.25.0" and len(shipped) >= 12


def test_unknown_field_and_wrong_type_are_errors(vr):
    text = """
apiVersion: v1
kind: Service
metadata: {name: s}
spec:
  ports: [{port: "not-a-number"}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec:
  selector: {matchLabels: {a: b}}
  replicas: 1
  template:
    metadata: {labels: {a: b}}
    spec:
      containers: [{name: c, image: x, imagePullPolicy: IfNotPresent, typoField: 1}]
"""
    result = vr.SetResult(name="t")
    vr.validate_documents(text, ["1.25.0", "1.36.0"], result)
    assert result.documents == 2 and result.checks == 4
    assert any("Service/s" in e and "port" in e for e in result.errors)
    assert any("Deployment/d" in e and "typoField" in e for e in result.errors)


def test_custom_resources_are_skipped_and_counted(vr):
    text = "apiVersion: cert-manager.io/v1\nkind: Issuer\nmetadata: {name: i}\nspec: {selfSigned: {}}\n"
    result = vr.SetResult(name="t")
    vr.validate_documents(text, ["1.36.0"], result)
    assert result.errors == [] and result.checks == 0
    assert result.skipped == {"Issuer (cert-manager.io/v1)": 1}


def test_valid_objects_pass(vr):
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n"
    result = vr.SetResult(name="t")
    vr.validate_documents(text, ["1.25.0"], result)
    assert result.errors == [] and result.checks == 1


def test_cli_on_the_operator_chart_json(tools_env):
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), str(ROOT / "charts" / "seldon-core-operator"), "--min", "1.36",
         "--max", "1.36", "--helm", tool("helm"), "--output", "json"],
        capture_output=True, text=True, env=tools_env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    names = [s["name"] for s in report["sets"]]
    assert names[0] == "(chart defaults)" and any(n.endswith("cert-manager-values.yaml") for n in names)
    assert report["errors"] == 0
    cm = next(s for s in report["sets"] if s["name"].endswith("cert-manager-values.yaml"))
    assert cm["skipped"] == {"Certificate (cert-manager.io/v1)": 1, "Issuer (cert-manager.io/v1)": 1}


def test_cli_usage_errors(tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 2 and "not a chart directory" in proc.stderr


def test_optional_parts_outside_the_ci_sets_are_valid_too(vr):
    """Usage metrics stay out of ci/ (they would report to Seldon from CI clusters): check them here."""
    text = subprocess.run(
        [tool("helm"), "template", "v", str(ROOT / "charts" / "seldon-core-operator"), "--set", "usageMetrics.enabled=true",
         "--set", "crd.create=false", "--set", "webhook.url=https://127.0.0.1:9443"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    result = vr.SetResult(name="usage metrics")
    vr.validate_documents(text, [vr.shipped_versions()[0], vr.shipped_versions()[-1]], result)
    assert result.errors == []
    assert result.documents >= 15 and result.skipped == {}
