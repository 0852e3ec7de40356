"""Bad input gets one plain line naming the file and line, and the exit code of the table.

Each case was once answered with a traceback, a parser's dump, a silent success or the wrong code;
they all go through one mechanism now: a command raises fadi_seldon.cli.errors.CliError, `main`
prints it once (one line on stderr; a JSON object on stdout too under `-o json`).
"""

from __future__ import annotations

import hashlib
import json
import stat
import time
from pathlib import Path

import pytest

from conftest import run_cli
from fadi_seldon import cli
from fadi_seldon.cli import completion
from fadi_seldon.cli.exit_codes import ExitCode

EXAMPLE_MODEL = Path(__file__).resolve().parents[1] / "examples" / "iris-model"


@pytest.fixture
def work(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _one_line(err: str) -> str:
    """The error line of stderr, checked to be the only one and free of Python's internals."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err and "Errno" not in err
    assert lines[0].startswith("error: ")
    return lines[0]


# --------------------------------------------------------------------------- serve


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--port", "99999"], "--port 99999 is not a port number"),
        (["--metrics-port", "0"], "--metrics-port 0 is not a port number"),
        (["--host", "999.1.1.1"], "--host 999.1.1.1 is not a valid local address"),
        (["--host", "192.0.2.1"], "--host 192.0.2.1 is not a valid local address"),  # TEST-NET-1
    ],
)
def test_serve_refuses_a_port_or_address_it_cannot_bind(capsys, work, flags, words):
    code, out, err = run_cli(capsys, ["serve", str(EXAMPLE_MODEL), *flags, "--no-install"])
    assert code == ExitCode.USAGE and out == ""
    assert words in _one_line(err)
    assert "already in use" not in err


def test_serve_refuses_a_folder_without_a_model_artifact_at_once(capsys, work):
    empty = work / "empty"
    empty.mkdir()
    argv = ["serve", "--server", "SKLEARN_SERVER", "--model-uri", str(empty), "--protocol", "v2"]
    code, out, err = run_cli(capsys, argv)
    assert code == ExitCode.USAGE and out == ""
    line = _one_line(err)
    assert f"no model artifact in {empty}" in line and "model.joblib" in line


@pytest.mark.parametrize(
    ("server", "artifact"),
    [("SKLEARN_SERVER", "model.joblib"), ("XGBOOST_SERVER", "model.bst"), ("MLFLOW_SERVER", "MLmodel")],
)
def test_artifact_check_accepts_the_files_each_runtime_loads(tmp_path, server, artifact):
    from fadi_seldon.model import mlserver, serving

    with pytest.raises(serving.BadServeInput, match="no model artifact"):
        mlserver.check_artifact(server, tmp_path)
    (tmp_path / "notes.txt").write_text("not a model\n")
    with pytest.raises(serving.BadServeInput):
        mlserver.check_artifact(server, tmp_path)
    (tmp_path / artifact).write_bytes(b"\x80")
    mlserver.check_artifact(server, tmp_path)
    mlserver.check_artifact(server, tmp_path / artifact)  # the file itself


def test_check_host_accepts_loopback():
    from fadi_seldon.model import serving

    serving.check_host("127.0.0.1")
    serving.check_host("localhost")


# --------------------------------------------------------------------------- images


def test_images_refuses_what_values_check_refuses_with_file_and_line(capsys, work):
    values = work / "values.yaml"
    values.write_text("seldon-core-operator:\n  enabled: true\n  image:\n    registry: [1]\n")
    code, out, err = run_cli(capsys, ["values", "check", "-f", str(values)])
    assert code == ExitCode.FAILED and "seldon-core-operator.image.registry" in out
    code, out, err = run_cli(capsys, ["images", "-f", str(values)])
    assert code == ExitCode.USAGE and out == ""
    line = _one_line(err)
    assert line.startswith(f"error: {values}:4: seldon-core-operator.image.registry: expected string")
    assert "[1]/" not in out
    code, out, err = run_cli(capsys, ["images", "-f", str(values), "-o", "json"])
    assert code == ExitCode.USAGE
    report = json.loads(out)
    assert report["exit_code"] == 2 and report["file"] == str(values) and report["line"] == 4
    assert "expected string" in report["error"]


def test_images_checks_an_operator_chart_file_against_the_operators_schema(capsys, work):
    values = work / "operator.yaml"
    values.write_text("executor:\n  image:\n    tag: {a: 1}\n")
    code, _, err = run_cli(capsys, ["images", "-f", str(values)])
    assert code == ExitCode.USAGE
    assert f"{values}:3: executor.image.tag" in _one_line(err)


@pytest.mark.parametrize(
    ("content", "where", "words"),
    [
        ("seldon-core-operator:\n  image:\n    registry: [1\n", ":4:1:", "invalid YAML"),
        ("a: 1\n\tb: 2\n", ":2:1:", "spaces only"),
        ("- a\n- b\n", ":1:", "must be a mapping"),
        ("seldon-core-operator:\n  - a\n", ":1:", "seldon-core-operator: expected object"),
    ],
)
def test_images_bad_files_get_file_line_and_plain_words(capsys, work, content, where, words):
    values = work / "v.yaml"
    values.write_text(content)
    code, _, err = run_cli(capsys, ["images", "-f", str(values)])
    assert code == ExitCode.USAGE
    line = _one_line(err)
    assert f"{values}{where}" in line and words in line
    assert "^" not in err and "<unicode string>" not in err


def test_images_missing_file(capsys, work):
    code, _, err = run_cli(capsys, ["images", "-f", "nope.yaml"])
    assert code == ExitCode.USAGE
    assert "nope.yaml: no such file" in _one_line(err)


# --------------------------------------------------------------------------- new


@pytest.mark.parametrize(
    ("content", "where", "words"),
    [
        (None, "nope.yaml:", "no such file"),
        ("- a\n- b\n", "spec.yaml:1:1:", "expected a mapping (key: value), got a list"),
        ("name: x\ngraph: [1]\n", "spec.yaml:2:8: graph:", "got a list"),
        ("name: x\ngraph: [1\n", "spec.yaml:3:1:", "not valid YAML"),
        ("name: x\n\tgraph: {}\n", "spec.yaml:2:1:", "spaces only"),
    ],
)
def test_new_from_a_bad_spec_names_file_and_line_in_plain_words(capsys, work, content, where, words):
    name = "nope.yaml" if content is None else "spec.yaml"
    if content is not None:
        (work / name).write_text(content)
    code, out, err = run_cli(capsys, ["new", "--from", name])
    assert code == ExitCode.USAGE and out == ""
    line = _one_line(err)
    assert where in line and words in line
    assert "Commented" not in line


@pytest.mark.parametrize(
    ("argv", "needed"),
    [
        (["new", "m", "--image", "a:1", "--canary-traffic", "20"], "--canary"),
        (["crd", "--compact"], "-o json"),
        (["crd", "--compact", "-o", "yaml"], "-o json"),
    ],
)
def test_a_flag_without_the_one_it_needs_is_refused(capsys, work, argv, needed):
    code, out, err = run_cli(capsys, argv)
    assert code == ExitCode.USAGE and out == ""
    assert needed in _one_line(err)


def test_canary_traffic_still_works_with_canary(capsys, work):
    code, out, err = run_cli(
        capsys, ["new", "m", "--image", "a:1", "--canary", "a:2", "--canary-traffic", "20", "-o", "json"]
    )
    assert code == ExitCode.OK, err
    traffic = {p["name"]: p["traffic"] for p in json.loads(out)["spec"]["predictors"]}
    assert traffic == {"default": 80, "canary": 20}
    code, out, _ = run_cli(capsys, ["new", "m", "--image", "a:1", "--canary", "a:2", "-o", "json"])
    assert [p["traffic"] for p in json.loads(out)["spec"]["predictors"]] == [90, 10]  # the default


def test_compact_json_still_works(capsys, work):
    code, out, _ = run_cli(capsys, ["crd", "--compact", "-o", "json"])
    assert code == ExitCode.OK and out.count("\n") == 1 and json.loads(out)["kind"]


# --------------------------------------------------------------------------- doctor

# what kubectl 1.3x prints without a kubeconfig (it falls back to localhost:8080)
KUBECTL_REFUSED = """\
E1206 05:14:04.858629   15534 memcache.go:265] "Unhandled Error" err="couldn't get current server API group list: Get \\"http://localhost:8080/api?timeout=20s\\": dial tcp 127.0.0.1:8080: connect: connection refused"
E1206 05:14:04.858800   15534 memcache.go:265] "Unhandled Error" err="couldn't get current server API group list: Get \\"http://localhost:8080/api?timeout=20s\\": dial tcp 127.0.0.1:8080: connect: connection refused"
The connection to the server localhost:8080 was refused - did you specify the right host or port?
"""


@pytest.fixture
def refusing_kubectl(tmp_path: Path, monkeypatch) -> Path:
    """A kubectl that fails as the real one does when nothing answers at the kubeconfig's address."""
    from fadi_seldon.doctor import kubectl

    (tmp_path / "stderr.txt").write_text(KUBECTL_REFUSED)
    exe = tmp_path / "kubectl"
    exe.write_text(
        f"#!/bin/sh\necho run >> {tmp_path / 'calls'}\ncat {tmp_path / 'stderr.txt'} >&2\nexit 1\n"
    )
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(kubectl, "_kubectl", lambda: str(exe))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return exe


