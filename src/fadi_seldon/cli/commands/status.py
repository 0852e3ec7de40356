"""`fadi-seldon status NAME`: one SeldonDeployment's state, replicas, containers, URLs and warnings."""

from __future__ import annotations

import argparse

from fadi_seldon.cli import cluster_access, exit_codes, output
from fadi_seldon.cli.errors import CliError
from fadi_seldon.cli.exit_codes import ExitCode

EPILOG = """\
examples:
  fadi-seldon status iris -n models                    # state, replicas, images, URLs, warnings
  fadi-seldon status iris -n models -o json | jq -r '.urls[0].http'
  fadi-seldon status iris -n models -o json | jq -r .route_url   # the route controller's URL, if any
  fadi-seldon status iris --kubeconfig .cluster/kubeconfig

""" + exit_codes.notes(
    {
        ExitCode.OK: "the SeldonDeployment is Available",
        ExitCode.FAILED: "it is not (Creating, Failed, ...): the status says why",
        ExitCode.USAGE: "bad flags, or the cluster refuses access",
        ExitCode.NOTHING: "no cluster configured or answering, or no SeldonDeployment NAME in the namespace",
    }
)
NOT_FOUND_HINT = "list them with `kubectl get sdep -A`"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("name", metavar="NAME", help="the SeldonDeployment's name")
    parser.add_argument("-n", "--namespace", default="default", help="its namespace (default: default)")
    cluster_access.add_arguments(parser)
    output.add_output_argument(parser)


def text(result: dict) -> str:
    lines = [f"{result['namespace']}/{result['name']}: {result['state']}"]
    if result["reason"]:
        lines.append(f"  reason: {result['reason']}")
    lines.append("predictors:")
    lines += [f"  {p['name']:<16} {p['ready']}/{p['wanted']} ready" for p in result["predictors"]]
    lines.append("containers:")
    for pod in result["pods"]:
        lines.append(f"  pod {pod['pod']} ({pod['phase']})")
        for c in pod["containers"]:
            state = "ready" if c["ready"] else f"not ready{' (' + c['waiting'] + ')' if c['waiting'] else ''}"
            lines.append(f"    {c['component']:<16} {state:<28} image {c['image']} ({c['image_on_node']})")
            if c["fix"]:
                lines.append(f"      fix: {c['fix']}")
    for d in result.get("model_downloads") or []:
        lines.append(f"model download failed ({d['container']}): {d['message']}")
        lines += [f"  rclone: {d['evidence']}", f"  fix: {d['fix']}"]
    lines.append("urls:")
    if result.get("route_url"):
        lines.append(f"  through the Gateway: {result['route_url']}")
    for u in result["urls"]:
        lines.append(f"  {u['predictor']}: http {u['http'] or '-'}  grpc {u['grpc'] or '-'}")
        lines.append(f"    in the cluster: {u['in_cluster']}")
    lines.append("warnings:" if result["events"] else "warnings: none")
    lines += [f"  {e['last']} {e['object']} {e['reason']}: {e['message']}" for e in result["events"]]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from fadi_seldon import doctor
    from fadi_seldon.doctor import model_status

    cluster_access.check(args, "read")
    try:
        kubectl = doctor.Kubectl(kubeconfig=args.kubeconfig, context=args.context)
        raw = model_status.gather(kubectl, args.name, args.namespace)
    except doctor.DoctorError as err:
        raise cluster_access.error(err) from None
    except model_status.ModelNotFound as err:
        raise CliError(str(err), ExitCode.NOTHING, hint=NOT_FOUND_HINT) from None
    result = model_status.summarize(raw, model_status.node_images(args.kubeconfig))
    output.emit(result, args.output, text)
    return ExitCode.OK if result["state"] == "Available" else ExitCode.FAILED
