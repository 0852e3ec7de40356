"""`fadi-seldon completion bash|zsh`: print a completion script generated from the command table."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from fadi_seldon.cli.completion import SHELLS

    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "examples:\n"
        "  source <(fadi-seldon completion bash)      # this shell\n"
        '  fadi-seldon completion zsh > "${fpath[1]}/_fadi-seldon"\n'
    )
    parser.add_argument("shell", choices=tuple(SHELLS), help="the shell to complete for")


def run(args: argparse.Namespace) -> int:
    from fadi_seldon.cli import build_parser
    from fadi_seldon.cli.completion import script
    from fadi_seldon.cli.exit_codes import ExitCode

    sys.stdout.write(script(args.shell, build_parser(full=True)))
    return ExitCode.OK
