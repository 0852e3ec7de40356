"""Edit a user's FADI values file the way a careful person would.

A FADI values file is long, hand-written and commented: the platform operator must be able
to review an edit as a diff of the lines that changed, nothing else. ruamel.yaml's round trip
keeps comments, key order and quoting, but it re-indents and re-aligns whatever it dumps. So:
- a changed value is replaced inside its own line (quotes kept, a trailing comment keeps its column);
- a structural edit (new keys, new block) is made on the round-trip tree, and only the lines it
  changed in ruamel's output are carried over to the original text (fadi_seldon.values.line_patch).
Every other line stays byte for byte; the result is re-parsed and compared before it is used.

Writes are atomic (temporary file + rename in the same folder), keep the file's mode, follow a
symlink to its target, and leave the previous content in `FILE.bak`.
"""

from __future__ import annotations

import datetime
import difflib
import io
import os
import stat
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.scalarstring import ScalarString
from ruamel.yaml.util import load_yaml_guess_indent

from fadi_seldon.runtime.files import atomic_write
from fadi_seldon.values import line_patch

SELDON_KEY = "seldon-core-operator"
BLOCK_COMMENT = (
    "\nSeldon Core operator: serves machine learning models as SeldonDeployments.\n"
    "See docs/umbrella.md; usage metrics stay off, as FADI ships them."
)
# Words YAML 1.1 reads as booleans. Helm parses values with a YAML 1.1 parser, ruamel with 1.2,
# so an unquoted `enabled: yes` is `true` for Helm and must be for us too.
_YAML11_TRUE = frozenset(["y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE"])
_YAML11_FALSE = frozenset(["n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE"])
_MISSING = object()


