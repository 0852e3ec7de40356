"""The one runner of external commands (runtime.commands) and the one apt-get installer (runtime.apt),
and the wrappers built on them keeping their own errors."""

from __future__ import annotations

import sys
import threading

import pytest

from conftest import Recorder
from fadi_seldon.runtime import apt, commands

PY = sys.executable


def test_captured_output_and_exit_code():
    done = commands.run([PY, "-c", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"])
    assert (done.code, done.ok, done.stdout, done.stderr, done.log) == (3, False, "out\n", "err\n", None)
    assert done.said() == "err"


def test_each_stderr_line_reaches_the_caller_as_it_comes_and_both_outputs_are_kept():
    """A program reporting progress on stderr (rclone's JSON log): every line is handed over while it
    runs, in order, with a large stdout that would stall a program writing to a full pipe."""
    seen: list[str] = []
    code = (
        "import sys, time\n"
        "sys.stdout.write('x' * 200000)\n"
        "for i in range(3):\n"
        "    print(f'step {i}', file=sys.stderr, flush=True); time.sleep(0.05)\n"
        "sys.exit(4)\n"
    )
    done = commands.run([PY, "-c", code], on_line=seen.append)
    assert seen == ["step 0\n", "step 1\n", "step 2\n"]
    assert (done.code, len(done.stdout), done.stderr) == (4, 200000, "step 0\nstep 1\nstep 2\n")


def test_said_falls_back_to_stdout_and_keeps_the_last_lines():
    done = commands.run([PY, "-c", "for i in range(40): print(i)"])
    assert done.said(3) == "37\n38\n39"


def test_a_log_gets_the_command_line_then_both_streams(tmp_path):
    log = tmp_path / "logs" / "build.log"
    log.parent.mkdir()
    log.write_text("earlier\n")
    done = commands.run([PY, "-c", "import sys; print('to out'); print('to err', file=sys.stderr)"], log=log)
    text = log.read_text()
    assert text.startswith("earlier\n\n$ ") and f"{PY} -c" in text
    assert "to out" in text and "to err" in text
    assert done.ok and done.stdout == "" and done.log == log


def test_check_quotes_the_last_lines_of_the_log(tmp_path):
    log = tmp_path / "new" / "step.log"  # its folder is made
    argv = [PY, "-c", "import sys; [print(f'line {i}') for i in range(30)]; sys.exit(2)"]
    with pytest.raises(commands.CommandFailed) as err:
        commands.run_logged(argv, log, "the step")
    message = str(err.value)
    assert message.startswith(f"the step failed (exit 2); last lines of {log}:\n")
    assert "line 29" in message and "line 15" in message and "line 14" not in message
    assert err.value.result.code == 2


def test_check_of_captured_output_quotes_it():
    with pytest.raises(commands.CommandFailed, match=r"listing failed \(exit 1\):\nno such thing"):
        commands.check(commands.run([PY, "-c", "import sys; sys.exit('no such thing')"]), "listing")
    ok = commands.run([PY, "-c", "pass"])
    assert commands.check(ok, "nothing") is ok


def test_shown_output_goes_to_stderr_never_to_stdout(capfd):
    done = commands.run([PY, "-c", "print('progress')"], show=True)
    out, err = capfd.readouterr()
    assert done.ok and out == "" and "progress" in err and done.stdout == ""


def test_a_heartbeat_beats_while_a_long_command_runs():
    beats: list[float] = []
    commands.run([PY, "-c", "import time; time.sleep(0.5)"], heartbeat=beats.append, every=0.05)
    count = len(beats)
    assert count >= 3 and beats == sorted(beats)
    threading.Event().wait(0.2)
    assert len(beats) == count, "the heartbeat stops with the command"


def test_timeout_and_missing_program():
    with pytest.raises(commands.TimeoutExpired):
        commands.run([PY, "-c", "import time; time.sleep(5)"], timeout=0.2)
    with pytest.raises(OSError):
        commands.run(["/nonexistent/program"])


def test_bytes_that_are_not_utf8_never_fail_the_caller():
    done = commands.run([PY, "-c", "import sys; sys.stdout.buffer.write(b'ok \\xff\\n')"])
    assert done.ok and done.stdout.startswith("ok ")


def test_input_and_environment_and_folder(tmp_path):
    code = "import os, sys; print(sys.stdin.read(), os.environ['X'], os.getcwd())"
    done = commands.run([PY, "-c", code], input="in", env={"X": "x"}, cwd=tmp_path)
    assert done.stdout.split() == ["in", "x", str(tmp_path)]


def test_which_looks_in_the_sbin_folders_too(tmp_path, monkeypatch):
    exe = tmp_path / "sbintool"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(commands, "SBIN_DIRS", (str(tmp_path),))
    assert commands.which("sbintool") == str(exe)
    assert commands.which("no-such-tool") is None


# ---------------------------------------------------------------- apt


class FakeApt:
    """apt-get's exit codes, in order; every call recorded."""

    def __init__(self, *codes: int) -> None:
        self.codes = list(codes)
        self.calls: list[tuple[str, list[str]]] = []

    def __call__(self, label: str, argv: list[str]) -> int:
        self.calls.append((label, argv))
        return self.codes.pop(0)


INSTALL = ["/usr/bin/apt-get", "install", "-y", "--no-install-recommends", "gcc", "runc"]


def test_apt_installs_once_when_that_works():
    run, said = FakeApt(0), []
    apt.install("/usr/bin/apt-get", ["gcc", "runc"], run, said.append)
    assert run.calls == [("apt-get install", INSTALL)] and said == []


def test_a_failed_install_updates_the_lists_and_tries_once_more_whatever_the_update_says():
    for update in (0, 100):
        run, said = FakeApt(100, update, 0), []
        apt.install("/usr/bin/apt-get", ["gcc", "runc"], run, said.append)
        assert [argv for _, argv in run.calls] == [INSTALL, ["/usr/bin/apt-get", "update"], INSTALL]
        assert "apt-get update" in said[0]


def test_failing_twice_is_apt_failed():
    with pytest.raises(apt.AptFailed, match="apt-get install gcc runc failed"):
        apt.install("/usr/bin/apt-get", ["gcc", "runc"], FakeApt(1, 0, 1), lambda _: None)


def test_apt_get_only_as_root_and_where_it_exists():
    assert apt.apt_get(lambda name: f"/usr/bin/{name}", lambda: True) == "/usr/bin/apt-get"
    with pytest.raises(apt.AptUnavailable, match="no apt-get"):
        apt.apt_get(lambda name: None, lambda: True)
    with pytest.raises(apt.AptUnavailable, match="not root"):
        apt.apt_get(lambda name: "/usr/bin/apt-get", lambda: False)
    assert apt.install_hint(["a", "b"]) == "apt-get install -y --no-install-recommends a b"
    assert apt.environment()["DEBIAN_FRONTEND"] == "noninteractive"


# ---------------------------------------------------------------- the wrappers keep their errors


def test_images_run_logged_raises_image_error_quoting_the_log(tmp_path):
    from fadi_seldon import images

    log = tmp_path / "gcc.log"
    with pytest.raises(
        images.ImageError, match=r"(?s)compiling failed \(exit 1\); last lines of .*gcc.log:\n.*\nboom$"
    ):
        images.run_logged([PY, "-c", "import sys; print('boom'); sys.exit(1)"], log, "compiling")


def test_images_apt_install_without_root_or_apt_names_the_package(monkeypatch):
    from fadi_seldon import images

    monkeypatch.setattr(images, "which", lambda command: None)
    with pytest.raises(images.ImageError, match="gcc is missing: install the Debian package gcc"):
        images.apt_install("gcc", images.Progress("t"), "gcc is missing")


def test_images_apt_install_retries_through_the_runtime(monkeypatch):
    from fadi_seldon import images

    run = FakeApt(1, 0, 1)
    monkeypatch.setattr(images, "which", lambda command: f"/usr/bin/{command}")
    monkeypatch.setattr(apt, "_is_root", lambda: True)
    monkeypatch.setattr(apt, "shown", run)
    with pytest.raises(images.ImageError, match="apt-get install gcc failed"):
        images.apt_install("gcc", images.Progress("t"), "gcc is missing")
    assert len(run.calls) == 3


def test_tools_progress_run_logs_and_beats(tmp_path):
    from fadi_seldon.tools.progress import Progress

    stream = Recorder()
    log = tmp_path / "tool.log"
    code = Progress(stream=stream, heartbeat=0.05).run(
        "building x", [PY, "-c", "import time; time.sleep(0.3); print('built')"], cwd=None, env=None, log=log
    )
    assert code == 0 and "built" in log.read_text()
    assert "still building x" in stream.text


def test_kubectl_failure_is_told_in_kubectl_words(tmp_path):
    from fadi_seldon.doctor.kubectl import DoctorError, Kubectl

    exe = tmp_path / "kubectl"
    exe.write_text('#!/bin/sh\necho "error: the server has no resource type x" >&2\nexit 1\n')
    exe.chmod(0o755)
    with pytest.raises(DoctorError, match="`kubectl get x` failed: the server has no resource type x"):
        Kubectl(exe=str(exe)).get("x", missing_ok=False)
