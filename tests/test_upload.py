"""`fadi-seldon upload`: a model folder put on a real S3 endpoint, `rclone serve s3` on 127.0.0.1.

The store is the rclone the project builds (`fadi-seldon tools install rclone`) serving a tmp folder
with one key pair, so what arrives is read back from the folder itself, byte for byte, and fetched
again the way the storage initializer does (`rclone copy s3://BUCKET/PATH DEST`, configured only by the
Secret `--print-secret` writes). Every server started here is stopped by its fixture.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import run_cli
from fadi_seldon.cli.exit_codes import ExitCode
from fadi_seldon.model import upload
from fadi_seldon.runtime import polling, processes
from fadi_seldon.tools.layout import find_executable

KEY, SECRET = "fadi-test-key", "fadi-test-secret-0123456789"
RCLONE = find_executable("rclone")
needs_rclone = pytest.mark.skipif(
    RCLONE is None, reason="rclone is not installed (`fadi-seldon tools install rclone`)"
)


@pytest.fixture
def keys(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)


@pytest.fixture
def store(tmp_path: Path):
    """`rclone serve s3` over tmp/served (buckets are its folders): (endpoint URL, served folder)."""
    if RCLONE is None:
        pytest.skip("rclone is not installed (`fadi-seldon tools install rclone`)")
    served = tmp_path / "served"
    served.mkdir()
    port = processes.free_port()
    argv = [
        RCLONE,
        "serve",
        "s3",
        str(served),
        "--addr",
        f"127.0.0.1:{port}",
        "--auth-key",
        f"{KEY},{SECRET}",
    ]
    record = processes.spawn("s3", [*argv, "--config", ""], tmp_path / "s3.log")
    try:
        polling.wait_until("rclone serve s3", lambda: processes.port_open(port), timeout=20)
        yield f"http://127.0.0.1:{port}", served
    finally:
        processes.stop(record)


@pytest.fixture
def model(tmp_path: Path) -> Path:
    """A trained model's folder: the artifact, a file in a sub-folder, bytes that are not text."""
    folder = tmp_path / "iris"
    (folder / "meta").mkdir(parents=True)
    (folder / "model.joblib").write_bytes(bytes(range(256)) * 300)
    (folder / "meta" / "settings.json").write_text('{"name": "iris"}\n')
    return folder


def _upload(capsys, *argv: str) -> tuple[int, dict, str]:
    code, out, err = run_cli(capsys, ["upload", *argv, "-o", "json"])
    return code, json.loads(out), err


@needs_rclone
def test_every_file_arrives_byte_for_byte_and_the_result_says_what_to_deploy(capsys, keys, store, model):
    url, served = store
    code, result, err = _upload(capsys, str(model), "s3://models/iris/v1", "--endpoint", url)
    assert code == ExitCode.OK, err
    for name in ("model.joblib", "meta/settings.json"):
        assert (served / "models" / "iris" / "v1" / name).read_bytes() == (model / name).read_bytes()
    assert result["uploaded"] is True and result["modelUri"] == "s3://models/iris/v1"
    assert result["files"] == [
        {"path": "meta/settings.json", "bytes": 17},
        {"path": "model.joblib", "bytes": 76800},
    ]
    assert (result["file_count"], result["bytes"], result["extra_files"]) == (2, 76817, [])
    assert result["envSecretRefName"] is None and result["server"] == "SKLEARN_SERVER"
    assert "--print-secret" in result["next"][0] and "--env-secret" in result["next"][1]
    # progress on stderr: each file, then rclone's totals; the check at the end
    assert "model.joblib: copied (new)" in err and "100%" in err and "checked: the 2 files" in err
    assert SECRET not in err