class ValuesFileError(Exception):
    """A problem with the user's file or request; the message says where and what to do."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class ValuesDocument:
    """A loaded values file: the round-trip tree plus what is needed to write it back unchanged."""

    path: Path
    text: str  # content with "\n" newlines, without BOM
    data: CommentedMap
    newline: str = "\n"
    bom: bool = False
    mapping_indent: int = 2
    sequence_offset: int = 0
    explicit_start: bool = False
    # value changes that can be made inside the original line: (line, column, new scalar, in a flow map)
    scalar_edits: list[tuple[int, int, Any, bool]] = field(default_factory=list)
    structural: bool = False  # keys added or containers replaced: needs the round-trip re-dump


# ---------------------------------------------------------------------------------------------
# reading


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never fold long lines (image references, URLs)
    return yaml


def read(path: Path) -> ValuesDocument:
    """Load a values file; any problem becomes a ValuesFileError naming the file and line."""
    path = Path(path)
    if not path.exists():
        raise ValuesFileError(f"{path}: no such file (give the FADI values file, e.g. -f fadi/values.yaml)")
    if path.is_dir():
        raise ValuesFileError(f"{path}: is a directory, expected a YAML values file")
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise ValuesFileError(f"{path}: cannot read: {err.strerror or err}") from None
    bom = raw.startswith(b"\xef\xbb\xbf")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ValuesFileError(
            f"{path}: not UTF-8 text (byte {err.start}): values files are UTF-8 YAML"
        ) from None
    newline = "\r\n" if "\r\n" in text else "\n"
    return _document(path, text.replace("\r\n", "\n"), newline, bom)


def read_text(doc: ValuesDocument, text: str) -> ValuesDocument:
    """Another version of the same file (e.g. the edited text, to check it before writing)."""
    return _document(doc.path, text, doc.newline, doc.bom)


def _document(path: Path, text: str, newline: str, bom: bool) -> ValuesDocument:
    data = _parse(text, str(path))
    indent, offset = _guess_layout(data, text)
    indent = _block_indent(data, SELDON_KEY) or indent
    first = next((ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")), "")
    return ValuesDocument(
        path=path,
        text=text,
        data=data,
        newline=newline,
        bom=bom,
        mapping_indent=indent,
        sequence_offset=offset,
        explicit_start=first.startswith("---"),
    )


def _parse(text: str, source: str) -> CommentedMap:
    try:
        docs = list(_yaml().load_all(text))
    except MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = err.problem or err.context or "malformed YAML"
        if "\\t" in problem or "tab" in problem:
            problem += " (YAML indents with spaces only)"
        raise ValuesFileError(f"{where}: invalid YAML: {problem}; fix the file and retry") from None
    except YAMLError as err:
        raise ValuesFileError(f"{source}: invalid YAML: {err}") from None
    if len(docs) > 1:
        raise ValuesFileError(
            f"{source}: holds {len(docs)} YAML documents; a values file is a single document"
        )
    data = docs[0] if docs else None
    if data is None:  # an empty file is an empty set of values, as for Helm
        return CommentedMap()
    if not isinstance(data, CommentedMap):
        kind = "a list" if isinstance(data, list) else f"a {type(data).__name__} scalar"
        raise ValuesFileError(
            f"{source}:1: the top level is {kind}; a values file must be a mapping (key: value)"
        )
    return data


def _block_indent(data: CommentedMap, key: str) -> int | None:
    """Indentation of the block we edit, so lines added to it line up with its own keys."""
    block = data.get(key)
    if not isinstance(block, CommentedMap) or not block or block.fa.flow_style():
        return None
    try:
        first = next(iter(block))
        indent = block.lc.key(first)[1] - data.lc.key(key)[1]
    except (AttributeError, KeyError, TypeError, StopIteration):
        return None
    return indent if indent > 0 else None


def _guess_layout(data: CommentedMap, text: str) -> tuple[int, int]:
    """Mapping indentation and sequence dash offset the file already uses, for the lines we add:
    the most common step from a key to the keys under it, and from a key to the dashes of its list.

    Counted over the whole file, from the parsed positions. (ruamel's load_yaml_guess_indent
    reads one list's layout as the mapping indentation: `hosts:` then `  - a` gave 4 for a
    2-space file.) A file with no nested block mapping falls back to that guess, then to 2."""
    steps: Counter[int] = Counter()
    offsets: Counter[int] = Counter()
    _count_layout(data, steps, offsets)
    indent = steps.most_common(1)[0][0] if steps else None
    offset = offsets.most_common(1)[0][0] if offsets else None
    if indent is None or offset is None:
        try:
            _, guessed_indent, guessed_offset = load_yaml_guess_indent(text)
        except Exception:  # best effort only: the file already parsed above
            guessed_indent, guessed_offset = None, None
        indent = indent or guessed_indent
        offset = guessed_offset if offset is None else offset
    return (indent if indent and indent > 0 else 2), (offset or 0)


def _count_layout(node: Any, steps: Counter[int], offsets: Counter[int]) -> None:
    """Add the indentation steps of `node`'s block children (a mapping's) to the counters."""
    if not isinstance(node, CommentedMap):
        if isinstance(node, CommentedSeq):
            for item in node:
                _count_layout(item, steps, offsets)
        return
    for key, value in node.items():
        try:
            key_col = node.lc.key(key)[1]
            if isinstance(value, CommentedMap) and value and not value.fa.flow_style():
                steps[value.lc.key(next(iter(value)))[1] - key_col] += 1
            elif isinstance(value, CommentedSeq) and value and not value.fa.flow_style():
                offsets[value.lc.item(0)[1] - 2 - key_col] += 1  # the item's column is after `- `
        except (AttributeError, KeyError, TypeError, IndexError):
            pass
        _count_layout(value, steps, offsets)


# ---------------------------------------------------------------------------------------------
# paths and plain values


def split_path(dotted: str) -> list[str]:
    """`a.b\\.c.d` -> ['a', 'b.c', 'd']: dots separate keys, a backslash escapes a dot in a key."""
    parts, current, escaped = [], [], False
    for ch in dotted:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ".":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    if escaped:
        current.append("\\")
    parts.append("".join(current))
    if not dotted or any(p == "" for p in parts):
        raise ValuesFileError(f"invalid key path {dotted!r}: use dotted keys like image.tag", exit_code=2)
    return parts


def seldon_path(dotted: str | None) -> list[str]:
    """A key path under the Seldon block; a leading `seldon-core-operator.` is accepted too."""
    if not dotted:
        return [SELDON_KEY]
    parts = split_path(dotted)
    if parts[0] == SELDON_KEY:
        return parts
    return [SELDON_KEY, *parts]


def format_path(path: Sequence[Any]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = str(part).replace(".", "\\.")
            out += f".{text}" if out else text
    return out


def parse_scalar(text: str) -> Any:
    """A value given on the command line, typed as YAML would type it (`true`, `3`, `[a, b]`, `"3"`)."""
    if text == "":
        return ""
    try:
        value = YAML(typ="safe", pure=True).load(text)
    except YAMLError:
        return text  # not YAML on its own (e.g. `a: b: c`): keep it as the string typed
    if isinstance(value, str) and value == text.strip():
        return _yaml11_bool(value, quoted=False)
    if isinstance(value, str) and text.strip()[:1] in ("'", '"'):
        # quoted on the command line (`'true'`, `"3"`): a string whatever it reads as, and written
        # with the same quotes; a plain str would read back as Helm's YAML 1.1 boolean
        return _quoted(value, text.strip()[0])
    if isinstance(value, datetime.date):  # Helm sees timestamps as strings
        return text
    return value


def _quoted(value: str, quote: str) -> ScalarString:
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString

    return SingleQuotedScalarString(value) if quote == "'" else DoubleQuotedScalarString(value)


def _yaml11_bool(value: str, quoted: bool) -> Any:
    if quoted:
        return value
    if value in _YAML11_TRUE:
        return True
    if value in _YAML11_FALSE:
        return False
    return value


def to_plain(node: Any) -> Any:
    """The values as Helm sees them: plain JSON types, YAML 1.1 booleans, string keys, nulls dropped
    from mappings (a null in a values file removes the chart default)."""
    if isinstance(node, dict):
        return {str(k): to_plain(v) for k, v in node.items() if v is not None}
    if isinstance(node, list):
        return [to_plain(v) for v in node]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, ScalarString):
        return str(node)
    if isinstance(node, str):
        return _yaml11_bool(str(node), quoted=False)
    if isinstance(node, datetime.date | datetime.datetime):
        return node.isoformat()
    return str(node)


def lookup(data: Any, path: Sequence[Any]) -> Any:
    """The node at `path`, or the module's _MISSING marker."""
    node = data
    for key in path:
        in_map = isinstance(node, dict) and key in node
        in_list = isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node)
        if not (in_map or in_list):
            return _MISSING
        node = node[key]
    return node


