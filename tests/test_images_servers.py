"""The prepackaged servers' images and the storage initializer's, as built without Docker.

Fast tests use a fake source release, a fake rootfs and a fake pip (fixtures of the executor's and
mock_classifier's tests); the real images run on the real node in tests/cluster/test_16_prepackaged.py.
"""

from __future__ import annotations

import pytest

from fadi_seldon.images import ImageError, servers, storage_initializer
from fadi_seldon.runtime import oci, versions
from test_images_executor import fake_source, layer_files

TOP = "servers/sklearnserver/"
SERVER = b"""\
from seldon_core.user_model import SeldonComponent


class SKLearnServer(SeldonComponent):
    def __init__(self, model_uri: str = None, method: str = "predict_proba"):
        self.model_uri = model_uri

    def predict(self, X, names, meta=None):
        return X
"""
SKLEARN = {
    TOP + "environment": b"MODEL_NAME=SKLearnServer\nSERVICE_TYPE=MODEL\nPERSISTENCE=0\n",
    TOP + "sklearnserver/SKLearnServer.py": SERVER,
    TOP
    + "sklearnserver/requirements.txt": b"seldon_core\nscikit-learn == 0.24.2\nnumpy >= 1.8.2\njoblib >= 1.2.0",
    # s2i's files and upstream's samples: not in the image
    TOP + "sklearnserver/.s2i/bin/assemble": b"#!/bin/bash\n",
    TOP + "sklearnserver/image_metadata.json": b"{}",
    TOP + "models/iris/train.py": b"print('train')\n",
    TOP + "Makefile": b"build:\n",
}


def requirement_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


@pytest.mark.parametrize(
    ("server", "protocol", "ref"),
    [
        ("SKLEARN_SERVER", "seldon", "docker.io/seldonio/sklearnserver:1.17.1"),
        ("SKLEARN_SERVER", "v2", "docker.io/seldonio/mlserver:1.3.5-sklearn"),
        ("XGBOOST_SERVER", "seldon", "docker.io/seldonio/xgboostserver:1.17.1"),
        ("XGBOOST_SERVER", "v2", "docker.io/seldonio/mlserver:1.3.5-xgboost"),
        ("MLFLOW_SERVER", "seldon", "docker.io/seldonio/mlflowserver:1.17.1"),
        ("MLFLOW_SERVER", "v2", "docker.io/seldonio/mlserver:1.3.5-mlflow"),
    ],
)
def test_each_image_has_the_name_the_chart_pulls(server, protocol, ref):
    assert servers.image_ref(server, protocol) == ref
    assert servers.refs()[ref] == (server, protocol)


@pytest.mark.parametrize(("server", "protocol"), [("TRITON_SERVER", "v2"), ("SKLEARN_SERVER", "tensorflow")])
def test_servers_not_built_here_are_refused_by_name(server, protocol):
    with pytest.raises(ImageError, match="SKLEARN_SERVER.*XGBOOST_SERVER.*MLFLOW_SERVER"):
        servers.image_ref(server, protocol)


def test_upstream_framework_pins_give_way_to_the_shared_ones():
    mlflow = servers.SELDON_SERVERS["MLFLOW_SERVER"]
    text = "# CVE\nPyYAML >= 5.4, <= 6.0\nmlflow <= 2.5.0\npandas <= 2.0.0\nscikit_learn==1.0\n\n/microservice/python\n"
    lines = requirement_lines(servers.rewrite_requirements(text, mlflow))
    assert lines == [
        "PyYAML >= 5.4, <= 6.0",
        "pandas <= 2.0.0",
        f"mlflow=={versions.get('MLFLOW_VERSION')}",
        f"scikit-learn=={versions.get('SCIKIT_LEARN_VERSION')}",
    ]


