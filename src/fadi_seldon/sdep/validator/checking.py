"""One document's findings, and a source's documents checked as they are read.

The checking every way of running `validate` shares: the package's API (`validator.validate_*`,
`validator.stream_paths`) with one process, and the workers of `--jobs` (`validator.parallel`),
which the package starts. It lives apart from the package's `__init__` so that the workers import
the checks without importing the module that starts them (no import cycle).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from fadi_seldon.sdep import predictor_servers, schema
from fadi_seldon.sdep.validator import crd_rules, embedded, extra, later, prepackaged, webhook
from fadi_seldon.sdep.validator.findings import ERROR, RULES, Finding, Report, format_path
from fadi_seldon.sdep.validator.loading import (
    Document,
    ParseProblem,
    Scan,
    Source,
    UnreadableInput,
    documents,
    expand,
    open_path,
    read_stdin,
)
from fadi_seldon.sdep.validator.structural import Checker, Issue, compile_schema


@functools.cache
def _checker() -> Checker:
    """The CRD's schema, with quantities and open Kubernetes types marked (embedded), compiled once per process."""
    return compile_schema(embedded.validator_schema(), root=True)


def is_seldon_deployment(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("kind") == schema.KIND


def issues(obj: Any, servers: set[str] | None = None) -> list[Issue]:
    """Unlocated findings of one document (any value; non-mappings get one finding)."""
    if not isinstance(obj, dict):
        kind = "a list" if isinstance(obj, list) else type(obj).__name__
        return [Issue((), "not-a-mapping", f"a manifest must be a mapping of field: value, got {kind}")]
    configured = predictor_servers.default_server_names() if servers is None else servers
    found: list[Issue] = []
    _checker()(obj, (), found)
    found.extend(webhook.check(obj, configured))
    found.extend(crd_rules.check(obj))
    found.extend(extra.check(obj))
    found.extend(prepackaged.check(obj, configured))
    found.extend(later.check(obj))
    return found


def _finding(issue: Issue, file: str, document: int, line: int = 0, column: int = 0) -> Finding:
    severity = RULES[issue.rule][0]
    return Finding(file, document, line, column, format_path(issue.path), issue.rule, severity, issue.message)


def validate_object(obj: Any, servers: set[str] | None = None) -> list[Finding]:
    """Findings for one already-parsed SeldonDeployment (no positions: file '<object>', line 0)."""
    return [_finding(i, "<object>", 1) for i in issues(obj, servers)]


def validate_source(source: Source, servers: set[str] | None = None) -> Report:
    report = Report()
    for _, part in check_source(source, servers):
        report.merge(part)
    return report


def check_source(source: Source, servers: set[str] | None = None) -> Iterator[tuple[int, Report]]:
    """(document index, its report) per document as it is read: its duplicate keys and findings in
    reading order; a syntax error ends the source with a report of its own."""
    configured = predictor_servers.default_server_names() if servers is None else servers
    pending: list[Finding] = []  # the parse problems of the document being read
    for item in documents(source):
        if isinstance(item, ParseProblem):
            pending.append(_problem(item, source.name))
            continue
        report = _check_document(item, source.name, configured)
        if pending:
            report.findings[:0] = pending
            pending = []
        if len(report.findings) > 1:
            report.findings.sort(key=_position)  # stable: a problem before an issue at the same place
        yield item.index, report
    if pending:
        pending.sort(key=_position)
        yield pending[0].document, Report(findings=pending)


def _position(finding: Finding) -> tuple[int, int]:
    return finding.line, finding.column


def _problem(problem: ParseProblem, file: str) -> Finding:
    severity = RULES[problem.rule][0]
    return Finding(
        file, problem.document, problem.line, problem.column, "", problem.rule, severity, problem.message
    )


def _check_document(document: Document, file: str, servers: set[str]) -> Report:
    report = Report()
    for path_prefix, obj in _objects(document.data):
        if obj is None:
            continue
        if isinstance(obj, dict) and not is_seldon_deployment(obj):
            report.skipped += 1
            continue
        report.documents += 1
        for issue in issues(obj, servers):
            full = Issue((*path_prefix, *issue.path), issue.rule, issue.message)
            line, column = document.locate(full.path)
            report.findings.append(_finding(full, file, document.index, line, column))
    return report


def _objects(data: Any) -> Iterable[tuple[tuple, Any]]:
    """A document, or the items of a `kind: List` document (kubectl accepts both)."""
    if isinstance(data, dict) and data.get("kind") == "List" and isinstance(data.get("items"), list):
        for i, item in enumerate(data["items"]):
            yield ("items", i), item
    else:
        yield (), data


def inputs(
    paths: list[str], cut_every: Callable[[Path], int | None] | None = None
) -> Iterator[Report | tuple[Source, Scan | None]]:
    """Each input opened (with where it may be cut, `cut_every(path)` bytes apart), or the report of
    one that cannot be read."""
    for name, path in expand(paths):
        try:
            if path is None:
                yield read_stdin(), None
            else:
                yield open_path(path, name, cut_every(path) if cut_every else None)
        except UnreadableInput as err:
            finding = Finding(name, 0, 0, 0, "", "unreadable", ERROR, f"cannot read {name}: {err}")
            yield Report(findings=[finding], unreadable=1)


def warm() -> None:
    """Compile what every document needs (once per process; forked workers inherit it)."""
    _checker()