def is_missing(value: Any) -> bool:
    return value is _MISSING


def location(data: Any, path: Sequence[Any]) -> tuple[int, int]:
    """1-based line and column of the deepest part of `path` present in the file."""
    line, col = 1, 1
    node = data
    for key in path:
        try:
            if isinstance(node, CommentedMap) and key in node:
                ln, cl = node.lc.key(key)
                line, col = ln + 1, cl + 1
                node = node[key]
            elif isinstance(node, CommentedSeq) and isinstance(key, int) and 0 <= key < len(node):
                ln, cl = node.lc.item(key)
                line, col = ln + 1, cl + 1
                node = node[key]
            else:
                break
        except (KeyError, TypeError, AttributeError):  # nodes we created ourselves have no position
            break
    return line, col


# ---------------------------------------------------------------------------------------------
# edits (on the round-trip tree)


@dataclass
class Edit:
    """What an operation did, for the message shown to the user."""

    summary: str
    changed: bool


def _new_block(enabled: bool) -> CommentedMap:
    block = CommentedMap()
    block["enabled"] = enabled
    metrics = CommentedMap()
    metrics["enabled"] = False
    block["usageMetrics"] = metrics
    return block


def ensure_block(doc: ValuesDocument) -> bool:
    """Add the Seldon block as FADI ships it (disabled, usage metrics off) when absent. True if added."""
    current = doc.data.get(SELDON_KEY, _MISSING)
    if isinstance(current, CommentedMap):
        _refuse_shared(doc, [SELDON_KEY])
        return False
    if current is not _MISSING and current is not None and not isinstance(current, dict):
        line, _ = location(doc.data, [SELDON_KEY])
        raise ValuesFileError(
            f"{doc.path}:{line}: {SELDON_KEY} is a {_kind(current)}, expected a mapping "
            f"(`{SELDON_KEY}:` followed by indented keys); fix it by hand first"
        )
    doc.structural = True
    if current is None and SELDON_KEY in doc.data:  # `seldon-core-operator:` with nothing under it
        doc.data[SELDON_KEY] = _new_block(False)
        return True
    doc.data[SELDON_KEY] = _new_block(False)
    doc.data.yaml_set_comment_before_after_key(SELDON_KEY, before=BLOCK_COMMENT, indent=0)
    return True


