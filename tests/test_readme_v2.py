"""The README's V2 walkthrough, run as written: its commands, in order, in a shell, from the checkout.

The row of "What you can do" that serves a prepackaged model with protocol v2 holds the commands a
new user copies: make MLServer's venv and train with its scikit-learn, serve the artifact, ask it.
They are read from README.md itself (so the test fails when the README drifts), DIR replaced by a
temporary folder, and run by bash with this project's venv first on PATH, as after `make setup`.
The MLServer venv comes from the `mlserver_venv` fixture (tests/conftest.py), so `--setup` finds it
complete; the test is skipped when pip cannot install it, or when a port the commands use is taken.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fadi_seldon.model import mlserver
from fadi_seldon.runtime import processes


def walkthrough(readme: str) -> list[str]:
    """The commands of the README's V2 row: its second cell's code spans, up to the first remark in
    parentheses (what follows names variants, not steps)."""
    row = next(line for line in readme.splitlines() if line.startswith("| serve a prepackaged"))
    cell = row.split(" | ")[1]
    commands = []
    for part in re.split(r"(`[^`]*`)", cell):
        if part.startswith("`"):
            commands.append(part.strip("`"))
        elif "(" in part:
            break
    return commands


def test_the_walkthrough_is_what_the_readme_says(repo_root):
    commands = walkthrough((repo_root / "README.md").read_text(encoding="utf-8"))
    assert [c.split()[0] for c in commands] == ['"$(fadi-seldon', "fadi-seldon", "fadi-seldon"]
    assert "--setup" in commands[0] and commands[1].endswith("&") and "--protocol v2" in commands[2]


def test_the_readme_v2_walkthrough_runs_as_written(repo_root, mlserver_venv, tmp_path):
    busy = [
        p for p in (mlserver.HTTP_PORT, mlserver.GRPC_PORT, mlserver.METRICS_PORT) if processes.port_open(p)
    ]
    if busy:
        pytest.skip(f"the walkthrough uses the default ports and {busy} are taken on this machine")
    model_dir = tmp_path / "iris"
    steps = [c.replace("DIR", str(model_dir)) for c in walkthrough((repo_root / "README.md").read_text())]
    script = "\n".join(
        [
            "set -eu",
            # the served model stops when the walkthrough ends, whatever happened (serve stops on SIGTERM)
            "trap 'kill $(jobs -p) 2>/dev/null; wait' EXIT",
            *steps,
        ]
    )
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["FADI_MLSERVER_VENV"] = str(mlserver_venv)
    run = subprocess.run(
        ["bash", "-c", script], cwd=repo_root, env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert (model_dir / "model.joblib").is_file()
    assert "training accuracy 0.9" in run.stdout
    # stdout holds the results only (the server's log goes to stderr): the training's line, then
    # the answer as -o text lays it out, one row per output tensor
    lines = run.stdout.splitlines()
    assert len(lines) == 4 and lines[0].startswith("wrote ") and lines[1].startswith("model_name=iris"), lines
    assert lines[2].split() == ["NAME", "SHAPE", "DATATYPE", "DATA"]
    assert lines[3].split()[0] == "predict" and lines[3].endswith("[[0]]")  # setosa
    assert "stopped (all MLServer processes ended)" in run.stderr
