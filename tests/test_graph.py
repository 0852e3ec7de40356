"""The SeldonDeployment builder: shapes of the manifests and the descriptions it refuses."""

from __future__ import annotations

import json

import pytest
import yaml

from fadi_seldon.sdep import graph, predictor_servers
from fadi_seldon.sdep.graph import Deployment, GraphError, Node, Parameter, Predictor, Resources


def _model(name="clf", image="repo/clf:1"):
    return Node(name=name, image=image)


def _manifest(*predictors, servers=None, **kw):
    dep = Deployment(name=kw.pop("name", "dep"), predictors=list(predictors), **kw)
    return graph.to_manifest(dep, servers)


def test_single_model_has_container_named_after_node():
    m = _manifest(Predictor("default", _model()))
    assert m["apiVersion"] == "machinelearning.seldon.io/v1"
    assert m["kind"] == "SeldonDeployment"
    pred = m["spec"]["predictors"][0]
    assert pred["componentSpecs"] == [{"spec": {"containers": [{"name": "clf", "image": "repo/clf:1"}]}}]
    assert pred["graph"] == {"name": "clf", "type": "MODEL", "children": []}


def test_prepackaged_server_has_no_container():
    node = Node(name="iris", implementation="SKLEARN_SERVER", model_uri="gs://b/iris")
    pred = _manifest(Predictor("default", node))["spec"]["predictors"][0]
    assert "componentSpecs" not in pred
    assert pred["graph"]["implementation"] == "SKLEARN_SERVER"
    assert pred["graph"]["modelUri"] == "gs://b/iris"


@pytest.mark.parametrize("version", graph.API_VERSIONS)
def test_api_versions(version):
    assert _manifest(Predictor("p", _model()), api_version=version)["apiVersion"].endswith("/" + version)


def test_metadata_and_spec_fields():
    m = _manifest(
        Predictor("p", _model(), replicas=3),
        namespace="models",
        labels={"team": "ds"},
        protocol="v2",
        transport="grpc",
        resources=Resources(requests={"cpu": "100m"}, limits={"memory": "1Gi"}),
    )
    assert m["metadata"] == {"name": "dep", "namespace": "models", "labels": {"team": "ds"}}
    assert m["spec"]["protocol"] == "v2" and m["spec"]["transport"] == "grpc"
    pred = m["spec"]["predictors"][0]
    assert pred["replicas"] == 3
    container = pred["componentSpecs"][0]["spec"]["containers"][0]
    assert container["resources"] == {"requests": {"cpu": "100m"}, "limits": {"memory": "1Gi"}}


def test_node_resources_override_the_default():
    node = _model()
    node.resources = Resources(limits={"cpu": "2"})
    m = _manifest(Predictor("p", node), resources=Resources(requests={"cpu": "1"}))
    assert m["spec"]["predictors"][0]["componentSpecs"][0]["spec"]["containers"][0]["resources"] == {
        "limits": {"cpu": "2"}
    }


def test_ab_router_parameters_and_children():
    router = Node(
        name="ab",
        type="ROUTER",
        implementation="RANDOM_ABTEST",
        parameters=[Parameter("ratioA", "0.3", "FLOAT")],
        children=[_model("a", "r/a:1"), _model("b", "r/b:1")],
    )
    pred = _manifest(Predictor("p", router))["spec"]["predictors"][0]
    assert pred["graph"]["parameters"] == [{"name": "ratioA", "type": "FLOAT", "value": "0.3"}]
    assert [c["name"] for c in pred["graph"]["children"]] == ["a", "b"]
    assert [c["name"] for c in pred["componentSpecs"][0]["spec"]["containers"]] == ["a", "b"]


@pytest.mark.parametrize(
    ("children", "params", "message"),
    [
        (1, [Parameter("ratioA", "0.5", "FLOAT")], "exactly 2 children"),
        (2, [], "needs the parameter ratioA"),
        (2, [Parameter("ratioA", "1.5", "FLOAT")], "between 0 and 1"),
        (2, [Parameter("ratioA", "0.5", "STRING")], "must be a FLOAT"),
    ],
)
def test_ab_router_refusals(children, params, message):
    router = Node(
        name="ab",
        type="ROUTER",
        implementation="RANDOM_ABTEST",
        parameters=params,
        children=[_model(f"m{i}") for i in range(children)],
    )
    with pytest.raises(GraphError, match=message):
        _manifest(Predictor("p", router))


