"""The pod templates the Seldon operator (v1.16/1.17) builds from a SeldonDeployment, approximately.

The API server accepts a SeldonDeployment whose componentSpecs would make an invalid pod: the CRD
keeps the pod spec open. Only when the operator creates its Deployments does the API server refuse
them, and the SeldonDeployment ends `status.state: Failed`. To predict that offline, this module
rebuilds, per predictor and componentSpec, what the operator puts in the pod template on top of the
user's spec (`createComponents`, `DefaultSeldonDeployment`, `createDeploymentWithoutEngine`,
`addEngineToDeployment`, `createStandaloneModelServers`, `InjectModelInitializer`):

- graph-node containers get the `seldon-podinfo` mount at /etc/podinfo (unless one is mounted by
  that name) and lose a legacy `podinfo` mount;
- a prepackaged-server node without a container gets one, named after the node, in componentSpecs[0];
- a prepackaged node with a modelUri gets the init container `<c>-model-initializer`, the emptyDir
  volume `<c>-provision-location` mounted at /mnt/models (and for pvc:// URIs the volume
  `kfserving-pvc-source` at /mnt/pvc) on its serving container;
- componentSpecs[0]'s pod gets the executor `seldon-container-engine`, unless `seldon.io/no-engine`
  or `seldon.io/engine-separate-pod`;
- every pod gets the downward-API volume `seldon-podinfo`.

Only what the pod-template checks need is modelled (names, mounts, volumes); ports, env and probes
the operator adds are valid and never collide with the user's (it adds them only when missing), so
the checks read those from the user's container (`Container.spec`). Each user-written element keeps
its field path in the SeldonDeployment so that findings point at what the user wrote; elements the
operator adds carry `origin`, the path of what made the operator add them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, cast

from fadi_seldon.sdep.validator.webhook import as_dict, as_list, as_str, is_prepackaged, walk_graph

MAX_NAME = 63
PODINFO_VOLUME = "seldon-podinfo"
OLD_PODINFO_VOLUME = "podinfo"  # mounts of this name are dropped from graph containers by the operator
PODINFO_PATH = "/etc/podinfo"
ENGINE_CONTAINER = "seldon-container-engine"
TFSERVING_CONTAINER = "tfserving"
MODEL_PATH = "/mnt/models"
PVC_VOLUME = "kfserving-pvc-source"
PVC_PATH = "/mnt/pvc"
NO_ENGINE = "seldon.io/no-engine"
SEPARATE_ENGINE = "seldon.io/engine-separate-pod"


@dataclass(slots=True)
class Mount:
    """A volumeMount; `path` is the user's mount (None when the operator adds it)."""

    name: Any
    mount_path: Any
    path: tuple | None = None


@dataclass(slots=True)
class Volume:
    name: Any
    path: tuple | None = None  # the user's volume, or None when the operator adds it


@dataclass(slots=True)
class Container:
    """A container of the pod; `spec` is the user's container mapping ({} for operator-added ones)."""

    name: Any
    path: tuple | None
    origin: tuple
    spec: dict = field(default_factory=dict)
    mounts: list[Mount] = field(default_factory=list)


@dataclass(slots=True)
class PodTemplate:
    """The pod template of one Deployment the operator creates for a componentSpec."""

    deployment: str
    predictor: int
    component: int  # the componentSpec index (0 for the one the operator creates when there is none)
    path: tuple  # the user's pod spec (componentSpecs[j].spec)
    containers: list[Container] = field(default_factory=list)
    init_containers: list[Container] = field(default_factory=list)
    volumes: list[Volume] = field(default_factory=list)

    def container(self, name: str) -> Container | None:
        return next((c for c in self.containers if c.name == name), None)

    def volume_names(self) -> set:
        return {v.name for v in self.volumes if isinstance(v.name, str)}


def hashed(name: str) -> str:
    """Upstream's fallback for names over 63 characters: `seldon-<md5 of the full name>`."""
    return "seldon-" + hashlib.md5(name.encode()).hexdigest() if len(name) > MAX_NAME else name


def deployment_name(
    sdep: str, predictor: str, index: int, meta_name: str, containers: list[Container]
) -> str:
    """`GetDeploymentName`: <sdep>-<predictor>-<j>-<metadata.name or container names joined by ->.

    Assumes the chart default DEPLOYMENT_NAME_AS_PREFIX=false (the hash is then `seldon-<md5>`).
    """
    suffix = meta_name or "-".join(str(c.name) for c in containers)
    return hashed(f"{sdep}-{predictor}-{index}-{suffix}")


