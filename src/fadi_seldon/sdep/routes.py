"""The Gateway API routes a SeldonDeployment needs, and the URL it is called at: pure data, no cluster.

Seldon Core v1 splits traffic between predictors (`traffic`), mirrors to a `shadow` predictor and
publishes `/seldon/<namespace>/<name>/...` only through Istio or Ambassador objects its operator
makes. FADI's ingress is Traefik, so the same behaviour is stated here once, in the vendor-neutral
Kubernetes Gateway API (HTTPRoute and GRPCRoute, gateway.networking.k8s.io/v1), which the route
controller (fadi_seldon.gateway) applies and `fadi-seldon routes render` prints.

Facts carried over from Seldon's operator (names, ports, headers, weights):
- a predictor's Service is `<sdep>-<predictor>`, `seldon-<md5>` past 63 characters, unless the
  predictor's annotation `seldon.io/svc-name` names it;
- it serves the executor's REST port (8000, the chart's `executor.port`) and gRPC port (5001); a
  `seldon.io/no-engine` predictor serves its root node's ports instead (9000/9500 by default);
- REST goes by path prefix `/seldon/<ns>/<name>/`, rewritten to `/`, so `/api/v1.0/...` and the V2
  protocol's `/v2/...` both reach the executor; gRPC goes by the headers `seldon: <name>` and
  `namespace: <ns>`;
- non-shadow predictors share traffic by their `traffic` weights (the webhook makes them sum to 100);
  a lone predictor takes everything whatever it says; a shadow gets a copy of every request (a share
  of them when its own `traffic` is between 1 and 99), and its answers are dropped.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from fadi_seldon.runtime import names
from fadi_seldon.sdep.validator.webhook import as_dict, as_list, as_str

GATEWAY_GROUP = "gateway.networking.k8s.io"
GATEWAY_VERSION = f"{GATEWAY_GROUP}/v1"
HTTP_ROUTE = "HTTPRoute"
GRPC_ROUTE = "GRPCRoute"
SDEP_API_VERSION = f"{names.CRD_GROUP}/v1"
SDEP_KIND = "SeldonDeployment"
MAX_NAME = 63
# the annotation the controller writes on each SeldonDeployment it routes: where to call it from outside
URL_ANNOTATION = "fadi.cetic.be/url"
# a SeldonDeployment's own opt-out of its GRPCRoute ("false"), e.g. when its clients speak REST only
GRPC_ANNOTATION = "fadi.cetic.be/grpc-route"
CUSTOM_SERVICE_ANNOTATION = "seldon.io/svc-name"
NO_ENGINE_ANNOTATION = "seldon.io/no-engine"
EXECUTOR_HTTP_PORT = 8000
EXECUTOR_GRPC_PORT = 5001
NODE_HTTP_PORT = 9000  # a predictive unit's default ports, behind a no-engine predictor's Service
NODE_GRPC_PORT = 9500
PREDICTIONS_PATH = "/api/v1.0/predictions"
# how a shadow gets its copy: the Gateway API's RequestMirror filter (any implementation that has it),
# Traefik's own mirroring service (a TraefikService through its CRD provider, for Traefik 3.6 and 3.7,
# whose Gateway provider has no RequestMirror and refuses a rule holding one), or not at all
MIRROR_REQUEST, MIRROR_TRAEFIK, MIRROR_NONE = "request-mirror", "traefik-service", "none"
MIRROR_MODES = (MIRROR_REQUEST, MIRROR_TRAEFIK, MIRROR_NONE)
TRAEFIK_SERVICE = "TraefikService"
TRAEFIK_GROUP = "traefik.io"
TRAEFIK_API_VERSION = f"{TRAEFIK_GROUP}/v1alpha1"
TRAEFIK_CRD_PROVIDER = "kubernetescrd"
# labels of every route: who manages it, and which SeldonDeployment it serves (Seldon's own label key)
MANAGED_BY = "fadi-seldon-routes"
SDEP_LABEL = "seldon-deployment-id"
ROUTE_LABELS = {"app.kubernetes.io/managed-by": MANAGED_BY, names.PART_OF_LABEL: names.PART_OF}


@dataclass(frozen=True)
class GatewayRef:
    """The Gateway (and its listener) the routes attach to: Gateway `fadi` in `fadi-gateway` by default."""

    name: str = "fadi"
    namespace: str = "fadi-gateway"
    section: str = ""  # the listener's name; empty: every listener the Gateway lets the route attach to

    def parent_ref(self) -> dict:
        ref = {"group": GATEWAY_GROUP, "kind": "Gateway", "name": self.name, "namespace": self.namespace}
        return ref | ({"sectionName": self.section} if self.section else {})


@dataclass(frozen=True)
class Backend:
    """One predictor as a route sees it: its Service, ports, weight, and whether it is the shadow."""

    predictor: str
    service: str
    http_port: int
    grpc_port: int
    weight: int
    shadow: bool
    mirror_percent: int | None = None  # a shadow's share of requests copied to it (None: all)


def hashed(name: str) -> str:
    """Seldon's rule for a generated name past 63 characters: `seldon-<md5 of the name>`."""
    return "seldon-" + hashlib.md5(name.encode()).hexdigest() if len(name) > MAX_NAME else name