def test_canary_and_shadow_traffic():
    m = _manifest(
        Predictor("main", _model(), traffic=75),
        Predictor("canary", _model(image="repo/clf:2"), traffic=25),
        Predictor("mirror", _model(image="repo/clf:3"), shadow=True),
    )
    preds = m["spec"]["predictors"]
    assert [p.get("traffic") for p in preds] == [75, 25, None]
    assert preds[2]["shadow"] is True and "shadow" not in preds[0]


@pytest.mark.parametrize(
    ("predictors", "message"),
    [
        ([Predictor("a", _model(), traffic=60), Predictor("b", _model(), traffic=30)], "sum to 100"),
        ([Predictor("a", _model(), traffic=50)], "single predictor when set"),
        ([Predictor("a", _model(), shadow=True)], "Shadow can not exist as only predictor"),
        ([Predictor("a", _model()), Predictor("a", _model(), shadow=True)], "Duplicate predictor name"),
        (
            [
                Predictor("a", _model()),
                Predictor("s1", _model(), shadow=True),
                Predictor("s2", _model(), shadow=True),
            ],
            "Multiple shadows are not allowed",
        ),
        ([Predictor("a", _model(), replicas=-1)], "replicas must be 0 or more"),
    ],
)
def test_predictor_refusals(predictors, message):
    with pytest.raises(GraphError, match=message):
        _manifest(*predictors)


@pytest.mark.parametrize(
    ("node", "message"),
    [
        (Node(name="m"), "needs an image"),
        (Node(name="m", implementation="SKLEARN_SERVER"), "needs a modelUri"),
        (
            Node(name="m", implementation="SKLEARN_SERVER", model_uri="gs://x", type="ROUTER"),
            "only be a MODEL",
        ),
        (Node(name="Bad_Name", image="r/i:1"), "DNS label"),
        (Node(name="n" * 49, image="r/i:1"), "at most 48"),
        (Node(name="m", image="r/i:1", type="MODELL"), 'Unsupported value "MODELL"'),
        (Node(name="r", type="ROUTER", image="r/i:1"), "at least one child"),
        (Node(name="c", type="COMBINER", image="r/i:1"), "children"),
        (Node(name="m", implementation="RANDOM_ABTEST", image="r/i:1", type="ROUTER"), "takes no image"),
        (Node(name="m", implementation="AVERAGE_COMBINER"), "is a COMBINER, not a MODEL"),
        (Node(name="m", image="r/i:1", endpoint_type="HTTP"), 'Unsupported value "HTTP"'),
    ],
)
def test_node_refusals_name_the_place(node, message):
    with pytest.raises(GraphError, match=message) as info:
        _manifest(Predictor("p", node))
    assert info.value.where.startswith("spec.predictors[0].graph")


def test_duplicate_node_names_in_one_predictor():
    combiner = Node(name="c", type="COMBINER", image="r/c:1", children=[_model("m"), _model("m")])
    with pytest.raises(GraphError, match="'m' is used twice") as info:
        _manifest(Predictor("p", combiner))
    assert info.value.where == "spec.predictors[0].graph.children[1]"


def test_huggingface_needs_no_model_uri():
    node = Node(
        name="hf", implementation="HUGGINGFACE_SERVER", parameters=[Parameter("task", "text-generation")]
    )
    assert _manifest(Predictor("p", node), protocol="v2")["spec"]["predictors"][0]["graph"][
        "implementation"
    ] == ("HUGGINGFACE_SERVER")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("repo/clf:1", Node(name="clf", image="repo/clf:1")),
        ("seldonio/mock_classifier:1.0", Node(name="mock-classifier", image="seldonio/mock_classifier:1.0")),
        ("x=localhost:5000/a/b:2", Node(name="x", image="localhost:5000/a/b:2")),
        (
            "SKLEARN_SERVER:gs://b/iris",
            Node(name="sklearn", implementation="SKLEARN_SERVER", model_uri="gs://b/iris"),
        ),
        (
            "iris=XGBOOST_SERVER:s3://b/x",
            Node(name="iris", implementation="XGBOOST_SERVER", model_uri="s3://b/x"),
        ),
        ("RANDOM_ABTEST", Node(name="random-abtest", implementation="RANDOM_ABTEST")),
    ],
)
def test_parse_component(text, expected):
    assert graph.parse_component(text, "MODEL", "--model") == expected


