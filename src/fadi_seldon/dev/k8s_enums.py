"""The enum values of the Kubernetes types a SeldonDeployment embeds, from the pinned release's sources.

The JSON-schema copy of the Kubernetes definitions (kubernetes-validate) carries no enums: a pod's
`imagePullPolicy: Sometimes` or a toleration's `operator: Equals` passes the CRD and the webhook, and
the API server refuses only the Deployment the operator builds. The release's generated OpenAPI code
(`pkg/generated/openapi/zz_generated.openapi.go` of k8s.io/kubernetes, in the Go module cache once
`make tools` has built the control plane) lists them as `Enum: []interface{}{...}`. This writes them to
`src/fadi_seldon/data/k8s-enums.json` ({definition: {property: [values]}}, a property of a list of enum
values as `property[]`), for the validator's `k8s-enum` rule; the cluster suite checks the table against
the running API server's /openapi/v3.

Written by `make generate` (fadi_seldon.dev.generate).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from fadi_seldon.runtime import commands, versions

OUTPUT = "src/fadi_seldon/data/k8s-enums.json"
GROUPS = ("io.k8s.api.core.v1.", "io.k8s.api.autoscaling.v2.")
_FUNCTION = re.compile(r"^func schema_k8sio_(\w+)\(ref common\.ReferenceCallback\)")
_PROPERTY = re.compile(r'^\t{5}"([^"]+)": \{$')
_ENUM = re.compile(r"^(\t+)Enum:\s+\[\]interface\{\}\{(.*)\},$")


def source_file() -> Path:
    """zz_generated.openapi.go of the pinned Kubernetes release in the Go module cache."""
    cache = os.environ.get("GOMODCACHE") or _go_env("GOMODCACHE") or str(Path.home() / "go" / "pkg" / "mod")
    version = "v" + versions.kubernetes_version()
    return (
        Path(cache)
        / f"k8s.io/kubernetes@{version}"
        / "pkg"
        / "generated"
        / "openapi"
        / "zz_generated.openapi.go"
    )


def _go_env(name: str) -> str:
    try:
        found = commands.run(["go", "env", name])
    except OSError:
        return ""
    return found.stdout.strip() if found.ok else ""


def parse(text: str, known: set[str] | frozenset[str] = frozenset()) -> dict[str, dict[str, list[str]]]:
    """{definition: {property: values}} of the definitions in GROUPS that the API publishes (`known`:
    kubernetes-validate's; internal types such as EphemeralContainerCommon are not); `property[]` for
    list items."""
    table: dict[str, dict[str, list[str]]] = {}
    definition, prop = "", ""
    in_items: bool | None = False  # None: a map's values
    for line in text.splitlines():
        if match := _FUNCTION.match(line):
            definition, prop = "io.k8s." + match.group(1).replace("_", "."), ""
        elif match := _PROPERTY.match(line):
            prop, in_items = match.group(1), False
        elif line.strip().startswith("Items:"):
            in_items = True
        elif line.strip().startswith("AdditionalProperties:"):
            in_items = None  # a map's values: not a field the validator reaches by name
        elif (match := _ENUM.match(line)) and prop and in_items is not None and definition.startswith(GROUPS):
            values = json.loads("[" + match.group(2) + "]")
            key = prop + "[]" if in_items and len(match.group(1)) > 7 else prop
            table.setdefault(definition, {})[key] = values
    return {
        name: dict(sorted(props.items()))
        for name, props in sorted(table.items())
        if not known or name in known
    }


def render(root: Path) -> str:
    """The table from the release's sources; where the module cache lacks them (no `make tools`
    yet), the committed table stands (the cluster suite checks it against the API server)."""
    path = source_file()
    if not path.is_file():
        committed = root / OUTPUT
        return committed.read_text(encoding="utf-8") if committed.is_file() else "{}\n"
    from fadi_seldon.sdep import k8s_openapi

    table = parse(path.read_text(encoding="utf-8"), set(k8s_openapi.definitions()))
    return json.dumps(table, indent=1, sort_keys=True) + "\n"
