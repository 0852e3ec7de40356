"""Read manifests from files, directories and stdin; parse each document once, with its positions.

A YAML stream is composed by libyaml (PyYAML's C parser) one document at a time, as it is read:
`documents` yields each document's values with its node tree (`nodes.build`), which locates its
findings afterwards, then forgets it; memory stays flat whatever the input's size. A file is read
in blocks twice: `scan_file` first (is it UTF-8 text, where may it be cut for `--jobs`), then by
the parser, so an unreadable file yields one finding and no half-checked documents. PyYAML's pure
Python parser is the fallback when libyaml is missing (slower, same findings). JSON files are read
by the json module; the rare JSON file with findings is composed as YAML to locate them.
"""

from __future__ import annotations

import codecs
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fadi_seldon.sdep.validator import nodes

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
_BLOCK = 1 << 20  # bytes read at a time


def _loader_class(base: type) -> type:
    """A safe loader on `base` (libyaml's or PyYAML's parser) that leaves tags to nodes.build (which
    keeps timestamps as strings) and records duplicate keys when PyYAML's constructor builds a
    document (nodes.build's fallback).

    kubectl converts YAML to JSON, where a date is just a string, and rejects a key given twice;
    PyYAML would build a datetime and silently keep the last value.
    """

    class Loader(base):  # type: ignore[misc, valid-type]
        def __init__(self, stream: Any) -> None:
            super().__init__(stream)
            self.duplicates: list[nodes.Duplicate] = []

        def resolve(self, kind: type, value: Any, implicit: Any) -> Any:
            """The tag is deferred: nodes.resolved() resolves it, once the node is needed."""
            return implicit

        def descend_resolver(self, current_node: Any, current_index: Any) -> None:
            """No path resolvers: nothing to follow (PyYAML calls this for every node)."""

        def ascend_resolver(self) -> None:
            """See descend_resolver."""

        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
            self.duplicates.extend(nodes.repeated_keys(node))
            return super().construct_mapping(node, deep)

    return Loader


LIBYAML = getattr(yaml, "CSafeLoader", None) is not None
PYTHON_LOADER = _loader_class(yaml.SafeLoader)
LOADER = _loader_class(yaml.CSafeLoader) if LIBYAML else PYTHON_LOADER  # tests swap in PYTHON_LOADER


@dataclass
class Source:
    """One input (a file, a byte range of one for `--jobs`, or text already read such as stdin)."""

    name: str
    text: str | None  # None: read from `path` while parsing
    is_json: bool
    path: Path | None = None
    start: int = 0  # the byte range of `path` (a cut at a document start)
    end: int | None = None
    line_offset: int = 0  # lines of the file before `start`
    templated: bool | None = None  # '{{' in the input: a syntax error gets the Helm hint

    def is_templated(self) -> bool:
        return self.templated if self.templated is not None else "{{" in (self.text or "")


@dataclass
class ParseProblem:
    """A syntax error or duplicate key, already located."""

    document: int
    line: int
    column: int
    rule: str
    message: str


@dataclass
class Document:
    """One parsed document: its values and where each field is written."""

    index: int  # 1-based, in its source
    data: Any
    locate: Callable[[tuple], tuple[int, int]]  # field path -> (line, column), (0, 0) when unknown


@dataclass
class Scan:
    """What reading a file through once tells: the Helm hint, and where it may be cut for `--jobs`."""

    size: int
    templated: bool
    cuts: list[tuple[int, int]]  # (byte offset of a `---` line, lines before it), in order


class UnreadableInput(Exception):
    """An input that cannot be read as text: its message says why and what to do."""


def read_path(path: Path) -> Source:
    """A whole file as text (callers that want it in memory; `validate` streams with open_path)."""
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise UnreadableInput(_os_reason(err)) from None
    return Source(str(path), decode(raw), path.suffix.lower() == ".json")


def open_path(path: Path, name: str | None = None, cut_every: int | None = None) -> tuple[Source, Scan]:
    """A file checked to be UTF-8 text, to be parsed from disk (JSON is read: json wants it whole)."""
    found = scan_file(path, cut_every)
    is_json = path.suffix.lower() == ".json"
    text = decode(path.read_bytes()) if is_json else None
    return Source(name or str(path), text, is_json, path, templated=found.templated), found


def _os_reason(err: OSError) -> str:
    if isinstance(err, FileNotFoundError):
        return "no such file or directory"
    if isinstance(err, IsADirectoryError):
        return "is a directory"
    return err.strerror or str(err)


