"""Regenerate the committed artefacts that are derived from a source of truth.

`make generate` (python -m fadi_seldon.dev.generate) writes them; `--check` exits 1 and names
the stale files instead, which is what the tests run. Each generator returns the full
content of one file, so a generated file is never edited by hand.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Callable
from pathlib import Path

from fadi_seldon.dev import chart_docs
from fadi_seldon.runtime import versions

Generator = Callable[[Path], str]  # repo root -> file content


def _versions_copy(root: Path) -> str:
    return (root / "versions.env").read_text(encoding="utf-8")


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
        # the SeldonDeployment CRD, from src/fadi_seldon/schema.py
        "charts/seldon-core-operator/templates/crd.yaml": _crd_template,
        # the FADI umbrella's schema embeds its services' schemas; the copy serves installs without a checkout
        "fadi/values.schema.json": _umbrella_schema,
        "src/fadi_seldon/data/fadi-values.schema.json": _umbrella_schema,
        # the operator chart's README, parameter table from the values.yaml comments
        "charts/seldon-core-operator/README.md": chart_docs.readme_generator("charts/seldon-core-operator"),
        "fadi/README.md": chart_docs.readme_generator("fadi"),
    }
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
    diffs = stale(root)
    if args.check:
        for rel, diff in diffs.items():
            print(f"stale: {rel} (run `make generate`)\n{diff[:4000]}")
        return 1 if diffs else 0
    for rel in diffs:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(generators()[rel](root), encoding="utf-8")
        tmp.replace(path)
        print(f"wrote {rel}")
    print(f"{len(generators())} generated files, {len(diffs)} updated")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
