"""`fadi-seldon package DIR`: write the Docker build context and a SeldonDeployment for a model class.

The build context is written into DIR itself (a Docker build context must hold the model's source,
and `docker build DIR` takes it from there), so this command has no --output-file: its destination
is its input folder. What it did, file by file, is its result (`-o text|yaml|json`).
"""

from __future__ import annotations

import argparse
import shlex
import shutil
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


def docker_available() -> bool:
    docker = shutil.which("docker")
    if not docker:
        return False
    from fadi_seldon.runtime import commands

    try:
        return commands.run([docker, "info"], timeout=20).ok
    except (OSError, commands.TimeoutExpired):
        return False


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
    from fadi_seldon.model import packaging
    from fadi_seldon.sdep.graph import GraphError

    folder = Path(args.folder)
    check_folder(folder)
    _check_flags(args)
    if args.load:  # before any work: an image that could not go anywhere is not built
        from fadi_seldon.localkube import node_images

        try:
            node_images.check_node()
        except node_images.NoNode as err:
            raise CliError(str(err), ExitCode.NOTHING) from None
    opts = packaging.Options(
        folder, args.class_ref, args.service_type, args.image, args.name, no_engine=args.no_engine,
        runtime=args.runtime,
    )  # fmt: skip
    try:
        rendered = packaging.render(opts)
        write = packaging.plan if args.dry_run else packaging.write
        steps = write(folder, rendered.files, args.force)
    except (packaging.PackageError, GraphError) as err:
        raise CliError(str(err)) from None
    except OSError as err:
        raise CliError(
            f"cannot write into {folder}: {err.strerror or err} ({err.filename or folder})"
        ) from None
    build = ["docker", "build", "-t", rendered.image, str(folder)]
    if args.dry_run:  # a file of yours in the way is a finding: the real run would refuse (exit 1)
        _report(args, rendered, steps, build)
        return ExitCode.FAILED if any(s.action == "conflict" for s in steps) else ExitCode.OK
    if _wants_oci(args):
        return _build_oci(args, rendered, steps, build)
    built = _build(args.build, build)
    _report(args, rendered, steps, build, built=built)
    return ExitCode.OK


def _wants_oci(args: argparse.Namespace) -> bool:
    """The build without Docker: asked for (--load, --archive), or --build where no Docker engine answers."""
    return bool(args.load or args.archive or (args.build and not docker_available()))


def _build_oci(args: argparse.Namespace, rendered, steps, build: list[str]) -> int:
    """Build the OCI archive, import it when --load, then report (so -o json holds the image too)."""
    from fadi_seldon import images
    from fadi_seldon.images import model as model_image

    try:
        built = model_image.build(
            Path(args.folder), rendered.image, class_ref=args.class_ref, service_type=args.service_type,
            name=args.name, archive=Path(args.archive) if args.archive else None, runtime=args.runtime,
        )  # fmt: skip
    except images.ImageError as err:
        raise CliError(str(err)) from None
    except OSError as err:
        raise CliError(f"cannot build the image: {err.strerror or err} ({err.filename})") from None
    image = {"archive": str(built.archive), "ref": built.ref, "digest": built.digest, "size": built.size}
    if args.load:
        from fadi_seldon.localkube import node_images

        try:
            image["loaded"] = node_images.import_archive(built.archive)
        except (node_images.ImageError, OSError) as err:
            raise CliError(
                f"built {built.archive} but could not import it into the local cluster: {err}",
                details={"oci_image": image},
            ) from None
    _report(args, rendered, steps, build, image)
    return ExitCode.OK


def _report(
    args: argparse.Namespace,
    rendered,
    steps,
    build: list[str],
    image: dict | None = None,
    built: bool = False,
) -> None:
    cls = rendered.model
    result = {
        "class": cls.interface_name,
        "file": str(cls.file),
        "line": cls.line,
        "service_type": args.service_type,
        "runtime": args.runtime,
        "image": rendered.image,
        "dry_run": args.dry_run,
        "files": [{"path": s.path, "action": s.action} for s in steps],
        "notes": rendered.notes,
        "build_command": shlex.join(build),
        "built": built or image is not None,
    }
    if image is not None:
        result["oci_image"] = image

    def text(_) -> str:
        for note in rendered.notes:
            print(f"note: {note}", file=sys.stderr)
        verb = "would write" if args.dry_run else "packaged"
        head = f"{verb} {cls.interface_name} ({args.service_type}, {cls.where()}) into {args.folder}:"
        lines = [head, *(f"  {s.action:<9} {s.path}" for s in steps)]
        conflicts = [s.path for s in steps if s.action == "conflict"]
        if conflicts:
            lines.append(f"would replace {', '.join(conflicts)}: yours; add --force to do so")
        if image is not None:
            lines.append(f"image {image['ref']} ({image['digest']}) in {image['archive']}")
            if "loaded" in image:
                lines.append(f"imported into the local cluster: {', '.join(image['loaded'])}")
        return "\n".join(lines)

    output.emit(result, args.output, text)


def _build(requested: bool, build: list[str]) -> bool:
    """`docker build` when asked for (run only where an engine answers: otherwise the build goes
    without Docker); its output goes to stderr, stdout holds the result. Not asked for: the command
    to run. True when an image was built."""
    if not requested:
        print(f"build the image with: {shlex.join(build)}", file=sys.stderr)
        return False
    from fadi_seldon.runtime import commands

    print(f"building: {shlex.join(build)}", file=sys.stderr)
    code = commands.run(build, show=True).code  # on stderr: docker's progress is not the result
    if code != 0:
        raise CliError(f"`{shlex.join(build)}` failed (exit {code}); docker's output is above")
    return True