def seldon_id(sdep: dict) -> str:
    """The SeldonDeployment's id, Seldon's `seldon-deployment-id` label value: its name, hashed if long."""
    return hashed(as_str(as_dict(sdep.get("metadata")).get("name")))


def predictor_service(sdep_name: str, predictor: dict) -> str:
    """The predictor's Service name (Seldon's predictor key)."""
    custom = as_str(as_dict(predictor.get("annotations")).get(CUSTOM_SERVICE_ANNOTATION))
    return custom or hashed(f"{sdep_name}-{as_str(predictor.get('name'))}")


def _ports(predictor: dict, http_port: int) -> tuple[int, int]:
    """The Service's REST and gRPC ports: the executor's, or the root node's when there is no executor."""
    if as_str(as_dict(predictor.get("annotations")).get(NO_ENGINE_ANNOTATION)).lower() != "true":
        return http_port, EXECUTOR_GRPC_PORT
    endpoint = as_dict(as_dict(predictor.get("graph")).get("endpoint"))
    http, grpc = endpoint.get("httpPort"), endpoint.get("grpcPort")
    return (
        http if isinstance(http, int) and http > 0 else NODE_HTTP_PORT,
        grpc if isinstance(grpc, int) and grpc > 0 else NODE_GRPC_PORT,
    )


def _traffic(predictor: dict) -> int:
    value = predictor.get("traffic")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def backends(sdep: dict, http_port: int = EXECUTOR_HTTP_PORT) -> list[Backend]:
    """Every predictor with its Service and weight, in the SeldonDeployment's order.

    Weights: a lone serving predictor gets 100; several get their `traffic`; several that all say 0
    (the webhook refuses that, a cluster without it may not) get equal shares rather than none."""
    name = as_str(as_dict(sdep.get("metadata")).get("name"))
    predictors = [p for p in as_list(as_dict(sdep.get("spec")).get("predictors")) if isinstance(p, dict)]
    serving = [p for p in predictors if p.get("shadow") is not True]
    total = sum(_traffic(p) for p in serving)
    out = []
    for p in predictors:
        http, grpc = _ports(p, http_port)
        shadow = p.get("shadow") is True
        if shadow:
            weight, percent = 0, (_traffic(p) if 0 < _traffic(p) < 100 else None)
        else:
            weight, percent = (100 if len(serving) == 1 else _traffic(p) if total else 1), None
        out.append(
            Backend(as_str(p.get("name")), predictor_service(name, p), http, grpc, weight, shadow, percent)
        )
    return out


def path_prefix(namespace: str, name: str) -> str:
    return f"/seldon/{namespace}/{name}/"


def route_name(sdep: dict, kind: str) -> str:
    """`<seldon id>-http` / `<seldon id>-grpc`: one route of each kind per SeldonDeployment."""
    return f"{seldon_id(sdep)}-{'http' if kind == HTTP_ROUTE else 'grpc'}"


