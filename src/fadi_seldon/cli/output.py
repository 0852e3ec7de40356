"""Everything a command prints as its result: text, yaml or json, shell exports, output files.

kubectl's habits: `-o/--output FORMAT` chooses the format of the result on stdout (never a file);
messages and progress go to stderr, so `-o json | jq` always reads one clean document. A command
gives its result as plain data (dicts, lists, scalars) and, for `-o text`, a function that lays it
out for a human; this module does the rest, the same way for every command.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fadi_seldon.cli.exit_codes import ExitCode

FORMATS = ("text", "yaml", "json")
# a manifest has no "text" layout other than YAML: `new` and `crd` default to yaml, and take text
# (the same YAML document) like every result command
DOCUMENT_FORMATS = ("yaml", "json", "text")

TextLayout = Callable[[Any], str]


# --------------------------------------------------------------------------- options


def add_output_argument(
    parser: argparse._ActionsContainer,
    formats: tuple[str, ...] = FORMATS,
    default: str | None = None,
    aliases: Mapping[str, str] | None = None,
    file_hint: bool = False,
) -> None:
    """`-o/--output FORMAT`. `aliases` keep old spellings working (`--output sh` of the env commands)."""
    default = default or formats[0]
    others = [f for f in formats if f != default]
    # a document's text form is its YAML (DOCUMENT_FORMATS): the help says so rather than surprise
    same = " (text is the YAML form: a manifest has no other layout)" if formats == DOCUMENT_FORMATS else ""
    parser.add_argument(
        "-o",
        "--output",
        type=_format_type(formats, aliases or {}, file_hint),
        choices=formats,
        default=default,
        metavar="FORMAT",
        help=f"format of the result on stdout: {default} (default), {' or '.join(others)}{same}",
    )


def _format_type(formats: tuple[str, ...], aliases: Mapping[str, str], file_hint: bool):
    def parse(value: str) -> str:
        value = aliases.get(value, value)
        if value in formats:
            return value
        hint = f"; to write a file use --output-file {value}" if file_hint else ""
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an output format (choose from {', '.join(formats)}){hint}"
        )

    parse.__name__ = "format"  # argparse names the type in some messages
    return parse


# Every command that writes its result to a file spells the destination `--output-file PATH`:
# `-o` is the format everywhere (kubectl), and `-f` already means an input file (`kubectl apply -f`,
# `helm -f values.yaml`, our `values -f`), so the destination gets a long option with no short form,
# named after what it replaces (stdout, the default, also spelled `-`). `--force` replaces an existing
# file (a FILE.bak backup is kept); without it an existing, different file is never touched.
def check_output_file_arguments(args: argparse.Namespace) -> None:
    """--force without a file to replace would be ignored: refused, as every ignored flag is."""
    from fadi_seldon.cli.errors import usage

    if args.force and args.output_file in (None, "-"):
        raise usage("--force goes with --output-file PATH (it replaces that file; stdout needs no --force)")


def add_output_file_argument(parser: argparse._ActionsContainer, what: str) -> None:
    parser.add_argument(
        "--output-file",
        metavar="PATH",
        help=f"write {what} to PATH instead of stdout (- is stdout); an existing file needs --force",
    )
    parser.add_argument(
        "--force", action="store_true", help="replace an existing --output-file (FILE.bak keeps the old one)"
    )


# --------------------------------------------------------------------------- rendering


def _yaml_dumper():
    import yaml

    class Dumper(yaml.SafeDumper):
        """Block YAML, keys in the order given, no &anchors for shared values, long strings unwrapped."""

        def ignore_aliases(self, data: Any) -> bool:
            return True

    return Dumper


def render(result: Any, fmt: str, text: TextLayout | None = None, compact: bool = False) -> str:
    """`result` as `fmt`, ending with a newline. Without a text layout, text is the YAML form."""
    if fmt == "json":
        if compact:
            return json.dumps(result, separators=(",", ":"), default=str) + "\n"
        return json.dumps(result, indent=2, default=str) + "\n"
    if fmt == "text" and text is not None:
        out = text(result)
        return out if not out or out.endswith("\n") else out + "\n"
    import yaml

    return yaml.dump(
        result,
        Dumper=_yaml_dumper(),
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1 << 16,
    )


def emit(result: Any, fmt: str, text: TextLayout | None = None, compact: bool = False) -> None:
    """Print the result on stdout in the format asked for. (A failure is not printed here: commands
    raise fadi_seldon.cli.errors.CliError, which `main` reports.)"""
    sys.stdout.write(render(result, fmt, text, compact))
    sys.stdout.flush()


# --------------------------------------------------------------------------- shell exports


@dataclass(frozen=True)
class Prepend:
    """A value to put in front of a variable's current one, e.g. a tools folder before $PATH."""

    value: str


