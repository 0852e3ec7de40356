#!/usr/bin/env python3
"""Validate a chart's rendered manifests against the Kubernetes OpenAPI schemas, offline.

For each values set (the chart's defaults and every ci/*-values.yaml, or the files given with
--values), run `helm template` once and check every document against the strict JSON schemas that
the PyPI package kubernetes-validate ships, for each Kubernetes minor from --min to the newest it
knows. Strict means unknown fields fail, which is how typos in templates are caught before a
cluster sees them.

Kinds without a Kubernetes schema (custom resources such as SeldonDeployment, cert-manager's
Issuer/Certificate) are skipped and counted, never silently passed. Usable for any chart:

    scripts/validate_rendered.py charts/seldon-core-operator
    scripts/validate_rendered.py fadi --values fadi/ci/seldon-on-values.yaml --min 1.30

Exit status: 0 all valid, 1 invalid documents, 2 usage error or `helm template` failure.
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
import kubernetes_validate
import yaml
from kubernetes_validate import utils as kv_utils
from referencing import Registry, Resource

SCHEMA_ROOT = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"


def _minor(version: str) -> tuple[int, int]:
    major, minor = version.lstrip("v").split(".")[:2]
    return int(major), int(minor)


def shipped_versions() -> list[str]:
    """Kubernetes versions (1.x.0) with strict schemas in the installed kubernetes-validate."""
    found = set()
    for d in SCHEMA_ROOT.glob("v*-local-strict"):
        found.add(d.name[1:].removesuffix("-local-strict"))
    return sorted(found, key=_minor)


@functools.cache
def _definitions(version: str) -> Resource:
    path = SCHEMA_ROOT / f"v{version}-local-strict" / "_definitions.json"
    return Resource.from_contents(json.loads(path.read_text(encoding="utf-8")))


@functools.cache
def _validator(version: str, kind: str, api_version: str) -> jsonschema.protocols.Validator | None:
    """Compiled validator for one kind, or None when Kubernetes has no schema for it (a CR)."""
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    path = SCHEMA_ROOT / f"v{version}-local-strict" / f"{kind.lower()}-{group_version}.json"
    if not path.is_file():
        return None
    schema = json.loads(path.read_text(encoding="utf-8"))
    registry = Resource.from_contents(schema) @ Registry()
    registry = _definitions(version) @ registry
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


@dataclass
class SetResult:
    name: str
    documents: int = 0
    checks: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    render_seconds: float = 0.0
    rendered_bytes: int = 0


def render(helm: str, chart: Path, values: Path | None, release: str, namespace: str) -> str:
    cmd = [helm, "template", release, str(chart), "--namespace", namespace]
    if values is not None:
        cmd += ["-f", str(values)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"`{' '.join(cmd)}` failed:\n{proc.stderr.strip()}")
    return proc.stdout


def _path(error: jsonschema.ValidationError) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "<root>"


def validate_documents(text: str, versions: list[str], result: SetResult) -> None:
    for index, doc in enumerate(yaml.safe_load_all(text)):
        if not doc:
            continue
        if not isinstance(doc, dict) or "kind" not in doc or "apiVersion" not in doc:
            result.errors.append(f"document {index}: not a Kubernetes object (no kind/apiVersion)")
            continue
        result.documents += 1
        kind, api_version = doc["kind"], doc["apiVersion"]
        name = f"{kind}/{doc.get('metadata', {}).get('name', '?')}"
        for version in versions:
            validator = _validator(version, kind, api_version)
            if validator is None:
                key = f"{kind} ({api_version})"
                result.skipped[key] = result.skipped.get(key, 0) + 1
                break  # a custom resource: no version has it
            result.checks += 1
            error = jsonschema.exceptions.best_match(validator.iter_errors(doc))
            if error is not None:
                result.errors.append(
                    f"{name} against Kubernetes {version}: {_path(error)}: {error.message[:300]}"
                )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("chart", type=Path, help="chart directory")
    parser.add_argument(
        "--values",
        type=Path,
        action="append",
        default=None,
        help="values file to render with (repeatable); default: the chart defaults and ci/*-values.yaml",
    )
    parser.add_argument("--min", default="1.25", help="oldest Kubernetes minor to check (default 1.25)")
    parser.add_argument(
        "--max", default=None, help="newest Kubernetes minor to check (default: newest shipped)"
    )
    parser.add_argument("--helm", default=shutil.which("helm") or "helm", help="helm binary")
    parser.add_argument("--release", default="fadi-check", help="release name for helm template")
    parser.add_argument("--namespace", default="seldon-system", help="namespace for helm template")
    parser.add_argument("--output", choices=["text", "json"], default="text")
    args = parser.parse_args(argv)

    if not (args.chart / "Chart.yaml").is_file():
        print(f"error: {args.chart} is not a chart directory (no Chart.yaml)", file=sys.stderr)
        return 2
    lo = _minor(args.min)
    hi = _minor(args.max) if args.max else (99, 99)
    versions = [v for v in shipped_versions() if lo <= _minor(v) <= hi]
    if not versions:
        print(
            f"error: kubernetes-validate {kv_utils.latest_version()} ships no schema in {args.min}..{args.max}",
            file=sys.stderr,
        )
        return 2
    if args.values is None:
        sets: list[Path | None] = [None, *sorted((args.chart / "ci").glob("*-values.yaml"))]
    else:
        sets = list(args.values)
        missing = [str(p) for p in sets if not p.is_file()]
        if missing:
            print(f"error: values file not found: {', '.join(missing)}", file=sys.stderr)
            return 2

    results: list[SetResult] = []
    for values in sets:
        result = SetResult(name="(chart defaults)" if values is None else str(values))
        start = time.perf_counter()
        try:
            text = render(args.helm, args.chart, values, args.release, args.namespace)
        except (RuntimeError, OSError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        result.render_seconds = time.perf_counter() - start
        result.rendered_bytes = len(text.encode())
        validate_documents(text, versions, result)
        results.append(result)

    failed = sum(len(r.errors) for r in results)
    if args.output == "json":
        print(
            json.dumps(
                {
                    "chart": str(args.chart),
                    "kubernetes_versions": versions,
                    "errors": failed,
                    "sets": [r.__dict__ for r in results],
                },
                indent=2,
            )
        )
    else:
        span = f"{versions[0]}..{versions[-1]}"
        for r in results:
            skipped = ", ".join(f"{n} {k}" for k, n in sorted(r.skipped.items())) or "none"
            status = "FAIL" if r.errors else "ok"
            print(
                f"[validate] {status} {args.chart} {r.name}: {r.documents} documents, {r.checks} checks "
                f"against Kubernetes {span} (strict); skipped (no Kubernetes schema): {skipped}; "
                f"rendered {r.rendered_bytes} B in {r.render_seconds:.2f} s"
            )
            for e in r.errors:
                print(f"    {e}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
