"""The contract every `fadi-seldon` command keeps (kubectl's habits).

- every command and sub-command answers `--help` with exit 0, and bad input with the exit code of
  the one table in fadi_seldon.cli.exit_codes (shown by `fadi-seldon --help`);
- `-o/--output` is the format (text, yaml, json) wherever a command prints a result, never a file:
  files are written with `--output-file PATH`;
- shell exports are quoted, so `eval "$(fadi-seldon ... env)"` survives any path;
- the completion scripts are generated from the same parser and list every command and option.

The command list comes from the parser itself, so a new command fails here until it has a case.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import run_cli
from fadi_seldon import cli
from fadi_seldon.cli import completion
from fadi_seldon.cli.exit_codes import ExitCode

LEVELS = completion.walk(cli.build_parser(full=True))
PATHS = [level.path for level in LEVELS]
VALUES = "seldon-core-operator:\n  enabled: false\n"


@pytest.fixture
def work(tmp_path: Path, monkeypatch) -> Path:
    """A folder with a valid values file, a broken one, a manifest; no KUBECONFIG from the caller."""
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "values.yaml").write_text(VALUES)
    (tmp_path / "broken.yaml").write_text("seldon-core-operator:\n  enabled: [true\n")
    return tmp_path


# command path -> (arguments with {tmp} for the work folder, expected exit code)
BAD_INPUT: dict[str, tuple[list[str], ExitCode]] = {
    "": (["no-such-command"], ExitCode.USAGE),
    "validate": (["validate", "{tmp}/missing.yaml"], ExitCode.USAGE),
    "new": (["new", "x"], ExitCode.USAGE),  # no model
    "crd": (["crd", "--compact"], ExitCode.USAGE),  # --compact needs -o json
    "values": (["values"], ExitCode.USAGE),
    "values enable": (["values", "enable", "-f", "{tmp}/missing.yaml"], ExitCode.USAGE),
    "values disable": (["values", "disable", "-f", "{tmp}/broken.yaml"], ExitCode.USAGE),
    "values set": (["values", "set", "-f", "{tmp}/values.yaml", "no-equals-sign"], ExitCode.USAGE),
    "values get": (["values", "get", "-f", "{tmp}/values.yaml", "singleNamespace"], ExitCode.FAILED),
    "values check": (["values", "check", "-f", "{tmp}/broken.yaml"], ExitCode.USAGE),
    "images": (["images", "-f", "{tmp}/broken.yaml"], ExitCode.USAGE),
    "package": (["package", "{tmp}/no-such-folder"], ExitCode.USAGE),
    "serve": (["serve", "{tmp}/no-such-folder"], ExitCode.USAGE),
    "predict": (["predict", "--ndarray", "[[1,"], ExitCode.USAGE),
    "upload": (["upload", "{tmp}/no-such-folder", "s3://models/m", "--endpoint", "http://127.0.0.1:9"], ExitCode.USAGE),
    "cluster": (["cluster"], ExitCode.USAGE),
    "cluster up": (["cluster", "up", "--timeout-scale", "slow"], ExitCode.USAGE),
    "cluster down": (["cluster", "--state-dir", "{tmp}/none", "down", "-o", "xml"], ExitCode.USAGE),
    "cluster status": (["cluster", "--state-dir", "{tmp}/none", "status"], ExitCode.NOTHING),
    "cluster env": (["cluster", "--state-dir", "{tmp}/none", "env"], ExitCode.NOTHING),
    "cluster load": (["cluster", "--state-dir", "{tmp}/none", "load"], ExitCode.USAGE),
    "cluster service": (["cluster", "--state-dir", "{tmp}/none", "service", "x", "--wait", "soon"], ExitCode.USAGE),
    "cluster object-store": (["cluster", "--state-dir", "{tmp}/none", "object-store", "--wait", "soon"], ExitCode.USAGE),
    "cluster gateway": (["cluster", "--state-dir", "{tmp}/none", "gateway", "--wait", "0"], ExitCode.USAGE),
    "cluster operator": (["cluster", "operator"], ExitCode.USAGE),
    "cluster operator start": (["cluster", "--state-dir", "{tmp}/none", "operator", "start"], ExitCode.NOTHING),
    "cluster operator stop": (["cluster", "operator", "stop", "--uninstall=yes"], ExitCode.USAGE),
    "cluster operator status": (["cluster", "--state-dir", "{tmp}/none", "operator", "status"], ExitCode.NOTHING),
    "doctor": (["doctor", "--kubeconfig", "{tmp}/no-such-kubeconfig"], ExitCode.USAGE),
    "status": (["status"], ExitCode.USAGE),  # no NAME
    "logs": (["logs", "m", "--tail", "many"], ExitCode.USAGE),
    "routes": (["routes"], ExitCode.USAGE),
    "routes render": (["routes", "render", "-f", "{tmp}/broken.yaml"], ExitCode.USAGE),
    "routes controller": (["routes", "controller", "-o", "yaml"], ExitCode.USAGE),
    "tools": (["tools"], ExitCode.USAGE),
    "tools install": (["tools", "install", "no-such-tool"], ExitCode.USAGE),
    "tools status": (["tools", "status", "no-such-tool"], ExitCode.USAGE),
    "tools env": (["tools", "env", "-o", "csv"], ExitCode.USAGE),
    "completion": (["completion", "fish"], ExitCode.USAGE),
}  # fmt: skip


def test_every_command_has_a_bad_input_case():
    assert sorted(BAD_INPUT) == sorted(PATHS)


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p or "fadi-seldon")
def test_bad_input_exits_with_the_code_of_the_table(capsys, work, path):
    argv, expected = BAD_INPUT[path]
    code, out, err = run_cli(capsys, [a.replace("{tmp}", str(work)) for a in argv])
    assert code == expected, err
    assert (err if code == ExitCode.USAGE else err + out).strip(), "a failing command says why"
    assert "Traceback" not in err


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p or "fadi-seldon")
def test_help_exits_0(capsys, path):
    code, out, _ = run_cli(capsys, [*path.split(), "--help"])
    assert code == ExitCode.OK
    assert out.startswith("usage: fadi-seldon")


def test_no_command_is_a_usage_error(capsys):
    code, _, err = run_cli(capsys, [])
    assert code == ExitCode.USAGE and "COMMAND" in err


def test_the_exit_code_table_is_in_the_main_help(capsys):
    _, out, _ = run_cli(capsys, ["--help"])
    for code in ExitCode:
        assert f"{code.value:<3} {code.meaning}" in out
    assert [c.value for c in ExitCode][:4] == [0, 1, 2, 3]


def test_every_command_help_is_written_once():
    """The one-line help of a command lives in the command table only."""
    import importlib

    for name, (module, help_text) in cli.COMMANDS.items():
        source = Path(importlib.import_module(module).__file__).read_text()
        assert "\nHELP = " not in source, name
        assert f'"{help_text}"' not in source, name


# --------------------------------------------------------------------------- -o is the format


def test_new_o_json_prints_json_and_writes_no_file(capsys, work):
    code, out, err = run_cli(capsys, ["new", "x", "--image", "a:1", "-o", "json"])
    assert code == ExitCode.OK, err
    assert json.loads(out)["metadata"]["name"] == "x"
    assert not (work / "json").exists()


def test_o_with_a_file_name_is_a_usage_error_that_names_output_file(capsys, work):
    code, out, err = run_cli(capsys, ["new", "x", "--image", "a:1", "-o", "x.yaml"])
    assert code == ExitCode.USAGE and out == ""
    assert "--output-file x.yaml" in err
    assert not (work / "x.yaml").exists()


@pytest.mark.parametrize("command", [["new", "x", "--image", "a:1"], ["crd"]])
def test_output_file_is_the_one_file_destination(capsys, work, command):
    target = work / "out" / "result.yaml"
    target.parent.mkdir()
    code, out, err = run_cli(capsys, [*command, "--output-file", str(target)])
    assert code == ExitCode.OK and out == "" and f"wrote {target}" in err
    first = target.read_text()
    assert yaml.safe_load(first)["kind"]
    # the same content again: nothing to replace; different content: refused without --force
    assert run_cli(capsys, [*command, "--output-file", str(target)])[0] == ExitCode.OK
    code, _, err = run_cli(capsys, [*command, "-o", "json", "--output-file", str(target)])
    assert code == ExitCode.FAILED and "--force" in err
    assert target.read_text() == first
    code, _, _ = run_cli(capsys, [*command, "-o", "json", "--output-file", str(target), "--force"])
    assert code == ExitCode.OK
    assert json.loads(target.read_text()) == yaml.safe_load(first)
    assert (target.parent / "result.yaml.bak").read_text() == first
    # - is stdout
    code, out, _ = run_cli(capsys, [*command, "--output-file", "-"])
    assert code == ExitCode.OK and out == first


@pytest.mark.parametrize("command", [["new", "x", "--image", "a:1"], ["crd"]])
def test_output_file_never_creates_a_folder_nor_replaces_a_read_only_file(capsys, work, command):
    missing = work / "no-such-folder" / "result.yaml"
    code, out, err = run_cli(capsys, [*command, "--output-file", str(missing)])
    assert code == ExitCode.USAGE and out == "" and "no folder" in err
    assert not missing.parent.exists()
    locked = work / "locked.yaml"
    locked.write_text("mine\n")
    locked.chmod(0o444)
    code, _, err = run_cli(capsys, [*command, "--output-file", str(locked), "--force"])
    assert code == ExitCode.USAGE and "read-only" in err
    assert locked.read_text() == "mine\n" and oct(locked.stat().st_mode & 0o777) == "0o444"
    assert not (work / "locked.yaml.bak").exists()


def test_force_keeps_the_mode_of_the_file_it_replaces(capsys, work):
    target = work / "private.yaml"
    target.write_text("old\n")
    target.chmod(0o600)
    code, _, err = run_cli(capsys, ["new", "x", "--image", "a:1", "--output-file", str(target), "--force"])
    assert code == ExitCode.OK, err
    assert yaml.safe_load(target.read_text())["kind"] == "SeldonDeployment"
    assert target.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("command", [["new", "x", "--image", "a:1"], ["crd"]])
def test_o_text_is_the_yaml_document(capsys, work, command):
    code, text, err = run_cli(capsys, [*command, "-o", "text"])
    assert code == ExitCode.OK, err
    assert text == run_cli(capsys, [*command, "-o", "yaml"])[1]


def _package_folder(work: Path) -> Path:
    folder = work / "model"
    folder.mkdir()
    (folder / "Model.py").write_text(
        "class Model:\n    def predict(self, X, names=None):\n        return X\n"
    )
    return folder


# command -> arguments (after -o FORMAT is added) and the exit code it has here
RESULTS: dict[str, tuple[list[str], ExitCode]] = {
    "validate": (["validate", "{tmp}/manifest.yaml"], ExitCode.OK),
    "new": (["new", "x", "--image", "a:1"], ExitCode.OK),
    "crd": (["crd"], ExitCode.OK),
    "routes render": (["routes", "render", "-f", "{tmp}/manifest.yaml"], ExitCode.OK),
    "values enable": (["values", "enable", "-f", "{tmp}/values.yaml", "--dry-run"], ExitCode.OK),
    "values disable": (["values", "disable", "-f", "{tmp}/values.yaml", "--dry-run"], ExitCode.OK),
    "values set": (["values", "set", "-f", "{tmp}/values.yaml", "singleNamespace=true", "--dry-run"], ExitCode.OK),
    "values get": (["values", "get", "-f", "{tmp}/values.yaml", "enabled"], ExitCode.OK),
    "values check": (["values", "check", "-f", "{tmp}/values.yaml"], ExitCode.OK),
    "images": (["images", "-f", "{tmp}/values.yaml"], ExitCode.OK),
    "package": (["package", "{tmp}/model", "--dry-run"], ExitCode.OK),
    "upload": (["upload", "{tmp}/model", "s3://models/m", "--endpoint", "http://127.0.0.1:9", "--dry-run"], ExitCode.OK),
    "cluster down": (["cluster", "--state-dir", "{tmp}/none", "down", "--keep-state"], ExitCode.OK),
    "cluster operator stop": (["cluster", "--state-dir", "{tmp}/none", "operator", "stop"], ExitCode.OK),
    "tools env": (["tools", "env", "--tools-dir", "{tmp}/tools"], ExitCode.OK),
    "tools status": (["tools", "status", "helm", "--tools-dir", "{tmp}/tools"], ExitCode.FAILED),
    "tools install": (["tools", "install", "helm", "--tools-dir", "{tmp}/tools"], ExitCode.OK),
    "doctor": (["doctor", "--operator-state", "{tmp}/none"], ExitCode.FAILED),
}  # fmt: skip


@pytest.fixture
def offline(work, monkeypatch):
    """What the result commands need: a manifest, a model; a fake cluster for doctor, no downloads."""
    from fadi_seldon import doctor, tools

    (work / "kubeconfig").write_text("apiVersion: v1\nkind: Config\n")  # doctor runs only with one
    monkeypatch.setenv("KUBECONFIG", str(work / "kubeconfig"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-key")  # upload's keys (--dry-run contacts no store)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
    (work / "manifest.yaml").write_text(_run_new_yaml())
    _package_folder(work)
    monkeypatch.setattr(doctor, "Kubectl", _FakeKubectl)
    monkeypatch.setattr(doctor, "gather", lambda *a, **k: doctor.Snapshot())
    monkeypatch.setattr(
        doctor,
        "diagnose",
        lambda snap: [
            doctor.Finding("crd", doctor.ERROR, "CRD x", "missing", "install the chart"),
            doctor.Finding("webhook", doctor.OK, "Service y", "serving"),
        ],
    )
    monkeypatch.setattr(
        tools.Toolchain,
        "install",
        lambda self, selected, force=False: [
            tools.Result(t.name, t.version, "cached", False, 0.0, str(self.bin_dir)) for t in selected
        ],
    )
    return work


class _FakeKubectl:
    def __init__(self, **kwargs):
        pass

    def server(self) -> str:
        return "https://127.0.0.1:6443"


def _run_new_yaml() -> str:
    from fadi_seldon.cli import output
    from fadi_seldon.sdep import graph, options

    return output.render(
        graph.to_manifest(options.build(options.from_words(["m", "--image", "r/m:1"]))), "yaml"
    )


def test_every_result_command_has_an_output_case():
    with_output = {lv.path for lv in LEVELS if any("--output" in o.strings for o in lv.options)}
    # predict: tests/test_predict.py (needs a server); cluster env: the export tests below;
    # cluster up, cluster operator start, cluster load, cluster service, cluster object-store, cluster gateway,
    # and the two status commands
    # (without a cluster they exit 3 with an error object): need the cluster binaries or a real node
    # (tests/cluster; without a cluster: tests/test_cli_bad_input.py); serve: its result is --setup's,
    # which needs the server's venv (tests/test_readme_v2.py); status and logs: a fake kubectl with
    # recorded objects (tests/test_model_status.py); routes controller: runs until stopped, -o json is
    # its log format (tests/test_route_controller.py, tests/cluster/test_18_routes.py)
    assert with_output - set(RESULTS) == {
        "predict", "cluster env", "cluster up", "cluster operator start", "cluster load", "cluster service",
        "cluster object-store", "cluster gateway", "cluster status", "cluster operator status", "serve",
        "status", "logs", "routes controller",
    }  # fmt: skip
    # every -o offers text, yaml and json (the README's promise; text is YAML for a manifest)
    for level in LEVELS:
        for opt in level.options:
            if "--output" in opt.strings:
                assert opt.strings == ["-o", "--output"], level.path
                assert {"text", "yaml", "json"} <= set(opt.choices), level.path


@pytest.mark.parametrize("path", sorted(RESULTS))
def test_yaml_and_json_give_the_same_result(capsys, offline, path):
    argv, expected = RESULTS[path]
    argv = [a.replace("{tmp}", str(offline)) for a in argv]
    code, as_json, err = run_cli(capsys, [*argv, "-o", "json"])
    assert code == expected, err
    code, as_yaml, err = run_cli(capsys, [*argv, "-o", "yaml"])
    assert code == expected, err
    assert json.loads(as_json) == yaml.safe_load(as_yaml)
    assert json.loads(as_json) not in (None, [], {})
    if "text" in _formats(path):
        code, text, _ = run_cli(capsys, [*argv, "-o", "text"])
        assert code == expected and text != as_json


def _formats(path: str) -> list[str]:
    level = next(lv for lv in LEVELS if lv.path == path)
    return next(o.choices for o in level.options if "--output" in o.strings)


def test_doctor_text_and_json_carry_the_same_findings(capsys, offline):
    argv = ["doctor", "--operator-state", str(offline / "none")]
    code, out, _ = run_cli(capsys, [*argv, "-o", "json"])
    report = json.loads(out)
    assert code == ExitCode.FAILED and report["errors"] == 1 and report["server"] == "https://127.0.0.1:6443"
    code, out, _ = run_cli(capsys, [*argv, "--all"])
    assert "ERROR    crd" in out and "OK       webhook" in out and "fix: install the chart" in out


# --------------------------------------------------------------------------- quoted exports

AWKWARD = "dir with space, 'quote' and $HOME"


def _eval(exports: str, variable: str) -> str:
    script = f'{exports}\nprintf "%s" "${variable}"'
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout


def test_tools_env_exports_are_quoted(capsys, tmp_path):
    tools_dir = tmp_path / AWKWARD
    code, out, _ = run_cli(capsys, ["tools", "env", "--tools-dir", str(tools_dir)])
    assert code == ExitCode.OK
    assert _eval(out, "HELM_PLUGINS") == str(tools_dir / "helm" / "plugins")
    path = _eval(out, "PATH")
    assert path.startswith(f"{tools_dir / 'bin'}:") and path.endswith(os.environ["PATH"])
    # the old spelling of the format still works
    assert run_cli(capsys, ["tools", "env", "--tools-dir", str(tools_dir), "--output", "sh"])[1] == out


def test_cluster_env_export_is_quoted(capsys, tmp_path):
    state = tmp_path / AWKWARD
    state.mkdir()
    (state / "kubeconfig").write_text("apiVersion: v1\nkind: Config\n")
    code, out, _ = run_cli(capsys, ["cluster", "--state-dir", str(state), "env"])
    assert code == ExitCode.OK
    assert out.startswith("export KUBECONFIG='")
    assert _eval(out, "KUBECONFIG") == str(state.resolve() / "kubeconfig")
    code, out, _ = run_cli(capsys, ["cluster", "--state-dir", str(state), "env", "-o", "json"])
    assert json.loads(out) == {"KUBECONFIG": str(state.resolve() / "kubeconfig")}


def test_shell_exports_quote_every_value():
    from fadi_seldon.cli.output import Prepend, shell_exports

    text = shell_exports({"A": "x y", "B": "$(rm -rf /)", "PATH": Prepend("/o'k")})
    assert text == "export A='x y'\nexport B='$(rm -rf /)'\nexport PATH='/o'\"'\"'k':\"$PATH\"\n"


# --------------------------------------------------------------------------- completion


def _script(capsys, shell: str) -> str:
    code, out, _ = run_cli(capsys, ["completion", shell])
    assert code == ExitCode.OK
    return out


def _listed(script: str) -> None:
    for level in LEVELS:
        if level.path:
            assert f"'{level.path}'" in script, level.path
        for name in level.subcommands:
            assert name in script
        for opt in level.options:
            for string in opt.strings:
                assert f":{string}'" in script or f"{string}" in script, (level.path, string)


def test_bash_completion_is_valid_and_lists_every_command_and_option(capsys, tmp_path):
    script = _script(capsys, "bash")
    path = tmp_path / "fadi-seldon.bash"
    path.write_text(script)
    subprocess.run(["bash", "-n", str(path)], check=True)
    _listed(script)
    for level in LEVELS:
        opts = " ".join(s for o in level.options for s in o.strings)
        assert f"'{level.path}') opts='{opts}'" in script, level.path


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["fadi-seldon", ""], list(cli.COMMANDS)),
        (["fadi-seldon", "cluster", "operator", "st"], ["start", "stop", "status"]),
        (["fadi-seldon", "new", "x", "-o", ""], ["yaml", "json", "text"]),
        (["fadi-seldon", "validate", "--out"], ["--output"]),
        (["fadi-seldon", "cluster", "--state-dir", "s", "env", "-o", "j"], ["json"]),
    ],
)
def test_bash_completion_offers_what_fits(capsys, tmp_path, words, expected):
    path = tmp_path / "fadi-seldon.bash"
    path.write_text(_script(capsys, "bash"))
    array = " ".join(f"'{w}'" for w in words)
    script = f'source {path}\nCOMP_WORDS=({array})\nCOMP_CWORD={len(words) - 1}\n_fadi_seldon\nprintf "%s\\n" "${{COMPREPLY[@]}}"'
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.split() == expected


def test_zsh_completion_lists_every_command_and_option(capsys, tmp_path):
    script = _script(capsys, "zsh")
    assert script.startswith("#compdef fadi-seldon\n")
    assert "compdef _fadi_seldon fadi-seldon" in script
    _listed(script)
    # a description per command, from the command table
    for name, (_, help_text) in cli.COMMANDS.items():
        quoted = f"{name}:{help_text}".replace("'", "'\\''")
        assert f"'{quoted}'" in script, name
    path = tmp_path / "_fadi-seldon"
    path.write_text(script)
    if shutil.which("zsh"):
        subprocess.run(["zsh", "-n", str(path)], check=True)
    # the quoting of descriptions holds: every quote opened is closed on its line
    for line in script.splitlines():
        assert line.replace("'\\''", "").count("'") % 2 == 0, line


# --------------------------------------------------------------------------- lazy commands


@pytest.mark.parametrize(
    "argv", [["validate", "--help"], ["new", "x", "--image", "a:1"], ["crd", "-o", "json"]]
)
def test_light_commands_load_no_heavy_domain_module(argv):
    code = (
        "import sys, contextlib, io\n"
        "from fadi_seldon import cli\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        f"    cli.main({argv!r})\n"
        "print(sorted(m for m in sys.modules if m.split('.')[1:2] in (['localkube'], ['tools'], ['model'])))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