def test_doctor_without_a_kubeconfig_has_nothing_to_act_on_and_runs_no_kubectl(capsys, refusing_kubectl):
    argv = ["doctor", "--operator-state", str(refusing_kubectl.parent / "none")]
    code, out, err = run_cli(capsys, argv)
    assert code == ExitCode.NOTHING and out == ""
    line = _one_line(err)
    assert "no cluster to diagnose: no kubeconfig" in line and "--kubeconfig" in line
    code, out, err = run_cli(capsys, [*argv, "-o", "json"])
    assert code == ExitCode.NOTHING
    report = json.loads(out)
    assert report["exit_code"] == 3 and report["error"].startswith("no cluster to diagnose")
    # kubectl would have tried localhost:8080, whatever listens there
    assert not (refusing_kubectl.parent / "calls").exists()


def test_doctor_when_nothing_answers_has_nothing_to_act_on(capsys, refusing_kubectl):
    (refusing_kubectl.parent / ".kube").mkdir()
    (refusing_kubectl.parent / ".kube" / "config").write_text("apiVersion: v1\nkind: Config\n")
    argv = ["doctor", "--operator-state", str(refusing_kubectl.parent / "none")]
    code, out, err = run_cli(capsys, argv)
    assert code == ExitCode.NOTHING and out == ""
    line = _one_line(err)
    assert "cannot reach the cluster: The connection to the server localhost:8080 was refused" in line
    assert "memcache.go" not in line
    code, out, err = run_cli(capsys, [*argv, "-o", "json"])
    assert code == ExitCode.NOTHING
    assert json.loads(out)["error"].startswith("cannot reach the cluster")


