"""`fadi-seldon upload DIR s3://BUCKET/PATH`: a trained model where a prepackaged server fetches it.

The domain (fadi_seldon.model.upload) checks the inputs and runs rclone; this module parses the
flags, finds the keys (the environment, or the cluster's rclone Secret read with kubectl) and prints.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from fadi_seldon.cli import cluster_access, exit_codes, output
from fadi_seldon.cli.errors import CliError, usage
from fadi_seldon.cli.exit_codes import ExitCode

EPILOG = """\
keys: from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or from the cluster's rclone Secret
(--secret NAME: its RCLONE_CONFIG_S3_* keys, and its endpoint unless --endpoint is given); never
from the command line, where shell history and `ps` would keep them.

examples:
  export AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=...
  fadi-seldon upload model/ s3://models/iris/v1 --endpoint http://127.0.0.1:9000
  fadi-seldon upload model/ s3://models/iris/v1 --secret seldon-rclone-secret -n models \\
      --endpoint http://127.0.0.1:9000     # the Secret's keys; the store port-forwarded here
  fadi-seldon upload model/ s3://models/iris/v1 --endpoint http://127.0.0.1:9000 --dry-run
  fadi-seldon upload --print-secret seldon-rclone-secret -n models \\
      --endpoint http://minio.fadi.svc.cluster.local:9000 | kubectl apply -f -
  fadi-seldon upload model/ s3://models/iris/v1 --endpoint http://127.0.0.1:9000 -o json | jq -r .modelUri

""" + exit_codes.notes(
    {
        ExitCode.OK: "uploaded and every file checked at the destination (or --dry-run, --print-secret)",
        ExitCode.FAILED: "rclone failed or is not installed, or a file is not at the destination as here",
        ExitCode.USAGE: "bad flags, a missing or empty DIR, a URI that is not s3://BUCKET/PATH, no keys, "
        "the store refusing the keys, an unusable Secret, or the cluster refusing access",
        ExitCode.NOTHING: "the object store does not answer at the endpoint, no cluster for --secret, "
        "or no such Secret",
    }
)
EXIT = {
    "usage": ExitCode.USAGE,
    "refused": ExitCode.USAGE,
    "unreachable": ExitCode.NOTHING,
    "not-found": ExitCode.NOTHING,
    "failed": ExitCode.FAILED,
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("dir", nargs="?", metavar="DIR", help="the folder the trained model was saved in")
    parser.add_argument(
        "uri", nargs="?", metavar="URI", help="where it goes: s3://BUCKET/PATH, the node's modelUri"
    )
    parser.add_argument(
        "--endpoint",
        metavar="URL",
        help="the S3 endpoint: FADI's MinIO or the local object store (default: the --secret's)",
    )
    parser.add_argument(
        "--secret", metavar="NAME", help="take the keys from this rclone Secret (RCLONE_CONFIG_S3_*)"
    )
    parser.add_argument(
        "-n", "--namespace", metavar="NS", help="the Secret's namespace (default: kubectl's current one)"
    )
    parser.add_argument(
        "--provider",
        metavar="P",
        help="rclone's S3 provider: Other (default, or the Secret's), Minio, AWS or Ceph",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="check and say what would be uploaded; upload nothing"
    )
    parser.add_argument(
        "--print-secret",
        metavar="NAME",
        help="print (not apply) a Secret NAME in upstream's rclone form for --endpoint with the keys of the "
        "environment, for envSecretRefName; uploads nothing",
    )
    cluster_access.add_arguments(parser)
    output.add_output_argument(parser)


def check_usage(args: argparse.Namespace) -> None:
    """Each flag with what it needs; one that would be ignored is refused."""
    if args.print_secret:
        given = [
            f
            for f, on in (("DIR and URI", args.dir), ("--secret", args.secret), ("--dry-run", args.dry_run))
            if on
        ]
        if given:
            raise usage(f"--print-secret prints a Secret and uploads nothing: drop {', '.join(given)}")
        if not args.endpoint:
            raise usage("--print-secret needs --endpoint URL: the store as the cluster's pods reach it")
    elif not args.uri:
        raise usage("give DIR and s3://BUCKET/PATH (or --print-secret NAME)")
    if not args.secret:
        for flag, value in (("--kubeconfig", args.kubeconfig), ("--context", args.context)):
            if value:
                raise usage(f"{flag} goes with --secret NAME (the cluster the Secret is read from)")
        if args.namespace and not args.print_secret:
            raise usage("-n/--namespace goes with --secret NAME or --print-secret NAME")


def text(result: dict) -> str:
    """The result for a person: what went where, the graph node's two fields, the next commands."""
    if result.get("kind") == "Secret":
        return output.render(result, "yaml")
    done = "uploaded" if result["uploaded"] else "would upload (--dry-run)"
    from fadi_seldon.model.upload import human

    lines = [
        f"{done} {result['file_count']} files ({human(result['bytes'])}) from {result['source']}",
        f"  to {result['modelUri']} at {result['endpoint']}, keys from {result['credentials']}",
    ]
    width = max(len(f["path"]) for f in result["files"])
    lines += [f"    {f['path']:<{width}}  {human(f['bytes']):>10}" for f in result["files"]]
    if result["extra_files"]:
        lines.append(f"  also there, not in the folder: {', '.join(result['extra_files'])}")
    lines.append("graph node:")
    lines.append(f"  modelUri: {result['modelUri']}")
    lines.append(f"  envSecretRefName: {result['envSecretRefName'] or '(a Secret to create: next)'}")
    lines.append("next:")
    lines += [f"  {step}" for step in result["next"]]
    return "\n".join(lines)


def _credentials(args: argparse.Namespace):
    """The keys: the --secret's, read with kubectl as `status` and `logs` read the cluster, or the
    environment's."""
    from fadi_seldon.model import upload

    if not args.secret:
        return upload.environment_credentials(os.environ)
    from fadi_seldon import doctor

    cluster_access.check(args, "read the Secret from")
    try:
        kubectl = doctor.Kubectl(kubeconfig=args.kubeconfig, context=args.context)
        return upload.secret_credentials(kubectl, args.secret, args.namespace)
    except doctor.DoctorError as err:
        raise cluster_access.error(err) from None


def _print_secret(args: argparse.Namespace) -> dict:
    from fadi_seldon.model import upload

    manifest = upload.secret_manifest(
        args.print_secret,
        args.namespace,
        args.endpoint,
        upload.environment_credentials(os.environ),
        args.provider,
    )
    if upload.loopback(args.endpoint):
        print(
            f"warning: the initializer runs in a pod, where {args.endpoint} is the pod itself: give the "
            "endpoint as the cluster reaches the store (http://minio.fadi.svc.cluster.local:9000)",
            file=sys.stderr,
        )
    return manifest


def run(args: argparse.Namespace) -> int:
    check_usage(args)
    from fadi_seldon.model import upload

    try:
        if args.print_secret:
            output.emit(_print_secret(args), args.output, text)
            return ExitCode.OK
        plan = upload.plan(Path(args.dir), args.uri, lambda: _credentials(args), args.endpoint, args.provider)
        # --dry-run: every check but the store's, nothing run
        result = plan.result(uploaded=False) if args.dry_run else upload.upload(plan, upload.find_rclone())
    except upload.UploadError as err:
        raise CliError(str(err), EXIT[err.kind], hint=err.hint) from None
    output.emit(result, args.output, text)
    return ExitCode.OK
