"""validator/prepackaged.py: a prepackaged server's image for the protocol, and a modelUri the rclone
storage initializer can fetch (server-protocol, model-uri-pvc, model-uri-secret, model-uri-url).

The failing examples are in tests/data (failed-later/, warnings/, checked by test_validator_rules.py);
here, what each rule leaves alone.
"""

from __future__ import annotations

import pytest

from fadi_seldon.sdep import predictor_servers, validator

RULES = {"server-protocol", "model-uri-pvc", "model-uri-secret", "model-uri-url"}


def _sdep(node: dict, protocol: str | None = None, containers: list | None = None) -> dict:
    predictor: dict = {"name": "default", "graph": {"name": "m", **node}}
    if containers:
        predictor["componentSpecs"] = [{"spec": {"containers": containers}}]
    spec: dict = {"predictors": [predictor]}
    if protocol:
        spec["protocol"] = protocol
    return {"apiVersion": "machinelearning.seldon.io/v1", "kind": "SeldonDeployment", "metadata": {"name": "x"},
            "spec": spec}  # fmt: skip


def _found(obj: dict, servers: set[str] | None = None) -> list[tuple[str, str]]:
    return [(f.rule, f.path) for f in validator.validate_object(obj, servers) if f.rule in RULES]


@pytest.mark.parametrize(
    ("server", "protocol"),
    [
        ("SKLEARN_SERVER", None),
        ("SKLEARN_SERVER", "v2"),
        ("SKLEARN_SERVER", "kfserving"),  # v2 and kfserving stand in for each other
        ("XGBOOST_SERVER", "seldon"),
        ("MLFLOW_SERVER", "v2"),
        ("TENSORFLOW_SERVER", "tensorflow"),
        ("TRITON_SERVER", "kfserving"),
        ("HUGGINGFACE_SERVER", "v2"),
    ],
)
def test_a_server_with_an_image_for_the_protocol_passes(server, protocol):
    assert _found(_sdep({"implementation": server, "modelUri": "gs://b/m"}, protocol)) == []


@pytest.mark.parametrize(
    ("server", "protocol"),
    [("HUGGINGFACE_SERVER", None), ("TEMPO_SERVER", "seldon"), ("TRITON_SERVER", "tensorflow"),
     ("TENSORFLOW_SERVER", "kfserving")],
)  # fmt: skip
def test_a_server_without_one_is_an_error_naming_what_it_serves(server, protocol):
    found = validator.validate_object(_sdep({"implementation": server, "modelUri": "gs://b/m"}, protocol))
    [finding] = [f for f in found if f.rule == "server-protocol"]
    serves = ", ".join(sorted(predictor_servers.image_protocols(server) or ()))
    assert finding.severity == "error" and finding.path == "spec.predictors[0].graph.implementation"
    assert (
        f"{server} has no image for protocol {protocol or 'seldon'} (it serves: {serves})" in finding.message
    )
    assert "server-protocol" in validator.FAILED_LATER_RULES


def test_the_tensorflow_protocol_on_a_server_that_cannot_speak_it_is_said_once_by_the_webhook_rule():
    found = {
        f.rule
        for f in validator.validate_object(_sdep({"implementation": "HUGGINGFACE_SERVER"}, "tensorflow"))
    }
    assert "webhook-tensorflow-protocol" in found and "server-protocol" not in found


def test_a_node_whose_container_has_its_own_image_or_a_server_of_the_users_own_is_not_checked():
    own = _sdep(
        {"implementation": "TRITON_SERVER", "modelUri": "gs://b/m"},
        "seldon",
        [{"name": "m", "image": "r/t:1"}],
    )
    assert _found(own) == []
    mine = _sdep({"implementation": "LIGHTGBM_SERVER", "modelUri": "gs://b/m"}, "seldon")
    assert _found(mine, predictor_servers.default_server_names() | {"LIGHTGBM_SERVER"}) == []
    gone = _sdep({"implementation": "TRITON_SERVER", "modelUri": "gs://b/m"})  # removed by the user's values
    assert _found(gone, {"SKLEARN_SERVER"}) == []


@pytest.mark.parametrize(
    "node",
    [
        {
            "implementation": "SKLEARN_SERVER",
            "modelUri": "gs://seldon-models/sklearn/iris",
        },  # the image's remote
        {"implementation": "SKLEARN_SERVER", "modelUri": "gs:seldon-models/sklearn/iris"},
        {"implementation": "SKLEARN_SERVER", "modelUri": "s3://models/iris", "envSecretRefName": "creds"},
        {"implementation": "SKLEARN_SERVER", "modelUri": "minio:models/iris", "envSecretRefName": "creds"},
        {"implementation": "SKLEARN_SERVER", "modelUri": "pvc://model-claim/iris"},
        {"implementation": "SKLEARN_SERVER", "modelUri": "pvc://models.team-a"},  # the claim's root
        {"implementation": "SKLEARN_SERVER", "modelUri": "s3://{{ .Values.bucket }}/iris"},  # a template's
        {"implementation": "SKLEARN_SERVER", "modelUri": "models/iris"},  # model-uri-scheme's, not these
        {"type": "MODEL"},  # no modelUri at all
    ],
)
def test_model_uris_the_initializer_can_fetch_pass(node):
    containers = [{"name": "m", "image": "r/m:1"}] if "implementation" not in node else None
    assert _found(_sdep(node, containers=containers)) == []


def test_a_custom_image_with_an_s3_model_uri_needs_the_secret_too():
    """The operator adds the rclone initializer to any node with a modelUri (not only servers)."""
    obj = _sdep({"type": "MODEL", "modelUri": "s3://models/m"}, containers=[{"name": "m", "image": "r/m:1"}])
    assert _found(obj) == [("model-uri-secret", "spec.predictors[0].graph.modelUri")]
