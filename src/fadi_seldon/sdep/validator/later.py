"""Pod-template checks: what the API server (Kubernetes v1.36) refuses on the operator's Deployments.

The CRD keeps componentSpecs[].spec open, so a SeldonDeployment whose pod spec is invalid is
accepted; the operator then builds its Deployments (operator_objects), the API server refuses them
and the SeldonDeployment ends `status.state: Failed`. These checks repeat, on the rebuilt pod
templates, the rules of pkg/apis/core/validation/validation.go that a user's spec can break, with
the API server's wording. Only rules the API server enforces are here (its warnings, e.g. repeated
env names, are not), so that a finding means the operator will fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fadi_seldon.sdep import operator_objects, quantity
from fadi_seldon.sdep.validator.extra import DNS_1123_LABEL, is_placeholder
from fadi_seldon.sdep.validator.structural import Issue
from fadi_seldon.sdep.validator.webhook import (
    as_dict,
    as_list,
    as_str,
    containers,
    is_prepackaged,
    predictors,
    walk_graph,
)

RULES = frozenset(
    {
        "pod-volume-mount",
        "pod-duplicate-container",
        "pod-duplicate-volume",
        "pod-volume-name",
        "pod-port-name",
        "pod-duplicate-port-name",
        "pod-env-name",
        "pod-requests-above-limits",
        "pod-probe-handlers",
        "pod-duplicate-mount-path",
        "pod-container-image",
        "engine-placement",
    }
)
PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
PROBE_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")


def check(obj: dict) -> list[Issue]:
    engines: dict[int, str | None] = {}
    pods = operator_objects.pod_templates(obj, engines)
    out: list[Issue] = [*_check_engine_placement(engines), *_check_images(obj)]
    for pod in pods:
        out.extend(_check_container_names(pod))
        out.extend(_check_volumes(pod))
        defined = pod.volume_names()
        for container in (*pod.containers, *pod.init_containers):
            out.extend(_check_mounts(pod, container, defined))
            if container.path is not None:
                out.extend(_check_user_container(container))
    return out


def _check_engine_placement(engines: dict[int, str | None]) -> Iterator[Issue]:
    """The executor goes into the pod of the node defaulting marks `localhost` (componentSpecs[0]);
    with none, the operator stops: "engine not separate and no pu with localhost service".
    `engines`: the executor's node per predictor where it runs in a model pod (pod_templates)."""
    for i, engine in engines.items():
        if engine is None:
            yield Issue(
                ("spec", "predictors", i, "componentSpecs"),
                "engine-placement",
                "the operator will fail: engine not separate and no pu with localhost service - not clear "
                "where to inject engine. Put the container of a graph node in componentSpecs[0] (and in no "
                "later componentSpec), or give the executor its own pod (annotation "
                f'{operator_objects.SEPARATE_ENGINE}: "true" in spec.annotations)',
            )


def _check_images(obj: dict) -> Iterator[Issue]:
    """A container without an image is refused (`image: Required value`), unless the operator fills
    it in: the container of a prepackaged-server node gets the server's image."""
    for i, predictor in predictors(obj):
        served = {
            as_str(node.get("name"))
            for node, _, _ in walk_graph(predictor.get("graph"), ())
            if is_prepackaged(as_str(node.get("implementation")))
        }
        for container, path in containers(predictor):
            name = as_str(container.get("name"))
            if not as_str(container.get("image")) and name not in served and not is_placeholder(name):
                yield Issue(
                    ("spec", "predictors", i, *path, "image"),
                    "pod-container-image",
                    f"the API server will refuse the Deployment: containers[].image: Required value; give "
                    f"container {name!r} an image, or make it a prepackaged-server node of the graph",
                )


def _name(value: Any) -> str:
    """A name worth checking: a non-empty string no template engine fills in later."""
    return value if isinstance(value, str) and value and not is_placeholder(value) else ""


def _anchor(current: Any, first: Any, field: str) -> tuple | None:
    """Path of the user's element of a colliding pair (None when the operator added both)."""
    for element in (current, first):
        if element.path is not None:
            return (*element.path, field)
    return None