@needs_rclone
def test_the_printed_secret_fetches_the_model_as_the_initializer_does(capsys, keys, store, model, tmp_path):
    """`rclone copy s3://BUCKET/PATH /mnt/models` with only the Secret's keys in its environment: the
    storage initializer's command (upstream's image: ENTRYPOINT rclone copy)."""
    url, _ = store
    assert _upload(capsys, str(model), "s3://models/iris", "--endpoint", url)[0] == ExitCode.OK
    code, out, _ = run_cli(capsys, ["upload", "--print-secret", "seldon-rclone-secret", "--endpoint", url])
    assert code == ExitCode.OK
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), **yaml.safe_load(out)["stringData"]}
    fetched = tmp_path / "mnt-models"
    subprocess.run(
        [RCLONE, "copy", "s3://models/iris", str(fetched), "--config", ""], env=env, check=True, timeout=60
    )
    assert sorted(p.relative_to(fetched).as_posix() for p in fetched.rglob("*") if p.is_file()) == [
        "meta/settings.json",
        "model.joblib",
    ]
    assert (fetched / "model.joblib").read_bytes() == (model / "model.joblib").read_bytes()


@needs_rclone
def test_a_wrong_secret_is_said_in_plain_words_and_uploads_nothing(capsys, monkeypatch, store, model):
    url, served = store
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    code, out, err = run_cli(
        capsys, ["upload", str(model), "s3://models/iris", "--endpoint", url, "-o", "json"]
    )
    assert code == ExitCode.USAGE
    assert json.loads(out)["exit_code"] == ExitCode.USAGE
    line = err.strip().splitlines()[-1]
    assert line.startswith("error: ") and "the access key or secret is wrong" in line and url in line
    assert "AWS_SECRET_ACCESS_KEY" in line  # where the keys came from, never the keys
    assert "not-the-secret" not in err + out
    assert list(served.iterdir()) == []


@needs_rclone
def test_an_endpoint_nobody_answers_on_is_named(capsys, keys, model):
    url = f"http://127.0.0.1:{processes.free_port()}"
    code, out, err = run_cli(capsys, ["upload", str(model), "s3://models/iris", "--endpoint", url])
    assert code == ExitCode.NOTHING and out == ""
    assert f"cannot reach the object store at {url}" in err and "connection refused" in err


@needs_rclone
def test_dry_run_uploads_nothing(capsys, keys, store, model):
    url, served = store
    code, result, err = _upload(capsys, str(model), "s3://models/iris", "--endpoint", url, "--dry-run")
    assert code == ExitCode.OK, err
    assert result["uploaded"] is False and result["file_count"] == 2 and result["bytes"] == 76817
    assert list(served.iterdir()) == [] and err == ""
    code, out, _ = run_cli(capsys, ["upload", str(model), "s3://models/iris", "--endpoint", url, "--dry-run"])
    assert "would upload (--dry-run) 2 files" in out and "modelUri: s3://models/iris" in out


@needs_rclone
def test_files_already_there_but_not_in_the_folder_are_reported(capsys, keys, store, model):
    url, served = store
    (served / "models" / "iris").mkdir(parents=True)
    (served / "models" / "iris" / "model.pkl").write_bytes(b"an older model")
    code, result, err = _upload(capsys, str(model), "s3://models/iris", "--endpoint", url)
    assert code == ExitCode.OK, err
    assert result["extra_files"] == ["model.pkl"] and "also holds 1 files" in err


