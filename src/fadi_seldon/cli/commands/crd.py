"""`fadi-seldon crd`: print the SeldonDeployment CRD generated from the schema module."""

from __future__ import annotations

import argparse
import sys

HELP = "print the SeldonDeployment CRD generated from the schema"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--output",
        "-o",
        choices=("yaml", "json"),
        default="yaml",
        help="yaml (default, for kubectl apply -f -) or json",
    )
    parser.add_argument("--compact", action="store_true", help="with --output json: one line, no spaces")
    parser.add_argument(
        "--chart-template",
        action="store_true",
        help="print the Helm template written to the chart (what `make generate` writes) instead",
    )


def run(args: argparse.Namespace) -> int:
    from fadi_seldon.sdep import crd, k8s_openapi

    try:
        if args.chart_template:
            text = crd.chart_template()
        elif args.output == "json":
            text = crd.to_json(crd.build(), compact=args.compact) + ("\n" if args.compact else "")
        else:
            text = crd.to_yaml(crd.build())
    except k8s_openapi.KubernetesSchemaError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    sys.stdout.write(text)
    return 0