def _duplicates(
    pod: operator_objects.PodTemplate, named: list, rule: str, kind: str, fix: str
) -> Iterator[Issue]:
    """`Duplicate value` on the second of two elements (containers, volumes) sharing a name; the
    finding points at the user's one when the operator added the other."""
    seen: dict[str, Any] = {}
    for name, element in named:
        first = seen.setdefault(name, element)
        if first is element:
            continue
        path = _anchor(element, first, "name")
        if path is not None:
            added = "" if element.path and first.path else f" (the operator adds a {kind} of that name)"
            yield Issue(
                path,
                rule,
                f'the API server will refuse Deployment {pod.deployment}: Duplicate value: "{name}"{added}; {fix}',
            )


def _check_container_names(pod: operator_objects.PodTemplate) -> Iterator[Issue]:
    """validateContainers/validateInitContainers: names unique across containers and initContainers."""
    named = [(_name(c.name), c) for c in (*pod.containers, *pod.init_containers) if _name(c.name)]
    fix = "give every container and init container of a pod its own name"
    yield from _duplicates(pod, named, "pod-duplicate-container", "container", fix)


def _check_volumes(pod: operator_objects.PodTemplate) -> Iterator[Issue]:
    """ValidateVolumes: each name a DNS-1123 label, and unique."""
    named = []
    for volume in pod.volumes:
        name = volume.name
        if not isinstance(name, str) or is_placeholder(name):
            continue
        if volume.path is not None and not _volume_name_ok(name):
            yield Issue((*volume.path, "name"), "pod-volume-name", _volume_name_message(pod, name))
            continue
        named.append((name, volume))
    yield from _duplicates(pod, named, "pod-duplicate-volume", "volume", "rename one of the volumes")


def _volume_name_ok(name: str) -> bool:
    return len(name) <= operator_objects.MAX_NAME and bool(DNS_1123_LABEL.match(name))


def _volume_name_message(pod: operator_objects.PodTemplate, name: str) -> str:
    if not name:
        return f"the API server will refuse Deployment {pod.deployment}: Required value: name the volume"
    return (
        f'the API server will refuse Deployment {pod.deployment}: Invalid value: "{name}": a lowercase '
        "RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end "
        f"with an alphanumeric character (at most {operator_objects.MAX_NAME}); rename the volume and its mounts"
    )


def _check_mounts(
    pod: operator_objects.PodTemplate, container: operator_objects.Container, defined: set
) -> Iterator[Issue]:
    """ValidateVolumeMounts: the volume is defined in the pod; mountPath unique in the container."""
    paths: dict[str, Any] = {}
    for mount in container.mounts:
        name = _name(mount.name)
        if name and name not in defined:
            where = (*mount.path, "name") if mount.path else container.path or container.origin
            yield Issue(
                where,
                "pod-volume-mount",
                f'the API server will refuse Deployment {pod.deployment}: Not found: "{name}"; add a volume '
                f"named \"{name}\" to this componentSpec's spec.volumes or fix the mount's name",
            )
        mount_path = _name(mount.mount_path)
        if not mount_path:
            continue
        first = paths.setdefault(mount_path, mount)
        path = None if first is mount else _anchor(mount, first, "mountPath")
        if path is not None:
            added = "" if mount.path and first.path else " (the operator mounts its own volume there)"
            yield Issue(
                path,
                "pod-duplicate-mount-path",
                f'the API server will refuse Deployment {pod.deployment}: Invalid value: "{mount_path}": '
                f"must be unique{added}; mount each volume at its own path",
            )


def _check_user_container(container: operator_objects.Container) -> Iterator[Issue]:
    spec, path = container.spec, container.path or ()
    yield from _check_ports(as_list(spec.get("ports")), (*path, "ports"))
    yield from _check_env(as_list(spec.get("env")), (*path, "env"))
    yield from _check_resources(as_dict(spec.get("resources")), (*path, "resources"))
    for probe in PROBES:
        if isinstance(spec.get(probe), dict):
            yield from _check_probe(spec[probe], (*path, probe))


