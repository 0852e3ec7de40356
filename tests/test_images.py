"""`fadi-seldon images` against what helm really renders.

The references the command lists must be exactly those the cluster pulls: the images of every pod
spec in `helm template` output (the helm test hook included), the executor image the operator gets
in its environment, and the images the operator reads from the rendered seldon-config ConfigMap
(explainers, storage initializer, predictor_servers as the 1.17.1 operator joins image and version).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, run_cli, tool
from fadi_seldon.cli.exit_codes import ExitCode
from fadi_seldon.values import images

CHART = ROOT / "charts" / "seldon-core-operator"
SELDON = "seldon-core-operator"
DIGEST = "sha256:" + "ab" * 32
OTHER_DIGEST = "sha256:" + "cd" * 32


# --------------------------------------------------------------------------- what helm renders


def helm_template(tools_env, chart: Path, *values_files: Path) -> list[dict]:
    argv = [tool("helm"), "template", "rel", str(chart), "-n", "seldon-system"]
    for path in values_files:
        argv += ["-f", str(path)]
    run = subprocess.run(argv, env=tools_env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return [d for d in yaml.safe_load_all(run.stdout) if d]


def _pod_images(doc: dict) -> set[str]:
    spec = doc.get("spec", {}).get("template", {}).get("spec", {})
    found = set()
    for container in spec.get("containers", []) + spec.get("initContainers", []):
        found.add(container["image"])
        for env in container.get("env", []):
            name, value = env.get("name", ""), env.get("value")
            if value and (name.endswith("_IMAGE_AND_VERSION") or name.startswith("RELATED_IMAGE_")):
                found.add(value)
    return found


def _config_images(data: dict) -> set[str]:
    """The images the operator takes from seldon-config (prepackaged: `<image>:<version>`)."""
    explainer = json.loads(data["explainer"])
    found = {explainer[k] for k in ("image", "image_v2") if explainer.get(k)}
    found.add(json.loads(data["storageInitializer"])["image"])
    for server in json.loads(data["predictor_servers"]).values():
        for cfg in server.get("protocols", {}).values():
            version = cfg.get("defaultImageVersion", "")
            found.add(f"{cfg['image']}:{version}" if version else cfg["image"])
    return found


def rendered_images(docs: list[dict]) -> set[str]:
    found: set[str] = set()
    for doc in docs:
        found |= _pod_images(doc)
        if doc["kind"] == "ConfigMap" and doc["metadata"]["name"] == "seldon-config":
            found |= _config_images(doc["data"])
    return found


# --------------------------------------------------------------------------- what the command lists


def listed(capsys, *values_files: Path) -> list[str]:
    argv = ["images"]
    for path in values_files:
        argv += ["-f", str(path)]
    code, out, err = run_cli(capsys, argv)
    assert code == ExitCode.OK, err
    return out.splitlines()


def _write(tmp_path: Path, name: str, values: dict) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(values))
    return path


CASES = {
    "defaults": {},
    "usage-metrics-and-test-image": {
        "usageMetrics": {"enabled": True},
        "tests": {"image": "quay.io/curl/curl:8.5.0"},
    },
    "no-test-hook": {"tests": {"enabled": False}, "explainer": {"image_v2": ""}},
    "webhook-url-drops-the-test": {"webhook": {"url": "https://10.0.0.1:4443"}},
    "watch-namespaces": {"watchNamespaces": ["a", "b"], "image": {"tag": "1.17.1-patched"}},
    "servers-removed-and-added": {
        "predictor_servers": {
            "SKLEARN_SERVER": None,
            "MY_SERVER": {
                "protocols": {"v2": {"image": "registry.local:5000/me/srv", "defaultImageVersion": ""}}
            },
        }
    },
    "mirror-and-digests": {
        "global": {"imageRegistry": "mirror.example.com/seldon/"},
        "image": {"digest": DIGEST},
        "executor": {"image": {"tag": "1.17.1", "digest": OTHER_DIGEST}},
        "storageInitializer": {"image": f"localhost/rclone:1@{DIGEST}"},
        "explainer": {"image": f"docker.io/seldonio/alibiexplainer:1.17.1@{DIGEST}"},
        "usageMetrics": {"enabled": True},
        "tests": {"image": "quay.io:443/curl/curl:8.5.0"},
        "predictor_servers": {
            "SKLEARN_SERVER": {"protocols": {"v2": {"digest": DIGEST}}},
            "TRITON_SERVER": {"protocols": {"v2": {"digest": OTHER_DIGEST}}},
            "TEMPO_SERVER": {"protocols": {"v2": {"defaultImageVersion": "", "digest": DIGEST}}},
        },
    },
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_list_is_exactly_what_helm_renders(capsys, tools_env, tmp_path, case):
    values = _write(tmp_path, "values.yaml", CASES[case])
    expected = rendered_images(helm_template(tools_env, CHART, values))
    got = listed(capsys, values)
    assert got == sorted(set(got)), "sorted and unique"
    assert set(got) == expected


def test_defaults_with_no_file_are_the_charts(capsys, tools_env):
    assert set(listed(capsys)) == rendered_images(helm_template(tools_env, CHART))


def test_mirror_and_digests_as_the_operator_pulls_them(capsys, tmp_path):
    got = listed(capsys, _write(tmp_path, "v.yaml", CASES["mirror-and-digests"]))
    mirror = "mirror.example.com/seldon"
    assert all(ref.startswith(f"{mirror}/") for ref in got), got
    assert f"{mirror}/seldonio/seldon-core-operator:1.17.1@{DIGEST}" in got
    assert f"{mirror}/seldonio/seldon-core-executor:1.17.1@{OTHER_DIGEST}" in got
    assert f"{mirror}/rclone:1@{DIGEST}" in got  # localhost is a registry: replaced
    assert f"{mirror}/seldonio/mlserver:1.3.5-sklearn@{DIGEST}" in got
    assert f"{mirror}/nvidia/tritonserver:21.08-py3@{OTHER_DIGEST}" in got
    assert f"{mirror}/seldonio/mlserver@{DIGEST}" in got
    assert f"{mirror}/curl/curl:8.5.0" in got


def test_later_files_override_earlier_ones(capsys, tools_env, tmp_path):
    first = _write(
        tmp_path,
        "a.yaml",
        {"global": {"imageRegistry": "one.example.com"}, "usageMetrics": {"enabled": True}},
    )
    second = _write(tmp_path, "b.yaml", {"global": {"imageRegistry": "two.example.com"}})
    got = listed(capsys, first, second)
    assert set(got) == rendered_images(helm_template(tools_env, CHART, first, second))
    assert any("spartakus" in ref for ref in got)
    assert all(ref.startswith("two.example.com/") for ref in got)


def test_the_packaged_defaults_are_the_charts():
    assert images.CHART_DEFAULTS.read_text() == (CHART / "values.yaml").read_text()


# --------------------------------------------------------------------------- FADI umbrella values


FADI_VALUES = {
    "global": {"imageRegistry": "registry.fadi.example:5000"},
    SELDON: {
        "enabled": True,
        # the umbrella's global wins over the subchart's own (Helm's coalesceGlobals)
        "global": {"imageRegistry": "ignored.example.com"},
        "executor": {"image": {"digest": DIGEST}},
        "usageMetrics": {"enabled": True},
        "predictor_servers": {
            "TRITON_SERVER": None,
            "XGBOOST_SERVER": {"protocols": {"seldon": {"defaultImageVersion": "9.9"}}},
        },
    },
}


def test_fadi_values_are_read_under_the_operator_key(capsys, tools_env, tmp_path, umbrella):
    values = _write(tmp_path, "fadi.yaml", FADI_VALUES)
    got = listed(capsys, values)
    assert set(got) == rendered_images(helm_template(tools_env, umbrella / "fadi", values))
    assert all(ref.startswith("registry.fadi.example:5000/") for ref in got)
    assert "registry.fadi.example:5000/seldonio/xgboostserver:9.9" in got
    assert not any("tritonserver" in ref for ref in got)


def test_fadi_values_sources_name_the_key_in_the_fadi_file(capsys, tmp_path):
    code, out, err = run_cli(
        capsys, ["images", "-f", str(_write(tmp_path, "fadi.yaml", FADI_VALUES)), "-o", "json"]
    )
    assert code == ExitCode.OK, err
    sources = {r["source"] for r in json.loads(out)}
    assert f"{SELDON}.executor.image" in sources and f"{SELDON}.usageMetrics.image" in sources
    assert all(s.startswith(f"{SELDON}.") for s in sources)


def test_a_fadi_file_with_seldon_off_still_lists_the_images_with_a_note(capsys, tmp_path):
    values = _write(tmp_path, "fadi.yaml", {SELDON: {"enabled": False}})
    code, out, err = run_cli(capsys, ["images", "-f", str(values)])
    assert code == ExitCode.OK and "enabled is not true" in err
    assert out.splitlines() == listed(capsys)


# --------------------------------------------------------------------------- -o json, bad input


def test_json_is_a_list_of_image_and_source(capsys):
    code, out, _ = run_cli(capsys, ["images", "-o", "json"])
    assert code == ExitCode.OK
    result = json.loads(out)
    assert isinstance(result, list) and result
    assert all(set(item) == {"image", "source", "local_build"} for item in result)
    built_here = {r["image"]: r["local_build"] for r in result if r["local_build"]}
    assert (
        built_here["seldonio/sklearnserver:1.17.1"]
        == "fadi-seldon cluster load --server SKLEARN_SERVER --protocol seldon"
    )
    assert (
        built_here["seldonio/mlserver:1.3.5-mlflow"]
        == "fadi-seldon cluster load --server MLFLOW_SERVER --protocol v2"
    )
    assert (
        built_here["seldonio/rclone-storage-initializer:1.17.1"]
        == "fadi-seldon cluster load --storage-initializer"
    )
    assert "nvcr.io/nvidia/tritonserver:21.08-py3" not in built_here
    assert sorted({r["image"] for r in result}) == listed(capsys)
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    for item in result:  # every source is a key of the chart's values
        node = defaults
        for part in item["source"].split("."):
            node = node[part]
    by_source = {r["source"]: r["image"] for r in result}
    assert by_source["image"] == "docker.io/seldonio/seldon-core-operator:1.17.1"
    assert by_source["predictor_servers.SKLEARN_SERVER.protocols.v2"] == "seldonio/mlserver:1.3.5-sklearn"
    code, out_yaml, _ = run_cli(capsys, ["images", "-o", "yaml"])
    assert yaml.safe_load(out_yaml) == result


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("missing.yaml", None),
        ("broken.yaml", "seldon-core-operator:\n  enabled: [true\n"),
        ("list.yaml", "- a\n- b\n"),
        ("shape.yaml", "predictor_servers: nope\n"),
    ],
)
def test_bad_input_exits_2_naming_the_file(capsys, tmp_path, name, content):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    good = _write(tmp_path, "good.yaml", {})
    code, out, err = run_cli(capsys, ["images", "-f", str(good), "-f", str(path)])
    assert code == ExitCode.USAGE and out == ""
    assert "Traceback" not in err
    assert str(path) in err
    if name == "shape.yaml":
        assert "predictor_servers" in err
