"""`fadi-seldon package DIR`: write the Docker build context and a SeldonDeployment for a model class."""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from fadi_seldon.model import packaging
from fadi_seldon.sdep.graph import GraphError

HELP = "write a Docker build context for a Python model"


def add_model_arguments(parser: argparse.ArgumentParser, folder_help: str) -> None:
    """The model folder, class and service type: the same for `package` and `serve`."""
    parser.add_argument("folder", metavar="DIR", help=folder_help)
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
    add_model_arguments(parser, "folder holding the model module (and requirements.txt)")
    parser.add_argument("--image", metavar="REPO:TAG", help="image name for the build and deployment.yaml")
    parser.add_argument("--name", help="deployment and graph node name (default: from the class name)")
    parser.add_argument("--dry-run", action="store_true", help="list what would be written, write nothing")
    parser.add_argument(
        "--force", action="store_true", help="replace files you wrote or edited (FILE.bak kept)"
    )
    parser.add_argument(
        "--build", action="store_true", help="run `docker build` when a Docker engine answers"
    )
    parser.add_argument("--output", choices=("text", "json"), default="text")


def docker_available() -> bool:
    docker = shutil.which("docker")
    if not docker:
        return False
    try:
        return subprocess.run([docker, "info"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def run(args: argparse.Namespace) -> int:
    folder = Path(args.folder)
    opts = packaging.Options(folder, args.class_ref, args.service_type, args.image, args.name)
    try:
        rendered = packaging.render(opts)
        files, cls, notes, image = rendered.files, rendered.model, rendered.notes, rendered.image
        steps = (
            packaging.plan(folder, files, args.force)
            if args.dry_run
            else packaging.write(folder, files, args.force)
        )
    except (packaging.PackageError, GraphError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(
            f"error: cannot write into {folder}: {err.strerror or err} ({err.filename or folder})",
            file=sys.stderr,
        )
        return 1
    build = ["docker", "build", "-t", image, str(folder)]
    if args.output == "json":
        report = {
            "class": cls.interface_name,
            "file": str(cls.file),
            "line": cls.line,
            "service_type": args.service_type,
            "image": image,
            "dry_run": args.dry_run,
            "files": [{"path": s.path, "action": s.action} for s in steps],
            "notes": notes,
            "build_command": shlex.join(build),
        }
        print(json.dumps(report, indent=2))
    else:
        verb = "would write" if args.dry_run else "packaged"
        print(f"{verb} {cls.interface_name} ({args.service_type}, {cls.where()}) into {folder}:")
        for s in steps:
            print(f"  {s.action:<9} {s.path}")
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
    conflicts = [s.path for s in steps if s.action == "conflict"]
    if conflicts:
        print(f"error: would replace {', '.join(conflicts)}; add --force to do so", file=sys.stderr)
        return 1
    if args.dry_run:
        return 0
    if args.build and docker_available():
        print(f"building: {shlex.join(build)}", file=sys.stderr)
        return subprocess.run(build).returncode
    why = "no Docker engine answers `docker info`; " if args.build else ""
    print(f"{why}build the image with: {shlex.join(build)}", file=sys.stderr)
    return 1 if args.build else 0