def pod_templates(obj: dict, engines: dict[int, str | None] | None = None) -> list[PodTemplate]:
    """The pod templates of all Deployments the operator would create for the model graph.

    `engines`, when given, receives for each predictor whose executor runs in a model pod the graph
    node whose pod gets it (engine_node, None when there is none: the operator fails), computed once
    here for the pod-template checks."""
    spec = as_dict(obj.get("spec"))
    sdep = as_str(as_dict(obj.get("metadata")).get("name"))
    separate = separate_engine(obj)
    out: list[PodTemplate] = []
    for i, predictor in enumerate(as_list(spec.get("predictors"))):
        if isinstance(predictor, dict):
            engine = engine_node(predictor) if runs_engine(predictor, separate) else _NO_EXECUTOR
            if engines is not None and engine is not _NO_EXECUTOR:
                engines[i] = cast("str | None", engine)
            out.extend(_predictor_pods(sdep, i, predictor, as_str(spec.get("protocol")), engine))
    return out


_NO_EXECUTOR = object()  # the predictor's executor runs in no model pod (no-engine, or a pod of its own)


def _predictor_pods(sdep: str, i: int, predictor: dict, protocol: str, engine: object) -> list[PodTemplate]:
    base = ("spec", "predictors", i)
    nodes = list(walk_graph(predictor.get("graph"), (*base, "graph")))
    node_names = {n.get("name") for n, _, _ in nodes if isinstance(n.get("name"), str)}
    pods = _defaulted_pods(i, predictor, nodes, node_names)
    built = [p for p in pods if p.containers]  # createComponents skips componentSpecs without containers
    _name_deployments(sdep, predictor, built)
    for node, path, _ in nodes:
        if is_prepackaged(as_str(node.get("implementation"))) and as_str(node.get("modelUri")):
            _add_model_initializer(built, node, path, protocol)
    if isinstance(engine, str):
        for pod in built:
            if pod.container(engine):
                _add_engine(pod, node_names, base)
                break
    return built


def runs_engine(predictor: dict, separate: bool) -> bool:
    """The executor runs in a model pod: not `seldon.io/no-engine`, not a pod of its own."""
    no_engine = as_str(as_dict(predictor.get("annotations")).get(NO_ENGINE)).lower() == "true"
    return not (no_engine or separate)


def separate_engine(obj: dict) -> bool:
    return as_str(as_dict(as_dict(obj.get("spec")).get("annotations")).get(SEPARATE_ENGINE)).lower() == "true"


def _defaulted_pods(i: int, predictor: dict, nodes: list, node_names: set) -> list[PodTemplate]:
    """The componentSpecs after `DefaultSeldonDeployment`: podinfo mounts, prepackaged containers."""
    base = ("spec", "predictors", i, "componentSpecs")
    pods = [_user_pod(i, j, (*base, j), cs) for j, cs in enumerate(as_list(predictor.get("componentSpecs")))]
    for pod in pods:
        for container in pod.containers:
            if isinstance(container.name, str) and container.name in node_names:
                _add_podinfo_mount(container)
    for node, path, _ in nodes:
        if is_prepackaged(as_str(node.get("implementation"))):
            _add_prepackaged_container(pods, i, node, path)
    return pods


def _name_deployments(sdep: str, predictor: dict, pods: list[PodTemplate]) -> None:
    """`createDeploymentWithoutEngine`: the Deployment name and the `seldon-podinfo` volume."""
    metas = [as_dict(as_dict(cs).get("metadata")) for cs in as_list(predictor.get("componentSpecs"))]
    pname = as_str(predictor.get("name"))
    for pod in pods:
        meta = metas[pod.component] if pod.component < len(metas) else {}
        pod.deployment = deployment_name(sdep, pname, pod.component, as_str(meta.get("name")), pod.containers)
        _add_volume(pod, PODINFO_VOLUME)


def _user_pod(i: int, j: int, base: tuple, component: Any) -> PodTemplate:
    """The user's componentSpecs[j].spec as written (paths point into it)."""
    path = (*base, "spec")
    spec = as_dict(as_dict(component).get("spec"))
    pod = PodTemplate("", i, j, path)
    pod.containers = _user_containers(spec, path, "containers")
    pod.init_containers = _user_containers(spec, path, "initContainers")
    for k, volume in enumerate(as_list(spec.get("volumes"))):
        if isinstance(volume, dict):
            pod.volumes.append(Volume(volume.get("name"), (*path, "volumes", k)))
    return pod


def _user_containers(spec: dict, path: tuple, key: str) -> list[Container]:
    out = []
    for k, raw in enumerate(as_list(spec.get(key))):
        if not isinstance(raw, dict):
            continue
        cpath = (*path, key, k)
        mounts = [
            Mount(m.get("name"), m.get("mountPath"), (*cpath, "volumeMounts", n))
            for n, m in enumerate(as_list(raw.get("volumeMounts")))
            if isinstance(m, dict)
        ]
        out.append(Container(raw.get("name"), cpath, cpath, raw, mounts))
    return out


def _add_podinfo_mount(container: Container) -> None:
    """`setContainerPredictiveUnitDefaults`: drop the last legacy `podinfo` mount, add `seldon-podinfo`."""
    names = [m.name for m in container.mounts]
    if OLD_PODINFO_VOLUME in names:
        last = len(names) - 1 - names[::-1].index(OLD_PODINFO_VOLUME)
        container.mounts[last] = container.mounts[-1]
        container.mounts.pop()
    if PODINFO_VOLUME not in names:
        container.mounts.append(Mount(PODINFO_VOLUME, PODINFO_PATH))


