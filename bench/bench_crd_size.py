"""Size of the generated SeldonDeployment CRD, as YAML and as compact JSON.

Target (DESIGN.md): compact JSON <= 200 KiB, so a client-side `kubectl apply` fits the CRD in its
262,144-byte last-applied annotation (upstream's CRD: about 1 MB compact, 1.85 MB of YAML).
"""

from __future__ import annotations

import gzip
import json

from fadi_seldon.sdep import crd, schema


def main() -> None:
    built = crd.build()
    compact = crd.to_json(built, compact=True).encode()
    as_yaml = crd.to_yaml(built).encode()
    per_version = len(json.dumps(schema.openapi_schema(), separators=(",", ":")).encode())
    template = crd.chart_template().encode()
    print(f"CRD compact JSON: {len(compact):,} bytes ({len(compact) / 1024:.1f} KiB; limit 200 KiB)")
    print(
        f"CRD YAML: {len(as_yaml):,} bytes; chart template {len(template):,} bytes, gzip {len(gzip.compress(template)):,}"
    )
    print(f"one version's openAPIV3Schema: {per_version:,} bytes compact (x{len(schema.VERSIONS)} versions)")
    print(f"graph levels typed: {schema.GRAPH_DEPTH}")


if __name__ == "__main__":
    main()
