"""Every image reference an operator installed with some values makes the cluster pull.

For mirroring into an air-gapped registry (`fadi-seldon images | xargs -n1 crane copy ...`): the
list must be what the chart really renders, so this module repeats the chart's few image rules
(templates/_helpers.tpl `imageRef`, `registryImage`, `predictorServersJson`) on the values merged
the way Helm merges them: the chart's defaults (a copy ships as package data, kept equal to
charts/seldon-core-operator/values.yaml by `make generate`), then each `-f` file in order.
tests/test_images.py compares the result with `helm template` output.

A values file is either the FADI umbrella's (the operator's values under `seldon-core-operator:`,
the umbrella's `global` handed down to it) or the operator chart's own, told apart by that key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from fadi_seldon.runtime import versions
from fadi_seldon.values import helm

UMBRELLA_KEY = "seldon-core-operator"
CHART_DEFAULTS = Path(__file__).parents[1].joinpath("data") / "operator-values.yaml"


class ImagesError(ValueError):
    """A values file that cannot be read or whose image keys have the wrong shape."""


@dataclass(frozen=True, order=True)
class ImageRef:
    """One image reference and the values key it comes from."""

    image: str
    source: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass
class Values:
    """The operator chart's merged values and whether they came from the FADI umbrella."""

    operator: dict[str, Any]
    umbrella: bool = False
    enabled: bool = True  # the umbrella's `seldon-core-operator.enabled` (always true for the chart's)


# --------------------------------------------------------------------------- reading and merging


def read_file(path: str | Path) -> dict[str, Any]:
    """One values file as a mapping (an empty file is no values, as for Helm)."""
    from fadi_seldon.runtime import yamlfile

    try:
        return yamlfile.load(path, "a values file", mapping=True)
    except yamlfile.YamlFileError as err:  # FILE:LINE: in plain words (PyYAML's str() is a drawing)
        raise ImagesError(str(err)) from None


def chart_defaults() -> dict[str, Any]:
    """The operator chart's values.yaml (the packaged copy, so an installed wheel has it too)."""
    import yaml

    return yaml.safe_load(CHART_DEFAULTS.read_text(encoding="utf-8"))


def resolve(user: dict[str, Any], defaults: dict[str, Any] | None = None) -> Values:
    """The operator's values from merged user values, umbrella or chart form."""
    defaults = chart_defaults() if defaults is None else defaults
    if UMBRELLA_KEY not in user:
        return Values(helm.coalesce(user, defaults))
    section = user[UMBRELLA_KEY]
    if section is None:
        section = {}
    if not isinstance(section, dict):
        raise ImagesError(f"{UMBRELLA_KEY} must be a mapping of the operator chart's values")
    parent_global = user.get("global")
    if isinstance(parent_global, dict):  # Helm copies the umbrella's globals over the subchart's
        own = section.get("global")
        section = {**section, "global": {**(own if isinstance(own, dict) else {}), **parent_global}}
    enabled = section.get("enabled", False)
    return Values(helm.coalesce(section, defaults), umbrella=True, enabled=enabled is True)


def load(paths: Sequence[str | Path]) -> Values:
    """The operator's values from `-f` files (none: the chart's defaults)."""
    return resolve(helm.merge_files(read_file(p) for p in paths))


# --------------------------------------------------------------------------- the chart's image rules