def read_stdin() -> Source:
    raw = sys.stdin.buffer.read()
    text = decode(raw)
    return Source("<stdin>", text, text.lstrip()[:1] == "{")


def decode(raw: bytes) -> str:
    if b"\x00" in raw[:8192]:
        raise UnreadableInput(_BINARY)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise UnreadableInput(_not_utf8(err.start)) from None


_BINARY = "binary file (contains NUL bytes), not a YAML or JSON manifest"


def _not_utf8(offset: int) -> str:
    return f"not UTF-8 text (invalid byte at offset {offset}); save the file as UTF-8"


def scan_file(path: Path, cut_every: int | None = None) -> Scan:
    """Read a file through in blocks of whole lines: refuse what `decode` refuses, note '{{', and
    (with `cut_every`) the `---` lines where it may be cut, about `cut_every` bytes apart."""
    try:
        with path.open("rb") as file:
            return _scan(file, cut_every)
    except OSError as err:
        raise UnreadableInput(_os_reason(err)) from None


def _scan(file: Any, cut_every: int | None) -> Scan:
    found = Scan(0, False, [])
    pending, lines, cuttable = b"", 0, cut_every is not None
    block = file.read(_BLOCK)
    if b"\x00" in block[:8192]:
        raise UnreadableInput(_BINARY)
    bom = 3 if block.startswith(codecs.BOM_UTF8) else 0
    while True:
        data = pending + block
        end = data.rfind(b"\n") + 1 if block else len(data)
        piece, pending = data[:end], data[end:]  # whole lines (a line longer than a block: read on)
        try:
            piece.decode("utf-8-sig" if found.size == 0 else "utf-8")
        except UnicodeDecodeError as err:  # as decode() says it: offsets count after a byte order mark
            raise UnreadableInput(_not_utf8(found.size + err.start - (bom if found.size else 0))) from None
        found.templated = found.templated or b"{{" in piece
        if cuttable and _uncuttable(piece):
            cuttable, found.cuts = False, []
        if cuttable:
            lines = _add_cuts(found, piece, lines, cut_every or 0)
        found.size += len(piece)
        if not block:
            return found
        block = file.read(_BLOCK)


def _add_cuts(found: Scan, piece: bytes, lines: int, every: int) -> int:
    """Note the `---` lines of a piece (whole lines) at least `every` bytes after the last cut; the
    count of lines read up to the piece's end is returned."""
    last = found.cuts[-1][0] if found.cuts else 0
    counted = 0  # position in the piece up to which lines are counted
    # a line starts after a newline: a `\n---` found at position p of `lined` is a `---` at p in the piece
    lined = b"\n" + piece
    at = max(0, last + every - found.size)
    while (at := lined.find(b"\n---", at)) >= 0:
        start = at  # the `---` line, in the piece
        if piece[start + 3 : start + 4] in (b" ", b"\t", b"\r", b"\n", b""):
            lines += piece.count(b"\n", counted, start)
            counted = start
            found.cuts.append((found.size + start, lines))
            at = start + every
        else:
            at = start + 1
    return lines + piece.count(b"\n", counted)


def _uncuttable(piece: bytes) -> bool:
    """Line breaks libyaml counts that `\\n` does not (a lone CR, NEL, LS, PS), or a %directive line."""
    lone_cr = b"\r" in piece and piece.count(b"\r") != piece.count(b"\r\n")
    other = b"\xc2\x85" in piece or b"\xe2\x80\xa8" in piece or b"\xe2\x80\xa9" in piece
    return lone_cr or other or piece.startswith(b"%") or b"\n%" in piece


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


class _FileText:
    """A byte range of a UTF-8 file (scanned), read in blocks as the parser asks for more.

    Named like a string input, so that PyYAML's messages read as they do for text in memory.
    """

    name = "<unicode string>"

    def __init__(self, path: Path | None, start: int, end: int | None) -> None:
        if path is None:
            raise ValueError("a source without text needs a path")
        self._file = path.open("rb")
        self._file.seek(start)
        self._left = -1 if end is None else end - start  # -1: to the end of the file
        # a byte order mark is the file's first bytes only; a cut starts at a `---` line
        self._decoder = codecs.getincrementaldecoder("utf-8-sig" if start == 0 else "utf-8")()

    def read(self, size: int) -> str:
        """At least one character, or "" at the end (libyaml stops at the first empty read)."""
        while True:
            raw = self._file.read(_BLOCK if self._left < 0 else min(_BLOCK, self._left))
            if self._left > 0:
                self._left -= len(raw)
            text = self._decoder.decode(raw, final=not raw)
            if text or not raw:
                return text

    def close(self) -> None:
        self._file.close()


