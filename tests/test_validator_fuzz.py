"""Property tests: random mutations of valid manifests never crash the validator.

Every result is either clean or made of findings with a known rule, the rule's severity and, for
text input, a position in the file. Wrong types anywhere (the webhook rules read the object as it
is) must turn into findings, never into exceptions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fadi_seldon.sdep import validator
from fadi_seldon.sdep.validator.findings import RULES

BASES = [yaml.safe_load(p.read_text()) for p in sorted((Path(__file__).parent / "data" / "valid").iterdir())]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["MODEL", "ROUTER", "REST", "GRPC", "SKLEARN_SERVER", "kafka", "tensorflow", "", "100"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def _containers(obj: Any, path: tuple = ()) -> list[tuple[tuple, Any]]:
    out = [(path, obj)]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _containers(v, (*path, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _containers(v, (*path, i))
    return out


@st.composite
def mutated(draw) -> Any:
    obj = yaml.safe_load(yaml.safe_dump(draw(st.sampled_from(BASES))))  # a deep copy
    for _ in range(draw(st.integers(1, 4))):
        nodes = [(p, n) for p, n in _containers(obj) if isinstance(n, dict | list) and n]
        if not nodes:
            break
        _, node = draw(st.sampled_from(nodes))
        key = draw(st.sampled_from(list(node) if isinstance(node, dict) else list(range(len(node)))))
        action = draw(st.sampled_from(["replace", "delete", "duplicate", "rename"]))
        if action == "replace":
            node[key] = draw(values)
        elif action == "delete":
            del node[key]
        elif action == "duplicate" and isinstance(node, list):
            node.append(yaml.safe_load(yaml.safe_dump(node[key])))
        elif action == "rename" and isinstance(node, dict):
            node[draw(st.text(min_size=1, max_size=8))] = node.pop(key)
    return obj


def _check(findings) -> None:
    for f in findings:
        assert f.rule in RULES
        assert f.severity == RULES[f.rule][0]
        assert f.message


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_objects_yield_findings_not_exceptions(obj: Any) -> None:
    _check(validator.validate_object(obj))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_yaml_findings_are_located(obj: Any) -> None:
    text = yaml.safe_dump(obj, sort_keys=False)
    report = validator.validate_text(text, source="m.yaml")
    _check(report.findings)
    for f in report.findings:
        assert f.line >= 1 and f.column >= 1, f


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(BASES), st.data())
def test_damaged_text_never_crashes(base: Any, data) -> None:
    text = yaml.safe_dump(base, sort_keys=False)
    at = data.draw(st.integers(0, len(text)))
    cut = data.draw(st.integers(0, 20))
    insert = data.draw(st.text(alphabet=st.sampled_from(list(":-[]{}'\"#&*!|> \n\t\\%@`")), max_size=5))
    damaged = text[:at] + insert + text[at + cut :]
    report = validator.validate_text(damaged, source="d.yaml")
    _check(report.findings)
    for f in report.findings:
        assert f.line >= 1, f
