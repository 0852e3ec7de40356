"""The compact graph spec (`fadi-seldon new --from`): what it builds and where its errors point."""

from __future__ import annotations

import json
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fadi_seldon.sdep import graph, graph_spec
from fadi_seldon.sdep.graph import GraphError, Parameter


def _load(text: str):
    return graph_spec.loads(textwrap.dedent(text), "spec.yaml")


def test_shorthand_graph_is_one_default_predictor():
    dep = _load(
        """
        name: iris
        replicas: 2
        graph: SKLEARN_SERVER:gs://b/iris
        """
    )
    assert [p.name for p in dep.predictors] == ["default"]
    assert dep.predictors[0].replicas == 2
    assert dep.predictors[0].graph.implementation == "SKLEARN_SERVER"


def test_nested_graph_with_roles_parameters_env_resources():
    dep = _load(
        """
        name: chain
        namespace: ns
        apiVersion: machinelearning.seldon.io/v1alpha3
        protocol: seldon
        labels: {team: ds}
        predictors:
          - name: main
            traffic: 80
            graph:
              output_transformer: out=r/out:1
              children:
                - transformer: t=r/t:1
                  env: {SCALE: 0.1, DEBUG: true}
                  children:
                    - router: RANDOM_ABTEST
                      name: ab
                      parameters: {ratioA: 0.7}
                      children:
                        - model: a=r/a:1
                          resources: {limits: {memory: 1Gi}}
                        - {model: "b=SKLEARN_SERVER:gs://b/m"}
          - name: canary
            traffic: 20
            graph: {model: a=r/a:2, parameters: [{name: n, value: 3, type: DOUBLE}]}
        """
    )
    assert dep.api_version == "v1alpha3" and dep.namespace == "ns" and dep.labels == {"team": "ds"}
    root = dep.predictors[0].graph
    assert (root.type, root.name) == ("OUTPUT_TRANSFORMER", "out")
    transformer = root.children[0]
    assert transformer.env == {"SCALE": "0.1", "DEBUG": "true"}
    router = transformer.children[0]
    assert (router.name, router.parameters) == ("ab", [Parameter("ratioA", "0.7", "FLOAT")])
    assert router.children[0].resources.limits == {"memory": "1Gi"}
    assert dep.predictors[1].graph.parameters == [Parameter("n", "3", "DOUBLE")]
    manifest = graph.to_manifest(dep)
    assert [p["traffic"] for p in manifest["spec"]["predictors"]] == [80, 20]


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("name: x\ngraph:\n  modle: r/a:1\n", "spec.yaml:3:3: graph.modle", "unknown key 'modle'"),
        ("name: x\ngraph:\n  model: r/a:1\n  router: R\n", "spec.yaml:3:3: graph", "exactly one role key"),
        ("name: x\n", "spec.yaml:1:1", "either graph"),
        ("name: x\ngraph: r/a:1\npredictors: []\n", "spec.yaml:1:1", "either graph"),
        ("name: x\npredictors: []\n", "spec.yaml:2:13: predictors", "non-empty list"),
        (
            "name: x\npredictors:\n- name: p\n  traffic: lots\n  graph: r/a:1\n",
            "spec.yaml:4:12",
            "an integer",
        ),
        ("name: x\ngraph:\n  model: r/a:1\n  children: {}\n", "graph.children", "children is a list"),
        (
            "name: x\ngraph:\n  model: r/a:1\n  endpoint: HTTP\n",
            "spec.yaml:4:13: graph.endpoint",
            "REST or GRPC",
        ),
        (
            "name: x\ngraph:\n  model: r/a:1\n  parameters: [{name: p, value: 1, type: INTEGER}]\n",
            "graph.parameters[0].type",
            "'INTEGER' is not one of",
        ),
        (
            "name: x\ngraph:\n  model: r/a:1\n  resources: {limits: {cpu: lots}}\n",
            "graph.resources.limits.cpu",
            "quantity",
        ),
        ("name: x\ngraph:\n  model: [1]\n", "graph.model", "component reference string"),
        ("name: x\ngraph: {model: Bad/Image}\n", "graph.model", "neither an image"),
        ("- a list\n", "spec.yaml", "expected a mapping"),
        ("name: x\ngraph: [unclosed\n", "spec.yaml:3:1", "not valid YAML"),
        ("", "spec.yaml", "empty"),
    ],
)
def test_errors_point_at_file_line_and_path(text, where, message):
    with pytest.raises(GraphError) as info:
        graph_spec.loads(text, "spec.yaml")
    assert where in str(info.value)
    assert message in str(info.value)


def test_load_reports_unreadable_file(tmp_path):
    with pytest.raises(GraphError, match="cannot read the spec"):
        graph_spec.load(tmp_path / "missing.yaml")


def test_committed_spec_examples_load(repo_root):
    for spec in sorted((repo_root / "examples" / "graphs").glob("*.spec.yaml")):
        dep = graph_spec.load(spec)
        assert graph.to_manifest(dep)["metadata"]["name"] == dep.name


def test_the_documented_spec_builds(repo_root):
    """The spec shown in docs/graphs.md stays valid as the format evolves."""
    doc = (repo_root / "docs" / "graphs.md").read_text()
    block = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    manifest = graph.to_manifest(graph_spec.loads(block, "docs/graphs.md"))
    assert [p["name"] for p in manifest["spec"]["predictors"]] == ["main", "canary"]


_KEYS = sorted(graph_spec.TOP_KEYS | graph_spec.PREDICTOR_KEYS | graph_spec.NODE_KEYS | set(graph_spec.ROLES))
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 200),
    st.floats(allow_nan=True),
    st.sampled_from(
        ["r/a:1", "SKLEARN_SERVER:gs://b/m", "RANDOM_ABTEST", "v1", "REST", "x", "", "Bad Name", "100m"]
    ),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(st.sampled_from(_KEYS), st.text(max_size=4)), inner, max_size=4),
    ),
    max_leaves=12,
)


@given(doc=st.dictionaries(st.sampled_from(_KEYS), _VALUES, max_size=5))
@settings(max_examples=300, deadline=None)
def test_any_spec_gives_a_deployment_or_a_located_error(doc):
    """Malformed specs never crash: the outcome is a manifest or a GraphError naming the spec."""
    text = json.dumps(doc)  # JSON is YAML
    try:
        dep = graph_spec.loads(text, "fuzz.yaml")
        graph.to_manifest(dep)
    except GraphError as err:
        assert str(err).startswith(("fuzz.yaml", "spec.", "metadata.", "apiVersion", "--"))
