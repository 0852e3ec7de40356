"""The `fadi-seldon` command line.

Each sub-command lives in its own module under `fadi_seldon.cli.commands` and exposes
`add_arguments(parser)` and `run(args) -> int`; its one-line help is written once, in COMMANDS.
Only the module of the command being run is imported, which keeps start-up fast (`validate` in a
CI loop) and keeps the cluster, tool and model machinery out of commands that do not use it.
Results are printed by fadi_seldon.cli.output (`-o text|yaml|json`), and every command exits with
a code of fadi_seldon.cli.exit_codes (the table is in `fadi-seldon --help`).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

from fadi_seldon import __version__
from fadi_seldon.cli import exit_codes
from fadi_seldon.cli.exit_codes import ExitCode
from fadi_seldon.runtime import versions

# name -> (module, one-line help). Order is the order of `--help` and of shell completion.
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("fadi_seldon.cli.commands.validate", "validate SeldonDeployment manifests offline"),
    "new": (
        "fadi_seldon.cli.commands.new",
        "generate a SeldonDeployment (models, routers, combiners, canaries...)",
    ),
    "crd": ("fadi_seldon.cli.commands.crd", "print the SeldonDeployment CRD generated from the schema"),
    "values": (
        "fadi_seldon.cli.commands.values",
        "enable, disable, get, set or check Seldon in a FADI values file",
    ),
    "images": (
        "fadi_seldon.cli.commands.images",
        "list every image the operator chart makes the cluster pull (for mirroring)",
    ),
    "package": ("fadi_seldon.cli.commands.package", "write a Docker build context for a Python model"),
    "serve": ("fadi_seldon.cli.commands.serve", "run a model locally with the real Seldon Python wrapper"),
    "predict": ("fadi_seldon.cli.commands.predict", "send a prediction request and print the answer"),
    "upload": (
        "fadi_seldon.cli.commands.upload",
        "put a trained model folder on S3 (MinIO) where a prepackaged server fetches it",
    ),
    "cluster": (
        "fadi_seldon.cli.commands.cluster",
        "start, stop and inspect the local Kubernetes control plane",
    ),
    "doctor": ("fadi_seldon.cli.commands.doctor", "diagnose a cluster's Seldon installation"),
    "status": (
        "fadi_seldon.cli.commands.status",
        "show a SeldonDeployment's state, replicas, images, URLs and warnings",
    ),
    "logs": ("fadi_seldon.cli.commands.logs", "print the logs of a SeldonDeployment's pods"),
    "routes": (
        "fadi_seldon.cli.commands.routes",
        "Gateway API routes of SeldonDeployments: print them, or run the route controller",
    ),
    "tools": (
        "fadi_seldon.cli.commands.tools",
        "install and inspect the pinned external tools (helm, ct, ...)",
    ),
    "completion": (
        "fadi_seldon.cli.commands.completion",
        "print a bash or zsh completion script (generated from the commands)",
    ),
}


class Parser(argparse.ArgumentParser):
    """argparse with the usage-error exit code of the table (argparse's own is 2 as well: kept explicit)."""

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(ExitCode.USAGE, f"{self.prog}: error: {message}\n")


def _available() -> dict[str, tuple[str, str]]:
    """Commands whose module is present in this installation."""
    return {name: spec for name, spec in COMMANDS.items() if importlib.util.find_spec(spec[0]) is not None}


def build_parser(command: str | None = None, full: bool = False) -> argparse.ArgumentParser:
    """The parser; only `command`'s options are added (all of them with `full`, for completion)."""
    parser = Parser(
        prog="fadi-seldon",
        description="Seldon Core for the FADI platform: generate and validate SeldonDeployments, "
        "package and serve models, manage the operator chart's tooling and a local Kubernetes.",
        epilog="Run `fadi-seldon COMMAND --help` for a command's options. A command's result goes to\n"
        "stdout (-o text|yaml|json where it prints one), messages go to stderr.\n\n" + exit_codes.table(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"fadi-seldon {__version__} (Seldon Core {versions.seldon_core_version()})",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in _available().items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if full or name == command:
            importlib.import_module(module_name).add_arguments(p)
    return parser


def _leaf(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The parser of the deepest sub-command chosen (`values set`), for its own usage line."""
    while True:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        chosen = getattr(args, subs[0].dest, None) if subs else None
        if chosen not in (subs[0].choices if subs else {}):
            return parser
        parser = subs[0].choices[chosen]


def parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """parse_args, except that an unknown option is reported with the usage of the sub-command it
    was given to (argparse leaves it to the top-level parser, whose usage does not help)."""
    args, extras = parser.parse_known_args(argv)
    if extras:
        _leaf(parser, args).error(f"unrecognized arguments: {' '.join(extras)}")
    return args


def main(argv: list[str] | None = None) -> int:
    from fadi_seldon.cli import errors

    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    if command not in COMMANDS:
        command = None
    parser = build_parser(command)
    args = parse(parser, argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return ExitCode.USAGE
    module = importlib.import_module(COMMANDS[args.command][0])
    try:
        return int(module.run(args) or ExitCode.OK)
    except errors.CliError as err:  # the one place a command's failure is printed
        return errors.report(err, getattr(args, "output", None))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except BrokenPipeError:  # `fadi-seldon ... | head`: the reader has what it wanted
        return ExitCode.OK
    except OSError as err:  # a file no command expected to fail on: still one line, never a traceback
        return errors.report(errors.from_os_error(err), getattr(args, "output", None))


if __name__ == "__main__":
    raise SystemExit(main())