def _walk_creating(
    doc: ValuesDocument, path: Sequence[str]
) -> tuple[Any, tuple[CommentedMap, str | None] | None]:
    """The mapping that holds path[-1], creating missing mappings on the way.

    Also returns the existing mapping a new key was appended to (with its detached trailing
    comment), so the comment can be put back after the new key.
    """
    node = doc.data
    grown: tuple[CommentedMap, str | None] | None = None
    for depth, key in enumerate(path[:-1]):
        child = node.get(key, _MISSING) if isinstance(node, dict) else _MISSING
        if child is _MISSING or child is None:
            if child is _MISSING and grown is None and depth > 0:
                grown = (node, _take_trailing_comment(node))
            child = CommentedMap()
            node[key] = child
            doc.structural = True
        elif not isinstance(child, dict):
            where = format_path(path[: depth + 1])
            line, _ = location(doc.data, path[: depth + 1])
            raise ValuesFileError(
                f"{doc.path}:{line}: {where} is a {_kind(child)}, not a mapping: cannot set {format_path(path)}",
                exit_code=1,
            )
        node = child
    return node, grown


def set_value(doc: ValuesDocument, path: Sequence[str], value: Any) -> Edit:
    """Set a key, creating missing mappings on the way. Refuses to replace a scalar or list by a mapping."""
    created = ensure_block(doc) if path[0] == SELDON_KEY else False
    node, grown = _walk_creating(doc, path)
    _refuse_shared(doc, path[:-1])
    key = path[-1]
    old = node.get(key, _MISSING)
    if old is not _MISSING and _same(old, value):
        return Edit(f"{format_path(path)} is already {_show(value)}", created)
    position = _value_position(node, key) if _is_scalar(old) and _is_scalar(value) and not created else None
    if position is not None:
        doc.scalar_edits.append((*position, value, bool(node.fa.flow_style())))
    else:
        doc.structural = True
    if old is _MISSING and grown is None and len(path) > 1:
        grown = (node, _take_trailing_comment(node))
    node[key] = value
    if grown is not None:
        _give_trailing_comment(*grown)
    before = "unset" if old is _MISSING else _show(old)
    return Edit(f"{format_path(path)}: {before} -> {_show(value)}", True)


def _last_leaf(node: Any) -> tuple[Any, Any] | None:
    """(container, key) of the last entry of a block collection, descending into the last children."""
    holder = None
    while isinstance(node, CommentedMap | CommentedSeq) and node and not node.fa.flow_style():
        key = next(reversed(node)) if isinstance(node, dict) else len(node) - 1
        holder = (node, key)
        node = node[key]
    return holder


def _take_trailing_comment(mapping: CommentedMap) -> str | None:
    """Detach the blank lines and full-line comments that follow a block mapping.

    ruamel attaches them to the block's last entry, so a key appended to the block would land
    after them, under a comment that introduces the next section. Returns what was detached.
    """
    holder = _last_leaf(mapping)
    if holder is None:
        return None
    container, key = holder
    slot = 2 if isinstance(container, dict) else 0
    entry = container.ca.items.get(key)
    token = entry[slot] if entry and len(entry) > slot else None
    if token is None or "\n" not in token.value:
        return None
    cut = token.value.index("\n") + 1
    own, rest = token.value[:cut], token.value[cut:]
    if not rest:
        return None
    if own.strip():
        token.value = own
    else:
        entry[slot] = None
    return rest


def _give_trailing_comment(mapping: CommentedMap, rest: str | None) -> None:
    """Re-attach detached trailing lines after the mapping's new last entry."""
    from ruamel.yaml.error import CommentMark
    from ruamel.yaml.tokens import CommentToken

    holder = _last_leaf(mapping) if rest else None
    if holder is None or rest is None:
        return
    container, key = holder
    entry = container.ca.items.setdefault(
        key, [None, None, None, None] if isinstance(container, dict) else [None, None]
    )
    slot = 2 if isinstance(container, dict) else 0
    entry[slot] = CommentToken("\n" + rest, CommentMark(0), None)


def enable(doc: ValuesDocument) -> Edit:
    created = ensure_block(doc)
    edit = set_value(doc, [SELDON_KEY, "enabled"], True)
    if created:
        return Edit(f"added the {SELDON_KEY} block, enabled (usage metrics off)", True)
    return Edit("Seldon Core is already enabled" if not edit.changed else "Seldon Core enabled", edit.changed)