def test_kubectl_problem_keeps_kubectls_summary():
    from fadi_seldon.doctor import kubectl_problem

    assert kubectl_problem(KUBECTL_REFUSED) == (
        "The connection to the server localhost:8080 was refused - did you specify the right host or port?",
        True,
    )
    assert kubectl_problem(
        'Error from server (Forbidden): namespaces is forbidden: User "x" cannot list resource'
    ) == ('Error from server (Forbidden): namespaces is forbidden: User "x" cannot list resource', False)
    assert kubectl_problem("error: You must be logged in to the server (Unauthorized)\n")[0] == (
        "You must be logged in to the server (Unauthorized)"
    )


def test_doctor_against_a_port_nothing_listens_on(capsys, tmp_path, monkeypatch):
    """The real kubectl, a kubeconfig naming 127.0.0.1:1 (nothing listens on port 1)."""
    from fadi_seldon.doctor import kubectl

    if kubectl._kubectl() is None:
        pytest.skip("no kubectl: the fake kubectl case above covers the parsing")
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\n"
        "contexts:\n- name: c\n  context: {cluster: c, user: u}\nusers:\n- name: u\n  user: {token: t}\n"
        "current-context: c\n"
    )
    monkeypatch.setenv("HOME", str(tmp_path))
    argv = [
        "doctor",
        "--kubeconfig",
        str(kubeconfig),
        "--operator-state",
        str(tmp_path / "none"),
        "-o",
        "json",
    ]
    code, out, err = run_cli(capsys, argv)
    assert code == ExitCode.NOTHING
    assert "127.0.0.1:1" in _one_line(err)
    assert json.loads(out)["exit_code"] == 3


