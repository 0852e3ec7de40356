"""Asking a binary which version it is: its version command, or the Go build info inside the file."""

from __future__ import annotations

import re
from pathlib import Path

from fadi_seldon.runtime import commands
from fadi_seldon.tools.spec import Tool


def reported_version(tool: Tool, exe: Path | str, env: dict[str, str]) -> str | None:
    """The version `exe` reports for `tool`, or None when it reports none (or cannot run)."""
    if tool.buildinfo_module:
        return buildinfo_version(Path(exe), tool.buildinfo_module)
    if not tool.version_pattern:
        return None
    try:
        proc = commands.run([exe, *tool.version_args], timeout=60, env=env)
    except (OSError, commands.TimeoutExpired):
        return None
    match = re.search(tool.version_pattern, proc.stdout + proc.stderr, re.M)
    return match.group(1) if match else None


def buildinfo_version(exe: Path, module: str) -> str | None:
    """Version of `module` recorded in a Go binary's build info (what `go version -m` prints)."""
    try:
        data = exe.resolve().read_bytes()
    except OSError:
        return None
    match = re.search(rb"(?:mod|dep)\t" + re.escape(module.encode()) + rb"\t(v[0-9][^\t\n]*)", data)
    return match.group(1).decode() if match else None
