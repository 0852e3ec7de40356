"""`fadi-seldon crd`: print the SeldonDeployment CRD generated from the schema module."""

from __future__ import annotations

import argparse

from fadi_seldon.cli import output
from fadi_seldon.cli.errors import usage
from fadi_seldon.cli.exit_codes import ExitCode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    output.add_output_argument(parser, output.DOCUMENT_FORMATS, file_hint=True)
    parser.add_argument("--compact", action="store_true", help="with -o json: one line, no spaces")
    parser.add_argument(
        "--chart-template",
        action="store_true",
        help="print the Helm template written to the chart (what `make generate` writes) instead",
    )
    output.add_output_file_argument(parser, "the CRD")


def run(args: argparse.Namespace) -> int:
    from fadi_seldon.sdep import crd, k8s_openapi

    if args.compact and (args.output != "json" or args.chart_template):
        raise usage("--compact needs -o json (it prints the JSON on one line)")
    try:
        if args.chart_template:
            text = crd.chart_template()
        else:
            text = output.render(crd.build(), args.output, compact=args.compact)
    except k8s_openapi.KubernetesSchemaError as err:
        output.error(str(err))
        return ExitCode.FAILED
    return output.deliver(text, args.output_file, args.force)
