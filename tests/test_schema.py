"""The schema module (types, enums) and the default predictor servers."""

from __future__ import annotations

import json

import pytest

from fadi_seldon.runtime import versions
from fadi_seldon.sdep import predictor_servers, schema


def _all_types(t: schema.Type, seen: set[int] | None = None):
    seen = set() if seen is None else seen
    if id(t) in seen:
        return
    seen.add(id(t))
    yield t
    children = []
    if isinstance(t, schema.Obj):
        children = list(t.fields.values())
    elif isinstance(t, schema.ListOf):
        children = [t.items]
    elif isinstance(t, schema.MapOf):
        children = [t.values]
    for child in children:
        yield from _all_types(child, seen)


def test_required_fields_are_declared() -> None:
    for t in _all_types(schema.SELDON_DEPLOYMENT):
        if isinstance(t, schema.Obj):
            missing = set(t.required) - set(t.fields)
            assert not missing, f"{t.name}: required but not declared: {missing}"


def test_upstream_required_fields() -> None:
    assert schema.SPEC.required == ("predictors",)
    assert schema.PREDICTOR.required == ("name", "graph")
    assert schema.PREDICTIVE_UNIT.required == ("name",)
    assert schema.PARAMETER.required == ("name", "value", "type")


def test_children_recurse_into_predictive_units() -> None:
    assert isinstance(schema.PREDICTIVE_UNIT.fields["children"], schema.Children)
    rendered = schema.render(schema.PREDICTIVE_UNIT, depth=schema.GRAPH_DEPTH)
    assert rendered["properties"]["children"]["items"]["x-kubernetes-preserve-unknown-fields"] is True
    rendered = schema.render(schema.PREDICTIVE_UNIT, depth=schema.GRAPH_DEPTH - 1)
    assert rendered["properties"]["children"]["items"]["required"] == ["name"]


def test_descriptions_only_on_the_first_graph_level() -> None:
    graph = schema.graph_node_schema()
    assert graph["description"] and graph["properties"]["name"]["description"]
    child = graph["properties"]["children"]["items"]
    assert "description" not in json.dumps(child)


def test_schema_has_no_helm_markers() -> None:
    assert "{{" not in json.dumps(schema.openapi_schema())


def test_default_servers_shape() -> None:
    assert set(predictor_servers.DEFAULT_SERVERS) == {
        "SKLEARN_SERVER",
        "XGBOOST_SERVER",
        "MLFLOW_SERVER",
        "TENSORFLOW_SERVER",
        "TRITON_SERVER",
        "HUGGINGFACE_SERVER",
        "TEMPO_SERVER",
    }
    for name, server in predictor_servers.DEFAULT_SERVERS.items():
        assert set(server) == {"protocols"}, name
        assert set(server["protocols"]) <= set(schema.PROTOCOLS), name
        for entry in server["protocols"].values():
            assert set(entry) == {"image", "defaultImageVersion"} and all(entry.values()), name
    seldon = versions.seldon_core_version()
    assert (
        predictor_servers.DEFAULT_SERVERS["SKLEARN_SERVER"]["protocols"]["seldon"]["defaultImageVersion"]
        == seldon
    )
    assert set(predictor_servers.DEFAULT_SERVERS).isdisjoint(schema.BUILTIN_IMPLEMENTATIONS)


@pytest.mark.parametrize(
    "data",
    [
        {"predictor_servers": {"A_SERVER": {"protocols": {}}}},
        {"A_SERVER": {"protocols": {}}},
        {"kind": "ConfigMap", "data": {"predictor_servers": '{"A_SERVER": {"protocols": {}}}'}},
        ["A_SERVER"],
    ],
)
def test_server_names_from_each_form(data) -> None:
    assert predictor_servers.server_names(data) == {"A_SERVER"}


def test_server_names_rejects_other_data() -> None:
    with pytest.raises(predictor_servers.ServersFileError):
        predictor_servers.server_names(42)