def _metadata(sdep: dict, kind: str) -> dict:
    meta = as_dict(sdep.get("metadata"))
    owner = {
        "apiVersion": SDEP_API_VERSION, "kind": SDEP_KIND, "name": as_str(meta.get("name")),
        "uid": as_str(meta.get("uid")), "controller": True,
    }  # fmt: skip
    out = {
        "name": route_name(sdep, kind),
        "namespace": as_str(meta.get("namespace")) or "default",
        "labels": {**ROUTE_LABELS, SDEP_LABEL: seldon_id(sdep)},
    }
    return out | ({"ownerReferences": [owner]} if owner["uid"] else {})  # none offline: no uid yet


def _backend_ref(backend: Backend, port: int, weight: bool = True) -> dict:
    ref: dict[str, Any] = {"group": "", "kind": "Service", "name": backend.service, "port": port}
    return ref | ({"weight": backend.weight} if weight else {})


def _mirrors(shadows: list[Backend], grpc: bool) -> list[dict]:
    out = []
    for b in shadows:
        mirror: dict[str, Any] = {"backendRef": _backend_ref(b, b.grpc_port if grpc else b.http_port, False)}
        if b.mirror_percent is not None:
            mirror["percent"] = b.mirror_percent
        out.append({"type": "RequestMirror", "requestMirror": mirror})
    return out


