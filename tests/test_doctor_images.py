"""doctor's image-missing check: pods waiting for an image the node lacks, named once per image."""

from __future__ import annotations

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
    assert "--build --load" in mock.fix
    assert "seldon.io/no-engine" in found["docker.io/seldonio/seldon-core-executor:1.17.1"].fix


def test_running_pods_give_no_finding_and_diagnose_includes_the_check():
    snap = Snapshot()
    images.gather(FakeKubectl([pod("x", "y", [RUNNING])]), snap)
    assert images.check_images(snap) == []
    snap.image_waits = [
        {"pod": "x/y", "node": "", "container": "c", "image": "i:1", "reason": "InvalidImageName"}
    ]
    assert [f.check for f in diagnose(snap) if f.subject == "i:1"] == ["image-missing"]