def test_keys_and_endpoint_of_the_clusters_secret(capsys, monkeypatch, tmp_path, model):
    """--secret: kubectl's Secret (data in base64) gives the keys and, without --endpoint, the endpoint;
    an in-cluster name this host cannot resolve is refused with the way to reach it."""
    from fadi_seldon import doctor

    data = {
        "RCLONE_CONFIG_S3_TYPE": "s3",
        "RCLONE_CONFIG_S3_ACCESS_KEY_ID": KEY,
        "RCLONE_CONFIG_S3_SECRET_ACCESS_KEY": SECRET,
        "RCLONE_CONFIG_S3_ENDPOINT": "http://minio.fadi.svc.cluster.local:9000",
    }
    asked = []

    class FakeKubectl:
        def __init__(self, **kwargs):
            pass

        def get(self, *args, missing_ok=True):
            asked.append(args)
            if args[1] != "creds":
                return None
            return {"data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}

    (tmp_path / "kubeconfig").write_text("apiVersion: v1\nkind: Config\n")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    monkeypatch.setattr(doctor, "Kubectl", FakeKubectl)
    argv = ["upload", str(model), "s3://models/iris", "--secret", "creds", "-n", "models", "--dry-run"]
    code, out, err = run_cli(capsys, argv)
    assert code == ExitCode.USAGE and "only the cluster's DNS resolves" in err
    assert "kubectl port-forward -n fadi svc/minio 9000:9000" in err
    code, result, err = _upload(capsys, *argv[1:], "--endpoint", "http://127.0.0.1:9000")
    assert code == ExitCode.OK, err
    assert (result["envSecretRefName"], result["secret_namespace"]) == ("creds", "models")
    assert result["credentials"] == "Secret models/creds" and result["endpoint"] == "http://127.0.0.1:9000"
    assert asked[-1] == ("secret", "creds", "-n", "models")
    assert result["next"] == [
        "fadi-seldon new NAME --server SKLEARN_SERVER --model-uri s3://models/iris --env-secret creds -n models "
        "| kubectl apply -f -"
    ]
    code, _, err = run_cli(capsys, [*argv[:3], "--secret", "nope", "--dry-run"])
    assert code == ExitCode.NOTHING and "no Secret nope" in err
    del data["RCLONE_CONFIG_S3_SECRET_ACCESS_KEY"]
    code, _, err = run_cli(capsys, argv)
    assert (
        code == ExitCode.USAGE
        and "has no RCLONE_CONFIG_S3_SECRET_ACCESS_KEY (it configures the remotes S3)" in err
    )


def test_print_secret_is_upstreams_rclone_secret(capsys, keys):
    argv = ["upload", "--print-secret", "seldon-rclone-secret", "-n", "models", "--provider", "minio"]
    code, out, err = run_cli(capsys, [*argv, "--endpoint", "http://minio.fadi.svc.cluster.local:9000/"])
    assert code == ExitCode.OK and err == ""
    secret = yaml.safe_load(out)
    assert (secret["apiVersion"], secret["kind"], secret["type"]) == ("v1", "Secret", "Opaque")
    assert secret["metadata"] == {"name": "seldon-rclone-secret", "namespace": "models"}
    assert secret["stringData"] == {
        "RCLONE_CONFIG_S3_TYPE": "s3",
        "RCLONE_CONFIG_S3_PROVIDER": "Minio",  # rclone's spelling (it warns about "minio")
        "RCLONE_CONFIG_S3_ENV_AUTH": "false",
        "RCLONE_CONFIG_S3_ACCESS_KEY_ID": KEY,
        "RCLONE_CONFIG_S3_SECRET_ACCESS_KEY": SECRET,
        "RCLONE_CONFIG_S3_ENDPOINT": "http://minio.fadi.svc.cluster.local:9000",
    }
    code, out, err = run_cli(
        capsys, ["upload", "--print-secret", "s", "--endpoint", "http://127.0.0.1:9000", "-o", "json"]
    )
    assert code == ExitCode.OK and json.loads(out)["stringData"]["RCLONE_CONFIG_S3_PROVIDER"] == "Other"
    assert "is the pod itself" in err  # a loopback endpoint, as a pod would see it


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (
            ["upload", "--print-secret", "s", "--endpoint", "http://h:9000", "dir", "s3://b/p"],
            "drop DIR and URI",
        ),
        (["upload", "--print-secret", "s"], "--print-secret needs --endpoint"),
        (["upload", "--print-secret", "s", "--endpoint", "http://h:9000", "--dry-run"], "drop --dry-run"),
        (["upload", "--print-secret", "Not_A_Name", "--endpoint", "http://h:9000"], "is not a Secret name"),
        (["upload", "--print-secret", "s", "--endpoint", "http://h:9000", "--provider", "x"], "provider 'x'"),
        (["upload", "dir"], "give DIR and s3://BUCKET/PATH"),
        (["upload", "dir", "s3://b/p", "--kubeconfig", "k"], "--kubeconfig goes with --secret"),
        (["upload", "dir", "s3://b/p", "-n", "models"], "-n/--namespace goes with --secret"),
    ],
)
def test_a_flag_without_what_it_needs_is_refused(capsys, keys, argv, words):
    code, out, err = run_cli(capsys, argv)
    assert code == ExitCode.USAGE and out == "" and words in err