@pytest.mark.parametrize("text", ["", "Repo/Upper:1", "has space:1", "SKLEARN_SERVER:", "name="])
def test_parse_component_refusals(text):
    with pytest.raises(GraphError, match="--model"):
        graph.parse_component(text, "MODEL", "--model")


def test_quantities():
    assert graph.parse_quantity_map("cpu=100m, memory=1Gi", "--requests") == {"cpu": "100m", "memory": "1Gi"}
    with pytest.raises(GraphError, match="not a Kubernetes quantity"):
        graph.parse_quantity_map("cpu=lots", "--requests")
    with pytest.raises(GraphError, match="NAME=QUANTITY"):
        graph.parse_quantity_map("cpu", "--requests")
    with pytest.raises(GraphError, match="write 1G or 1Gi"):
        graph.parse_quantity_map("memory=1GB", "--limits")
    with pytest.raises(GraphError, match="not a Kubernetes quantity"):
        graph.parse_quantity_map("cpu=-1", "--limits")  # parses in Kubernetes, refused for resources
    assert graph.parse_quantity_map("cpu=1e3,memory=.5Gi", "--limits") == {"cpu": "1e3", "memory": ".5Gi"}


def test_parameter_inference():
    assert Parameter.infer("a", True) == Parameter("a", "true", "BOOL")
    assert Parameter.infer("a", 3) == Parameter("a", "3", "INT")
    assert Parameter.infer("a", 0.5) == Parameter("a", "0.5", "FLOAT")
    assert Parameter.infer("a", "x") == Parameter("a", "x", "STRING")
    with pytest.raises(GraphError):
        Parameter.infer("a", [1])


def test_dump_round_trips_in_both_formats():
    m = _manifest(Predictor("p", _model()), labels={"a": "1"})
    assert yaml.safe_load(graph.dump(m, "yaml")) == m
    assert json.loads(graph.dump(m, "json")) == m
    assert graph.dump(m, "yaml").startswith(
        "apiVersion: machinelearning.seldon.io/v1\nkind: SeldonDeployment\n"
    )


def test_builtins_are_schema_implementations():
    from fadi_seldon.sdep import schema

    assert set(graph.BUILTIN_IMPLEMENTATIONS) <= set(schema.BUILTIN_IMPLEMENTATIONS)
    assert set(graph.BUILTIN_IMPLEMENTATIONS.values()) <= set(graph.NODE_TYPES)


@pytest.mark.parametrize(
    ("implementation", "protocol", "ok"),
    [
        ("TRITON_SERVER", None, False),
        ("TRITON_SERVER", "v2", True),
        ("TRITON_SERVER", "kfserving", True),
        ("SKLEARN_SERVER", "tensorflow", False),
        ("TENSORFLOW_SERVER", "tensorflow", True),
        ("TENSORFLOW_SERVER", "v2", False),
        ("LIGHTGBM_SERVER", "v2", True),  # a server of the user's own: its protocols are not known here
    ],
)
def test_prepackaged_server_must_have_an_image_for_the_protocol(implementation, protocol, ok):
    """The validator's rule (server-protocol; the webhook's own for the tensorflow protocol), which
    `to_manifest` applies: one copy of the rule."""
    node = Node(name="m", implementation=implementation, model_uri="gs://b/m")
    servers = predictor_servers.default_server_names() | {"LIGHTGBM_SERVER"}
    if ok:
        built = _manifest(Predictor("p", node), protocol=protocol, servers=servers)
        assert built["spec"]["predictors"][0]["graph"]["modelUri"]
    else:
        words = (
            f"does not handle tensorflow protocol {implementation}"
            if protocol == "tensorflow"
            else f"{implementation} has no image for protocol {protocol or 'seldon'}"
        )
        with pytest.raises(GraphError, match=words):
            _manifest(Predictor("p", node), protocol=protocol)