def http_route(
    sdep: dict, gateway: GatewayRef, http_port: int = EXECUTOR_HTTP_PORT, mirror: str = MIRROR_REQUEST
) -> dict:
    """The HTTPRoute: the `/seldon/<ns>/<name>/` prefix rewritten to `/`, split by weight, and shadows
    mirrored by `mirror`: a RequestMirror filter, or one backend, the TraefikService that splits and
    mirrors (traefik_services), or not at all."""
    meta = _metadata(sdep, HTTP_ROUTE)
    found = backends(sdep, http_port)
    rewrite = {"type": "URLRewrite", "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}}}  # fmt: skip
    shadows = [b for b in found if b.shadow]
    refs = [_backend_ref(b, b.http_port) for b in found if not b.shadow]
    if shadows and mirror == MIRROR_TRAEFIK:
        name = f"{meta['namespace']}-{_traefik_name(sdep, 'mirror')}@{TRAEFIK_CRD_PROVIDER}"
        refs = [{"group": TRAEFIK_GROUP, "kind": TRAEFIK_SERVICE, "name": name}]
    rule = {
        "matches": [{"path": {"type": "PathPrefix", "value": path_prefix(meta["namespace"], _name(sdep))}}],
        "filters": [rewrite, *_mirrors(shadows if mirror == MIRROR_REQUEST else [], grpc=False)],
        "backendRefs": refs,
    }
    return _route(HTTP_ROUTE, meta, gateway, rule)


def _traefik_name(sdep: dict, role: str) -> str:
    return hashed(f"{seldon_id(sdep)}-{role}")


def _traefik_service(sdep: dict, role: str, spec: dict) -> dict:
    meta = _metadata(sdep, HTTP_ROUTE)
    meta["name"] = _traefik_name(sdep, role)
    return {"apiVersion": TRAEFIK_API_VERSION, "kind": TRAEFIK_SERVICE, "metadata": meta, "spec": spec}


def traefik_services(sdep: dict, http_port: int = EXECUTOR_HTTP_PORT) -> list[dict]:
    """Traefik's own mirroring for a SeldonDeployment with shadows (MIRROR_TRAEFIK): a TraefikService
    `<id>-mirror` sending each request to the serving predictors (one Service, or the weighted
    TraefikService `<id>-split` of several) and a copy to each shadow (its `traffic` share, else all)."""
    found = backends(sdep, http_port)
    shadows, serving = [b for b in found if b.shadow], [b for b in found if not b.shadow]
    if not shadows or not serving:
        return []
    out = []
    main: dict[str, Any] = {"name": serving[0].service, "port": serving[0].http_port}
    if len(serving) > 1:
        weighted = [{"name": b.service, "port": b.http_port, "weight": b.weight} for b in serving]
        out.append(_traefik_service(sdep, "split", {"weighted": {"services": weighted}}))
        main = {"name": _traefik_name(sdep, "split"), "kind": TRAEFIK_SERVICE}
    mirrors = [{"name": b.service, "port": b.http_port, "percent": b.mirror_percent or 100} for b in shadows]
    out.append(_traefik_service(sdep, "mirror", {"mirroring": {**main, "mirrors": mirrors}}))
    return out


def grpc_route(
    sdep: dict, gateway: GatewayRef, http_port: int = EXECUTOR_HTTP_PORT, mirror: str = MIRROR_REQUEST
) -> dict:
    """The GRPCRoute: requests with the headers `seldon: <name>` and `namespace: <ns>`, same weights."""
    meta = _metadata(sdep, GRPC_ROUTE)
    found = backends(sdep, http_port)
    headers = [
        {"type": "Exact", "name": "seldon", "value": _name(sdep)},
        {"type": "Exact", "name": "namespace", "value": meta["namespace"]},
    ]
    rule: dict[str, Any] = {"matches": [{"headers": headers}]}
    # gRPC shadows only by RequestMirror: Traefik's mirroring service is for HTTP requests
    mirrors = _mirrors([b for b in found if b.shadow], grpc=True) if mirror == MIRROR_REQUEST else []
    if mirrors:
        rule["filters"] = mirrors
    rule["backendRefs"] = [_backend_ref(b, b.grpc_port) for b in found if not b.shadow]
    return _route(GRPC_ROUTE, meta, gateway, rule)


def _name(sdep: dict) -> str:
    return as_str(as_dict(sdep.get("metadata")).get("name"))


def _route(kind: str, meta: dict, gateway: GatewayRef, rule: dict) -> dict:
    return {
        "apiVersion": GATEWAY_VERSION,
        "kind": kind,
        "metadata": meta,
        "spec": {"parentRefs": [gateway.parent_ref()], "rules": [rule]},
    }


def wants_grpc(sdep: dict) -> bool:
    """A GRPCRoute unless the SeldonDeployment opts out (annotation `fadi.cetic.be/grpc-route: "false"`)."""
    annotations = as_dict(as_dict(sdep.get("metadata")).get("annotations"))
    return as_str(annotations.get(GRPC_ANNOTATION)).lower() != "false"


def routes(
    sdep: dict,
    gateway: GatewayRef,
    *,
    grpc: bool = True,
    http_port: int = EXECUTOR_HTTP_PORT,
    url: str | None = None,
    mirror: str = MIRROR_REQUEST,
) -> list[dict]:
    """Every route the SeldonDeployment should have (the controller deletes its others), with the
    TraefikServices that mirror its shadows when `mirror` is MIRROR_TRAEFIK; with `url`, each route
    carries it in the same annotation as the SeldonDeployment (`kubectl get httproute -o yaml`)."""
    out = [http_route(sdep, gateway, http_port, mirror)]
    if grpc and wants_grpc(sdep):
        out.append(grpc_route(sdep, gateway, http_port, mirror))
    if url:
        for route in out:
            route["metadata"]["annotations"] = {URL_ANNOTATION: url}
    return out + (traefik_services(sdep, http_port) if mirror == MIRROR_TRAEFIK else [])


def shadows(sdep: dict) -> list[str]:
    """The names of the SeldonDeployment's shadow predictors."""
    return [b.predictor for b in backends(sdep) if b.shadow]


def base_url(public_url: str, namespace: str, name: str) -> str:
    """`<public URL>/seldon/<ns>/<name>`: what `predict` completes with the protocol's path."""
    return public_url.rstrip("/") + path_prefix(namespace, name).rstrip("/")


def prediction_url(sdep: dict, public_url: str) -> str:
    """The URL to call the model at: Seldon's predictions path, or for protocol v2 the root model's
    `/v2/models/<name>/infer` (any other protocol: the route's base URL)."""
    meta = as_dict(sdep.get("metadata"))
    spec = as_dict(sdep.get("spec"))
    base = base_url(public_url, as_str(meta.get("namespace")) or "default", as_str(meta.get("name")))
    protocol = as_str(spec.get("protocol")) or "seldon"
    if protocol == "seldon":
        return base + PREDICTIONS_PATH
    if protocol in ("v2", "kfserving"):
        serving = [p for p in as_list(spec.get("predictors")) if isinstance(p, dict) and not p.get("shadow")]
        model = as_str(as_dict((serving or [{}])[0].get("graph")).get("name"))
        return f"{base}/v2/models/{model}/infer" if model else base + "/v2"
    return base


def route_base(url: str, namespace: str, name: str) -> str | None:
    """The base URL (`.../seldon/<ns>/<name>`) inside a URL annotation, or None when it holds none."""
    prefix = path_prefix(namespace, name)
    cut = url.find(prefix)
    return url[: cut + len(prefix) - 1] if cut >= 0 else None


def _listener(gateway: dict, section: str) -> dict | None:
    """The Gateway's HTTP(S) listener of that name (any when no name is given)."""
    listeners = [x for x in as_list(as_dict(gateway.get("spec")).get("listeners")) if isinstance(x, dict)]
    named = [x for x in listeners if not section or x.get("name") == section]
    return next((x for x in named if x.get("protocol") in ("HTTP", "HTTPS")), None)


def gateway_url(gateway: dict, section: str = "") -> str | None:
    """`http://<address>[:port]` from a Gateway's status.addresses and its (named) HTTP listener."""
    addresses = [a for a in as_list(as_dict(gateway.get("status")).get("addresses")) if isinstance(a, dict)]
    address = next((as_str(a.get("value")) for a in addresses if as_str(a.get("value"))), "")
    listener = _listener(gateway, section)
    if not address or listener is None:
        return None
    scheme = "https" if listener.get("protocol") == "HTTPS" else "http"
    port = listener.get("port")
    host = f"[{address}]" if ":" in address else address
    default = port == {"http": 80, "https": 443}[scheme] or not isinstance(port, int)
    return f"{scheme}://{host}" + ("" if default else f":{port}")


def problem(doc: Any) -> tuple[str, str] | None:
    """(field path, what is wrong) for a document that is no SeldonDeployment the routes can be built
    from; None when it is one."""
    if not isinstance(doc, dict):
        return "", "the document is not a mapping; a SeldonDeployment is"
    if doc.get("kind") != SDEP_KIND:
        return "kind", f"is {doc.get('kind')!r}, expected {SDEP_KIND}"
    if not as_str(as_dict(doc.get("metadata")).get("name")):
        return "metadata.name", "missing: the routes and the URL are named after it"
    predictors = as_dict(doc.get("spec")).get("predictors")
    if not isinstance(predictors, list) or not predictors:
        return "spec.predictors", "missing or empty: a route needs at least one predictor"
    for i, p in enumerate(predictors):
        if not isinstance(p, dict) or not as_str(p.get("name")):
            return f"spec.predictors[{i}].name", "missing: the predictor's Service is named after it"
    return None


def load_documents(path: str) -> list[tuple[int, dict]]:
    """The SeldonDeployments of a YAML file with the line each starts at; YamlFileError (file, line,
    field path) for one that cannot be routed."""
    import yaml

    from fadi_seldon.runtime import yamlfile

    text = yamlfile.read_text(path, "SeldonDeployment manifests")
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
        docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError as err:
        raise yamlfile.describe(err, path) from None
    out = []
    for node, doc in zip(nodes, docs, strict=True):
        if node is None or doc is None:
            continue
        line = node.start_mark.line + 1
        found = problem(doc)
        if found:
            where, what = found
            raise yamlfile.YamlFileError(f"{where + ': ' if where else ''}{what}", path, line)
        out.append((line, doc))
    if not out:
        raise yamlfile.YamlFileError("holds no SeldonDeployment", path)
    return out