def test_keys_are_never_taken_from_the_command_line(capsys, keys, model):
    code, _, err = run_cli(capsys, ["upload", str(model), "s3://b/p", "--access-key-id", "k"])
    assert code == ExitCode.USAGE and "unrecognized arguments: --access-key-id" in err


def test_no_keys_says_where_to_put_them(capsys, monkeypatch, model):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    code, _, err = run_cli(capsys, ["upload", str(model), "s3://models/p", "--endpoint", "http://h:9000"])
    assert code == ExitCode.USAGE and "AWS_ACCESS_KEY_ID not set" in err and "--secret NAME" in err


@pytest.mark.parametrize(
    ("what", "words"),
    [
        ("missing", "no such folder"),
        ("file", "is not a folder"),
        ("empty", "holds no file: nothing to upload"),
    ],
)
def test_a_folder_that_holds_no_model_is_refused(capsys, keys, tmp_path, what, words):
    folder = tmp_path / what
    if what == "file":
        folder.write_text("x")
    elif what == "empty":
        (folder / "sub").mkdir(parents=True)  # folders but no file
    code, out, err = run_cli(capsys, ["upload", str(folder), "s3://models/p", "--endpoint", "http://h:9000"])
    assert code == ExitCode.USAGE and out == "" and words in err


@pytest.mark.parametrize(
    ("uri", "words"),
    [
        ("gs://bucket/iris", "is not an s3:// URI"),
        ("models/iris", "is not an s3:// URI"),
        ("s3://bucket", "names a bucket but no folder"),
        ("s3://bucket/", "names a bucket but no folder"),
        ("s3://bucket/a//b", "single '/'"),
        ("s3://bucket/../iris", "'..'"),
        ("s3://Models/iris", "lower-case letters"),
        ("s3://ab/iris", "has 2 characters"),
        ("s3://my_bucket/iris", "lower-case letters"),
        ("s3://-bucket/iris", "start and end with a letter or a digit"),
        ("s3://a..b/iris", "'..'"),
        ("s3://192.168.1.10/iris", "IP address"),
        ("s3://" + "b" * 64 + "/iris", "has 64 characters"),
    ],
)
def test_a_uri_that_is_not_s3_bucket_path_is_refused(capsys, keys, model, uri, words):
    code, out, err = run_cli(capsys, ["upload", str(model), uri, "--endpoint", "http://h:9000", "-o", "json"])
    assert code == ExitCode.USAGE and words in json.loads(out)["error"] and words in err


def test_parse_uri_keeps_the_bucket_and_path():
    assert upload.parse_uri("s3://models/iris/v1/") == upload.Target("models", "iris/v1")
    assert upload.parse_uri("s3://my.models-2/iris").uri == "s3://my.models-2/iris"


def test_missing_rclone_says_how_to_install_it(capsys, keys, monkeypatch, model):
    from fadi_seldon.tools import layout

    monkeypatch.setattr(layout, "find_executable", lambda name, bin_dir=None: None)
    code, _, err = run_cli(capsys, ["upload", str(model), "s3://models/p", "--endpoint", "http://h:9000"])
    assert code == ExitCode.FAILED and "rclone is not installed" in err
    assert "fadi-seldon tools install rclone" in err


