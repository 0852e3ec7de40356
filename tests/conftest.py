"""Shared fixtures: repository paths, the installed tools, the conformance corpus."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOLS_BIN = ROOT / ".tools" / "bin"
CONFORMANCE = ROOT.parent / "shared" / "conformance"
SEED_GUIDE = ROOT.parent / "shared" / "seed" / "000_c6c3fa308b39046a.txt"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def tools_env() -> dict[str, str]:
    """Environment with the project's tools first on PATH (as the Makefile sets it)."""
    env = dict(os.environ)
    env["PATH"] = f"{TOOLS_BIN}{os.pathsep}{ROOT / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("HELM_PLUGINS", str(ROOT / ".tools" / "helm" / "plugins"))
    for key, sub in (
        ("HELM_CACHE_HOME", "cache"),
        ("HELM_CONFIG_HOME", "config"),
        ("HELM_DATA_HOME", "data"),
    ):
        env.setdefault(key, str(ROOT / ".tools" / "helm" / sub))
    return env


def tool(name: str) -> str:
    """Path of an installed tool; a missing tool is an error (run `make tools`), never a skip."""
    path = TOOLS_BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if found:
        return found
    raise RuntimeError(f"{name} is not installed: run `make tools` first")


@pytest.fixture(scope="session")
def conformance_dir() -> Path:
    if not CONFORMANCE.is_dir():
        pytest.skip(
            f"conformance corpus not present at {CONFORMANCE} (it sits beside the project on dev and CI machines)"
        )
    return CONFORMANCE
