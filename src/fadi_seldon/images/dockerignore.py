"""Which files of a build context a Docker build would copy, by the rules of `.dockerignore`.

Building the model image without Docker must put the same files in /app as `COPY . .` would, so the
patterns mean what Docker makes them mean: each is a path from the context's root (`__pycache__/`
excludes only the top-level folder; `**/__pycache__` any of them), `*` and `?` stop at `/`, `**`
crosses folders, a pattern that matches a folder excludes what it holds, `!` re-includes, and the
last matching line wins.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path


def _translate(pattern: str) -> str:
    """A Docker path pattern as a regular expression over '/'-separated relative paths."""
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**", i):
            i += 2
            if pattern.startswith("/", i):
                out.append("(?:.*/)?")
                i += 1
            else:
                out.append(".*")
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out.append(re.escape(char))
            else:
                body = pattern[i + 1 : end]
                out.append("[" + ("^" + body[1:] if body.startswith(("!", "^")) else body) + "]")
                i = end
        elif char == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def _clean(pattern: str) -> str:
    parts = [p for p in pattern.split("/") if p not in ("", ".")]
    return "/".join(parts)


def parse(text: str) -> list[tuple[bool, re.Pattern[str]]]:
    """(is an exception, compiled pattern) for each rule line, in file order."""
    rules = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exception = line.startswith("!")
        body = _clean(line[1:].strip() if exception else line)
        if body:
            rules.append((exception, re.compile(_translate(body) + r"\Z")))
    return rules


def has_exceptions(context: Path) -> bool:
    """Whether a `!` line may take back files inside an excluded folder (so the folder must be walked)."""
    ignore = context / ".dockerignore"
    return ignore.is_file() and any(exc for exc, _ in parse(ignore.read_text(encoding="utf-8")))


def matcher(context: Path) -> Callable[[str], bool]:
    """include(relative_path) -> bool for the context's .dockerignore (everything when there is none)."""
    ignore = context / ".dockerignore"
    rules = parse(ignore.read_text(encoding="utf-8")) if ignore.is_file() else []

    def include(rel: str) -> bool:
        parts = rel.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        excluded = False
        for exception, regex in rules:
            if any(regex.match(prefix) for prefix in prefixes):
                excluded = not exception
        return not excluded

    return include