def test_rclone_gets_its_remote_from_the_environment_only():
    """No config file (`--config ""`), nothing a user set for a remote of the same name, the keys in
    the environment and never in the arguments."""
    plan = upload.Plan(
        Path("/m"),
        upload.Target("b1", "p"),
        [upload.LocalFile("model.joblib", 1)],
        "http://h:9000",
        upload.Credentials(KEY, SECRET),
        "Other",
    )
    base = {"PATH": "/bin", "RCLONE_CONFIG": "/home/u/rclone.conf", "RCLONE_CONFIG_FADIUPLOAD_REGION": "x"}
    env = upload.rclone_environment(plan, base)
    assert "RCLONE_CONFIG" not in env and "RCLONE_CONFIG_FADIUPLOAD_REGION" not in env
    assert env["RCLONE_CONFIG_FADIUPLOAD_SECRET_ACCESS_KEY"] == SECRET
    assert env["RCLONE_CONFIG_FADIUPLOAD_ENV_AUTH"] == "false" and env["PATH"] == "/bin"
    assert upload.GLOBAL_FLAGS[:2] == ("--config", "")


def _plan() -> upload.Plan:
    return upload.Plan(
        Path("/m"),
        upload.Target("models", "iris"),
        [upload.LocalFile("model.joblib", 10), upload.LocalFile("meta/settings.json", 2)],
        "http://minio.fadi.svc.cluster.local:9000",
        upload.Credentials(KEY, SECRET, source="Secret models/creds", secret="creds", namespace="models"),
        "Other",
    )


@pytest.mark.parametrize(
    ("error", "kind", "words"),
    [
        ("Failed to mkdir: operation error S3: CreateBucket, https response error StatusCode: 403, RequestID: 1, "
         "api error AccessDenied: Access Denied.", "refused",
         "refused the keys (AccessDenied): the access key or secret is wrong, or the key may not write to bucket models"),
        ("error listing: ... api error InvalidAccessKeyId: The Access Key Id you provided does not exist", "refused",
         "(InvalidAccessKeyId): the access key or secret is wrong"),
        ("HeadObject, https response error StatusCode: 403, RequestID: , Forbidden", "refused", "(Forbidden)"),
        ("request send failed, Get \"http://h:9000/\": dial tcp: lookup h on 10.0.0.1:53: no such host",
         "unreachable", "cannot reach the object store at http://minio.fadi.svc.cluster.local:9000: dial tcp"),
        ("rclone mkdir did not finish within 600 s: i/o timeout", "unreachable", "cannot reach"),
        ("api error InvalidBucketName: The specified bucket is not valid.", "failed",
         "refused creating bucket models (InvalidBucketName: The specified bucket is not valid.)"),
        ("Failed to copy: directory not found", "failed", "rclone failed while creating bucket models: Failed to copy"),
    ],
)  # fmt: skip
def test_rclones_errors_in_a_users_words(error, kind, words):
    found = upload.problem(["an earlier line", error], _plan(), "creating bucket models")
    assert found.kind == kind and words in str(found)
    if kind == "refused":
        assert found.hint == "check Secret models/creds"
    if kind == "unreachable":  # an in-cluster name this host cannot resolve: how to reach it from here
        assert "kubectl port-forward -n fadi svc/minio 9000:9000" in (found.hint or "")


def test_a_store_that_never_answers_is_a_timeout(tmp_path):
    slow = tmp_path / "rclone"
    slow.write_text("#!/bin/sh\nexec sleep 30\n")  # one process: the timeout kills it
    slow.chmod(0o755)
    rclone = upload.Rclone(str(slow), {"PATH": os.environ["PATH"]}, lambda message: None)
    assert rclone.run("mkdir", "x:b", timeout=0.5).code == 1
    assert upload.problem(rclone.errors, _plan(), "creating bucket b").kind == "unreachable"


def test_verify_names_what_is_missing_or_of_another_size_and_what_is_extra():
    listing = [
        {"Path": "model.joblib", "Size": 9, "IsDir": False},
        {"Path": "old.pkl", "Size": 1, "IsDir": False},
    ]
    wrong, extra = upload.verify(_plan().files, listing)
    assert wrong == ["model.joblib (10 bytes here, 9 there)", "meta/settings.json (missing)"]
    assert extra == ["old.pkl"]
