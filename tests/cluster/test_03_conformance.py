"""The API server and `fadi-seldon validate` agree on real SeldonDeployments.

Every document is sent the way `kubectl apply --dry-run=server` sends a new object (a create,
dry run, strict field validation), through `kubectl proxy` so that hundreds of requests take
seconds. Accepted by the server must mean accepted by the validator; every
invalid case the CRD schema can express (the validator's `schema-*` rules) must be rejected by
both, and the validator must also reject the rest (webhook rules the schema cannot express).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cluster.kube import Proxy
from conftest import ROOT
from fadi_seldon.sdep import schema, validator

NS = "conformance"


# the validator's rules for what the API server itself enforces, the CRD's CEL rules included (the
# rest are the webhook's rules and later failures, which no server-side check here can see)
def server_checkable(rule: str) -> bool:
    return rule in validator.API_SERVER_RULES


DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _documents(path: Path) -> list[tuple[int, dict]]:
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        docs = [json.loads(text)] if path.suffix == ".json" else list(yaml.safe_load_all(text))
    except (ValueError, yaml.YAMLError):
        return []  # unparsable input: the validator's own business (yaml-syntax)
    return [
        (i, d)
        for i, d in enumerate(docs, start=1)
        if isinstance(d, dict) and d.get("kind") == "SeldonDeployment"
    ]


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml", ".json"))


@pytest.fixture(scope="module")
def server(kube, webhook_off):
    kube.namespace(NS)
    proxy = Proxy(kube)
    yield proxy
    proxy.close()


def dry_run_apply(proxy: Proxy, doc: dict, placeholder_name: str | None = None) -> tuple[int, str]:
    """What `kubectl apply --dry-run=server` sends for a new object: a create, dry run, strict fields."""
    doc = json.loads(json.dumps(doc))
    meta = doc.setdefault("metadata", None) or {}
    doc["metadata"] = meta
    meta["namespace"] = NS
    if placeholder_name and not DNS_SUBDOMAIN.match(str(meta.get("name", ""))):
        meta["name"] = placeholder_name
    version = str(doc.get("apiVersion", "")).split("/")[-1] or "v1"
    path = f"/apis/machinelearning.seldon.io/{version}/namespaces/{NS}/seldondeployments?dryRun=All&fieldValidation=Strict"
    status, body = proxy.request("POST", path, json.dumps(doc).encode())
    return status, (body or {}).get("message", "") if isinstance(body, dict) else str(body)


def validate(paths: list[Path]) -> dict[tuple[str, int], set[str]]:
    """(file, document) -> the rules of its errors, from one `fadi-seldon validate --output json` run."""
    proc = subprocess.run(
        [sys.executable, "-m", "fadi_seldon", "validate", "--output", "json", *map(str, paths)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode in (0, 1), proc.stderr
    by_doc: dict[tuple[str, int], set[str]] = {}
    for f in json.loads(proc.stdout)["findings"]:
        if f["severity"] == "error":
            by_doc.setdefault((Path(f["file"]).resolve().as_posix(), f["document"]), set()).add(f["rule"])
    return by_doc


def compare(server: Proxy, files: list[Path], *, rename_placeholders: bool) -> tuple[list[dict], list[str]]:
    """Send every document to the server; return per-document results and the disagreements."""
    errors = validate(files)
    results, disagreements = [], []
    for path in files:
        for index, doc in _documents(path):
            rules = errors.get((path.resolve().as_posix(), index), set())
            placeholder = f"doc-{len(results)}" if rename_placeholders else None
            status, message = dry_run_apply(server, doc, placeholder)
            server_rejects = status >= 300
            validator_rejects = any(server_checkable(r) for r in rules)
            where = f"{path.parent.name}/{path.name}#{index}"
            if server_rejects and not validator_rejects:
                disagreements.append(
                    f"{where}: the server rejects it (HTTP {status}: {message[:250]}); validator rules {sorted(rules)}"
                )
            if validator_rejects and not server_rejects:
                disagreements.append(
                    f"{where}: the validator reports {sorted(rules)} but the server accepts it"
                )
            results.append({"where": where, "server_rejects": server_rejects, "rules": rules})
    return results, disagreements


def test_valid_corpus_server_and_validator_agree(server, conformance_dir):
    """Both accept the valid corpus; where the corpus holds documents that strict `kubectl apply`
    rejects (executor samples never meant for a cluster: unknown fields), both reject them."""
    results, disagreements = compare(server, _files(conformance_dir / "valid"), rename_placeholders=True)
    assert len(results) > 100
    assert disagreements == [], "\n".join(disagreements)
    # exactly the files whose known errors are server-checkable are refused: no more, no fewer
    from test_validator_conformance import KNOWN_REJECTS

    expected = {
        f"valid/{name}" for name, found in KNOWN_REJECTS.items() if any(server_checkable(r) for r, _ in found)
    }
    rejected = {r["where"].split("#")[0] for r in results if r["server_rejects"]}
    assert expected and rejected == expected


def test_invalid_cases_the_schema_expresses_are_rejected_by_both(server, conformance_dir):
    files = _files(conformance_dir / "invalid") + _files(ROOT / "tests" / "data" / "invalid")
    results, disagreements = compare(server, files, rename_placeholders=False)
    assert results
    missed = [r["where"] for r in results if not r["rules"]]
    assert missed == [], f"the validator accepts invalid cases: {missed}"
    assert any(r["server_rejects"] for r in results), "no invalid case is one the schema can express"
    assert disagreements == [], "\n".join(disagreements)


def test_server_side_apply_accepts_an_empty_component_specs(server, kube, conformance_dir):
    """`componentSpecs:` left empty is null: server-side apply refuses it unless the CRD says nullable."""
    path = conformance_dir / "valid" / "examples__dvc__deploy.yaml"
    [doc] = [d for d in yaml.safe_load_all(path.read_text()) if d and d.get("kind") == "SeldonDeployment"]
    assert doc["spec"]["predictors"][0]["componentSpecs"] is None
    proc = kube.apply([doc], "-n", NS, "--server-side", "--dry-run=server", check=False)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("rule", sorted(schema.crd_rule_ids()))
def test_each_crd_rule_refuses_its_case_with_its_message(server, rule):
    """The CRD's CEL rules work without the webhook: the API server refuses, saying what to do."""
    [(_, doc)] = _documents(ROOT / "tests" / "data" / "invalid" / f"{rule.replace('-', '_')}.yaml")
    status, message = dry_run_apply(server, doc)
    [expected] = [r.message for r in schema.crd_rules() if r.rule == rule]
    assert status == 422 and expected in message, message


