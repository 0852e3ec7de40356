"""Property: on any FADI-like file, an edit yields the intended values and leaves every line outside
the Seldon block byte for byte, whatever indentation and comments the file uses."""

from __future__ import annotations

import difflib
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fadi_seldon.values import document as vf

KEYS = st.sampled_from(["replicas", "image", "tag", "port", "mode", "name", "size", "debug"])
SCALARS = st.one_of(
    st.booleans(),
    st.integers(-5, 10_000),
    st.sampled_from(["a", "x-y", "1.17.1", "with space", "'quoted'", '"dq"']),
)
SERVICES = st.sampled_from(["spark", "superset", "grafana", "nifi", "minio", "kafka", "openldap", "traefik"])


def _scalar_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@st.composite
def values_files(draw) -> str:
    lines: list[str] = []
    if draw(st.booleans()):
        lines.append("# FADI values, edited by hand")
    services = draw(st.lists(SERVICES, min_size=1, max_size=5, unique=True))
    seldon_at = draw(st.integers(0, len(services))) if draw(st.booleans()) else None
    for i, name in enumerate([*services, None]):
        if i == seldon_at:
            indent = " " * draw(st.sampled_from([2, 4]))
            lines.append("## Machine learning")
            lines.append("seldon-core-operator:")
            lines.append(f"{indent}enabled: {draw(st.sampled_from(['false', 'true', 'no', 'yes']))}")
            if draw(st.booleans()):
                lines.append(f"{indent}usageMetrics:")
                lines.append(f"{indent}{indent}enabled: false{draw(st.sampled_from(['', '   # off']))}")
            if draw(st.booleans()):
                lines.append("")
        if name is None:
            break
        indent = " " * draw(st.sampled_from([2, 3, 4]))
        if draw(st.booleans()):
            lines.append(f"## {name}")
        lines.append(f"{name}:")
        lines.append(f"{indent}enabled: {draw(st.sampled_from(['true', 'false']))}")
        for key in draw(st.lists(KEYS, max_size=3, unique=True)):
            if key == "enabled":
                continue
            comment = draw(st.sampled_from(["", "  # note", "     # aligned"]))
            lines.append(f"{indent}{key}: {_scalar_text(draw(SCALARS))}{comment}")
        if draw(st.booleans()):
            lines.append(f"{indent}items:")
            dash = draw(st.sampled_from(["", indent]))
            lines.extend(
                f"{indent}{dash}- {v}" for v in draw(st.lists(st.integers(0, 9), min_size=1, max_size=3))
            )
        if draw(st.booleans()):
            lines.append("")
    return "\n".join(lines) + "\n"


OPERATIONS = st.one_of(
    st.just(("enable", None, None)),
    st.just(("disable", None, None)),
    st.tuples(
        st.just("set"),
        st.sampled_from(["singleNamespace", "image.tag", "manager.logLevel", "webhook.port", "enabled"]),
        SCALARS.filter(lambda v: not (isinstance(v, str) and v.startswith(("'", '"')))),
    ),
)


def _block_range(text: str) -> tuple[int, int] | None:
    """Line range [start, end) from the Seldon key to the next top-level key (or end of file)."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("seldon-core-operator:")]
    if not starts:
        return None
    start = starts[0]
    following = [i for i in range(start + 1, len(lines)) if lines[i][:1].isalpha()]
    return start, (following[0] if following else len(lines))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=values_files(), op=OPERATIONS)
def test_edits_touch_only_the_seldon_block(text, op):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "values.yaml"
        path.write_text(text)
        doc = vf.read(path)
        expected = vf.to_plain(doc.data)
        action, key, value = op
        block = expected.setdefault("seldon-core-operator", {})
        if action == "enable":
            vf.enable(doc)
            if "enabled" not in block and len(block) == 0:
                block["usageMetrics"] = {"enabled": False}
            block["enabled"] = True
        elif action == "disable":
            vf.disable(doc)
            if block:
                block["enabled"] = False
            else:
                del expected["seldon-core-operator"]
        else:
            vf.set_value(doc, vf.seldon_path(key), value)
            if not block:
                block.update({"enabled": False, "usageMetrics": {"enabled": False}})
            parts = key.split(".")
            node = block
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = value
        new = vf.render(doc)
        path.write_text(new)
        assert vf.to_plain(vf.read(path).data) == expected

        old_lines, new_lines = text.splitlines(keepends=True), new.splitlines(keepends=True)
        old_range, new_range = _block_range(text), _block_range(new)
        if old_range is None:
            # the block was appended: the original is an untouched prefix
            assert new.startswith(text) or new == text or (new_range is not None and new.startswith(text))
            return
        assert new_range is not None
        assert old_lines[: old_range[0]] == new_lines[: new_range[0]]
        assert old_lines[old_range[1] :] == new_lines[new_range[1] :]
        # inside the block, at most the one line holding the changed value is rewritten
        matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
        rewritten = sum(
            i2 - i1 for tag, i1, i2, _, _ in matcher.get_opcodes() if tag in ("replace", "delete")
        )
        assert rewritten <= 1
