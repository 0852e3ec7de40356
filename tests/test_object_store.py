"""The local S3 store (`cluster object-store`): its objects, its keys kept across runs, and the model
Secret in the form the storage initializer reads. On the real node: tests/cluster/test_16_prepackaged.py."""

from __future__ import annotations

import base64

import pytest

from fadi_seldon.localkube import object_store


class FakeKubectl:
    def __init__(self, existing: dict | None = None) -> None:
        self.existing, self.applied = existing, []

    def get(self, *args: str) -> dict | None:
        return self.existing

    def apply(self, docs: list[dict]) -> None:
        self.applied += docs


def by_kind(docs: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for doc in docs:
        out.setdefault(doc["kind"], []).append(doc)
    return out


def test_the_store_is_rclone_serve_s3_with_its_keys_from_a_secret():
    keys, deployment, service = object_store.manifests("models", "fadikey1234", "s" * 32)
    assert keys["stringData"] == {"AWS_ACCESS_KEY_ID": "fadikey1234", "AWS_SECRET_ACCESS_KEY": "s" * 32}
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "docker.io/seldonio/rclone-storage-initializer:1.17.1"
    assert container["command"] == ["rclone"]
    assert container["args"][:3] == ["serve", "s3", object_store.DATA]
    # the keys reach the command line through the environment, never written into the manifest
    assert "$(AWS_ACCESS_KEY_ID),$(AWS_SECRET_ACCESS_KEY)" in container["args"]
    assert {e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"]} == {"object-store-keys"}
    assert (
        container["securityContext"]["runAsNonRoot"]
        and not container["securityContext"]["allowPrivilegeEscalation"]
    )
    assert service["spec"]["ports"][0]["port"] == 9000
    assert deployment["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]


def test_the_model_secret_is_upstreams_rclone_form():
    secret = object_store.model_secret(
        "models-s3", "models", object_store.endpoint("models"), "k" * 12, "s" * 32
    )
    assert secret["metadata"] == {"name": "models-s3", "namespace": "models"}
    data = secret["stringData"]
    assert data["RCLONE_CONFIG_S3_TYPE"] == "s3" and data["RCLONE_CONFIG_S3_ENV_AUTH"] == "false"
    assert data["RCLONE_CONFIG_S3_ENDPOINT"] == "http://object-store.models.svc.cluster.local:9000"
    assert (data["RCLONE_CONFIG_S3_ACCESS_KEY_ID"], data["RCLONE_CONFIG_S3_SECRET_ACCESS_KEY"]) == (
        "k" * 12,
        "s" * 32,
    )


def test_a_first_deploy_makes_new_keys_and_applies_everything():
    kubectl = FakeKubectl()
    result = object_store.deploy(kubectl, "models", "models-s3")
    kinds = by_kind(kubectl.applied)
    assert [n["metadata"]["name"] for n in kinds["Namespace"]] == ["models"]
    assert {s["metadata"]["name"] for s in kinds["Secret"]} == {"object-store-keys", "models-s3"}
    assert (
        len(result["access_key_id"]) >= 8 and len(result["secret_access_key"]) >= 32
    )  # serve s3 refuses short ids
    assert result["endpoint_in_cluster"] == "http://object-store.models.svc.cluster.local:9000"
    second = object_store.deploy(FakeKubectl(), "models", "models-s3")
    assert second["secret_access_key"] != result["secret_access_key"]  # random each time


def test_a_second_deploy_keeps_the_keys_the_store_has():
    stored = {"data": {var: base64.b64encode(value.encode()).decode()
                       for var, value in (("AWS_ACCESS_KEY_ID", "fadiold12345"), ("AWS_SECRET_ACCESS_KEY", "o" * 40))}}  # fmt: skip
    result = object_store.deploy(FakeKubectl(stored), "models", "models-s3")
    assert (result["access_key_id"], result["secret_access_key"]) == ("fadiold12345", "o" * 40)


@pytest.mark.parametrize(
    "broken", [{"data": {}}, {"data": {"AWS_ACCESS_KEY_ID": "!!", "AWS_SECRET_ACCESS_KEY": "x"}}]
)
def test_an_unreadable_keys_secret_gives_new_keys(broken):
    assert object_store.stored_keys(FakeKubectl(broken), "models") is None
