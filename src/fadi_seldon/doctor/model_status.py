"""One SeldonDeployment as its user sees it (`fadi-seldon status`, `fadi-seldon logs`).

The doctor looks at the installation; this module looks at one model: its state and why, each
predictor's replicas, each container's image and readiness, the Service URLs to call it, the recent
Warning events and its pods' logs. Reading goes through the doctor's kubectl (`gather`, `logs`);
`summarize` and `log_targets` are pure, so they are tested on recorded JSON without a cluster.
Whether the node has an image reuses the image-missing check's reasons and fix (`doctor/images.py`).
"""

from __future__ import annotations

import os
from pathlib import Path

from fadi_seldon.doctor import images, model_storage
from fadi_seldon.doctor.graphs import SDEP_LABEL
from fadi_seldon.runtime import oci
from fadi_seldon.sdep import routes
from fadi_seldon.sdep.operator_objects import ENGINE_CONTAINER

EXECUTOR = "executor"  # what users call the container the operator names seldon-container-engine
EVENTS_SHOWN = 10
HTTP_PORT = 8000  # the executor's REST port behind NAME-PREDICTOR


class ModelNotFound(LookupError):
    """No SeldonDeployment of that name in that namespace: nothing to show (exit 3)."""


class UnknownComponent(ValueError):
    """`--component` names no container of the model's pods: a wrong flag, said with the choices."""


def gather(kubectl, name: str, namespace: str) -> dict:
    """The SeldonDeployment and what the operator made for it, as kubectl returns them."""
    sdep = kubectl.get("seldondeployments.machinelearning.seldon.io", name, "-n", namespace)
    if not sdep:
        raise ModelNotFound(f"no SeldonDeployment {name} in namespace {namespace}")
    selector = f"{SDEP_LABEL}={name}"

    def items(*args: str) -> list[dict]:
        return (kubectl.get(*args, "-n", namespace) or {}).get("items") or []

    predictors = [p.get("name", "") for p in (sdep.get("spec") or {}).get("predictors") or []]
    services = [kubectl.get("service", f"{name}-{p}", "-n", namespace) for p in predictors]
    pods = items("pods", "-l", selector)
    return {
        "sdep": sdep,
        "deployments": items("deployments", "-l", selector),
        "pods": pods,
        "downloads": model_storage.failures(kubectl, pods),
        "services": [s for s in services if s],
        "events": items("events", "--field-selector", "type=Warning"),
    }


def node_images(kubeconfig: str | None) -> set[str] | None:
    """The images the local cluster's real node has, or None when no real node runs here or the
    kubeconfig in use is another cluster's (then a pod's waiting reason is all there is to say)."""
    from fadi_seldon.localkube import node_images as node
    from fadi_seldon.localkube.layout import Layout, default_state_dir

    layout = Layout(default_state_dir().resolve())
    in_use = kubeconfig or os.environ.get("KUBECONFIG", "")
    if not in_use or Path(in_use).resolve() != layout.kubeconfig.resolve():
        return None
    try:
        node.check_node(layout)
        return {oci.normalize_ref(i) for i in node.present(layout)}
    except (node.ImageError, OSError):
        return None


def _owner(name: str, candidates: list[str]) -> str:
    """The longest candidate `name` starts with followed by a dash (pod -> Deployment -> predictor)."""
    found = [c for c in candidates if name.startswith(c + "-")]
    return max(found, key=len) if found else ""


def _image_state(image: str, status: dict, on_node: set[str] | None) -> tuple[str, str]:
    """(present | missing | unknown, the fix when missing), from the node's list when there is one."""
    waiting = ((status.get("state") or {}).get("waiting") or {}).get("reason", "")
    if on_node is not None:
        missing = oci.normalize_ref(image) not in on_node if image else False
    elif waiting in images.WAITING_FOR_IMAGE:
        missing = True
    elif status.get("imageID") or (status.get("state") or {}).get("running"):
        return "present", ""
    else:
        return "unknown", ""
    return ("missing", images.how_to_load(image)) if missing else ("present", "")


def _containers(pod: dict, on_node: set[str] | None) -> list[dict]:
    statuses = {s.get("name"): s for s in (pod.get("status") or {}).get("containerStatuses") or []}
    out = []
    for container in (pod.get("spec") or {}).get("containers") or []:
        cname = container.get("name", "")
        status = statuses.get(cname) or {}
        state = status.get("state") or {}
        reason = (state.get("waiting") or state.get("terminated") or {}).get("reason", "")
        image, fix = _image_state(container.get("image", ""), status, on_node)
        out.append({
            "container": cname, "component": EXECUTOR if cname == ENGINE_CONTAINER else cname,
            "image": container.get("image", ""), "ready": bool(status.get("ready")),
            "waiting": reason, "restarts": status.get("restartCount", 0), "image_on_node": image, "fix": fix,
        })  # fmt: skip
    return out


