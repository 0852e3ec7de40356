"""One SeldonDeployment's routes brought in step with it: the route controller's logic, without kopf.

Kept apart from the kopf wiring (controller.py) and the HTTP client (kubeapi.py) so that the tests
drive it with a fake API: what is applied, what is deleted, when the URL annotation is patched and
which Event is posted are decided here, against the `RouteApi` protocol below.

Loops are avoided by writing only what changed: routes go by server-side apply (the API server
keeps an identical object as it is, no new event), the annotation is patched only when its value
differs, and the Event only follows such a change.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

from fadi_seldon.sdep import routes

CONTROLLER_ID_LABEL = "seldon.io/controller-id"  # the Seldon operator's label for sharing a cluster
EVENT_REASON = "RouteReady"


class RouteApi(Protocol):
    """The few Kubernetes calls the controller makes (kubeapi.KubeApi; a fake in the tests)."""

    async def apply(self, obj: dict) -> None: ...

    async def list_routes(self, kind: str, namespace: str, selector: dict[str, str]) -> list[dict]: ...

    async def delete_route(self, kind: str, namespace: str, name: str) -> None: ...

    async def annotate_sdep(self, namespace: str, name: str, annotations: dict[str, str]) -> None: ...

    async def post_event(self, sdep: dict, reason: str, message: str) -> None: ...

    async def get_gateway(self, namespace: str, name: str) -> dict | None: ...

    async def namespace_labels(self, name: str) -> dict[str, str]: ...


@dataclass(frozen=True)
class Scope:
    """Which SeldonDeployments are this controller's, as the Seldon operator chart scopes the operator:
    every namespace (namespaces empty), one (singleNamespace) or a list (watchNamespaces), and the
    operator's `controllerId` (only SeldonDeployments labelled `seldon.io/controller-id: <id>`)."""

    namespaces: tuple[str, ...] = ()
    controller_id: str = ""

    @property
    def cluster_wide(self) -> bool:
        return not self.namespaces

    def describe(self) -> str:
        where = "every namespace" if self.cluster_wide else "namespaces " + ", ".join(self.namespaces)
        owner = f" labelled {CONTROLLER_ID_LABEL}={self.controller_id}" if self.controller_id else ""
        left = "" if self.cluster_wide else "; SeldonDeployments in other namespaces are left alone"
        return f"watching SeldonDeployments{owner} in {where}{left}"

    def refusal(self, sdep: dict, namespace_labels: dict[str, str] | None = None) -> str | None:
        """Why the SeldonDeployment is not this controller's, or None when it is."""
        meta = sdep.get("metadata") or {}
        namespace = meta.get("namespace") or "default"
        if self.namespaces and namespace not in self.namespaces:
            return f"namespace {namespace} is outside the watched namespaces ({', '.join(self.namespaces)})"
        label = (meta.get("labels") or {}).get(CONTROLLER_ID_LABEL, "")
        if label != self.controller_id:
            return f"its {CONTROLLER_ID_LABEL} label is {label!r}, this controller's id is {self.controller_id!r}"
        if self.cluster_wide and (namespace_labels or {}).get(CONTROLLER_ID_LABEL):
            return f"namespace {namespace} is labelled {CONTROLLER_ID_LABEL}: a namespaced operator owns it"
        return None


@dataclass(frozen=True)
class Settings:
    gateway: routes.GatewayRef = field(default_factory=routes.GatewayRef)
    public_url: str = ""  # the URL clients reach the Gateway at; empty: read from the Gateway's status
    grpc: bool = True  # GRPCRoutes at all (off where the GRPCRoute CRD is missing)
    http_port: int = routes.EXECUTOR_HTTP_PORT
    scope: Scope = field(default_factory=Scope)
    # how shadows get their copy (routes.MIRROR_MODES): the RequestMirror filter, Traefik's mirroring
    # service (Traefik 3.6 and 3.7 refuse a rule holding RequestMirror), or not at all
    mirror: str = routes.MIRROR_REQUEST


