"""Regenerate the committed artefacts that are derived from a source of truth.

`make generate` (python -m fadi_seldon.dev.generate) writes them; `--check` exits 1 and names
the stale files instead, which is what the tests run. Each generator returns the full
content of one file, so a generated file is never edited by hand (a chart's values.schema.json
is the one exception: its constraints are written by hand, its descriptions generated).
A generator may read another's output (the umbrella schema embeds the operator's): they are
listed in that order, and writing repeats until nothing is stale.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Callable
from pathlib import Path

from fadi_seldon.dev import chart_docs
from fadi_seldon.runtime import versions
from fadi_seldon.runtime.files import PUBLIC, atomic_write

Generator = Callable[[Path], str]  # repo root -> file content
OPERATOR_CHART = "charts/seldon-core-operator"


def _versions_copy(root: Path) -> str:
    return (root / "versions.env").read_text(encoding="utf-8")


def _operator_values_copy(root: Path) -> str:
    return (root / OPERATOR_CHART / "values.yaml").read_text(encoding="utf-8")


def _crd_template(root: Path) -> str:
    from fadi_seldon.sdep import crd

    return crd.chart_template()


def _umbrella_schema(root: Path) -> str:
    from fadi_seldon.dev import umbrella_schema

    return umbrella_schema.render(root)


def generators() -> dict[str, Generator]:
    """Repo-relative output path -> function producing its content."""
    gens: dict[str, Generator] = {
        # installed wheels have no checkout: they read this copy
        "src/fadi_seldon/data/versions.env": _versions_copy,
        # the operator chart's defaults, for `fadi-seldon images` without a checkout
        "src/fadi_seldon/data/operator-values.yaml": _operator_values_copy,
        # the SeldonDeployment CRD, from src/fadi_seldon/schema.py
        "charts/seldon-core-operator/templates/crd.yaml": _crd_template,
        # descriptions of the operator chart's schema from its values.yaml comments (before the umbrella's,
        # which embeds it)
        f"{OPERATOR_CHART}/values.schema.json": chart_docs.schema_generator(OPERATOR_CHART),
        # the FADI umbrella's schema embeds its services' schemas; the copy serves installs without a checkout
        "fadi/values.schema.json": _umbrella_schema,
        "src/fadi_seldon/data/fadi-values.schema.json": _umbrella_schema,
        # the operator chart's README, parameter table from the values.yaml comments
        "charts/seldon-core-operator/README.md": chart_docs.readme_generator("charts/seldon-core-operator"),
        "fadi/README.md": chart_docs.readme_generator("fadi"),
    }
    # the operator chart's Grafana dashboard (metrics.dashboard.enabled), from dev/dashboard.py
    from fadi_seldon.dev import dashboard

    gens[dashboard.OUTPUT] = dashboard.render
    # the enum values of the Kubernetes types a SeldonDeployment embeds (k8s-enum), from the release
    from fadi_seldon.dev import k8s_enums

    gens[k8s_enums.OUTPUT] = k8s_enums.render
    # examples/: graphs made by `fadi-seldon new`, the iris model's build context by `fadi-seldon package`
    from fadi_seldon.dev import examples

    gens.update(examples.generators())
    return gens


def stale(root: Path) -> dict[str, str]:
    """Files whose committed content differs from the generator's, with a unified diff."""
    out = {}
    for rel, gen in generators().items():
        path = root / rel
        want = gen(root)
        have = path.read_text(encoding="utf-8") if path.is_file() else ""
        if want != have:
            out[rel] = "".join(
                difflib.unified_diff(
                    have.splitlines(True), want.splitlines(True), f"a/{rel}", f"b/{rel}", n=1
                )
            )
    return out


def _outdated(root: Path) -> dict[str, str]:
    """Repo-relative path -> wanted content, for each file whose content differs (or is missing)."""
    out = {}
    for rel, gen in generators().items():
        path = root / rel
        want = gen(root)
        if not path.is_file() or path.read_text(encoding="utf-8") != want:
            out[rel] = want
    return out


def write(root: Path) -> list[str]:
    """Write every stale file, atomically and keeping its permission bits; repeated until none is
    stale, since a generator may read another's output. Returns the repo-relative paths written."""
    written: list[str] = []
    for _ in range(len(generators())):
        todo = _outdated(root)
        if not todo:
            break
        for rel, content in todo.items():
            path = root / rel
            atomic_write(path, content, path.stat().st_mode & 0o777 if path.is_file() else PUBLIC)
            written.append(rel)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fadi_seldon.dev.generate", description=__doc__)
    parser.add_argument("--check", action="store_true", help="report stale files, write nothing")
    args = parser.parse_args(argv)
    root = versions.repo_root()
    if root is None:
        print(
            "error: run from a source checkout (versions.env and pyproject.toml not found)", file=sys.stderr
        )
        return 2
    try:
        if args.check:
            diffs = stale(root)
        else:
            written = write(root)
    except chart_docs.ValuesDocError as exc:  # a values.yaml comment and its schema key disagree
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        for rel, diff in diffs.items():
            print(f"stale: {rel} (run `make generate`)\n{diff[:4000]}")
        return 1 if diffs else 0
    for rel in dict.fromkeys(written):
        print(f"wrote {rel}")
    print(f"{len(generators())} generated files, {len(set(written))} updated")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