def shell_exports(variables: Mapping[str, str | Prepend]) -> str:
    """`export KEY=VALUE` lines for `eval "$(...)"`; every value is quoted with shlex.quote."""
    lines = []
    for key, value in variables.items():
        if isinstance(value, Prepend):
            lines.append(f'export {key}={shlex.quote(value.value)}:"${key}"')
        else:
            lines.append(f"export {key}={shlex.quote(value)}")
    return "\n".join(lines) + "\n"


def exports_data(variables: Mapping[str, str | Prepend]) -> dict[str, str]:
    """The same variables as data for -o json/yaml (a prepended value keeps its `:$VAR` tail)."""
    return {k: f"{v.value}:${k}" if isinstance(v, Prepend) else v for k, v in variables.items()}


def emit_exports(variables: Mapping[str, str | Prepend], fmt: str) -> None:
    """Shell exports for -o text, the variables as data for -o json/yaml."""
    if fmt == "text":
        sys.stdout.write(shell_exports(variables))
    else:
        emit(exports_data(variables), fmt)


# --------------------------------------------------------------------------- output files


class OutputFileRefused(Exception):
    """The output file cannot be written as asked; `exit_code` says whether that is a refusal (1: it
    exists and differs, no --force) or an unusable destination (2: no such folder, read-only...)."""

    def __init__(self, message: str, exit_code: ExitCode = ExitCode.FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _check_destination(path: Path) -> int | None:
    """The mode of the file to replace (None for a new file); refuses what must stay untouched:
    a missing folder is never created (a typo would scatter folders), a read-only file is never
    replaced (even by root, who could), a directory is not a file."""
    import stat

    if path.is_dir():
        raise OutputFileRefused(f"{path} is a directory", ExitCode.USAGE)
    if not path.parent.is_dir():
        raise OutputFileRefused(f"{path}: no folder {path.parent}; create it first", ExitCode.USAGE)
    if not path.exists():
        return None
    mode = stat.S_IMODE(path.stat().st_mode)
    if not mode & stat.S_IWUSR or not os.access(path, os.W_OK):
        raise OutputFileRefused(
            f"{path} is read-only (mode {mode:04o}); nothing was changed (chmod u+w {path} to replace it)",
            ExitCode.USAGE,
        )
    return mode


def write_file(path: Path, text: str, force: bool = False) -> Path | None:
    """Write `text` to `path` atomically; an existing different file needs `force`, is kept as
    FILE.bak and keeps its mode. Returns the backup's path, if one was made. Same content: nothing
    is written."""
    from fadi_seldon.runtime.files import PUBLIC, atomic_write

    mode = _check_destination(path)
    if mode is None:
        atomic_write(path, text, PUBLIC)
        return None
    old = path.read_bytes()
    if old == text.encode("utf-8"):
        return None
    if not force:
        raise OutputFileRefused(f"{path} exists; pass --force to replace it (a backup is kept)")
    backup = atomic_write(path.with_name(path.name + ".bak"), old, mode)
    atomic_write(path, text, mode)
    return backup


def deliver(text: str, destination: str | None, force: bool = False) -> ExitCode:
    """Print `text`, or write it to the --output-file `destination` (a note on stderr says so)."""
    from fadi_seldon.cli.errors import CliError

    if not destination or destination == "-":
        sys.stdout.write(text)
        return ExitCode.OK
    try:
        backup = write_file(Path(destination), text, force)
    except OutputFileRefused as err:
        raise CliError(str(err), err.exit_code) from None
    except OSError as err:
        raise CliError(f"cannot write {destination}: {err.strerror or err}") from None
    note = f" (previous content kept in {backup})" if backup else ""
    print(f"wrote {destination}{note}", file=sys.stderr)
    return ExitCode.OK


def count_of(what: str):
    """An argparse type for a count (0 or more) of `what`: one error wording for every such flag."""

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            number = -1
        if number < 0:
            raise argparse.ArgumentTypeError(f"{value!r} is not a number of {what}")
        return number

    return parse
