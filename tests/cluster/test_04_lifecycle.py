"""Nothing a user owns is lost: SeldonDeployments and the CRD survive upgrades, a rollback, an
uninstall and a reinstall; the webhook certificate is stable across upgrades."""

from __future__ import annotations

import json

import pytest

from cluster.kube import CRD, RELEASE, RELEASE_NS, condition, set_webhook, wait_until

NS = "keep-models"
MODELS = ("iris", "income", "mnist")
# three upgrades that each change something real in the rendered objects
UPGRADES = (
    ("seldon-core-operator.manager.logLevel=DEBUG",),
    ("seldon-core-operator.commonLabels.team=ml-platform",),
    ("seldon-core-operator.manager.cpuLimit=600m", "seldon-core-operator.manager.logLevel=WARN"),
)


def sdep(name: str) -> dict:
    return {
        "apiVersion": "machinelearning.seldon.io/v1",
        "kind": "SeldonDeployment",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "predictors": [
                {
                    "name": "default",
                    "replicas": 1,
                    "graph": {
                        "name": "classifier",
                        "implementation": "SKLEARN_SERVER",
                        "modelUri": f"gs://models/{name}",
                    },
                }
            ]
        },
    }


def webhook_state(kube) -> dict:
    """The TLS Secret's data and the webhook's caBundle, as they are live."""
    manifest = kube.manifest(RELEASE, RELEASE_NS)
    secret = next(d for d in manifest if d["kind"] == "Secret" and d.get("type") == "kubernetes.io/tls")
    vwc = next(d for d in manifest if d["kind"] == "ValidatingWebhookConfiguration")
    live_secret = kube.get("secret", secret["metadata"]["name"], "-n", secret["metadata"]["namespace"])
    live_vwc = kube.get("validatingwebhookconfiguration", vwc["metadata"]["name"])
    return {"secret": live_secret["data"], "caBundle": live_vwc["webhooks"][0]["clientConfig"]["caBundle"]}


def upgrade(kube, *sets: str) -> None:
    argv = [
        "upgrade",
        RELEASE,
        kube.chart("fadi"),
        "-n",
        RELEASE_NS,
        "--reuse-values",
        "--wait",
        "--timeout",
        "180s",
    ]
    for s in sets:
        argv += ["--set", s]
    kube.helm(*argv)


def present(kube) -> list[str]:
    return kube.kubectl("get", "seldondeployments", "-n", NS, "-o", "name").stdout.split()


@pytest.fixture(scope="module")
def history(kube, umbrella):
    """Run the whole story once; the tests below check what each step left."""
    h: dict = {}
    set_webhook(kube, False)  # no operator answers the webhook here: create the models without it
    kube.namespace(NS)
    kube.apply([sdep(n) for n in MODELS])
    h["created"] = present(kube)
    set_webhook(kube, True)
    h["tls"] = [webhook_state(kube)]
    for sets in UPGRADES:
        upgrade(kube, *sets)
        h["tls"].append(webhook_state(kube))
    h["values_after_upgrades"] = kube.values(RELEASE, RELEASE_NS)
    revisions = json.loads(kube.helm("history", RELEASE, "-n", RELEASE_NS, "-o", "json").stdout)
    h["revisions"] = revisions
    target = revisions[-1 - len(UPGRADES)]["revision"]  # the revision before the three upgrades
    kube.helm("rollback", RELEASE, str(target), "-n", RELEASE_NS, "--wait", "--timeout", "180s")
    h["values_after_rollback"] = kube.values(RELEASE, RELEASE_NS)
    h["tls"].append(webhook_state(kube))
    h["after_rollback"] = present(kube)
    kube.helm("uninstall", RELEASE, "-n", RELEASE_NS, "--wait", "--timeout", "180s")
    h["crd_after_uninstall"] = kube.get("crd", CRD)
    h["after_uninstall"] = present(kube)
    h["release_objects_after_uninstall"] = kube.kubectl(
        "get", "deployments,secrets,services", "-n", RELEASE_NS, "-l", "app.kubernetes.io/instance=" + RELEASE,
        "-o", "name",
    ).stdout.split()  # fmt: skip
    kube.install(RELEASE, RELEASE_NS, "fadi", kube.chart("fadi/ci/seldon-on-values.yaml"), upgrade=False)
    h["after_reinstall"] = present(kube)
    yield h
    set_webhook(kube, False)
    kube.kubectl("delete", "seldondeployments", "--all", "-n", NS, check=False)


def test_models_were_created(history):
    assert len(history["created"]) == len(MODELS)


def test_webhook_certificate_and_ca_bundle_are_stable_across_upgrades_and_rollback(history):
    first = history["tls"][0]
    assert first["caBundle"] and first["secret"]["tls.crt"]
    for i, state in enumerate(history["tls"][1:], start=1):
        assert state == first, f"the webhook TLS changed at step {i} (upgrade or rollback)"


def test_upgrades_really_changed_the_release(history):
    values = history["values_after_upgrades"]["seldon-core-operator"]
    assert values["manager"]["logLevel"] == "WARN" and values["commonLabels"]["team"] == "ml-platform"
    assert len(history["revisions"]) >= 1 + len(UPGRADES)
    rolled = history["values_after_rollback"]["seldon-core-operator"]
    assert "commonLabels" not in rolled or "team" not in rolled["commonLabels"]


def test_models_survive_rollback_and_uninstall(history):
    assert sorted(history["after_rollback"]) == sorted(history["created"])
    assert sorted(history["after_uninstall"]) == sorted(history["created"])


def test_the_crd_is_kept_by_uninstall(history):
    crd = history["crd_after_uninstall"]
    assert crd is not None and condition(crd, "Established") == "True"
    assert history["release_objects_after_uninstall"] == []  # everything else of the release is gone


def test_reinstall_adopts_the_kept_crd_and_keeps_the_models(kube, history):
    assert sorted(history["after_reinstall"]) == sorted(history["created"])
    manifest = kube.manifest(RELEASE, RELEASE_NS)
    assert any(d["kind"] == "CustomResourceDefinition" for d in manifest)
    wait_until("the CRD to be Established", lambda: condition(kube.get("crd", CRD), "Established") == "True")
