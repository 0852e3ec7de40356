"""`--values FILE` / `--servers FILE`: which predictor servers the user's operator is configured with.

`validate` and `new` both check `implementation` against the configured servers (the webhook refuses
an unknown one), so both take the same two options, parsed and loaded here once.
"""

from __future__ import annotations

import argparse

from fadi_seldon.cli import errors
from fadi_seldon.cli.exit_codes import ExitCode


class ServersOptionError(errors.CliError):
    """A --values or --servers file that cannot be read; the message names the option and the file."""


def add_arguments(parser: argparse._ActionsContainer) -> None:
    servers = parser.add_mutually_exclusive_group()
    servers.add_argument(
        "--values",
        metavar="FILE",
        help="your FADI values file (seldon-core-operator.predictor_servers) or operator chart values "
        "(predictor_servers): the servers it adds to or removes from the chart's defaults, merged as Helm does",
    )
    servers.add_argument(
        "--servers",
        metavar="FILE",
        help="the complete list of predictor servers your operator is configured with: a seldon-config "
        "ConfigMap, a predictor_servers map, a values file holding one, or a list of names "
        "(default: the chart's defaults)",
    )


def servers(args: argparse.Namespace) -> set[str] | None:
    """The configured server names, or None for the chart's defaults; a file that cannot be read
    raises ServersOptionError (a CliError, exit 2), which `main` reports."""
    from fadi_seldon.sdep import predictor_servers

    option, path = ("--values", args.values) if args.values else ("--servers", args.servers)
    if not path:
        return None
    read = predictor_servers.load_values_file if args.values else predictor_servers.load_servers_file
    try:
        return read(path)
    except predictor_servers.ServersFileError as err:
        raise ServersOptionError(f"{option} {err}", ExitCode.USAGE) from None


def load(args: argparse.Namespace) -> set[str] | None:
    """servers(), for a caller that returns its own exit code: the error is reported here (one line,
    JSON under -o json), then raised."""
    try:
        return servers(args)
    except ServersOptionError as err:
        errors.report(err, getattr(args, "output", None))
        raise