@dataclass
class Outcome:
    """What one reconciliation did, for the log and the tests."""

    applied: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    url: str | None = None
    annotated: bool = False
    skipped: str | None = None


async def public_url(api: RouteApi, settings: Settings) -> str | None:
    """The explicit --public-url, else the Gateway's address and listener port."""
    if settings.public_url:
        return settings.public_url
    gateway = await api.get_gateway(settings.gateway.namespace, settings.gateway.name)
    return routes.gateway_url(gateway, settings.gateway.section) if gateway else None


async def reconcile(
    sdep: dict, api: RouteApi, settings: Settings, log: logging.Logger | logging.LoggerAdapter
) -> Outcome:
    """Apply the SeldonDeployment's routes, delete its stale ones, and report its URL once it changes."""
    meta = sdep.get("metadata") or {}
    namespace, name = meta.get("namespace") or "default", meta.get("name") or ""
    labels = await api.namespace_labels(namespace) if settings.scope.cluster_wide else None
    refusal = settings.scope.refusal(sdep, labels)
    if refusal:
        log.info("leaving SeldonDeployment %s/%s alone: %s", namespace, name, refusal)
        return Outcome(skipped=refusal)
    if meta.get("deletionTimestamp"):
        return Outcome(skipped="being deleted (its routes go with it, by their ownerReferences)")
    outcome = Outcome()
    base = await public_url(api, settings)
    outcome.url = routes.prediction_url(sdep, base) if base else None
    wanted = routes.routes(
        sdep, settings.gateway, grpc=settings.grpc, http_port=settings.http_port, url=outcome.url,
        mirror=settings.mirror,
    )  # fmt: skip
    unmirrored = routes.shadows(sdep) if settings.mirror == routes.MIRROR_NONE else []
    if unmirrored:
        log.warning("shadow predictor(s) %s of %s/%s get no copy of the requests: mirroring is off "
                    "(--mirror none)", ", ".join(unmirrored), namespace, name)  # fmt: skip
    for route in wanted:
        await api.apply(route)
        outcome.applied.append(f"{route['kind']}/{route['metadata']['name']}")
    outcome.deleted = await _delete_stale(api, sdep, namespace, wanted, _kinds(settings))
    if outcome.url is None:
        log.warning("no URL for %s/%s yet: the Gateway has no address (or set --public-url)", namespace, name)
        return outcome
    if (meta.get("annotations") or {}).get(routes.URL_ANNOTATION) != outcome.url:
        await api.annotate_sdep(namespace, name, {routes.URL_ANNOTATION: outcome.url})
        await api.post_event(sdep, EVENT_REASON, f"routed through the Gateway: {outcome.url}")
        outcome.annotated = True
        log.info("SeldonDeployment %s/%s answers at %s", namespace, name, outcome.url)
    return outcome


def _kinds(settings: Settings) -> tuple[str, ...]:
    """The kinds this controller may have written: only those whose CRD it can count on."""
    kinds = (routes.HTTP_ROUTE, routes.GRPC_ROUTE) if settings.grpc else (routes.HTTP_ROUTE,)
    return kinds + ((routes.TRAEFIK_SERVICE,) if settings.mirror == routes.MIRROR_TRAEFIK else ())


async def _delete_stale(
    api: RouteApi, sdep: dict, namespace: str, wanted: list[dict], kinds: tuple[str, ...]
) -> list[str]:
    """Objects this controller made for the SeldonDeployment that it no longer wants (a GRPCRoute
    turned off, a shadow's TraefikService once the shadow is gone, an older name). Kinds whose CRD
    may be missing (GRPCRoutes off, no Traefik mirroring) are not listed."""
    keep = {(r["kind"], r["metadata"]["name"]) for r in wanted}
    selector = {**routes.ROUTE_LABELS, routes.SDEP_LABEL: routes.seldon_id(sdep)}
    deleted = []
    for kind in kinds:
        for found in await api.list_routes(kind, namespace, selector):
            name = (found.get("metadata") or {}).get("name", "")
            if (kind, name) not in keep:
                await api.delete_route(kind, namespace, name)
                deleted.append(f"{kind}/{name}")
    return deleted