def test_the_seldon_protocol_image_is_the_packaged_server(tmp_path, tools_dir, fake_base, fake_pip):
    source = fake_source(tmp_path / "seldon-core-1.17.1.tar.gz", SKLEARN)
    built = servers.build("SKLEARN_SERVER", "seldon", source=source)
    assert built.ref == oci.image_name(built.archive) == "docker.io/seldonio/sklearnserver:1.17.1"
    config = oci.read_config(built.archive)["config"]
    assert "MODEL_NAME=SKLearnServer" in config["Env"] and "SERVICE_TYPE=MODEL" in config["Env"]
    assert config["User"] == "8888" and config["WorkingDir"] == "/app"
    app = sorted(n for n in layer_files(built.archive, 2) if not n.startswith("<data>"))
    assert "app/SKLearnServer.py" in app and not [n for n in app if "train" in n or "image_metadata" in n]
    (requirements,) = fake_pip
    assert requirement_lines(requirements) == [
        f"seldon-core=={versions.get('PY_SELDON_CORE')}", "setuptools<81", "numpy >= 1.8.2", "joblib >= 1.2.0",
        f"scikit-learn=={versions.get('SCIKIT_LEARN_VERSION')}",
    ]  # fmt: skip
    again = servers.build("SKLEARN_SERVER", "seldon", source=source)
    assert again.cached and again.digest == built.digest and len(fake_pip) == 1


def test_a_source_release_without_the_server_is_refused(tmp_path, tools_dir, fake_base, fake_pip):
    files = {k: v for k, v in SKLEARN.items() if not k.endswith("requirements.txt")}
    with pytest.raises(ImageError, match="servers/sklearnserver/ lacks"):
        servers.build("SKLEARN_SERVER", "seldon", source=fake_source(tmp_path / "s.tar.gz", files))


@pytest.mark.parametrize(
    ("server", "runtime", "pin"),
    [("SKLEARN_SERVER", "mlserver-sklearn", "scikit-learn=={SCIKIT_LEARN_VERSION}"),
     ("XGBOOST_SERVER", "mlserver-xgboost", "xgboost=={XGBOOST_VERSION}"),
     ("MLFLOW_SERVER", "mlserver-mlflow", "mlflow=={MLFLOW_VERSION}")],
)  # fmt: skip
def test_the_v2_image_is_mlserver_with_the_runtime_started_as_upstream(
    tools_dir, fake_base, fake_pip, server, runtime, pin
):
    built = servers.build(server, "v2")
    config = oci.read_config(built.archive)["config"]
    assert config["User"] == "1000" and config["WorkingDir"] == "/opt/mlserver"
    assert "MLSERVER_MODELS_DIR=/mnt/models" in config["Env"]
    assert config["Cmd"] == ["/bin/sh", "-c", 'exec mlserver start "$MLSERVER_MODELS_DIR"']
    lines = requirement_lines(fake_pip[0])
    mlserver = versions.get("MLSERVER_VERSION")
    assert lines[0] == f"mlserver=={mlserver}" and f"{runtime}=={mlserver}" in lines
    assert servers.pinned(pin) in lines and "numpy<2" in lines and "uvloop<0.20" in lines
    assert f"setuptools<{versions.get('PY_SETUPTOOLS_MAX')}" in lines  # mlflow imports pkg_resources


def test_the_storage_initializer_is_rclone_copy_as_user_8888(tmp_path, tools_dir, fake_base):
    binary = tmp_path / "rclone"
    binary.write_bytes(b"\x7fELF rclone")
    built = storage_initializer.build(binary=binary)
    assert built.ref == "docker.io/seldonio/rclone-storage-initializer:1.17.1"
    config = oci.read_config(built.archive)["config"]
    assert config["Entrypoint"] == ["rclone", "copy"] and config["User"] == "8888"
    assert "RCLONE_VERBOSE=1" in config["Env"] and "RCLONE_CONFIG_GS_ANONYMOUS=true" in config["Env"]
    files = layer_files(built.archive, 1)
    assert files["<data>usr/local/bin/rclone"] == b"\x7fELF rclone" and "licenses/license.txt" in files
    assert storage_initializer.build(binary=binary).cached
