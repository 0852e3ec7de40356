"""The one way a command fails: raise CliError; the entry point reports it once.

A command (or a helper it calls) raises CliError with a plain message, the exit code of the table
(fadi_seldon.cli.exit_codes) and, when the problem sits in a file, its name and line. `main` catches
it and prints one line on stderr, `error: FILE:LINE: MESSAGE; HINT`, and, when the command was asked
for `-o json`, a JSON object on stdout (`{"error": ..., "exit_code": N, "file": ..., "line": ...}`),
so a script reading the JSON result reads the failure the same way. What a failed command still has
to tell (a server's answer to a refused request, the files a package would replace) goes in
`details`: keys of that JSON object, so stdout holds one document either way.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from fadi_seldon.cli.exit_codes import ExitCode


class CliError(Exception):
    """A command cannot do what was asked: why (one line), with the exit code that says what kind."""

    def __init__(
        self,
        message: str,
        exit_code: ExitCode = ExitCode.FAILED,
        *,
        file: str | None = None,
        line: int | None = None,
        hint: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        # one line, whatever the source gave (a server's own spacing inside a line is kept)
        self.message = " ".join(line.strip() for line in message.splitlines() if line.strip())
        self.exit_code = ExitCode(exit_code)
        self.file = file
        self.line = line
        self.hint = hint
        self.details = details or {}

    def text(self) -> str:
        """`FILE:LINE: MESSAGE; HINT` (the parts that are known)."""
        where = self.file or ""
        if where and self.line:
            where += f":{self.line}"
        out = f"{where}: {self.message}" if where else self.message
        return f"{out}; {self.hint}" if self.hint else out

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"error": self.message, "exit_code": int(self.exit_code)}
        for key in ("file", "line", "hint"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        return {**self.details, **data}


def usage(message: str, **where: Any) -> CliError:
    """A usage error or unusable input (exit 2)."""
    return CliError(message, ExitCode.USAGE, **where)


def from_os_error(err: OSError) -> CliError:
    """An OSError no command caught (a file it could not read or write), in plain words: the file and
    the system's reason, never `[Errno N]`. A path that is not there, not a file or not allowed is
    unusable input (2); anything else a failed operation (1)."""
    usable = (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)
    code = ExitCode.USAGE if isinstance(err, usable) else ExitCode.FAILED
    reason = err.strerror.lower() if err.strerror else str(err)
    return CliError(reason, code, file=str(err.filename) if err.filename else None)


def report(err: CliError, fmt: str | None) -> int:
    """Print the error, one line on stderr, and under -o json as a JSON object on stdout too (where
    a script reads the result: `... -o json | jq` gets a document either way); its exit code."""
    print(f"error: {err.text()}", file=sys.stderr)
    if fmt == "json":
        sys.stdout.write(json.dumps(err.to_json(), indent=2) + "\n")
        sys.stdout.flush()
    return int(err.exit_code)