def port_name_errors(name: str) -> list[str]:
    """IsValidPortName (IANA_SVC_NAME) in apimachinery's util/validation, with its messages."""
    errors = []
    if len(name) > 15:
        errors.append("must be no more than 15 characters")
    if not all(c.islower() or c.isdigit() or c == "-" for c in name) or not name.isascii():
        errors.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not any("a" <= c <= "z" for c in name):
        errors.append("must contain at least one letter (a-z)")
    if "--" in name:
        errors.append("must not contain consecutive hyphens")
    if name[0] == "-" or name[-1] == "-":
        errors.append("must not begin or end with a hyphen")
    return errors


def _check_ports(ports: list, path: tuple) -> Iterator[Issue]:
    """validateContainerPorts: names are IANA service names, unique within the container."""
    seen: set[str] = set()
    for k, port in enumerate(ports):
        name = _name(as_dict(port).get("name"))
        if not name:
            continue
        errors = port_name_errors(name)
        if errors:
            yield Issue(
                (*path, k, "name"),
                "pod-port-name",
                f'the API server will refuse the Deployment: Invalid value: "{name}": {", ".join(errors)}; '
                "use at most 15 lower-case letters, digits and single '-' (e.g. http, grpc-api)",
            )
        elif name in seen:
            yield Issue(
                (*path, k, "name"),
                "pod-duplicate-port-name",
                f'the API server will refuse the Deployment: Duplicate value: "{name}"; give each port of a '
                "container its own name",
            )
        seen.add(name)


def _check_env(env: list, path: tuple) -> Iterator[Issue]:
    """ValidateEnv with RelaxedEnvironmentVariableValidation (GA, locked on since 1.34)."""
    for k, var in enumerate(env):
        name = as_dict(var).get("name")
        if not isinstance(name, str) or is_placeholder(name):
            continue
        if not name:
            message = "Required value; name the variable"
        elif any(not " " <= c <= "~" or c == "=" for c in name):
            message = (
                f'Invalid value: "{name}": a valid environment variable name must consist only of printable '
                "ASCII characters other than '='; rename it"
            )
        else:
            continue
        yield Issue(
            (*path, k, "name"), "pod-env-name", f"the API server will refuse the Deployment: {message}"
        )


def overcommit_allowed(resource: str) -> bool:
    """helper.IsOvercommitAllowed: native resources (no domain, or kubernetes.io) but not hugepages."""
    native = "/" not in resource or "kubernetes.io/" in resource
    return native and not resource.startswith("hugepages-")


def _check_resources(resources: dict, path: tuple) -> Iterator[Issue]:
    """validateResourceRequirements: requests <= limits (== for resources that cannot overcommit)."""
    limits = as_dict(resources.get("limits"))
    for resource, request in as_dict(resources.get("requests")).items():
        if resource not in limits:
            continue
        req, lim = quantity.amount(request), quantity.amount(limits[resource])
        if req is None or lim is None:
            continue
        if overcommit_allowed(resource) and req > lim:
            relation = "less than or equal to"
        elif not overcommit_allowed(resource) and req != lim:
            relation = "equal to"
        else:
            continue
        yield Issue(
            (*path, "requests", resource),
            "pod-requests-above-limits",
            f'the API server will refuse the Deployment: Invalid value: "{request}": must be {relation} '
            f"{resource} limit of {limits[resource]}; raise the limit or lower the request",
        )


def _check_probe(probe: dict, path: tuple) -> Iterator[Issue]:
    """validateHandler: exactly one of exec, httpGet, tcpSocket, grpc."""
    handlers = [h for h in PROBE_HANDLERS if probe.get(h) is not None]
    if len(handlers) > 1:
        yield Issue(
            (*path, handlers[1]),
            "pod-probe-handlers",
            f"the API server will refuse the Deployment: Forbidden: may not specify more than 1 handler type; "
            f"keep one of {', '.join(handlers)}",
        )
    elif not handlers:
        yield Issue(
            path,
            "pod-probe-handlers",
            "the API server will refuse the Deployment: Required value: must specify a handler type; "
            "add exec, httpGet, tcpSocket or grpc",
        )
