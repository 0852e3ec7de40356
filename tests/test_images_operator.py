"""The operator image: upstream's name (the chart's default image), and its /tmp/operator-resources,
what `managerCreateResources: true` reads at start-up."""

from __future__ import annotations

import pytest
import yaml

from fadi_seldon.images import operator
from fadi_seldon.runtime import versions
from fadi_seldon.sdep import crd

needs_helm = pytest.mark.skipif(
    not operator.find_executable("helm"), reason="helm is not installed (make tools)"
)


def test_the_image_has_upstreams_name_so_the_charts_defaults_run_it(repo_root):
    chart = repo_root / "charts" / "seldon-core-operator"
    defaults = yaml.safe_load((chart / "values.yaml").read_text())["image"]
    app_version = yaml.safe_load((chart / "Chart.yaml").read_text())["appVersion"]
    tag = defaults["tag"] or app_version
    assert operator.image_ref() == f"{defaults['registry']}/{defaults['repository']}:{tag}"
    assert operator.image_ref() == f"docker.io/seldonio/seldon-core-operator:{versions.seldon_core_version()}"
    sets = dict(s.split("=", 1) for s in operator.chart_sets("seldon-core-operator."))
    assert sets == {
        "seldon-core-operator.image.registry": defaults["registry"],
        "seldon-core-operator.image.repository": defaults["repository"],
        "seldon-core-operator.image.tag": tag,
        "seldon-core-operator.image.pullPolicy": "IfNotPresent",
    }, "the same image as the defaults, stated for values files that point elsewhere"


@needs_helm
def test_the_four_files_come_from_our_schema_and_our_chart():
    files = operator.operator_resources()
    assert set(files) == {"crd-v1.yaml", "validate.yaml", "service.yaml", "configmap.yaml"}
    assert yaml.safe_load(files["crd-v1.yaml"]) == crd.build()
    vwc = yaml.safe_load(files["validate.yaml"])
    assert vwc["kind"] == "ValidatingWebhookConfiguration"
    assert vwc["metadata"]["name"] == "seldon-validating-webhook-configuration"  # the operator adds -<ns>
    assert all("caBundle" not in hook["clientConfig"] for hook in vwc["webhooks"])
    assert {h["clientConfig"]["service"]["name"] for h in vwc["webhooks"]} == {"seldon-webhook-service"}
    assert yaml.safe_load(files["service.yaml"])["metadata"]["name"] == "seldon-webhook-service"
    config = yaml.safe_load(files["configmap.yaml"])
    assert config["metadata"]["name"] == "seldon-config" and "predictor_servers" in config["data"]


@needs_helm
def test_the_files_are_the_same_on_every_render(monkeypatch, tmp_path):
    first = operator.operator_resources()
    operator.operator_resources.cache_clear()
    assert operator.operator_resources() == first  # the chart's random CA is left out: images stay cached


@needs_helm
def test_without_the_chart_the_image_has_none(monkeypatch, tmp_path):
    operator.operator_resources.cache_clear()
    monkeypatch.setattr(operator, "CHART", tmp_path / "no-chart")
    try:
        assert operator.operator_resources() == {}
    finally:
        operator.operator_resources.cache_clear()