def documents(source: Source) -> Iterator[Document | ParseProblem]:
    """The documents of a source in order, each preceded by its duplicate keys; reading stops at
    the first syntax error (the problem is the last item; documents before it are kept)."""
    if source.is_json:
        yield from _json_documents(source)
        return
    stream = source.text if source.text is not None else _FileText(source.path, source.start, source.end)
    loader = LOADER(stream)
    index = 0  # the document being read (1-based) once the loop runs
    try:
        while True:
            index += 1
            if not loader.check_node():
                return
            root = loader.get_node()
            duplicates: list[nodes.Duplicate] = []
            try:
                data = nodes.build(root, loader, duplicates)
            except yaml.YAMLError as err:  # a tag PyYAML cannot build, an unhashable key...
                yield _syntax_problem(err, index, source)
                yield from (_duplicate(index, dup, source.line_offset, "mapping") for dup in duplicates)
                return
            yield from (_duplicate(index, dup, source.line_offset, "mapping") for dup in duplicates)
            yield Document(index, data, _locator(root, source.line_offset))
    except yaml.YAMLError as err:
        yield _syntax_problem(err, index, source)
    finally:
        loader.dispose()
        if isinstance(stream, _FileText):
            stream.close()


def _locator(root: yaml.Node, shift: int) -> Callable[[tuple], tuple[int, int]]:
    def locate(path: tuple) -> tuple[int, int]:
        line, column = nodes.locate(root, path)
        return (line + shift, column) if line else (line, column)

    return locate


def _duplicate(index: int, dup: nodes.Duplicate, shift: int, what: str) -> ParseProblem:
    key, line, column = dup
    message = f'key "{key}" is given twice in one {what}; keep one'
    return ParseProblem(index, line + shift if line else line, column, "duplicate-key", message)


def _syntax_problem(err: yaml.YAMLError, index: int, source: Source) -> ParseProblem:
    """A YAML error as one finding: where the parser stopped, what it expected, where the construct
    it was reading began (an unclosed quote or bracket), and hints for tabs and Helm templates."""
    shift = source.line_offset
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    line, column = (mark.line + 1 + shift, mark.column + 1) if mark else (0, 0)
    problem = getattr(err, "problem", None) or str(err)
    context = getattr(err, "context", None)
    text = f"{context}: {problem}" if context else str(problem)
    opened = getattr(err, "context_mark", None)
    unclosed = any(word in (context or "") for word in ("flow", "quoted", "scalar"))
    if opened is not None and unclosed and opened.line + 1 + shift != line:
        text += f" (the construct began at line {opened.line + 1 + shift}, column {opened.column + 1})"
    hint = "; YAML indents with spaces only" if "\\t" in text or "tab" in text else ""
    if source.is_templated():
        hint += (
            "; this looks like a Helm template: render it first (helm template ... | fadi-seldon validate -)"
        )
    return ParseProblem(index, line, column, "yaml-syntax", f"YAML syntax error: {text}{hint}")


def _json_documents(source: Source) -> Iterator[Document | ParseProblem]:
    """A JSON file: one document. Positions come from composing the text as YAML, only when asked."""
    text = source.text or ""
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
        data = json.loads(text, object_pairs_hook=pairs_hook)
    except json.JSONDecodeError as err:
        yield ParseProblem(1, err.lineno, err.colno, "yaml-syntax", f"JSON syntax error: {err.msg}")
        return
    tree = _JsonTree(text)
    if duplicates:
        located = _repeated_json_keys(tree.root()) or [(k, 0, 0) for k in duplicates]
        for dup in located:
            yield _duplicate(1, dup, 0, "object")
    yield Document(1, data, tree.locate)


class _JsonTree:
    """The JSON text composed as YAML on first use (JSON allows tabs as whitespace, YAML does not:
    they become spaces, columns are kept)."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._root: yaml.Node | None = None
        self._composed = False

    def root(self) -> yaml.Node | None:
        if not self._composed:
            self._composed = True
            try:
                self._root = next(iter(yaml.compose_all(self._text.replace("\t", " "), Loader=LOADER)), None)
            except yaml.YAMLError:
                self._root = None
        return self._root

    def locate(self, path: tuple) -> tuple[int, int]:
        return nodes.locate(self.root(), path)


def _repeated_json_keys(root: yaml.Node | None) -> list[nodes.Duplicate]:
    """Repeated keys with the position of the repetition, found on the composed node tree."""
    found: list[nodes.Duplicate] = []
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
