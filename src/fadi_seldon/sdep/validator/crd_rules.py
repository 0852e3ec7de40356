"""The Python twins of the CRD's own CEL rules (those that are not also webhook rules).

Each rule refuses a shape the operator crashes on while the webhook lets it through
(docs/validation-rules.md, "What crashes the operator"). The CEL text and the message live once,
in fadi_seldon.sdep.schema; the condition is written here again in Python, and the cluster suite checks
that the API server and this module refuse the same objects (tests/cluster/test_03_conformance.py,
test_08_crash_search.py).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

from fadi_seldon.sdep import schema
from fadi_seldon.sdep.validator.structural import Issue
from fadi_seldon.sdep.validator.webhook import as_dict, as_str, predictors

_BUILTIN_ROOTS = frozenset(schema.BUILTIN_IMPLEMENTATIONS) - {"UNKNOWN_IMPLEMENTATION"}
_NUMBERED = re.compile(r"^[0-9]+(-|$)")


@functools.cache
def message(rule: str) -> str:
    return next(r.message for r in schema.crd_rules() if r.rule == rule)


def check(obj: dict) -> list[Issue]:
    out: list[Issue] = []
    spec = as_dict(obj.get("spec"))
    out.extend(_ambassador(spec))
    preds = predictors(obj)
    for i, p in preds:
        out.extend(_predictor(i, p))
    out.extend(_name_prefixes(preds))
    return out


def _builtin_root(predictor: dict) -> bool:
    return as_dict(predictor.get("graph")).get("implementation") in _BUILTIN_ROOTS


def _predictor(i: int, p: dict) -> Iterator[Issue]:
    base = ("spec", "predictors", i)
    if as_str(as_dict(p.get("ssl")).get("certSecretName")) and _builtin_root(p):
        yield Issue((*base, "ssl", "certSecretName"), "crd-ssl-builtin-root", message("crd-ssl-builtin-root"))
    no_engine = schema.ANNOTATION_NO_ENGINE in as_dict(p.get("annotations"))
    if no_engine and as_str(as_dict(p.get("explainer")).get("type")) and _builtin_root(p):
        yield Issue((*base, "explainer"), "crd-no-engine-explainer", message("crd-no-engine-explainer"))


def _name_prefixes(preds: list[tuple[int, dict]]) -> Iterator[Issue]:
    names = [(i, name) for i, p in preds if isinstance(name := p.get("name"), str)]
    for j, b in names:
        for _, a in names:
            if a != b and b.startswith(a + "-") and _NUMBERED.match(b[len(a) + 1 :]):
                yield Issue(
                    ("spec", "predictors", j, "name"),
                    "crd-predictor-name-prefix",
                    message("crd-predictor-name-prefix"),
                )
                break


def _ambassador(spec: dict) -> Iterator[Issue]:
    annotations = as_dict(spec.get("annotations"))
    header = annotations.get(schema.ANNOTATION_AMBASSADOR_HEADER)
    odd = isinstance(header, str) and header != "" and len(header.split(":")) % 2 != 0
    orphan_regex = bool(as_str(annotations.get(schema.ANNOTATION_AMBASSADOR_REGEX_HEADER))) and not header
    if odd or orphan_regex:
        key = schema.ANNOTATION_AMBASSADOR_HEADER if odd else schema.ANNOTATION_AMBASSADOR_REGEX_HEADER
        yield Issue(("spec", "annotations", key), "crd-ambassador-header", message("crd-ambassador-header"))
