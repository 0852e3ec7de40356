"""Which predictor servers an operator has: the chart's defaults, merged with a user's values file as Helm does."""

from __future__ import annotations

from pathlib import Path

import pytest

from fadi_seldon.sdep import predictor_servers as ps
from fadi_seldon.sdep.validator import validate_object

DEFAULTS = set(ps.DEFAULT_SERVERS)
LIGHTGBM = {
    "LIGHTGBM_SERVER": {"protocols": {"v2": {"image": "seldonio/mlserver", "defaultImageVersion": "1.3.5"}}}
}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (None, DEFAULTS),  # an empty file
        ({"image": {"tag": "1"}}, DEFAULTS),  # operator values that do not touch the servers
        ({"seldon-core-operator": {"enabled": True}}, DEFAULTS),  # FADI values, likewise
        ({"seldon-core-operator": None}, DEFAULTS),
        ({"predictor_servers": LIGHTGBM}, DEFAULTS | {"LIGHTGBM_SERVER"}),  # added to the defaults
        ({"seldon-core-operator": {"predictor_servers": LIGHTGBM}}, DEFAULTS | {"LIGHTGBM_SERVER"}),
        ({"predictor_servers": {"SKLEARN_SERVER": None}}, DEFAULTS - {"SKLEARN_SERVER"}),  # null removes
        ({"predictor_servers": {"SKLEARN_SERVER": {"protocols": {}}}}, DEFAULTS),  # overriding keeps the name
        ({"predictor_servers": None}, set()),  # null removes the whole map
        ({"seldon-core-operator": {"predictor_servers": {}}}, DEFAULTS),
    ],
)
def test_values_are_merged_over_the_chart_defaults(values, expected) -> None:
    assert ps.values_server_names(values) == expected


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (["a"], "values file"),
        ({"predictor_servers": ["LIGHTGBM_SERVER"]}, "predictor_servers must be a mapping"),
        ({"seldon-core-operator": {"predictor_servers": "x"}}, "seldon-core-operator.predictor_servers"),
        ({"seldon-core-operator": 3}, "seldon-core-operator must be a mapping"),
    ],
)
def test_values_that_are_not_a_values_file_are_refused(values, message) -> None:
    with pytest.raises(ps.ServersFileError, match=message):
        ps.values_server_names(values)


def test_load_values_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "values.yaml"
    path.write_text("seldon-core-operator:\n  predictor_servers:\n    LIGHTGBM_SERVER: {protocols: {}}\n")
    assert ps.load_values_file(path) == DEFAULTS | {"LIGHTGBM_SERVER"}
    path.write_text("predictor_servers: [\n")
    with pytest.raises(ps.ServersFileError, match="values.yaml"):
        ps.load_values_file(path)
    with pytest.raises(ps.ServersFileError, match="missing.yaml"):
        ps.load_values_file(tmp_path / "missing.yaml")


def _prepackaged(implementation: str, container: dict | None = None) -> dict:
    predictor = {
        "name": "default",
        "graph": {"name": "classifier", "implementation": implementation, "modelUri": "gs://b/m"},
    }
    if container is not None:
        predictor["componentSpecs"] = [{"spec": {"containers": [container]}}]
    return {
        "apiVersion": "machinelearning.seldon.io/v1",
        "kind": "SeldonDeployment",
        "metadata": {"name": "iris"},
        "spec": {"predictors": [predictor]},
    }


def test_unknown_server_follows_the_webhooks_condition() -> None:
    """Prepackaged, no same-named container with an image, and not in the map (upstream's 10e)."""
    (finding,) = validate_object(_prepackaged("LIGHTGBM_SERVER"))
    assert finding.rule == "unknown-server" and finding.path == "spec.predictors[0].graph.implementation"
    assert "seldon-core-operator.predictor_servers.LIGHTGBM_SERVER" in finding.message
    assert "predictor_servers.LIGHTGBM_SERVER in the operator chart's values" in finding.message
    assert "--values" in finding.message
    assert validate_object(_prepackaged("LIGHTGBM_SERVER"), servers=DEFAULTS | {"LIGHTGBM_SERVER"}) == []
    with_image = {"name": "classifier", "image": "me/lightgbm:1"}
    assert validate_object(_prepackaged("LIGHTGBM_SERVER", with_image)) == []
    without_image = {"name": "classifier"}
    assert [f.rule for f in validate_object(_prepackaged("LIGHTGBM_SERVER", without_image))] == [
        "unknown-server"
    ]
    # built in, no map needed (a graph of built-ins alone has no pod for the executor: engine-placement)
    assert [f.rule for f in validate_object(_prepackaged("SIMPLE_MODEL"), servers=set())] == [
        "engine-placement"
    ]
