"""`fadi-seldon package DIR`: write the Docker build context and a SeldonDeployment for a model class.

The build context is written into DIR itself (a Docker build context must hold the model's source,
and `docker build DIR` takes it from there), so this command has no --output-file: its destination
is its input folder. What it did, file by file, is its result (`-o text|yaml|json`).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from fadi_seldon.cli import exit_codes, output
from fadi_seldon.cli.errors import CliError, usage
from fadi_seldon.cli.exit_codes import ExitCode

EPILOG = """\
examples:
  fadi-seldon package examples/iris-model --dry-run
  fadi-seldon package examples/iris-model --image fadi-seldon/iris:0.1.0 --build
  fadi-seldon package examples/iris-model --no-engine --load       # into the local cluster's node
  fadi-seldon package examples/components/router --service-type ROUTER -o json
  fadi-seldon package examples/sklearn-iris/runtime --runtime mlserver

""" + exit_codes.notes(
    {
        ExitCode.OK: "written (or, with --dry-run, what would be written listed)",
        ExitCode.FAILED: "a problem with the model (no class, a missing method, a syntax error), a file "
        "of yours would be replaced without --force, or the build or the import failed",
        ExitCode.USAGE: "DIR is not a folder, --image/--name is not valid, or --dry-run with "
        "--build/--load/--archive (which it would skip)",
        ExitCode.NOTHING: "--load with no real node running (nothing is built then)",
    }
)


def add_model_arguments(parser: argparse.ArgumentParser, folder_help: str, optional: bool = False) -> None:
    """The model folder, class and service type: the same for `package` and `serve`."""
    from fadi_seldon.model import packaging

    parser.add_argument("folder", metavar="DIR", nargs="?" if optional else None, help=folder_help)
    parser.add_argument(
        "--class", dest="class_ref", metavar="NAME", help="Module or module.Class (default: detect)"
    )
    parser.add_argument(
        "--service-type",
        choices=tuple(packaging.SERVICE_TYPES),
        default="MODEL",
        help="component type (MODEL)",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    add_model_arguments(parser, "folder holding the model module (and requirements.txt)")
    parser.add_argument(
        "--runtime",
        choices=("seldon", "mlserver"),
        default="seldon",
        help="seldon: the Seldon Python wrapper (protocol seldon, default); mlserver: a custom MLServer "
        "runtime, a class subclassing mlserver.MLModel (protocol v2, model-settings.json)",
    )
    parser.add_argument("--image", metavar="REPO:TAG", help="image name for the build and deployment.yaml")
    parser.add_argument("--name", help="deployment and graph node name (default: from the class name)")
    parser.add_argument(
        "--no-engine",
        action="store_true",
        help='deployment.yaml\'s predictor gets seldon.io/no-engine: "true": the model pod runs without the '
        "Seldon executor (needed on the local real node: the executor image cannot be built or pulled here)",
    )
    parser.add_argument("--dry-run", action="store_true", help="list what would be written, write nothing")
    parser.add_argument(
        "--force", action="store_true", help="replace files you wrote or edited (FILE.bak kept)"
    )
    parser.add_argument(
        "--build",
        action="store_true",
        help="build the image: `docker build` when a Docker engine answers, else an OCI archive built "
        "without Docker (the same image: base, dependencies, /app, user, env, command)",
    )
    parser.add_argument(
        "--load",
        action="store_true",
        help="build the OCI archive (even with docker installed) and import it into the local cluster's node",
    )
    parser.add_argument(
        "--archive",
        metavar="PATH",
        help="where the OCI archive goes (implies the build without Docker; default: "
        "<tools>/images/models/<image>.oci.tar, outside DIR so docker never sends it as context)",
    )
    output.add_output_argument(parser)


def check_folder(folder: Path) -> None:
    """DIR must be a folder (a usage error otherwise, the same for `package` and `serve`)."""
    if not folder.is_dir():
        raise usage(f"{folder}: {'not a directory' if folder.exists() else 'no such folder'}")


def _check_flags(args: argparse.Namespace) -> None:
    from fadi_seldon.sdep import graph

    building = [
        f for f, on in (("--build", args.build), ("--load", args.load), ("--archive", args.archive)) if on
    ]
    if args.dry_run and building:
        raise usage(f"{building[0]} builds an image; --dry-run writes and builds nothing (drop one of them)")
    if args.image and not graph.is_image(args.image):
        raise usage(f"--image {args.image!r} is not an image reference (lower-case repo/name:tag)")
    try:
        if args.name:
            graph.check_dns_label(args.name, "--name", "name")
    except graph.GraphError as err:
        raise usage(str(err)) from None


def run(args: argparse.Namespace) -> int:
    from fadi_seldon.localkube.node_images import PackagingSteps
    from fadi_seldon.model import package_build, packaging

    folder = Path(args.folder)
    check_folder(folder)
    _check_flags(args)
    options = packaging.Options(
        folder, args.class_ref, args.service_type, args.image, args.name, no_engine=args.no_engine,
        runtime=args.runtime,
    )  # fmt: skip
    request = package_build.Request(
        options, dry_run=args.dry_run, force=args.force, build=args.build, load=args.load,
        archive=Path(args.archive) if args.archive else None,
    )  # fmt: skip
    try:
        done = package_build.package(request, PackagingSteps(), lambda line: print(line, file=sys.stderr))
    except package_build.NothingToLoad as err:
        raise CliError(str(err), ExitCode.NOTHING) from None
    except package_build.ImageFailed as err:
        raise CliError(str(err), details=err.details) from None
    except packaging.PackageError as err:
        raise CliError(str(err)) from None
    _report(args, done)
    # a dry run: a file of yours in the way is a finding, the real run would refuse (exit 1)
    return ExitCode.FAILED if args.dry_run and done.conflicts else ExitCode.OK


def _report(args: argparse.Namespace, done) -> None:
    """The result: the class, each file's fate, the build command and the image built."""
    rendered, image = done.rendered, done.image
    cls = rendered.model
    result = {
        "class": cls.interface_name,
        "file": str(cls.file),
        "line": cls.line,
        "service_type": args.service_type,
        "runtime": args.runtime,
        "image": rendered.image,
        "dry_run": args.dry_run,
        "files": [{"path": s.path, "action": s.action} for s in done.files],
        "notes": rendered.notes,
        "build_command": shlex.join(done.build_command),
        "built": done.built,
    }
    if image is not None:
        result["oci_image"] = image

    def text(_) -> str:
        for note in rendered.notes:
            print(f"note: {note}", file=sys.stderr)
        verb = "would write" if args.dry_run else "packaged"
        head = f"{verb} {cls.interface_name} ({args.service_type}, {cls.where()}) into {args.folder}:"
        lines = [head, *(f"  {s.action:<9} {s.path}" for s in done.files)]
        if done.conflicts:
            lines.append(f"would replace {', '.join(done.conflicts)}: yours; add --force to do so")
        if image is not None:
            lines.append(f"image {image['ref']} ({image['digest']}) in {image['archive']}")
            if "loaded" in image:
                lines.append(f"imported into the local cluster: {', '.join(image['loaded'])}")
        return "\n".join(lines)

    output.emit(result, args.output, text)
