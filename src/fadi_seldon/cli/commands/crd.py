"""`fadi-seldon crd`: print the SeldonDeployment CRD generated from the schema module."""

from __future__ import annotations

import argparse

from fadi_seldon.cli import exit_codes, output
from fadi_seldon.cli.errors import CliError, usage
from fadi_seldon.cli.exit_codes import ExitCode

EPILOG = """\
examples:
  fadi-seldon crd | kubectl apply -f -
  fadi-seldon crd -o json --compact | wc -c
  fadi-seldon crd --output-file seldondeployments.yaml
  fadi-seldon crd --chart-template

""" + exit_codes.notes(
    {
        ExitCode.OK: "printed (or written)",
        ExitCode.FAILED: "the CRD could not be built, or --output-file exists (no --force)",
        ExitCode.USAGE: "a flag without the one it needs (--compact without -o json, --force without "
        "--output-file, -o json with --chart-template), or an --output-file in no folder or read-only",
    }
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    output.add_output_argument(parser, output.DOCUMENT_FORMATS, file_hint=True)
    parser.add_argument("--compact", action="store_true", help="with -o json: one line, no spaces")
    parser.add_argument(
        "--chart-template",
        action="store_true",
        help="print the Helm template written to the chart (what `make generate` writes) instead; "
        "a template is not YAML until Helm renders it, so it has no -o json",
    )
    output.add_output_file_argument(parser, "the CRD")


def check_usage(args: argparse.Namespace) -> None:
    """Flags that would be ignored are refused: each needs another one."""
    if args.compact and (args.output != "json" or args.chart_template):
        raise usage("--compact needs -o json (it prints the JSON on one line)")
    if args.chart_template and args.output == "json":
        raise usage("--chart-template prints a Helm template (text with {{ }}), not JSON; drop -o json")
    output.check_output_file_arguments(args)


def run(args: argparse.Namespace) -> int:
    from fadi_seldon.sdep import crd, k8s_openapi

    check_usage(args)
    try:
        if args.chart_template:
            text = crd.chart_template()
        else:
            text = output.render(crd.build(), args.output, compact=args.compact)
    except k8s_openapi.KubernetesSchemaError as err:
        raise CliError(str(err)) from None
    return output.deliver(text, args.output_file, args.force)
