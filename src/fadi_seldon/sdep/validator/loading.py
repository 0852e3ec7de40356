"""Read manifests from files, directories and stdin; parse them fast; locate findings on demand.

Parsing uses PyYAML's C loader (or the json module for JSON), which builds plain dicts and lists
without positions. Only when a document has findings is the text composed again into YAML nodes,
which carry line and column marks, to turn a field path into `file:line:column`. Valid documents,
the common case, never pay for positions.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
_BASE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BASE_LOADER):  # type: ignore[misc, valid-type]
    """Safe loader that records duplicate keys and keeps timestamps as strings.

    kubectl converts YAML to JSON, where a date is just a string, and rejects a key given twice;
    PyYAML would build a datetime and silently keep the last value.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[tuple[str, int, int]] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        keys = [k.value for k, _ in node.value if isinstance(k, yaml.ScalarNode)]
        if len(keys) != len(set(keys)) and "<<" not in keys:
            seen: set[str] = set()
            for key_node, _ in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    if key_node.value in seen:
                        mark = key_node.start_mark
                        self.duplicates.append((key_node.value, mark.line + 1, mark.column + 1))
                    seen.add(key_node.value)
        return super().construct_mapping(node, deep)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _BASE_LOADER.yaml_implicit_resolvers.items()
}


@dataclass
class Source:
    """The text of one input (a file or stdin)."""

    name: str
    text: str
    is_json: bool


@dataclass
class ParseProblem:
    """A syntax error or duplicate key, already located."""

    document: int
    line: int
    column: int
    rule: str
    message: str


@dataclass
class Parsed:
    documents: list[tuple[int, Any]] = field(default_factory=list)  # (1-based index, data)
    problems: list[ParseProblem] = field(default_factory=list)


class UnreadableInput(Exception):
    """An input that cannot be read as text: its message says why and what to do."""


def read_path(path: Path) -> Source:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UnreadableInput("no such file or directory") from None
    except IsADirectoryError:
        raise UnreadableInput("is a directory") from None
    except OSError as err:
        raise UnreadableInput(err.strerror or str(err)) from None
    return Source(str(path), decode(raw), path.suffix.lower() == ".json")


def read_stdin() -> Source:
    raw = sys.stdin.buffer.read()
    text = decode(raw)
    return Source("<stdin>", text, text.lstrip()[:1] == "{")


def decode(raw: bytes) -> str:
    if b"\x00" in raw[:8192]:
        raise UnreadableInput("binary file (contains NUL bytes), not a YAML or JSON manifest")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise UnreadableInput(
            f"not UTF-8 text (invalid byte at offset {err.start}); save the file as UTF-8"
        ) from None


def expand(paths: list[str]) -> Iterator[tuple[str, Path | None]]:
    """(display name, path) per input: files as given, directories walked for *.yaml/*.yml/*.json.

    '-' yields ("<stdin>", None). Hidden directories (.git, .venv...) and the templates/ folder of
    Helm charts are not descended into.
    """
    for arg in paths:
        if arg == "-":
            yield "<stdin>", None
            continue
        path = Path(arg)
        if path.is_dir():
            found = [
                p
                for p in sorted(path.rglob("*"))
                if p.suffix.lower() in MANIFEST_SUFFIXES
                and p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts[:-1])
                and not _in_helm_templates(p, path)
            ]
            for p in found:
                yield str(p), p
        else:
            yield arg, path


def _in_helm_templates(file: Path, top: Path) -> bool:
    """Inside a Helm chart's templates/: Go templates, not YAML until `helm template` renders them."""
    for parent in file.parents:
        if parent == top.parent:
            return False
        if parent.name == "templates" and (parent.parent / "Chart.yaml").is_file():
            return True
    return False