def disable(doc: ValuesDocument) -> Edit:
    block = doc.data.get(SELDON_KEY)
    if not isinstance(block, dict):
        return Edit(
            f"Seldon Core is already disabled (no {SELDON_KEY} block: the chart default is off)", False
        )
    if block.get("enabled") is False:
        return Edit("Seldon Core is already disabled", False)
    set_value(doc, [SELDON_KEY, "enabled"], False)
    return Edit("Seldon Core disabled (its settings are kept for a later enable)", True)


def _refuse_shared(doc: ValuesDocument, path: Sequence[str]) -> None:
    """Refuse to edit through a YAML alias (`key: *anchor`): the anchored original would change too."""
    counts: dict[int, int] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict | list):
            counts[id(node)] = counts.get(id(node), 0) + 1
            if counts[id(node)] == 1:
                for child in node.values() if isinstance(node, dict) else node:
                    walk(child)

    walk(doc.data)
    node: Any = doc.data
    for depth, key in enumerate(path):
        node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict | list) and counts.get(id(node), 0) > 1:
            line, _ = location(doc.data, path[: depth + 1])
            raise ValuesFileError(
                f"{doc.path}:{line}: {format_path(path[: depth + 1])} is a YAML alias of a block used elsewhere; "
                "editing it would change that block too. Replace the alias with its own block first",
                exit_code=1,
            )


def _same(old: Any, new: Any) -> bool:
    return type(to_plain(old)) is type(to_plain(new)) and to_plain(old) == to_plain(new)


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "string" if isinstance(value, str) else type(value).__name__


def _show(value: Any) -> str:
    plain = to_plain(value)
    if isinstance(plain, bool):
        return "true" if plain else "false"
    if plain is None:
        return "null"
    return repr(plain) if isinstance(plain, str) else str(plain)


# ---------------------------------------------------------------------------------------------
# rendering with a minimal diff


def dump(doc: ValuesDocument, data: Any) -> str:
    yaml = _yaml()
    yaml.indent(mapping=doc.mapping_indent, sequence=doc.sequence_offset + 2, offset=doc.sequence_offset)
    yaml.explicit_start = doc.explicit_start
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def render(doc: ValuesDocument) -> str:
    """The file's new text: the original with only the lines the edit changed replaced, ending
    with a newline only if the original did."""
    if not doc.structural and doc.scalar_edits:
        inline = _edit_scalars_inline(doc)
        if inline is not None:
            return inline
    text = _patched(doc)
    if doc.text and not doc.text.endswith("\n") and text.endswith("\n"):
        text = text[:-1]
    return text


def _patched(doc: ValuesDocument) -> str:
    edited = dump(doc, doc.data)
    baseline_doc = _parse(doc.text, str(doc.path))
    baseline = dump(doc, baseline_doc)
    if baseline == doc.text:
        return edited
    original = doc.text if doc.text.endswith("\n") or not doc.text else doc.text + "\n"
    patched = line_patch.carry_over(original, baseline, edited)
    try:
        # both sides read from text, as Helm will read the file (a value set from the command line
        # is a Python str in doc.data, a ScalarString once read back)
        same = to_plain(_parse(patched, str(doc.path))) == to_plain(_parse(edited, str(doc.path)))
    except ValuesFileError:
        same = False
    # The patch keeps the user's layout; should it ever not reproduce the edit, ruamel's own output is
    # still correct, only less minimal.
    return patched if same else edited


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, bool | int | float | str) and "\n" not in str(value)


def _value_position(node: Any, key: Any) -> tuple[int, int] | None:
    """0-based line and column where the value of `key` starts, when it sits on the key's line."""
    try:
        (kline, _), (vline, vcol) = node.lc.key(key), node.lc.value(key)
    except (AttributeError, KeyError, TypeError):
        return None
    return (vline, vcol) if vline == kline else None


