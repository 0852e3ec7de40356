"""Offline validation of SeldonDeployments: the CRD schema, the webhook rules, and later failures.

In-process API (used by the generator and the cluster tests; names are stable):
    validate_object(obj, servers=None) -> list[Finding]
    validate_text(text, source="<stdin>", servers=None) -> Report
    validate_paths(paths, servers=None, jobs=1) -> Report
    stream_paths(paths, servers=None, jobs=1) -> Iterator[Report]  (parts, in input order, as checked)
`servers` is the set of configured predictor server names (default: the operator chart's defaults).
Documents are checked as they are read, one at a time; `jobs` > 1 spreads the inputs, large files
cut at document starts, over that many processes (validator.parallel), with the same findings.
"""

from __future__ import annotations

from collections.abc import Iterator

from fadi_seldon.sdep import schema
from fadi_seldon.sdep.validator import later, prepackaged
from fadi_seldon.sdep.validator.checking import (
    check_source,
    inputs,
    is_seldon_deployment,
    validate_object,
    validate_source,
    warm,
)
from fadi_seldon.sdep.validator.findings import ERROR, RULES, WARNING, Finding, Report
from fadi_seldon.sdep.validator.loading import Source

__all__ = [
    "API_SERVER_RULES",
    "ERROR",
    "FAILED_LATER_RULES",
    "RULES",
    "WARNING",
    "Finding",
    "Report",
    "STRICTER_THAN_THE_CLUSTER",
    "check_source",
    "inputs",
    "is_seldon_deployment",
    "stream_paths",
    "validate_object",
    "validate_paths",
    "validate_source",
    "validate_text",
    "warm",
]


# Rule ids the API server itself enforces: the CRD schema, object metadata, and the CRD's CEL rules
# (webhook rules it repeats, so that a cluster with the webhook off still refuses them). The other
# rules are the webhook's alone, or what the operator reports later.
API_SERVER_RULES = frozenset(
    {"schema-type", "schema-enum", "schema-required", "schema-unknown-field", "schema-limit"}
    | {"api-version", "metadata-name"}
    | schema.crd_rule_ids()
)


# Errors `validate` reports although the cluster admits the object and the operator deploys it, each
# on purpose (the differential test, tests/cluster/test_11_differential.py, allows exactly these;
# docs/validation-rules.md, "Stricter than the cluster", says why for each).
STRICTER_THAN_THE_CLUSTER: dict[str, str] = {
    "k8s-unknown-field": (
        "upstream's CRD types these Kubernetes types in full and refuses the field under strict field "
        "validation; ours keeps them open to stay under 200 KiB, and the operator drops the field"
    ),
}

# Findings that predict the operator ends `Failed` after a clean admission: a Deployment or Service it
# builds is refused by the API server. They are errors (the object does not run as written), which
# the API server and the webhook admit.
FAILED_LATER_RULES = (
    frozenset({"invalid-name", "name-too-long", "container-name-too-long", "k8s-enum"})
    | later.RULES
    | prepackaged.FAILED_LATER
)


def validate_text(text: str, source: str = "<stdin>", servers: set[str] | None = None) -> Report:
    """Validate YAML (multi-document) or JSON text; `source` names it in findings."""
    is_json = source.lower().endswith(".json") or (source == "<stdin>" and text.lstrip()[:1] == "{")
    return validate_source(Source(source, text, is_json), servers)


def validate_paths(paths: list[str], servers: set[str] | None = None, jobs: int = 1) -> Report:
    """Validate files, directories (recursively) and '-' (stdin)."""
    report = Report()
    for part in stream_paths(paths, servers, jobs):
        report.merge(part)
    return report


# documents per part of the stream in one process (parts are what the CLI prints at once)
BATCH = 256


def stream_paths(paths: list[str], servers: set[str] | None = None, jobs: int = 1) -> Iterator[Report]:
    """The reports of files, directories and '-' (stdin) in parts, in input order, as they are
    checked: memory holds one document (per process) and the findings not yet consumed."""
    if jobs > 1:
        from fadi_seldon.sdep.validator import parallel

        yield from parallel.stream(paths, servers, jobs)
        return
    for item in inputs(paths):
        if isinstance(item, Report):
            yield item
            continue
        batch = Report()
        for index, part in check_source(item[0], servers):
            batch.merge(part)
            if index % BATCH == 0:
                yield batch
                batch = Report()
        yield batch
