"""`fadi-seldon package DIR`: write the Docker build context and a SeldonDeployment for a model class.

The build context is written into DIR itself (a Docker build context must hold the model's source,
and `docker build DIR` takes it from there), so this command has no --output-file: its destination
is its input folder. What it did, file by file, is its result (`-o text|yaml|json`).
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from fadi_seldon.cli import exit_codes, output
from fadi_seldon.cli.exit_codes import ExitCode

EPILOG = exit_codes.notes(
    {
        ExitCode.OK: "written (or, with --dry-run, nothing would conflict)",
        ExitCode.FAILED: "a problem with the model (no class, a missing method, a syntax error), a file "
        "of yours would be replaced without --force, or --build failed",
        ExitCode.USAGE: "DIR is not a folder, or --image/--name is not valid",
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
    try:
        return subprocess.run([docker, "info"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def check_folder(folder: Path) -> bool:
    """DIR must be a folder (a usage error otherwise, the same for `package` and `serve`)."""
    if folder.is_dir():
        return True
    output.error(f"{folder}: not a directory")
    return False


def _check_flags(args: argparse.Namespace) -> bool:
    from fadi_seldon.sdep import graph

    if args.image and not graph.is_image(args.image):
        output.error(f"--image {args.image!r} is not an image reference (lower-case repo/name:tag)")
        return False
    try:
        if args.name:
            graph.check_dns_label(args.name, "--name", "name")
    except graph.GraphError as err:
        output.error(str(err))
        return False
    return True


def run(args: argparse.Namespace) -> int:
    from fadi_seldon.model import packaging
    from fadi_seldon.sdep.graph import GraphError

    folder = Path(args.folder)
    if not check_folder(folder) or not _check_flags(args):
        return ExitCode.USAGE
    opts = packaging.Options(
        folder, args.class_ref, args.service_type, args.image, args.name, no_engine=args.no_engine,
        runtime=args.runtime,
    )  # fmt: skip
    try:
        rendered = packaging.render(opts)
        write = packaging.plan if args.dry_run else packaging.write
        steps = write(folder, rendered.files, args.force)
    except (packaging.PackageError, GraphError) as err:
        output.error(str(err))
        return ExitCode.FAILED
    except OSError as err:
        output.error(f"cannot write into {folder}: {err.strerror or err} ({err.filename or folder})")
        return ExitCode.FAILED
    build = ["docker", "build", "-t", rendered.image, str(folder)]
    conflicts = [s.path for s in steps if s.action == "conflict"]
    if _wants_oci(args) and not conflicts and not args.dry_run:
        return _build_oci(args, rendered, steps, build)
    _report(args, rendered, steps, build)
    if conflicts:
        output.error(f"would replace {', '.join(conflicts)}; add --force to do so")
        return ExitCode.FAILED
    if args.dry_run:
        return ExitCode.OK
    return _build(args.build, build)


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
        output.error(str(err))
        return ExitCode.FAILED
    except OSError as err:
        output.error(f"cannot build the image: {err.strerror or err} ({err.filename})")
        return ExitCode.FAILED
    image = {"archive": str(built.archive), "ref": built.ref, "digest": built.digest, "size": built.size}
    code = ExitCode.OK
    if args.load:
        from fadi_seldon.localkube import node_images

        try:
            image["loaded"] = node_images.import_archive(built.archive)
        except (node_images.ImageError, OSError) as err:
            output.error(f"built {built.archive} but could not import it into the local cluster: {err}")
            code = ExitCode.FAILED
    _report(args, rendered, steps, build, image)
    return code


def _report(args: argparse.Namespace, rendered, steps, build: list[str], image: dict | None = None) -> None:
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
    }
    if image is not None:
        result["oci_image"] = image

    def text(_) -> str:
        for note in rendered.notes:
            print(f"note: {note}", file=sys.stderr)
        verb = "would write" if args.dry_run else "packaged"
        head = f"{verb} {cls.interface_name} ({args.service_type}, {cls.where()}) into {args.folder}:"
        lines = [head, *(f"  {s.action:<9} {s.path}" for s in steps)]
        if image is not None:
            lines.append(f"image {image['ref']} ({image['digest']}) in {image['archive']}")
            if "loaded" in image:
                lines.append(f"imported into the local cluster: {', '.join(image['loaded'])}")
        return "\n".join(lines)

    output.emit(result, args.output, text)


def _build(requested: bool, build: list[str]) -> int:
    if requested and docker_available():
        print(f"building: {shlex.join(build)}", file=sys.stderr)
        return ExitCode.OK if subprocess.run(build).returncode == 0 else ExitCode.FAILED
    why = "no Docker engine answers `docker info`; " if requested else ""
    print(f"{why}build the image with: {shlex.join(build)}", file=sys.stderr)
    return ExitCode.FAILED if requested else ExitCode.OK