def _predictors(raw: dict, name: str) -> list[dict]:
    """Each predictor: replicas wanted (the Deployments' spec) and ready, and its Deployments."""
    sdep = raw["sdep"]
    names = [p.get("name", "") for p in (sdep.get("spec") or {}).get("predictors") or []]
    status = (sdep.get("status") or {}).get("deploymentStatus") or {}
    out = {p: {"name": p, "wanted": 0, "ready": 0, "deployments": []} for p in names}
    prefixes = {f"{name}-{p}": p for p in names}
    for dep in raw["deployments"]:
        dname = dep["metadata"]["name"]
        entry = out.get(prefixes.get(_owner(dname, list(prefixes)), ""))
        if entry is None:
            continue
        known = status.get(dname) or {}
        entry["wanted"] += (dep.get("spec") or {}).get("replicas", known.get("replicas", 1))
        entry["ready"] += (dep.get("status") or {}).get(
            "readyReplicas", known.get("availableReplicas", 0)
        ) or 0
        entry["deployments"].append(dname)
    return list(out.values())


def _urls(raw: dict, name: str, namespace: str) -> list[dict]:
    out = []
    for svc in raw["services"]:
        sname, spec = svc["metadata"]["name"], svc.get("spec") or {}
        ip = spec.get("clusterIP", "")
        ports = {p.get("name", ""): p.get("port") for p in spec.get("ports") or []}
        http, grpc = ports.get("http"), ports.get("grpc")
        out.append({
            "predictor": sname[len(name) + 1 :], "service": sname,
            "http": f"http://{ip}:{http}" if http else "", "grpc": f"{ip}:{grpc}" if grpc else "",
            "in_cluster": f"http://{sname}.{namespace}.svc.cluster.local:{HTTP_PORT}/api/v1.0/predictions",
        })  # fmt: skip
    return out


def _events(raw: dict, name: str) -> list[dict]:
    """The last Warning events about the SeldonDeployment, its Deployments and its pods."""
    involved = {name} | {o["metadata"]["name"] for o in raw["deployments"] + raw["pods"]}
    mine = [e for e in raw["events"] if (e.get("involvedObject") or {}).get("name") in involved]
    mine.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
    return [
        {
            "object": f"{(e.get('involvedObject') or {}).get('kind', '')}/{e['involvedObject']['name']}",
            "reason": e.get("reason", ""),
            "message": e.get("message", ""),
            "count": e.get("count", 1),
            "last": e.get("lastTimestamp") or e.get("eventTime") or "",
        }  # fmt: skip
        for e in mine[-EVENTS_SHOWN:]
    ]


def summarize(raw: dict, on_node: set[str] | None) -> dict:
    """The status `fadi-seldon status` prints: plain data, the same for text, yaml and json."""
    meta = raw["sdep"]["metadata"]
    name, namespace = meta["name"], meta.get("namespace", "default")
    status = raw["sdep"].get("status") or {}
    deployments = [d["metadata"]["name"] for d in raw["deployments"]]
    pods = []
    for pod in raw["pods"]:
        pname = pod["metadata"]["name"]
        pods.append({
            "pod": pname, "deployment": _owner(pname, deployments),
            "phase": (pod.get("status") or {}).get("phase", ""), "containers": _containers(pod, on_node),
        })  # fmt: skip
    downloads = [model_storage.explain(item) for item in raw.get("downloads") or []]
    reason = status.get("description", "") or "; ".join(sorted({d["message"] for d in downloads}))
    return {
        "name": name, "namespace": namespace,
        "state": status.get("state", "") or "Unknown", "reason": reason, "model_downloads": downloads,
        "node_images_checked": on_node is not None,
        "predictors": _predictors(raw, name), "pods": pods,
        "urls": _urls(raw, name, namespace), "route_url": route_url(raw["sdep"]), "events": _events(raw, name),
    }  # fmt: skip


def log_targets(pods: list[dict], component: str | None) -> list[tuple[dict, str]]:
    """(pod, container) pairs to read: every container, or the one named (`executor` meaning the
    engine container, as users know it from the graph and not from the operator's naming)."""
    wanted = ENGINE_CONTAINER if component == EXECUTOR else component
    out = []
    for pod in pods:
        spec = pod.get("spec") or {}
        # init containers too: a prepackaged server's model initializer says why its model is missing
        for container in (spec.get("initContainers") or []) + (spec.get("containers") or []):
            if wanted is None or container.get("name") == wanted:
                out.append((pod, container.get("name", "")))
    return out