def test_doctor_with_a_kubeconfig_that_is_not_there_is_a_usage_error(capsys, work):
    code, out, err = run_cli(capsys, ["doctor", "--kubeconfig", "nope", "-o", "json"])
    assert code == ExitCode.USAGE
    assert "no kubeconfig at nope" in _one_line(err)
    assert json.loads(out) == {"error": "cannot read the cluster: no kubeconfig at nope", "exit_code": 2}


# --------------------------------------------------------------------------- validate, usage


@pytest.mark.parametrize("content", ["a: [1\n", "a: 1\n\tb: 2\n", "This is prose: it has: colons\n"])
def test_validate_unparsable_yaml_is_unreadable_input(capsys, work, content):
    (work / "bad.yaml").write_text(content)
    code, out, _ = run_cli(capsys, ["validate", "bad.yaml"])
    assert code == ExitCode.USAGE
    assert "bad.yaml:" in out and "[yaml-syntax]" in out


@pytest.mark.parametrize(
    ("argv", "usage"),
    [
        (["validate", "--bogus", "x"], "usage: fadi-seldon validate "),
        (["values", "set", "-f", "v.yaml", "a=1", "--bogus"], "usage: fadi-seldon values set "),
        (["crd", "--bogus"], "usage: fadi-seldon crd "),
        (["cluster", "operator", "status", "--bogus"], "usage: fadi-seldon cluster operator status "),
    ],
)
def test_an_unknown_flag_gets_the_usage_of_its_subcommand(capsys, work, argv, usage):
    code, out, err = run_cli(capsys, argv)
    assert code == ExitCode.USAGE and out == ""
    assert err.startswith(usage), err
    assert "unrecognized arguments: --bogus" in err


def test_a_cli_error_is_one_line_even_from_a_multi_line_message():
    from fadi_seldon.cli.errors import CliError

    err = CliError("first\nsecond", ExitCode.USAGE, file="f.yaml", line=3, hint="do this")
    assert err.text() == "f.yaml:3: first second; do this"
    assert err.to_json() == {
        "error": "first second",
        "exit_code": 2,
        "file": "f.yaml",
        "line": 3,
        "hint": "do this",
    }


# --------------------------------------------------------------------------- every command, bad input
#
# Every command of the table (fadi_seldon.cli.COMMANDS, walked through its parser) gets what a user
# gets wrong: a file that is missing, a folder, invalid YAML, tabs, a list instead of a mapping,
# binary content, an unknown flag, a wrong -o; and, with no cluster configured (KUBECONFIG naming
# nothing, an empty FADI_CLUSTER_DIR), every command that needs one. Each answer is one line on
# stderr with the exit code of the table, a JSON error object under -o json, and no file changed.

LEVELS = {level.path: level for level in completion.walk(cli.build_parser(full=True))}
KINDS = ("missing", "directory", "invalid-yaml", "tabs", "list", "binary")
FILES = {  # kind -> (name in the work folder, content; None: absent, a folder for "directory")
    "missing": ("missing.yaml", None),
    "directory": ("adir", None),
    "invalid-yaml": ("invalid.yaml", b"a: [1\n"),
    "tabs": ("tabs.yaml", b"a: 1\n\tb: 2\n"),
    "list": ("list.yaml", b"- a\n- b\n"),
    "binary": ("binary.yaml", b"\x00\x01\xff\xfePK\x03\x04\x00"),
}
MODEL = "class Model:\n    def predict(self, X, names=None):\n        return X\n"


def _file_cases(path: str, argv: list[str], codes: dict[str, ExitCode] | None = None, kinds=KINDS):
    """One case per kind of bad file, put where `argv` has @; exit 2 unless `codes` says otherwise."""
    for kind in kinds:
        code = (codes or {}).get(kind, ExitCode.USAGE)
        yield pytest.param(path, argv, kind, code, id=f"{path}: {' '.join(argv)} [{kind}]")


