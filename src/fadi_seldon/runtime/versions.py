"""Read the repository's single versions file (versions.env).

The Makefile includes the same file and shell scripts source it, so a version is
written once. Inside an installed wheel (no repository) a copy ships as package data.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

_LINE = re.compile(r"""^([A-Z][A-Z0-9_]*)=([^\s"']*)$""")
# Versions the environment may override, for running the local cluster at another Kubernetes release
# (`make test-compat`): everything else stays pinned to versions.env.
OVERRIDABLE = ("KUBERNETES_VERSION",)
_RELEASE = re.compile(r"^v\d+\.\d+\.\d+$")


class VersionsFileError(ValueError):
    """A malformed line in versions.env, with its location."""


def parse(text: str, source: str = "versions.env") -> dict[str, str]:
    """Parse KEY=VALUE lines; blank lines and `#` comments are ignored."""
    values: dict[str, str] = {}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if not match:
            raise VersionsFileError(
                f"{source}:{lineno}: expected KEY=VALUE (upper-case key, no spaces, no quotes), got {raw!r}"
            )
        key, value = match.groups()
        if not value:
            raise VersionsFileError(f"{source}:{lineno}: {key} has an empty value")
        if key in values:
            raise VersionsFileError(f"{source}:{lineno}: {key} is defined twice")
        values[key] = value
    return values


def repo_root() -> Path | None:
    """The source checkout this package runs from, if any (editable install)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "versions.env").is_file() and (parent / "pyproject.toml").is_file():
            return parent
    return None


def local_dir(env_var: str, in_checkout: str, per_user: Path) -> Path:
    """Where the project keeps a folder of its own (tools, cluster state, serve venv).

    The environment variable wins; in a source checkout the folder sits in it (git-ignored), so
    each clone is self-contained; an installed package falls back to a per-user folder.
    """
    override = os.environ.get(env_var)
    if override:
        return Path(override).expanduser().resolve()
    root = repo_root()
    if root is not None:
        return root / in_checkout
    return per_user


def user_dir(xdg_var: str, fallback: str, *parts: str) -> Path:
    """A per-user folder below an XDG base directory (XDG_CACHE_HOME, XDG_STATE_HOME...)."""
    base = os.environ.get(xdg_var) or str(Path.home() / fallback)
    return Path(base, "fadi-seldon", *parts)


def versions_file() -> Path:
    root = repo_root()
    if root is not None:
        return root / "versions.env"
    return Path(__file__).parents[1].joinpath("data") / "versions.env"


@functools.cache
def load() -> dict[str, str]:
    path = versions_file()
    return parse(path.read_text(encoding="utf-8"), str(path))


def get(key: str) -> str:
    override = os.environ.get(key, "") if key in OVERRIDABLE else ""
    if override:
        if not _RELEASE.match(override):
            raise VersionsFileError(
                f"{key}={override!r} in the environment: write a release such as v1.30.14"
            )
        return override
    values = load()
    try:
        return values[key]
    except KeyError:
        raise KeyError(f"{key} is not defined in {versions_file()}") from None


def seldon_core_version() -> str:
    return get("SELDON_CORE_VERSION")


def kubernetes_version() -> str:
    """Kubernetes version without the leading v, e.g. '1.36.3'."""
    return get("KUBERNETES_VERSION").lstrip("v")
