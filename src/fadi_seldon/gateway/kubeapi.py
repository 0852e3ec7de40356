"""The route controller's Kubernetes calls, over the aiohttp session kopf itself depends on.

kopf brings no client for writes; the official `kubernetes` client (or kubernetes_asyncio) would add
a dozen packages for seven REST calls. kopf's own login (service account in a pod, kubeconfig
outside) already yields the server, CA, token or client certificate: this module turns that
`ConnectionInfo` into an aiohttp session and makes the calls `reconcile.RouteApi` names.
"""

from __future__ import annotations

import base64
import datetime
import json
import ssl
import tempfile
import urllib.parse
from pathlib import Path
from typing import Any

import aiohttp
import kopf

from fadi_seldon.runtime import names
from fadi_seldon.sdep import routes

FIELD_MANAGER = routes.MANAGED_BY
# the kinds the controller writes: its routes, and Traefik's mirroring services (MIRROR_TRAEFIK)
PLURALS = {
    routes.HTTP_ROUTE: (routes.GATEWAY_VERSION, "httproutes"),
    routes.GRPC_ROUTE: (routes.GATEWAY_VERSION, "grpcroutes"),
    routes.TRAEFIK_SERVICE: (routes.TRAEFIK_API_VERSION, "traefikservices"),
}
SDEP_PATH = f"/apis/{names.CRD_GROUP}/v1/namespaces/{{namespace}}/{names.CRD_PLURAL}/{{name}}"


class KubeApiError(RuntimeError):
    """An API call answered with an error status (kopf retries the handler)."""


def _as_text(data: str | bytes) -> str:
    """kubeconfig's *-data fields are base64; kopf passes them on as they were read."""
    raw = data.encode() if isinstance(data, str) else data
    try:
        return base64.b64decode(raw, validate=True).decode()
    except ValueError:
        return raw.decode()


def ssl_context(info: kopf.ConnectionInfo) -> ssl.SSLContext | bool:
    """Verification by the cluster's CA, a client certificate when the login gave one."""
    if info.insecure:
        return False
    context = ssl.create_default_context(
        cafile=str(info.ca_path) if info.ca_path else None,
        cadata=_as_text(info.ca_data) if info.ca_data else None,
    )
    if info.certificate_path or info.certificate_data:
        with tempfile.TemporaryDirectory(prefix="fadi-routes-") as tmp:
            cert = Path(str(info.certificate_path)) if info.certificate_path else Path(tmp, "c.pem")
            key = Path(str(info.private_key_path)) if info.private_key_path else Path(tmp, "k.pem")
            if info.certificate_data:
                cert.write_text(_as_text(info.certificate_data))
            if info.private_key_data:
                key.write_text(_as_text(info.private_key_data))
            context.load_cert_chain(str(cert), str(key))
    return context


def auth_headers(info: kopf.ConnectionInfo) -> dict[str, str]:
    if info.token:
        return {"Authorization": f"{info.scheme or 'Bearer'} {info.token}"}
    if info.username and info.password:
        return {"Authorization": aiohttp.BasicAuth(info.username, info.password).encode()}
    return {}


class KubeApi:
    """reconcile.RouteApi on the API server kopf logged in to."""

    def __init__(self, info: kopf.ConnectionInfo) -> None:
        self.server = info.server.rstrip("/")
        self._info = info
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(ssl=ssl_context(self._info))
            self._session = aiohttp.ClientSession(
                connector=connector, headers=auth_headers(self._info), timeout=aiohttp.ClientTimeout(total=30)
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _call(self, method: str, path: str, *, ok404: bool = False, **kwargs: Any) -> dict | None:
        async with self._client().request(method, self.server + path, **kwargs) as resp:
            if resp.status == 404 and ok404:
                return None
            text = await resp.text()
            if resp.status >= 300:
                raise KubeApiError(f"{method} {path}: HTTP {resp.status}: {text[:500]}")
            return await resp.json(content_type=None) if text else {}

    @staticmethod
    def route_path(kind: str, namespace: str, name: str = "") -> str:
        api_version, plural = PLURALS[kind]
        base = f"/apis/{api_version}/namespaces/{namespace}/{plural}"
        return f"{base}/{name}" if name else base

    async def apply(self, obj: dict) -> None:
        meta = obj["metadata"]
        path = self.route_path(obj["kind"], meta["namespace"], meta["name"])
        query = {"fieldManager": FIELD_MANAGER, "force": "true"}
        headers = {"Content-Type": "application/apply-patch+yaml"}
        await self._call("PATCH", path, params=query, data=json.dumps(obj), headers=headers)

    async def list_routes(self, kind: str, namespace: str, selector: dict[str, str]) -> list[dict]:
        query = {"labelSelector": names.selector(selector)}
        found = await self._call("GET", self.route_path(kind, namespace), params=query, ok404=True)
        return list((found or {}).get("items") or [])

    async def delete_route(self, kind: str, namespace: str, name: str) -> None:
        await self._call("DELETE", self.route_path(kind, namespace, name), ok404=True)

    async def annotate_sdep(self, namespace: str, name: str, annotations: dict[str, str]) -> None:
        patch = {"metadata": {"annotations": annotations}}
        headers = {"Content-Type": "application/merge-patch+json"}
        await self._call(
            "PATCH", SDEP_PATH.format(namespace=namespace, name=name), data=json.dumps(patch), headers=headers
        )

    async def post_event(self, sdep: dict, reason: str, message: str) -> None:
        await self._call(
            "POST", f"/api/v1/namespaces/{_namespace(sdep)}/events", json=event(sdep, reason, message)
        )

    async def get_gateway(self, namespace: str, name: str) -> dict | None:
        path = f"/apis/{routes.GATEWAY_VERSION}/namespaces/{namespace}/gateways/{urllib.parse.quote(name)}"
        return await self._call("GET", path, ok404=True)

    async def namespace_labels(self, name: str) -> dict[str, str]:
        found = await self._call("GET", f"/api/v1/namespaces/{name}", ok404=True)
        return dict(((found or {}).get("metadata") or {}).get("labels") or {})


def _namespace(sdep: dict) -> str:
    return (sdep.get("metadata") or {}).get("namespace") or "default"


def event(sdep: dict, reason: str, message: str, now: datetime.datetime | None = None) -> dict:
    """A core/v1 Event about the SeldonDeployment (what `kubectl describe sdep` lists)."""
    meta = sdep.get("metadata") or {}
    stamp = (now or datetime.datetime.now(datetime.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{meta.get('name', 'sdep')}.", "namespace": _namespace(sdep)},
        "involvedObject": {
            "apiVersion": routes.SDEP_API_VERSION, "kind": routes.SDEP_KIND, "name": meta.get("name", ""),
            "namespace": _namespace(sdep), "uid": meta.get("uid", ""),
            "resourceVersion": meta.get("resourceVersion", ""),
        },
        "reason": reason, "message": message, "type": "Normal",
        "source": {"component": FIELD_MANAGER},
        "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1,
    }  # fmt: skip