def _cases():
    """(command path, argv, kind of bad file or None, expected exit code)."""
    no_model = {"directory": ExitCode.FAILED}  # an empty folder: no class (a problem with the model)
    yield from _file_cases("validate", ["validate", "m.yaml", "--values", "@"])
    yield from _file_cases("new", ["new", "--from", "@"])
    yield from _file_cases("new", ["new", "m", "--image", "a:1", "--values", "@"])
    for action in ("enable", "disable", "get", "check"):
        yield from _file_cases(f"values {action}", ["values", action, "-f", "@"])
    yield from _file_cases("values set", ["values", "set", "-f", "@", "singleNamespace=true"])
    yield from _file_cases("values check", ["values", "check", "-f", "v.yaml", "--schema", "@"])
    yield from _file_cases("images", ["images", "-f", "@"])
    yield from _file_cases("package", ["package", "@"], no_model)
    yield from _file_cases("serve", ["serve", "@"], no_model)
    yield from _file_cases(
        "serve", ["serve", "--server", "SKLEARN_SERVER", "--protocol", "v2", "--model-uri", "@"]
    )
    yield from _file_cases("predict", ["predict", "--file", "@"])
    yield from _file_cases("predict", ["predict", "--protocol", "v2", "--model", "m", "--file", "@"])
    yield from _file_cases("predict", ["predict", "--bin-file", "@"], kinds=("missing", "directory"))
    yield from _file_cases("upload", ["upload", "@", "s3://models/m", "--endpoint", "http://127.0.0.1:9"])
    yield from _file_cases(
        "upload", ["upload", "model", "s3://models/m", "--secret", "s", "--kubeconfig", "@"]
    )
    yield from _file_cases("cluster load", ["cluster", "load", "@"])
    yield from _file_cases("cluster operator start", ["cluster", "operator", "start", "--kubeconfig", "@"])
    yield from _file_cases(
        "cluster operator start", ["cluster", "operator", "start", "--kubeconfig", "kubeconfig", "-f", "@"]
    )
    yield from _file_cases("doctor", ["doctor", "--kubeconfig", "@"])
    yield from _file_cases("status", ["status", "m", "--kubeconfig", "@"])
    yield from _file_cases("logs", ["logs", "m", "--kubeconfig", "@"])
    yield from _file_cases("routes render", ["routes", "render", "-f", "@"])
    yield pytest.param(
        "routes controller",
        ["routes", "controller", "--public-url", "gw:8000"],
        None,
        ExitCode.USAGE,
        id="routes controller --public-url without a scheme",
    )
    # output files: never in a missing folder, never a folder, never over a read-only file
    for path, argv in (("new", ["new", "m", "--image", "a:1"]), ("crd", ["crd"])):
        for where in ("missing.yaml/out.yaml", "adir", "readonly.yaml"):
            yield pytest.param(
                path, [*argv, "--output-file", where, "--force"], None, ExitCode.USAGE, id=f"{path} > {where}"
            )
    # no cluster configured: exit 3, fast, nothing built or started
    for path, argv in (
        ("cluster status", ["cluster", "status"]),
        ("cluster env", ["cluster", "env"]),
        ("cluster service", ["cluster", "service", "x"]),
        ("cluster object-store", ["cluster", "object-store"]),
        ("cluster gateway", ["cluster", "gateway"]),
        ("cluster load", ["cluster", "load", "--operator"]),
        ("cluster operator start", ["cluster", "operator", "start"]),
        ("cluster operator status", ["cluster", "operator", "status"]),
        ("doctor", ["doctor"]),
        ("status", ["status", "m"]),
        ("logs", ["logs", "m", "--component", "executor"]),
        ("package", ["package", "model", "--load"]),
        ("upload", ["upload", "model", "s3://models/m", "--secret", "seldon-rclone-secret"]),
    ):
        yield pytest.param(path, argv, None, ExitCode.NOTHING, id=f"no cluster: {' '.join(argv)}")


CASES = list(_cases())