def _add_prepackaged_container(pods: list[PodTemplate], i: int, node: dict, path: tuple) -> None:
    """A prepackaged node without a container gets one in componentSpecs[0] (created if missing)."""
    name = cast(str, node.get("name"))  # graph node names are strings once the schema passed
    if any(pod.container(name) for pod in pods):
        return
    if not pods:
        pods.append(PodTemplate("", i, 0, (*path[:3], "componentSpecs")))
    pods[0].containers.append(
        Container(name, None, (*path, "name"), {}, [Mount(PODINFO_VOLUME, PODINFO_PATH)])
    )


def _add_volume(pod: PodTemplate, name: str, origin_names: tuple = ()) -> None:
    if name not in pod.volume_names() and not set(origin_names) & pod.volume_names():
        pod.volumes.append(Volume(name))


def _add_mount(container: Container, volume: str, mount_path: str) -> None:
    """`addVolumeMountToContainer`: only when no mount of that volume exists."""
    if all(m.name != volume for m in container.mounts):
        container.mounts.append(Mount(volume, mount_path))


def _serving_container(
    pods: list[PodTemplate], node: dict, path: tuple, protocol: str
) -> tuple[PodTemplate, Container] | None:
    """The pod and container the model is downloaded for (`tfserving` behind a TF proxy node)."""
    name = cast(str, node.get("name"))
    for pod in pods:
        if pod.container(name) is None:
            continue
        if node.get("implementation") == "TENSORFLOW_SERVER" and protocol != "tensorflow":
            if pod.container(TFSERVING_CONTAINER) is None:
                pod.containers.append(Container(TFSERVING_CONTAINER, None, (*path, "implementation")))
            return pod, cast(Container, pod.container(TFSERVING_CONTAINER))
        return pod, cast(Container, pod.container(name))
    return None


def _truncated(name: str) -> str:
    """Upstream cuts a generated name to 63 characters and trims one trailing '-'."""
    if len(name) > MAX_NAME:
        name = name[:MAX_NAME].removesuffix("-")
    return name


def _add_model_initializer(pods: list[PodTemplate], node: dict, path: tuple, protocol: str) -> None:
    """`InjectModelInitializer`: init container, shared emptyDir, mounts (and the PVC source)."""
    found = _serving_container(pods, node, path, protocol)
    if found is None:
        return
    pod, container = found
    volume = _truncated(f"{container.name}-provision-location")
    init_name = _truncated(f"{container.name}-model-initializer")
    if any(c.name == init_name for c in pod.init_containers):
        _add_mount(container, volume, MODEL_PATH)
        return
    init_mounts = []
    if as_str(node.get("modelUri")).startswith("pvc://"):
        pod.volumes.append(Volume(PVC_VOLUME))
        init_mounts.append(Mount(PVC_VOLUME, PVC_PATH))
        _add_mount(container, PVC_VOLUME, PVC_PATH)
    pod.volumes.append(Volume(volume))
    init_mounts.append(Mount(volume, MODEL_PATH))
    _add_mount(container, volume, MODEL_PATH)
    pod.init_containers.append(Container(init_name, None, (*path, "modelUri"), {}, init_mounts))


def engine_node(predictor: dict) -> str | None:
    """The graph node whose pod gets the executor (`GetEnginePredictiveUnit`), or None.

    Defaulting marks a node `service_host: localhost` when its container sits in componentSpecs[0]:
    a custom node by the last componentSpec holding a container of its name (the loop over them
    overwrites), a prepackaged node by the first (or 0 without a container). A node the defaulting
    never touches keeps the service_host the user wrote. The first marked node, depth first, wins.
    """
    firsts: dict[str, int] = {}
    lasts: dict[str, int] = {}
    for j, component in enumerate(as_list(predictor.get("componentSpecs"))):
        for container in as_list(as_dict(as_dict(component).get("spec")).get("containers")):
            name = as_dict(container).get("name")
            if isinstance(name, str):
                firsts.setdefault(name, j)
                lasts[name] = j
    for node, _, _ in walk_graph(predictor.get("graph"), ()):
        name = as_str(node.get("name"))
        index: int | None
        if is_prepackaged(as_str(node.get("implementation"))):
            index = firsts.get(name, 0)
        elif name in lasts:
            index = lasts[name]
        else:
            index = 0 if as_str(as_dict(node.get("endpoint")).get("service_host")) == "localhost" else None
        if index == 0:
            return name
    return None


def _add_engine(pod: PodTemplate, node_names: set, base: tuple) -> None:
    """The executor joins the pod that runs the engine node (engine_node)."""
    if pod.container(ENGINE_CONTAINER):
        return
    pod.containers.append(Container(ENGINE_CONTAINER, None, base, {}, [Mount(PODINFO_VOLUME, PODINFO_PATH)]))
    _add_volume(pod, PODINFO_VOLUME, (OLD_PODINFO_VOLUME,))