def test_the_k8s_enum_table_is_what_the_api_server_publishes(server):
    """k8s-enum's values (generated from the release's sources) against the running API server's
    OpenAPI v3: same definitions, same fields, same values."""
    from fadi_seldon.runtime import versions
    from fadi_seldon.sdep.validator import embedded

    pinned, running = versions.load()["KUBERNETES_VERSION"], versions.get("KUBERNETES_VERSION")
    if running != pinned:  # make test-compat: another release has other enum values, on purpose
        pytest.skip(
            f"the enum table is Kubernetes {pinned}'s; this cluster runs {running} (make test-compat)"
        )

    status, index = server.request("GET", "/openapi/v3")
    assert status == 200, index
    wanted = {"api/v1": "io.k8s.api.core.v1.", "apis/autoscaling/v2": "io.k8s.api.autoscaling.v2."}
    published: dict[str, dict[str, list[str]]] = {}
    for group, prefix in wanted.items():
        status, doc = server.request("GET", index["paths"][group]["serverRelativeURL"])
        assert status == 200, doc
        for name, definition in doc["components"]["schemas"].items():
            if not name.startswith(prefix):
                continue
            for field, prop in (definition.get("properties") or {}).items():
                if "enum" in prop:
                    published.setdefault(name, {})[field] = sorted(prop["enum"])
                elif "enum" in (prop.get("items") or {}):
                    published.setdefault(name, {})[field + "[]"] = sorted(prop["items"]["enum"])
    from fadi_seldon.sdep import k8s_openapi

    ours = {name: {k: sorted(v) for k, v in props.items()} for name, props in embedded.enums().items()}
    known = k8s_openapi.definitions()  # the definitions the validator knows (kubernetes-validate's)
    assert ours == {name: props for name, props in published.items() if name in known}