@pytest.fixture
def walk(tmp_path: Path, monkeypatch) -> Path:
    """The bad files, a valid values file, manifest, model folder and kubeconfig; no cluster anywhere."""
    for name, content in FILES.values():
        if name == "adir":
            (tmp_path / name).mkdir()
        elif content is not None:
            (tmp_path / name).write_bytes(content)
    (tmp_path / "v.yaml").write_text("seldon-core-operator:\n  enabled: false\n")
    (tmp_path / "m.yaml").write_text(
        "apiVersion: machinelearning.seldon.io/v1\nkind: SeldonDeployment\nmetadata: {name: m}\n"
        "spec:\n  predictors:\n  - name: default\n    graph: {name: m, type: MODEL, implementation: SKLEARN_SERVER,"
        " modelUri: 'gs://b/m'}\n"
    )
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "Model.py").write_text(MODEL)
    (tmp_path / "kubeconfig").write_text("apiVersion: v1\nkind: Config\n")
    (tmp_path / "readonly.yaml").write_text("mine\n")
    (tmp_path / "readonly.yaml").chmod(0o444)
    (tmp_path / "cluster").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.kube/config
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))
    monkeypatch.setenv("FADI_CLUSTER_DIR", str(tmp_path / "cluster"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    return tmp_path


def _snapshot(root: Path) -> dict[str, tuple[str, int]]:
    """Every file and folder below `root`: content hash (folders: "dir") and mode."""
    found = {}
    for path in sorted(root.rglob("*")):
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        found[str(path.relative_to(root))] = (digest, stat.S_IMODE(path.lstat().st_mode))
    return found


def _takes_json(path: str) -> bool:
    """The command takes -o json for a failure too (serve's -o goes with --setup only)."""
    level = LEVELS[path]
    return path != "serve" and any("--output" in o.strings for o in level.options)


def test_every_command_is_walked():
    """Each command of the table has bad-input cases here (groups get the unknown-flag case below)."""
    leaves = {p for p, level in LEVELS.items() if p and not level.subcommands}
    walked = {path for path, *_ in (c.values for c in CASES)}
    assert leaves - walked == {"cluster up", "cluster down", "cluster operator stop", "tools install",
                               "tools status", "tools env", "completion"}  # fmt: skip
    # those: only usage errors can be given without starting a cluster or installing tools (below)


@pytest.mark.parametrize(("path", "argv", "kind", "expected"), CASES)
def test_bad_input_is_one_line_with_the_code_of_the_table_and_changes_nothing(
    capsys, walk, path, argv, kind, expected
):
    name = FILES[kind][0] if kind else None
    argv = [name if a == "@" else a for a in argv]
    before = _snapshot(walk)
    started = time.monotonic()
    code, out, err = run_cli(capsys, argv)
    took = time.monotonic() - started
    assert code == expected, err
    line = _one_line(err)
    assert "<unicode string>" not in line and "codec can't" not in line
    if name:
        assert name in line, line
    if expected == ExitCode.NOTHING:
        assert took < 10, f"{took:.1f} s to say there is no cluster"
    assert out == ""
    if _takes_json(path):
        code, out, _ = run_cli(capsys, [*argv, "-o", "json"])
        report = json.loads(out)
        assert code == expected and report["exit_code"] == expected and report["error"], out
    assert _snapshot(walk) == before


@pytest.mark.parametrize("path", sorted(LEVELS), ids=lambda p: p or "fadi-seldon")
def test_an_unknown_flag_and_a_wrong_format_are_usage_errors(capsys, walk, path):
    before = _snapshot(walk)
    code, out, err = run_cli(capsys, [*path.split(), "--bogus"])
    assert code == ExitCode.USAGE and out == "" and "Traceback" not in err
    assert err.startswith(f"usage: fadi-seldon {path}".rstrip()), err
    assert (
        err.splitlines()[-1].startswith(f"fadi-seldon {path}".rstrip()) and "error:" in err.splitlines()[-1]
    )
    if any("--output" in o.strings for o in LEVELS[path].options):
        code, out, err = run_cli(capsys, [*path.split(), "-o", "xml"])
        assert code == ExitCode.USAGE and out == ""
        assert "'xml' is not an output format" in err.splitlines()[-1]
    assert _snapshot(walk) == before


@pytest.mark.parametrize(
    "argv",
    [
        ["cluster", "down"],
        ["cluster", "down", "--keep-state"],
        ["cluster", "operator", "stop"],
    ],
)
def test_stopping_what_is_not_there_succeeds_and_removes_nothing(capsys, walk, argv):
    """`down` removes only a folder holding a cluster's state: never one named by mistake."""
    (walk / "cluster" / "notes.txt").write_text("not a cluster\n")
    before = _snapshot(walk)
    code, out, err = run_cli(capsys, [*argv, "-o", "json"])
    assert code == ExitCode.OK, err
    assert json.loads(out).get("removed", False) is False
    assert _snapshot(walk) == before
