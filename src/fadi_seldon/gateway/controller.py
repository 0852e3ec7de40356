"""The route controller on kopf: SeldonDeployment events in, `reconcile` called, kopf run standalone.

Event handlers (`@kopf.on.event`) and not kopf's create/update handlers: they keep no progress
annotations or status on the SeldonDeployment (the Seldon operator owns its status) and add no
finalizer, so deleting a SeldonDeployment never waits on this controller; its routes go by garbage
collection (ownerReferences). Every event brings the whole object, so each one is reconciled in
full, and kopf's initial listing does the same at start (what changed while it was down).
A failed call, or a Gateway without an address yet, is retried inside the handler with backoff.
`--standalone`: one replica, no peering CRDs.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from typing import Any

import kopf

from fadi_seldon.gateway import kubeapi, reconcile
from fadi_seldon.runtime import names

RETRY_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0)


class _Connection:
    """The API connection kopf's login produced, shared by the handlers."""

    def __init__(self) -> None:
        self.info: kopf.ConnectionInfo | None = None
        self.api: kubeapi.KubeApi | None = None

    def client(self) -> kubeapi.KubeApi:
        if self.api is None:
            if self.info is None:
                raise kopf.PermanentError("no Kubernetes login yet")
            self.api = kubeapi.KubeApi(self.info)
        return self.api


async def handle(
    body: dict,
    api: reconcile.RouteApi,
    settings: reconcile.Settings,
    log: logging.Logger | logging.LoggerAdapter,
    delays=RETRY_DELAYS,
) -> reconcile.Outcome:
    """reconcile, retried after a failed call or while the Gateway has no address."""
    outcome = reconcile.Outcome()
    for delay in (*delays, None):
        try:
            outcome = await reconcile.reconcile(body, api, settings, log)
            if outcome.skipped or outcome.url is not None or delay is None:
                return outcome
        except (TimeoutError, kubeapi.KubeApiError, OSError) as err:
            if delay is None:
                log.error("giving up on the routes of this SeldonDeployment until its next change: %s", err)
                return outcome
            log.warning("route update failed, retrying in %.0fs: %s", delay, err)
        await asyncio.sleep(delay)
    return outcome


def configure(settings: kopf.OperatorSettings) -> None:
    """kopf's settings for least privilege: no cluster-wide scan of CRDs and namespaces (which needs
    list and watch on both; the one resource is known and the namespaces are named, never patterns),
    and kopf's own Events for failures only."""
    settings.posting.level = logging.WARNING
    settings.scanning.disabled = True


def build_registry(config: reconcile.Settings) -> kopf.OperatorRegistry:
    """The handlers, in a registry of their own (no module-level state)."""
    registry = kopf.OperatorRegistry()
    connection = _Connection()

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        info = kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)
        connection.info = info
        return info

    @kopf.on.startup(registry=registry)
    def startup(
        settings: kopf.OperatorSettings, logger: logging.Logger | logging.LoggerAdapter, **_: Any
    ) -> None:
        configure(settings)
        logger.info("route controller: %s", config.scope.describe())

    @kopf.on.cleanup(registry=registry)
    async def cleanup(**_: Any) -> None:
        if connection.api is not None:
            await connection.api.close()

    @kopf.on.event(names.CRD_GROUP, "v1", names.CRD_PLURAL, registry=registry)
    async def seldondeployment(
        type: str, body: kopf.Body, logger: logging.Logger | logging.LoggerAdapter, **_: Any
    ) -> None:
        if type == "DELETED":
            return
        await handle(dict(body), connection.client(), config, logger)

    return registry


def run(
    settings: reconcile.Settings, liveness: str | None = None, verbose: bool = False, json_logs: bool = False
) -> None:
    """Run until interrupted: kopf in standalone mode, watching the scope's namespaces (or all)."""
    kopf.configure(verbose=verbose, log_format=kopf.LogFormat.JSON if json_logs else kopf.LogFormat.FULL)
    logging.getLogger(__name__).info(settings.scope.describe())
    kopf.run(
        registry=build_registry(settings),
        standalone=True,
        clusterwide=settings.scope.cluster_wide,
        namespaces=list(settings.scope.namespaces),
        liveness_endpoint=liveness,
        # kopf names itself after the user otherwise, and the image's non-root uid has no passwd entry
        # (getpass fails); the pod's name says which replica it is
        identity=os.environ.get("HOSTNAME") or socket.gethostname(),  # type: ignore[arg-type]  # a NewType of str kopf does not export
    )