def _go_str(value: Any) -> str:
    """A scalar as Helm's toString prints it (YAML gives floats and booleans for unquoted tags)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def global_registry(values: dict[str, Any]) -> str:
    """`global.imageRegistry` without one trailing slash, or ""."""
    glob = values.get("global")
    registry = glob.get("imageRegistry") if isinstance(glob, dict) else None
    return _go_str(registry or "").removesuffix("/")


def image_ref(image: dict[str, Any], values: dict[str, Any], app_version: str) -> str:
    """`registry/repository:tag[@digest]` (the chart's imageRef): the tag defaults to appVersion,
    global.imageRegistry replaces the registry."""
    tag = _go_str(image.get("tag") or "") or app_version
    registry = global_registry(values) or _go_str(image.get("registry") or "")
    ref = _go_str(image.get("repository"))
    if registry:
        ref = f"{registry}/{ref}"
    ref = f"{ref}:{tag}"
    if image.get("digest"):
        ref = f"{ref}@{_go_str(image['digest'])}"
    return ref


def registry_image(ref: Any, values: dict[str, Any]) -> str:
    """An image given as one string, its registry replaced by global.imageRegistry (the chart's
    registryImage: the first component is a registry when it has a dot or a port, or is localhost)."""
    ref = _go_str(ref)
    registry = global_registry(values)
    if not (registry and ref):
        return ref
    first, _, rest = ref.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return f"{registry}/{rest}"
    return f"{registry}/{ref}"


def server_image(cfg: dict[str, Any], values: dict[str, Any]) -> str:
    """What the 1.17.1 operator pulls for a predictor_servers protocol: `<image>:<defaultImageVersion>`,
    with the chart's digest rewrite (image `<image>:<version>@sha256`, version `<hex>`)."""
    image = registry_image(cfg.get("image"), values)
    version = _go_str(cfg.get("defaultImageVersion") or "")
    if cfg.get("digest"):
        image = f"{image}:{version}@sha256" if version else f"{image}@sha256"
        version = _go_str(cfg["digest"]).removeprefix("sha256:")
    return f"{image}:{version}" if version else image


# --------------------------------------------------------------------------- the list


def _mapping(values: dict[str, Any], key: str) -> dict[str, Any]:
    value = values.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ImagesError(f"{key} must be a mapping, got {type(value).__name__}")
    return value


def _server_refs(values: dict[str, Any]) -> list[ImageRef]:
    refs = []
    for name, server in _mapping(values, "predictor_servers").items():
        protocols = server.get("protocols") if isinstance(server, dict) else None
        for protocol, cfg in (protocols or {}).items() if isinstance(protocols, dict) else ():
            if isinstance(cfg, dict) and cfg.get("image"):
                source = f"predictor_servers.{name}.protocols.{protocol}"
                refs.append(ImageRef(server_image(cfg, values), source))
    return refs


def _test_ref(values: dict[str, Any], app_version: str) -> list[ImageRef]:
    """The helm test Job's image (rendered when tests are on and the chart owns the webhook)."""
    tests = _mapping(values, "tests")
    webhook = _mapping(values, "webhook")
    if not tests.get("enabled") or values.get("managerCreateResources") or webhook.get("url"):
        return []
    if tests.get("image"):
        return [ImageRef(registry_image(tests["image"], values), "tests.image")]
    return [ImageRef(image_ref(_mapping(values, "image"), values, app_version), "image")]


def image_refs(values: dict[str, Any], app_version: str | None = None) -> list[ImageRef]:
    """Every image the chart's pods and its seldon-config ConfigMap name, sorted, each (image, source)
    once. `values` are the operator chart's merged values (`resolve`)."""
    app_version = app_version or versions.seldon_core_version()
    refs = [
        ImageRef(image_ref(_mapping(values, "image"), values, app_version), "image"),
        ImageRef(
            image_ref(_mapping(_mapping(values, "executor"), "image"), values, app_version),
            "executor.image",
        ),
    ]
    storage = _mapping(values, "storageInitializer")
    if storage.get("image"):
        refs.append(ImageRef(registry_image(storage["image"], values), "storageInitializer.image"))
    explainer = _mapping(values, "explainer")
    for key in ("image", "image_v2"):
        if explainer.get(key):
            refs.append(ImageRef(registry_image(explainer[key], values), f"explainer.{key}"))
    refs += _server_refs(values)
    refs += _test_ref(values, app_version)
    usage = _mapping(values, "usageMetrics")
    if usage.get("enabled") and usage.get("image"):
        refs.append(ImageRef(registry_image(usage["image"], values), "usageMetrics.image"))
    routes = _mapping(values, "gatewayRoutes")
    ingress = _mapping(_mapping(values, "global"), "ingress").get("enabled")
    if (routes.get("enabled") or (routes.get("followGlobalIngress") and ingress)) and routes.get("image"):
        refs.append(ImageRef(registry_image(routes["image"], values), "gatewayRoutes.image"))
    return sorted(set(refs))


def references(vals: Values) -> list[ImageRef]:
    """`image_refs` of resolved values; sources of a FADI file are under `seldon-core-operator.`."""
    refs = image_refs(vals.operator)
    if vals.umbrella:
        refs = [ImageRef(r.image, f"{UMBRELLA_KEY}.{r.source}") for r in refs]
    return refs
