"""`fadi-seldon images`: every image reference the operator chart makes the cluster pull.

For mirroring into a private registry: `-o text` (the default) prints one reference per line, sorted
and unique (`fadi-seldon images -f values.yaml | xargs -n1 -I{} crane copy {} mirror/...`); `-o json`
and `-o yaml` give a list of {image, source, local_build}: source is the values key it comes from,
local_build the `fadi-seldon cluster load` option that builds the image on this machine (null if none).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fadi_seldon.cli import exit_codes, output
from fadi_seldon.cli.errors import usage
from fadi_seldon.cli.exit_codes import ExitCode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "A values file is a FADI umbrella file (the operator under `seldon-core-operator:`) or the\n"
        "operator chart's own; global.imageRegistry and digests apply as the chart renders them.\n"
        "example: fadi-seldon images -f values.yaml | xargs -n1 -I{} crane copy {} mirror.example.com/...\n\n"
        + exit_codes.notes(
            {
                ExitCode.USAGE: "a values file is missing, malformed, of the wrong shape, or has operator "
                "values the chart's schema refuses (as `fadi-seldon values check` reports them)"
            }
        )
    )
    parser.add_argument(
        "-f",
        "--values",
        action="append",
        default=[],
        metavar="VALUES",
        help="a values file (repeatable; later files override earlier ones, as with helm -f); "
        "none: the chart's defaults",
    )
    output.add_output_argument(parser)


def _text(result: list[dict[str, str]]) -> str:
    return "\n".join(sorted({r["image"] for r in result}))


def _check_files(paths: list[str]) -> None:
    """Each -f file read with positions and checked against the chart's schema (as `values check`
    does) before any image is computed: a value of the wrong type would end up in a reference."""
    from fadi_seldon.values import check
    from fadi_seldon.values import document as vf

    schema = check.load_schema()
    for path in paths:
        try:
            doc = vf.read(Path(path))
        except vf.ValuesFileError as err:  # the message starts with FILE[:LINE[:COL]]
            raise usage(str(err)) from None
        errors = check.operator_errors(doc, schema)
        if errors:
            first, more = errors[0], len(errors) - 1
            hint = f"{more} more error(s)" if more else None
            if vf.SELDON_KEY in doc.data:  # a FADI file: `values check` lists everything, with fixes
                hint = f"{hint}; " if hint else ""
                hint += f"`fadi-seldon values check -f {path}` lists every problem"
            raise usage(f"{first.path}: {first.message}", file=first.file, line=first.line, hint=hint)


def run(args: argparse.Namespace) -> int:
    from fadi_seldon.values import images

    _check_files(args.values)
    try:
        values = images.load(args.values)
    except images.ImagesError as err:  # the message starts with the file's name
        raise usage(str(err)) from None
    try:
        refs = images.references(values)
    except images.ImagesError as err:  # a key of the merged values: name the files it comes from
        raise usage(f"{', '.join(args.values) or 'the chart defaults'}: {err}") from None
    if values.umbrella and not values.enabled:
        print(
            f"note: {images.UMBRELLA_KEY}.enabled is not true: these images are pulled once it is",
            file=sys.stderr,
        )
    output.emit([_with_local_build(r.to_dict()) for r in refs], args.output, _text)
    return ExitCode.OK


def _with_local_build(item: dict) -> dict:
    """`local_build`: the `cluster load` that builds this image here (no registry needed), or null."""
    from fadi_seldon.doctor import images as image_checks
    from fadi_seldon.runtime import oci

    option = image_checks.seldon_images().get(oci.normalize_ref(item["image"]))
    return {**item, "local_build": f"fadi-seldon cluster load {option}" if option else None}
