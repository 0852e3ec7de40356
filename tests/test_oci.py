"""runtime/oci.py: the archive `ctr images import` reads, with correct digests, the same bytes for the
same inputs, and a config that says what the caller asked for."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile

import pytest

from fadi_seldon.runtime import oci


def _layer(tmp_path, name="layer.tar", data=b"hello\n"):
    layer = oci.Layer(comment="test layer")
    layer.add_file("app/hello.txt", data, mode=0o640, uid=8888, gid=0)
    layer.add_symlink("app/link", "hello.txt")
    return layer.write(tmp_path / name)


def _config():
    return oci.ImageConfig(
        user="8888",
        env=["PATH=/usr/bin", "A=1"],
        working_dir="/app",
        exposed_ports=["9000/tcp", "5000/tcp"],
        cmd=["/bin/sh", "-c", "echo hi"],
        entrypoint=["/pause"],
        labels={"b": "2", "a": "1"},
    )


def _members(archive) -> dict[str, bytes]:
    with tarfile.open(archive) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def test_archive_layout_and_digests(tmp_path):
    blob = _layer(tmp_path)
    written = oci.write_archive(tmp_path / "img.tar", [blob], _config(), "iris:0.1.0")
    files = _members(written.path)
    assert json.loads(files["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    # every blob is stored under its own sha256
    for name, data in files.items():
        if name.startswith("blobs/sha256/"):
            assert hashlib.sha256(data).hexdigest() == name.rsplit("/", 1)[1]
    index = json.loads(files["index.json"])
    entry = index["manifests"][0]
    assert entry["mediaType"] == oci.MANIFEST_MEDIA_TYPE and entry["digest"] == written.digest
    assert entry["annotations"] == {
        "io.containerd.image.name": "docker.io/library/iris:0.1.0",
        "org.opencontainers.image.ref.name": "0.1.0",
    }
    manifest = json.loads(files["blobs/sha256/" + entry["digest"][7:]])
    assert entry["size"] == len(files["blobs/sha256/" + entry["digest"][7:]])
    assert manifest["layers"] == [
        {"mediaType": oci.LAYER_MEDIA_TYPE, "digest": blob.digest, "size": blob.size}
    ]
    config = json.loads(files["blobs/sha256/" + manifest["config"]["digest"][7:]])
    assert config["rootfs"] == {"type": "layers", "diff_ids": [blob.digest]}  # uncompressed: diff id = digest
    assert config["os"] == "linux" and config["architecture"] == oci.host_architecture()
    assert oci.read_config(written.path) == config
    assert oci.image_name(written.path) == written.ref == "docker.io/library/iris:0.1.0"


def test_config_fields(tmp_path):
    written = oci.write_archive(tmp_path / "img.tar", [_layer(tmp_path)], _config(), "localhost/x/pause:1")
    config = oci.read_config(written.path)["config"]
    assert config == {
        "User": "8888",
        "Env": ["PATH=/usr/bin", "A=1"],
        "WorkingDir": "/app",
        "ExposedPorts": {"9000/tcp": {}, "5000/tcp": {}},
        "Cmd": ["/bin/sh", "-c", "echo hi"],
        "Entrypoint": ["/pause"],
        "Labels": {"a": "1", "b": "2"},
    }
    assert oci.image_name(written.path) == "localhost/x/pause:1"


def test_same_inputs_same_digests(tmp_path):
    first = oci.write_archive(tmp_path / "a.tar", [_layer(tmp_path, "l1.tar")], _config(), "x/y:1")
    second = oci.write_archive(tmp_path / "b.tar", [_layer(tmp_path, "l2.tar")], _config(), "x/y:1")
    assert first.digest == second.digest
    assert (tmp_path / "a.tar").read_bytes() == (tmp_path / "b.tar").read_bytes()
    changed = oci.write_archive(
        tmp_path / "c.tar", [_layer(tmp_path, "l3.tar", b"other")], _config(), "x/y:1"
    )
    assert changed.digest != first.digest


def test_tree_layer_is_deterministic_and_keeps_links(tmp_path):
    def tree(root, mtime):
        (root / "pkg").mkdir(parents=True)
        (root / "pkg" / "a.py").write_text("a = 1\n")
        os.link(root / "pkg" / "a.py", root / "pkg" / "b.py")
        (root / "pkg" / "c").symlink_to("a.py")
        os.mkfifo(root / "pkg" / "fifo")
        for path in (root / "pkg" / "a.py", root / "pkg"):
            os.utime(path, (mtime, mtime))
        return root

    blobs, skipped = [], []
    for i, mtime in enumerate((1_000_000, 2_000_000)):
        layer = oci.Layer()
        skipped.append(layer.add_tree(tree(tmp_path / f"t{i}", mtime), "usr/lib", owner=(0, 0)))
        blobs.append(layer.write(tmp_path / f"tree{i}.tar"))
    assert blobs[0].digest == blobs[1].digest  # mtimes are not part of the layer
    assert skipped[0] == ["pkg/fifo"]
    with tarfile.open(blobs[0].path) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert sorted(members) == ["usr/lib/pkg", "usr/lib/pkg/a.py", "usr/lib/pkg/b.py", "usr/lib/pkg/c"]
    assert members["usr/lib/pkg/b.py"].islnk() and members["usr/lib/pkg/b.py"].linkname == "usr/lib/pkg/a.py"
    assert members["usr/lib/pkg/c"].issym() and members["usr/lib/pkg/c"].linkname == "a.py"
    assert all(m.mtime == 0 and m.uid == 0 and m.uname == "" for m in members.values())


def test_tree_owner_mode_and_include(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "run.sh").write_text("#!/bin/sh\n")
    (tmp_path / "src" / "run.sh").chmod(0o744)
    (tmp_path / "src" / "skip.txt").write_text("x")
    layer = oci.Layer()
    layer.add_tree(
        tmp_path / "src",
        "app",
        owner=(8888, 0),
        mode=lambda m: m | 0o020,
        include=lambda rel: rel != "skip.txt",
    )
    with tarfile.open(layer.write(tmp_path / "l.tar").path) as tar:
        member = tar.getmember("app/run.sh")
        assert (member.uid, member.gid, member.mode) == (8888, 0, 0o764)
        assert "app/skip.txt" not in tar.getnames()


def test_file_parents_are_added(tmp_path):
    layer = oci.Layer()
    layer.add_file("a/b/c.txt", b"x")
    with tarfile.open(layer.write(tmp_path / "l.tar").path) as tar:
        assert tar.getnames() == ["a", "a/b", "a/b/c.txt"]
        assert tar.extractfile("a/b/c.txt").read() == b"x"


@pytest.mark.parametrize(
    ("ref", "full"),
    [
        ("iris", "docker.io/library/iris:latest"),
        ("iris:0.1.0", "docker.io/library/iris:0.1.0"),
        ("fadi-seldon/iris-model:0.1.0", "docker.io/fadi-seldon/iris-model:0.1.0"),
        ("docker.io/busybox:1", "docker.io/library/busybox:1"),
        ("localhost/fadi-seldon/pause:3.10", "localhost/fadi-seldon/pause:3.10"),
        ("registry:5000/a/b", "registry:5000/a/b:latest"),
        ("quay.io/x/y@sha256:" + "a" * 64, "quay.io/x/y@sha256:" + "a" * 64),
    ],
)
def test_normalize_ref(ref, full):
    assert oci.normalize_ref(ref) == full


def test_merge_env_replaces_in_place():
    assert oci.merge_env(["PATH=/bin", "LANG=C"], ["HOME=/app", "PATH=/usr/bin"]) == [
        "PATH=/usr/bin",
        "LANG=C",
        "HOME=/app",
    ]


def test_reading_something_else_says_so(tmp_path):
    path = tmp_path / "not-an-image.tar"
    with tarfile.open(path, "w") as tar:
        info = tarfile.TarInfo("hello")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    with pytest.raises(oci.OCIError, match="no index.json"):
        oci.read_config(path)


def test_layer_path_may_not_escape():
    with pytest.raises(oci.OCIError, match=r"\.\."):
        oci.Layer().add_file("../etc/passwd", b"")
