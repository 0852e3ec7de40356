"""doctor's image-missing check: pods waiting for an image the node lacks, named once per image."""

from __future__ import annotations

import pytest

from fadi_seldon.doctor import Snapshot, diagnose, images


class FakeKubectl:
    def __init__(self, pods):
        self.pods = pods

    def get(self, *args):
        assert args == ("pods", "-A")
        return {"items": self.pods}


def pod(ns, name, statuses, node="fadi-node", init=()):
    return {
        "metadata": {"namespace": ns, "name": name},
        "spec": {"nodeName": node},
        "status": {"containerStatuses": statuses, "initContainerStatuses": list(init)},
    }


def waiting(name, image, reason):
    return {"name": name, "image": image, "state": {"waiting": {"reason": reason}}}


RUNNING = {"name": "ok", "image": "localhost/fadi-seldon/pause:1", "state": {"running": {}}}


def test_each_missing_image_is_named_once_with_its_pods_and_a_fix():
    snap = Snapshot()
    images.gather(FakeKubectl([
        pod("models", "a", [waiting("m", "seldonio/mock_classifier:1.0", "ImagePullBackOff"), RUNNING]),
        pod("models", "b", [waiting("m", "seldonio/mock_classifier:1.0", "ErrImagePull")]),
        pod("models", "c", [RUNNING], init=[waiting("seldon-container-engine",
                                                    "docker.io/seldonio/seldon-core-executor:1.17.1",
                                                    "ErrImageNeverPull")]),
        pod("other", "d", [RUNNING]),
    ]), snap)  # fmt: skip
    found = {f.subject: f for f in images.check_images(snap)}
    assert set(found) == {"seldonio/mock_classifier:1.0", "docker.io/seldonio/seldon-core-executor:1.17.1"}
    mock = found["seldonio/mock_classifier:1.0"]
    assert mock.check == "image-missing" and mock.severity == "error"
    assert "models/a (m)" in mock.message and "models/b (m)" in mock.message and "fadi-node" in mock.message
    assert "ErrImagePull/ImagePullBackOff" in mock.message
    assert "fadi-seldon cluster load --mock-classifier" in mock.fix
    assert (
        "fadi-seldon cluster load --executor" in found["docker.io/seldonio/seldon-core-executor:1.17.1"].fix
    )


SOURCE = "SELDON_CORE_SOURCE=/path/to/seldon-core-1.17.1.tar.gz"


@pytest.mark.parametrize(
    ("image", "option", "published"),
    [
        ("seldonio/seldon-core-operator:1.17.1", "--operator", "docker.io/seldonio/seldon-core-operator:1.17.1"),
        ("docker.io/seldonio/seldon-core-executor:1.17.1", "--executor",
         "docker.io/seldonio/seldon-core-executor:1.17.1"),
        ("seldonio/mock_classifier:1.0", "--mock-classifier", "docker.io/seldonio/mock_classifier:1.0"),
        ("docker.io/seldonio/mock_classifier:1.0", "--mock-classifier", "docker.io/seldonio/mock_classifier:1.0"),
        ("seldonio/sklearnserver:1.17.1", "--server SKLEARN_SERVER --protocol seldon",
         "docker.io/seldonio/sklearnserver:1.17.1"),
        ("seldonio/mlserver:1.3.5-xgboost", "--server XGBOOST_SERVER --protocol v2",
         "docker.io/seldonio/mlserver:1.3.5-xgboost"),
        ("seldonio/mlflowserver:1.17.1", "--server MLFLOW_SERVER --protocol seldon",
         "docker.io/seldonio/mlflowserver:1.17.1"),
        ("seldonio/rclone-storage-initializer:1.17.1", "--storage-initializer",
         "docker.io/seldonio/rclone-storage-initializer:1.17.1"),
    ],
)  # fmt: skip
def test_seldon_images_have_exactly_the_two_ways(image, option, published):
    snap = Snapshot()
    snap.image_waits = [
        {"pod": "m/p", "node": "n", "container": "c", "image": image, "reason": "ErrImagePull"}
    ]
    (finding,) = images.check_images(snap)
    assert finding.fix == (
        f"one of two ways: build it here and load it into the node, `fadi-seldon cluster load {option}` "
        f"(Seldon's own code is read from its source release: {SOURCE}); or, where a registry is "
        f"reachable, pull the published image {published}"
    )


@pytest.mark.parametrize(
    "image", ["seldonio/seldon-core-executor:1.16.0", "iris-model:0.1.0", "seldonio/mock_classifier:1.17.1"]
)
def test_other_images_are_built_and_loaded_as_any_image(image):
    snap = Snapshot()
    snap.image_waits = [
        {"pod": "m/p", "node": "n", "container": "c", "image": image, "reason": "ErrImagePull"}
    ]
    (finding,) = images.check_images(snap)
    assert "--build --load" in finding.fix and "cluster load ARCHIVE" in finding.fix
    assert "SELDON_CORE_SOURCE" not in finding.fix


def test_running_pods_give_no_finding_and_diagnose_includes_the_check():
    snap = Snapshot()
    images.gather(FakeKubectl([pod("x", "y", [RUNNING])]), snap)
    assert images.check_images(snap) == []
    snap.image_waits = [
        {"pod": "x/y", "node": "", "container": "c", "image": "i:1", "reason": "InvalidImageName"}
    ]
    assert [f.check for f in diagnose(snap) if f.subject == "i:1"] == ["image-missing"]
