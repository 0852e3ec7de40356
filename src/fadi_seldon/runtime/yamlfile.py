"""Reading a user's YAML (or JSON) file and saying in plain words why it cannot be read.

PyYAML's own messages are drawings (`in "<unicode string>", line 2, column 1:` and a caret under the
line) and Python's are `[Errno 2] No such file or directory: 'x'`; a user wants `FILE:LINE:COL:` and a
reason an editor can jump to. Every reader of a user file that is not a values file being edited
(those keep their layout, fadi_seldon.values.document) goes through `load`, so a missing file, a
folder, binary content, a tab, a broken bracket or a list where a mapping belongs read the same way
whatever the command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class YamlFileError(ValueError):
    """A file that cannot be used: `str()` is `FILE[:LINE[:COL]]: what is wrong`, in plain words."""

    def __init__(self, problem: str, file: str, line: int | None = None, column: int | None = None) -> None:
        self.problem = problem
        self.file = file
        self.line = line
        self.column = column
        where = file + (f":{line}" if line else "") + (f":{column}" if line and column else "")
        super().__init__(f"{where}: {problem}")


def read_text(path: str | Path, what: str = "a YAML file") -> str:
    """The file's text; YamlFileError when it is missing, a folder, unreadable or not UTF-8."""
    path = Path(path)
    if path.is_dir():
        raise YamlFileError(f"is a directory, expected {what}", str(path))
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise YamlFileError(f"no such file (expected {what})", str(path)) from None
    except UnicodeDecodeError as err:
        raise YamlFileError(f"not UTF-8 text (byte {err.start}), expected {what}", str(path)) from None
    except OSError as err:
        raise YamlFileError(f"cannot read it: {(err.strerror or str(err)).lower()}", str(path)) from None


def describe(err: Exception, source: str) -> YamlFileError:
    """A YAML parser's error (PyYAML's or ruamel's: they share the attributes) at its place."""
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    problem = str(getattr(err, "problem", None) or getattr(err, "context", None) or "malformed YAML")
    opened = getattr(err, "context_mark", None)
    if opened is not None and mark is not None and opened.line != mark.line:
        problem += f" (in what begins at line {opened.line + 1}, column {opened.column + 1})"
    if "\\t" in problem or "tab" in problem:
        problem += "; YAML indents with spaces only"
    if mark is None:
        return YamlFileError(f"not valid YAML: {' '.join(str(err).split())}", source)
    return YamlFileError(f"not valid YAML: {problem}", source, mark.line + 1, mark.column + 1)


def load(path: str | Path, what: str = "a YAML file", mapping: bool = False) -> Any:
    """The file's one YAML document (JSON is YAML); with `mapping`, it must be a mapping (an empty
    file is an empty one). YamlFileError otherwise."""
    import yaml

    text = read_text(path, what)
    if "\x00" in text:
        raise YamlFileError(f"binary content (a NUL byte), expected {what}", str(path))
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise describe(err, str(path)) from None
    if mapping and data is None:
        return {}
    if mapping and not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else "a single value"
        raise YamlFileError(f"the top level is {kind}; {what} is a mapping (key: value)", str(path), 1)
    return data