def parse(source: Source) -> Parsed:
    """All documents of a source, and its syntax problems (documents before an error are kept)."""
    out = Parsed()
    if source.is_json:
        _parse_json(source.text, out)
        return out
    loader = _Loader(source.text)
    index = 0  # the document being read (1-based) once the loop runs
    try:
        while True:
            index += 1
            if not loader.check_data():
                break
            out.documents.append((index, loader.get_data()))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        problem = getattr(err, "problem", None) or str(err)
        context = getattr(err, "context", None)
        text = f"{context}: {problem}" if context else str(problem)
        opened = getattr(err, "context_mark", None)
        unclosed = any(word in (context or "") for word in ("flow", "quoted", "scalar"))
        if opened is not None and unclosed and opened.line + 1 != line:
            text += f" (the construct began at line {opened.line + 1}, column {opened.column + 1})"
        hint = "; YAML indents with spaces only" if "\\t" in text or "tab" in text else ""
        if "{{" in source.text:
            hint += "; this looks like a Helm template: render it first (helm template ... | fadi-seldon validate -)"
        out.problems.append(
            ParseProblem(index, line, column, "yaml-syntax", f"YAML syntax error: {text}{hint}")
        )
    finally:
        loader.dispose()
    for key, line, column in loader.duplicates:
        doc = _document_at_line(source.text, line)
        out.problems.append(
            ParseProblem(
                doc, line, column, "duplicate-key", f'key "{key}" is given twice in one mapping; keep one'
            )
        )
    return out


def _parse_json(text: str, out: Parsed) -> None:
    duplicates: list[str] = []

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict:
        obj = dict(pairs)
        if len(obj) != len(pairs):
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    duplicates.append(key)
                seen.add(key)
        return obj

    try:
        out.documents.append((1, json.loads(text, object_pairs_hook=pairs_hook)))
    except json.JSONDecodeError as err:
        out.problems.append(
            ParseProblem(1, err.lineno, err.colno, "yaml-syntax", f"JSON syntax error: {err.msg}")
        )
        return
    if duplicates:
        for key, line, column in _duplicate_keys(text.replace("\t", " ")) or [(k, 0, 0) for k in duplicates]:
            out.problems.append(
                ParseProblem(
                    1, line, column, "duplicate-key", f'key "{key}" is given twice in one object; keep one'
                )
            )


def _duplicate_keys(text: str) -> list[tuple[str, int, int]]:
    """Repeated keys with the position of the repetition, found on the composed node tree."""
    try:
        root = yaml.compose(text, Loader=_BASE_LOADER)
    except yaml.YAMLError:
        return []
    found = []
    stack = [root] if root is not None else []
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    if key_node.value in seen:
                        found.append(
                            (key_node.value, key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                        )
                    seen.add(key_node.value)
                stack.append(value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    return sorted(found, key=lambda item: item[1:])


def _document_at_line(text: str, line: int) -> int:
    """1-based index of the YAML document containing a line (counting `---` separators)."""
    doc = 1
    started = False
    for number, raw in enumerate(text.splitlines(), start=1):
        if number >= line:
            break
        if raw.startswith("---"):
            if started:
                doc += 1
            started = True
        elif raw.strip() and not raw.lstrip().startswith("#") and not raw.startswith("%"):
            started = True
    return doc


class Locator:
    """Turns (document, field path) into (line, column) by composing the text once, on first use."""

    def __init__(self, source: Source) -> None:
        self._source = source
        self._nodes: list[yaml.Node | None] | None = None

    def _compose(self) -> list[yaml.Node | None]:
        if self._nodes is None:
            text = self._source.text
            if self._source.is_json:  # JSON allows tabs as whitespace, YAML does not; columns are kept
                text = text.replace("\t", " ")
            nodes: list[yaml.Node | None] = []
            try:
                for node in yaml.compose_all(text, Loader=_BASE_LOADER):
                    nodes.append(node)
            except yaml.YAMLError:
                pass  # keep what was composed before the error
            self._nodes = nodes
        return self._nodes

    def locate(self, document: int, path: tuple) -> tuple[int, int]:
        """Position of the field's key (`replicas:`), of a list item, or of the deepest parent found."""
        nodes = self._compose()
        if not 0 < document <= len(nodes) or nodes[document - 1] is None:
            return 0, 0
        node: yaml.Node = nodes[document - 1]
        key_node: yaml.Node | None = None
        for part in path:
            nxt = None
            if isinstance(node, yaml.MappingNode) and isinstance(part, str):
                for k, v in node.value:
                    if isinstance(k, yaml.ScalarNode) and k.value == part:
                        key_node, nxt = k, v
                        break
            elif (
                isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value)
            ):
                key_node, nxt = None, node.value[part]
            if nxt is None:
                break
            node = nxt
        target = key_node if key_node is not None else node
        return target.start_mark.line + 1, target.start_mark.column + 1