def _scalar_token(value: Any, like: str) -> str | None:
    """`value` written as a one-line YAML scalar, quoted the way the old token `like` was."""
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString

    if isinstance(value, str) and like[:1] == "'":
        value = SingleQuotedScalarString(value)
    elif isinstance(value, str) and like[:1] == '"':
        value = DoubleQuotedScalarString(value)
    out = io.StringIO()
    _yaml().dump({"k": value}, out)
    token = out.getvalue()[len("k: ") :].rstrip("\n")
    if "\n" in token or token.startswith(("|", ">")) or token.endswith("..."):
        return None
    return token


def _token_end(line: str, start: int, flow: bool) -> int:
    """Where the scalar starting at `start` ends (exclusive), quotes and comments respected."""
    quote = line[start : start + 1]
    if quote in ("'", '"'):
        i = start + 1
        while i < len(line):
            if quote == "'" and line[i] == "'" and line[i + 1 : i + 2] == "'":
                i += 2
                continue
            if quote == '"' and line[i] == "\\":
                i += 2
                continue
            if line[i] == quote:
                return i + 1
            i += 1
        return -1  # a quoted scalar running over several lines: not an in-line edit
    end = len(line.rstrip("\n"))
    hash_at = line.find(" #", start)
    if hash_at != -1:
        end = min(end, hash_at)
    if flow:
        for stop in ",}]":
            at = line.find(stop, start)
            if at != -1:
                end = min(end, at)
    return len(line[:end].rstrip())


def _edit_scalars_inline(doc: ValuesDocument) -> str | None:
    """Replace only the changed values inside their lines (comments keep their column)."""
    lines = doc.text.splitlines(keepends=True)
    for line_no, col, value, flow in sorted(doc.scalar_edits, key=lambda e: e[:2], reverse=True):
        if line_no >= len(lines):
            return None
        line = lines[line_no]
        if line[col : col + 1] in ("&", "*", "!", "|", ">", ""):
            return None
        end = _token_end(line, col, flow)
        token = _scalar_token(value, line[col:])
        if end <= col or token is None:
            return None
        rest = line[end:]
        gap = len(rest) - len(rest.lstrip(" "))
        if rest.lstrip(" ").startswith("#") and gap:
            # keep the comment where it was, with at least one space before it
            gap = max(1, gap - (len(token) - (end - col)))
            rest = " " * gap + rest.lstrip(" ")
        lines[line_no] = line[:col] + token + rest
    text = "".join(lines)
    try:
        if to_plain(_parse(text, str(doc.path))) != to_plain(doc.data):
            return None
    except ValuesFileError:
        return None
    return text


def unified_diff(doc: ValuesDocument, new_text: str) -> str:
    name = str(doc.path)
    return "".join(
        difflib.unified_diff(
            doc.text.splitlines(keepends=True), new_text.splitlines(keepends=True), name, f"{name} (edited)"
        )
    )


# ---------------------------------------------------------------------------------------------
# writing


def check_writable(path: Path) -> Path:
    """The real file to replace (symlinks followed); refuses read-only files, even for root."""
    target = Path(os.path.realpath(path))
    try:
        mode = target.stat().st_mode
    except OSError as err:
        raise ValuesFileError(f"{path}: cannot stat: {err.strerror or err}") from None
    if not mode & stat.S_IWUSR or not os.access(target, os.W_OK):
        raise ValuesFileError(
            f"{path}: file is read-only (mode {stat.S_IMODE(mode):04o}); nothing was changed. "
            f"Make it writable (chmod u+w {path}) or use --dry-run to see the edit"
        )
    if not os.access(target.parent, os.W_OK):
        raise ValuesFileError(
            f"{path}: its folder {target.parent} is not writable, so the file cannot be replaced safely; "
            "nothing was changed"
        )
    return target


def write(doc: ValuesDocument, new_text: str, backup: bool = True) -> Path | None:
    """Atomically replace the file with `new_text`; returns the backup path, if one was written."""
    target = check_writable(doc.path)
    data = new_text.replace("\n", doc.newline).encode("utf-8")
    if doc.bom:
        data = b"\xef\xbb\xbf" + data
    mode = stat.S_IMODE(target.stat().st_mode)
    backup_path = target.with_name(target.name + ".bak") if backup else None
    try:
        if backup_path is not None:
            atomic_write(backup_path, target.read_bytes(), mode)
        atomic_write(target, data, mode)
    except OSError as err:
        raise ValuesFileError(
            f"{doc.path}: cannot write: {err.strerror or err}; the file is unchanged"
        ) from None
    return backup_path