def components(pods: list[dict]) -> list[str]:
    """The component names `--component` accepts for these pods."""
    names = {c for _, c in log_targets(pods, None)}
    return sorted(EXECUTOR if n == ENGINE_CONTAINER else n for n in names)


def read_logs(kubectl, name: str, namespace: str, component: str | None, tail: int) -> list[dict]:
    """Each selected container's last `tail` lines: [{pod, container, lines}]."""
    if not kubectl.get("seldondeployments.machinelearning.seldon.io", name, "-n", namespace):
        raise ModelNotFound(f"no SeldonDeployment {name} in namespace {namespace}")
    pods = (kubectl.get("pods", "-n", namespace, "-l", f"{SDEP_LABEL}={name}") or {}).get("items") or []
    targets = log_targets(pods, component)
    if component and pods and not targets:
        raise UnknownComponent(
            f"no component {component} in {name}'s pods (there are: {', '.join(components(pods))})"
        )
    return [
        {
            "pod": pod["metadata"]["name"],
            "container": container,
            "lines": kubectl.logs(pod, previous=False, tail=str(tail), container=container).splitlines(),
        }  # fmt: skip
        for pod, container in targets
    ]


class NoTarget(LookupError):
    """No way to call the SeldonDeployment the way asked (no route URL yet, no Service address)."""


VIAS = ("auto", "route", "service")


def route_url(sdep: dict) -> str:
    """The URL the route controller wrote on the SeldonDeployment (docs/gateway-routes.md), or ""."""
    return ((sdep.get("metadata") or {}).get("annotations") or {}).get(routes.URL_ANNOTATION, "")


def choose_target(sdep: dict, services: dict[str, dict], via: str, transport: str) -> dict:
    """Where `predict NAME -n NS` sends its request: {"via", "url"} (a base URL, or HOST:PORT for gRPC).

    `auto` takes the route when the controller has written its URL, else the first serving
    predictor's Service (its ClusterIP: reachable from the local cluster's host and from pods).
    gRPC through the Gateway needs the `seldon` and `namespace` headers, which predict does not send:
    gRPC goes to the Service."""
    meta = sdep.get("metadata") or {}
    name, namespace = meta.get("name", ""), meta.get("namespace") or "default"
    url = route_url(sdep)
    if via == "route" and transport == "grpc":
        raise NoTarget("gRPC through the Gateway needs the seldon and namespace headers; use --via service")
    if via in ("auto", "route") and url and transport != "grpc":
        base = routes.route_base(url, namespace, name)
        if base:
            return {"via": "route", "url": base}
    if via == "route":
        raise NoTarget(
            f"SeldonDeployment {namespace}/{name} has no {routes.URL_ANNOTATION} annotation: is the route "
            "controller running (chart value gatewayRoutes.enabled)? --via service calls its Service"
        )
    found = _service_target(name, sdep, services, transport)
    if found is None:
        raise NoTarget(
            f"no Service with an address for SeldonDeployment {namespace}/{name} yet (is it Available?)"
        )
    return {"via": "service", "url": found}


def _service_target(name: str, sdep: dict, services: dict[str, dict], transport: str) -> str | None:
    """The first serving (non-shadow) predictor's Service address: http://IP:PORT, or IP:PORT for gRPC."""
    serving = [p for p in (sdep.get("spec") or {}).get("predictors") or [] if not p.get("shadow")]
    for predictor in serving:
        spec = (services.get(routes.predictor_service(name, predictor)) or {}).get("spec") or {}
        ports = {p.get("name", ""): p.get("port") for p in spec.get("ports") or []}
        ip, port = spec.get("clusterIP", ""), ports.get("grpc" if transport == "grpc" else "http")
        if ip and ip != "None" and port:
            return f"{ip}:{port}" if transport == "grpc" else f"http://{ip}:{port}"
    return None


def model_target(kubectl, name: str, namespace: str, via: str, transport: str) -> dict:
    """choose_target on the cluster's SeldonDeployment and its predictors' Services."""
    sdep = kubectl.get("seldondeployments.machinelearning.seldon.io", name, "-n", namespace)
    if not sdep:
        raise ModelNotFound(f"no SeldonDeployment {name} in namespace {namespace}")
    services = {}
    for predictor in (sdep.get("spec") or {}).get("predictors") or []:
        service = routes.predictor_service(name, predictor)
        services[service] = kubectl.get("service", service, "-n", namespace) or {}
    return choose_target(sdep, services, via, transport)
