"""The exit codes of every `fadi-seldon` command: one table, documented in `fadi-seldon --help`.

A script can rely on the meaning whatever the command: 1 is "it ran and found a problem, or what
you asked for failed", 2 is "what you gave it is unusable" (argparse exits 2 for usage errors too),
3 is "there is nothing to act on" (no cluster, nothing running), which a script may treat as benign.
Commands report a failure by raising fadi_seldon.cli.errors.CliError with one of these codes.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Exit status of a command; `meaning` is the line `fadi-seldon --help` prints for it."""

    meaning: str

    # `meaning` has a default only for the type checker: ExitCode(2) looks a member up by its value
    def __new__(cls, value: int, meaning: str = "") -> ExitCode:
        member = int.__new__(cls, value)
        member._value_ = value
        member.meaning = meaning
        return member

    OK = 0, "success"
    FAILED = 1, "findings (validation errors, failed checks, a key not set) or a failed operation"
    USAGE = (
        2,
        "usage error or unreadable input (bad flags, a missing or malformed file, a cluster refusing access)",
    )
    NOTHING = 3, "nothing to act on (no cluster configured or answering, no local cluster, nothing running)"
    INTERRUPTED = 130, "interrupted (Ctrl-C)"


def table() -> str:
    """The whole table, as `fadi-seldon --help` prints it (its epilog)."""
    lines = ["exit codes (every command):"]
    lines += [f"  {code.value:<3} {code.meaning}" for code in ExitCode]
    return "\n".join(lines) + "\n"


def notes(meanings: dict[ExitCode, str]) -> str:
    """What some codes mean for one command, for its `--help`; the table itself stays in one place."""
    lines = ["exit codes (the table: fadi-seldon --help):"]
    lines += [f"  {code.value:<3} {text}" for code, text in sorted(meanings.items())]
    return "\n".join(lines) + "\n"
