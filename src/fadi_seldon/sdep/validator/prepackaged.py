"""Prepackaged servers as the operator runs them: an image for the deployment's protocol, and a
modelUri the storage initializer can fetch.

The webhook admits all of these. The operator then picks the server's image by `spec.protocol`
(controllers/seldondeployment_prepackaged_servers.go: PrepackImageName, or MLServer's image for v2):
a server with no image for that protocol gets a container without one, which the API server refuses,
or no MLServer image at all, and the SeldonDeployment ends `Failed` (server-protocol). For the model,
it adds an init container running `rclone copy <modelUri> /mnt/models` (model_initializer_injector.go)
whose only configuration is its environment: upstream's image configures the remote `gs` (anonymous
Google Cloud Storage), and any other remote (`s3://`, `minio:`) exists only if a Secret gives its
RCLONE_CONFIG_<REMOTE>_* variables, through the node's envSecretRefName or the chart's
predictiveUnit.defaultEnvSecretRefName (model-uri-secret); an http(s) URL is not an rclone remote at
all (model-uri-url); `pvc://CLAIM/path` mounts the claim CLAIM, which must be a name a claim can
have (model-uri-pvc). Those two fail only in the pod: the init container exits with rclone's
"didn't find section in config file", and the pod never starts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from fadi_seldon.sdep import predictor_servers
from fadi_seldon.sdep.validator.extra import DNS_1123_SUBDOMAIN, MODEL_URI, is_placeholder
from fadi_seldon.sdep.validator.structural import Issue
from fadi_seldon.sdep.validator.webhook import (
    as_dict,
    as_str,
    containers,
    is_prepackaged,
    predictors,
    walk_graph,
)

# remotes upstream's initializer image configures itself (ENV RCLONE_CONFIG_GS_*: anonymous GCS)
BUILT_IN_REMOTES = frozenset({"gs"})
PVC = "pvc://"
# the operator ends Failed on these (a Deployment it cannot build or the API server refuses)
FAILED_LATER = frozenset({"server-protocol", "model-uri-pvc"})


def check(obj: dict, servers: set[str]) -> list[Issue]:
    out: list[Issue] = []
    spec = as_dict(obj.get("spec"))
    protocol = as_str(spec.get("protocol")) or "seldon"
    for i, predictor in predictors(obj):
        base = ("spec", "predictors", i)
        imaged = {
            as_str(c.get("name")) for c, _ in containers(predictor) if as_str(c.get("image"))
        }  # nodes whose container brings its own image: the operator keeps it
        for node, path, _ in walk_graph(predictor.get("graph"), (*base, "graph")):
            impl = as_str(node.get("implementation"))
            if is_prepackaged(impl) and impl in servers and as_str(node.get("name")) not in imaged:
                out.extend(_check_protocol(impl, protocol, path))
            out.extend(_check_uri(node, path))
        explainer = predictor.get("explainer")
        if isinstance(explainer, dict):
            out.extend(_check_uri(explainer, (*base, "explainer")))
    return out


def _check_protocol(impl: str, protocol: str, path: tuple) -> Iterator[Issue]:
    """The chart's default servers each have images for some protocols only. (The webhook already
    refuses the tensorflow protocol for the servers it knows cannot speak it: not said twice.)"""
    protocols = predictor_servers.image_protocols(impl)
    if protocols is None or protocol in protocols:
        return
    if protocol == "tensorflow" and impl in predictor_servers.NO_TENSORFLOW_PROTOCOL:
        return
    serves = ", ".join(sorted(protocols))
    yield Issue(
        (*path, "implementation"),
        "server-protocol",
        f"{impl} has no image for protocol {protocol} (it serves: {serves}) in the chart's predictor_servers: "
        "the operator gives its container no image and the SeldonDeployment ends Failed; set spec.protocol "
        f"to one of those, or use another server",
    )


def _check_uri(unit: dict, path: tuple) -> Iterator[Issue]:
    """A modelUri as the rclone initializer takes it (a graph node's or an explainer's)."""
    uri = unit.get("modelUri")
    if not isinstance(uri, str) or not uri or is_placeholder(uri) or not MODEL_URI.match(uri):
        return  # none, a template's, or no scheme at all (model-uri-scheme)
    where = (*path, "modelUri")
    if uri.lower().startswith(("http://", "https://")):
        yield Issue(
            where,
            "model-uri-url",
            f'modelUri "{uri}" is a URL, but the storage initializer runs `rclone copy` on it, which takes '
            "remote:path and has no remote named http(s): the init container fails (\"didn't find section in "
            'config file"). Put the model in an object store (s3://BUCKET/PATH, `fadi-seldon upload`) or a '
            "volume (pvc://CLAIM/PATH)",
        )
    elif uri.startswith(PVC):
        yield from _check_claim(uri, where)
    else:
        remote = re.split(r"://|:", uri, maxsplit=1)[0]
        if remote.lower() not in BUILT_IN_REMOTES and not as_str(unit.get("envSecretRefName")):
            writes = (
                " (`fadi-seldon upload --print-secret NAME` writes one)" if remote.lower() == "s3" else ""
            )
            yield Issue(
                (*path, "envSecretRefName") if "envSecretRefName" in unit else where,
                "model-uri-secret",
                f'modelUri "{uri}" is read by the storage initializer (rclone) through its remote "{remote}", '
                f"which exists only if a Secret gives RCLONE_CONFIG_{remote.upper()}_* variables: set "
                f"envSecretRefName to that Secret{writes}, unless the chart's "
                "predictiveUnit.defaultEnvSecretRefName names it for every node",
            )


def _check_claim(uri: str, where: tuple) -> Iterator[Issue]:
    """`pvc://CLAIM[/PATH]`: the operator mounts the claim CLAIM into the pod (parsePvcURI)."""
    claim = uri[len(PVC) :].split("/", 1)[0]
    if claim and len(claim) <= 253 and DNS_1123_SUBDOMAIN.match(claim):
        return
    why = (
        "names no claim: the API server refuses the Deployment (persistentVolumeClaim.claimName: Required "
        "value)"
        if not claim
        else f'names the claim "{claim}", a name no PersistentVolumeClaim can have: the pod waits for it '
        "until the Deployment's progress deadline"
    )
    yield Issue(
        where,
        "model-uri-pvc",
        f'modelUri "{uri}" {why}, and the SeldonDeployment ends Failed; write pvc://CLAIM/PATH with the '
        "claim's name (lower-case letters, digits, '-' and '.')",
    )
