"""Inference graphs that fail inside their pod, told from the Seldon executor's log.

A SeldonDeployment's pod runs Seldon's executor (container `seldon-container-engine`) in front of
the graph's components, and every request goes through it. Two mistakes pass admission and the
operator, and only show once requests fail, so they are read from the logs:

- a component lacks the method its node's type calls: the Seldon wrapper answers a ROUTER's
  `/route` with `Route not defined`, a COMBINER's `/aggregate` with `Aggregate not defined` (HTTP
  400). At its default level the executor logs only `httpPost failed` with the response code, not
  the node; the node is named by the component's own log (its container bears the node's name) or,
  at SELDON_LOG_LEVEL=DEBUG, by the `Calling HTTP` URL the executor logs before each call. A MODEL
  without predict() or a transformer without its method is not an error for the wrapper (it
  answers an empty message or passes the input through): no log shows it;
- the executor cannot reach a node: its readiness check (the kubelet probes `/ready`) logs `Ready
  check failed` with the dial error (connection refused, no such host), or, with full health checks,
  a gRPC server's answer to its REST call (`malformed HTTP response`); a request through the
  executor's gRPC side logs `Failed to call predict` with the gRPC error (a REST server's answer:
  `error reading server preface`). A REST request that fails so is answered, not logged.

The lines are those of the real executor (Seldon 1.17.1) and wrapper: tests/test_doctor_graphs.py
runs both on loopback. The graph the executor runs, with the endpoints the operator gave each node,
is the executor container's ENGINE_PREDICTOR (base64 JSON); the SeldonDeployment's graph is the
fallback for names and types.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from urllib.parse import urlsplit

from fadi_seldon.doctor.findings import ERROR, OK, WARNING, Finding, Snapshot
from fadi_seldon.sdep.operator_objects import ENGINE_CONTAINER
from fadi_seldon.sdep.validator.webhook import as_dict, as_list, as_str, walk_graph

SDEP_LABEL = "seldon-deployment-id"  # on every pod the operator makes for a SeldonDeployment
LOG_TAIL, LOG_SINCE = "1000", "1h"  # the recent part of each log read
STARTUP_GRACE = 120.0  # seconds a pod may refuse readiness while its components start
# node type -> the method it needs, its argument, the path the executor calls, the wrapper's answer without it
CALLS = {
    "ROUTER": ("route", "X", "/route", "Route not defined"),
    "COMBINER": ("aggregate", "Xs", "/aggregate", "Aggregate not defined"),
}
_LOOPBACK = re.compile(r"^(localhost|127(\.\d+){3}|::1|\[::1\])$")
# the executor's errors for a node it cannot reach, most specific first: (kind, pattern)
_UNREACHABLE = (
    ("refused", re.compile(r"dial tcp (?P<addr>\S+): connect: connection refused")),
    ("no-such-host", re.compile(r"lookup (?P<host>[^\s:]+)(?: on \S+)?: no such host")),
    ("rest-to-grpc", re.compile(r'"https?://(?P<addr>[^/"]+)[^"]*": .*malformed HTTP response')),
    ("grpc-to-rest", re.compile(r"error reading server preface|http2: frame too large")),
    ("unhealthy", re.compile(r"Bad status from (?P<addr>\S+)")),
    ("unreachable", re.compile(r"dial tcp (?P<addr>\S+): ")),
    ("unreachable", re.compile(r'"https?://(?P<addr>[^/"]+)[^"]*": ')),  # a health check's other failures
)
# the executor 1.17.1's gRPC server dereferences the nil answer of a failed route call
_GRPC_ROUTE_PANIC = re.compile(r"panic: runtime error: invalid memory address[\s\S]*?payloadToMessage")
_REQUEST_ERRORS = ("Failed to call predict", "Failed to call feedback")


# ---------------------------------------------------------------------------- gathering
def gather(kubectl, snap: Snapshot) -> None:
    """Each executor pod: the graph it runs, its recent log, and the logs of the ROUTER and COMBINER
    components in it (their wrapper names a missing method; the executor's log does not)."""
    snap.graph_pods = []
    for pod in (kubectl.get("pods", "-A", "-l", SDEP_LABEL) or {}).get("items") or []:
        engine = _named(as_dict(pod.get("spec")).get("containers"), ENGINE_CONTAINER)
        if engine:  # none: `seldon.io/no-engine`, or a component pod of an executor in a pod of its own
            snap.graph_pods.append(_graph_pod(kubectl, pod, engine, snap.sdeps))


def _named(items: object, name: str) -> dict:
    return next((as_dict(c) for c in as_list(items) if as_dict(c).get("name") == name), {})


def _graph_pod(kubectl, pod: dict, engine: dict, sdeps: list[dict]) -> dict:
    meta, status = pod["metadata"], as_dict(pod.get("status"))
    flags = _flags(as_list(engine.get("args")))
    sdep, predictor = flags.get("sdep", ""), flags.get("predictor", "")
    graph = _engine_graph(engine) or _sdep_graph(sdeps, meta["namespace"], sdep, predictor)
    engine_status = _named(status.get("containerStatuses"), ENGINE_CONTAINER)

    def log(container: str, previous: bool = False) -> str:
        since = None if previous else LOG_SINCE
        return kubectl.logs(pod, previous=previous, tail=LOG_TAIL, container=container, since=since)

    # a previous executor's log, if it restarted: its gRPC server dies on a failed route call
    executor_log = log(ENGINE_CONTAINER, previous=True) if engine_status.get("restartCount") else ""
    containers = {c.get("name") for c in as_list(as_dict(pod.get("spec")).get("containers"))}
    return {
        "pod": f"{meta['namespace']}/{meta['name']}", "namespace": meta["namespace"], "sdep": sdep,
        "predictor": predictor, "graph": graph, "executor_ready": bool(engine_status.get("ready")),
        "started": as_str(status.get("startTime")),
        "executor_log": executor_log + "\n" + log(ENGINE_CONTAINER),
        "component_logs": {
            node["name"]: log(node["name"])
            for node, _, _ in walk_graph(graph, ())
            if as_str(node.get("type")) in CALLS and node.get("name") in containers
        },
    }  # fmt: skip


def _flags(args: list) -> dict[str, str]:
    """The executor's `--name value` and `--name=value` arguments, without their dashes."""
    out: dict[str, str] = {}
    for i, arg in enumerate(args):
        if not isinstance(arg, str) or not arg.startswith("-"):
            continue
        name, eq, value = arg.lstrip("-").partition("=")
        if not eq and i + 1 < len(args) and not str(args[i + 1]).startswith("-"):
            value = str(args[i + 1])
        out[name] = value
    return out


def _engine_graph(engine: dict) -> dict:
    """The graph in ENGINE_PREDICTOR, as the executor reads it: with the endpoints the operator set."""
    env = _named(engine.get("env"), "ENGINE_PREDICTOR")
    try:
        predictor = json.loads(base64.b64decode(as_str(env.get("value")), validate=True))
    except (binascii.Error, ValueError):
        return {}
    return as_dict(as_dict(predictor).get("graph"))


def _sdep_graph(sdeps: list[dict], namespace: str, name: str, predictor: str) -> dict:
    """The predictor's graph as the user wrote it: names and types, endpoints only if set by hand."""
    for sdep in sdeps:
        meta = as_dict(sdep.get("metadata"))
        if meta.get("namespace") == namespace and meta.get("name") == name:
            for pred in as_list(as_dict(sdep.get("spec")).get("predictors")):
                if as_dict(pred).get("name") == predictor:
                    return as_dict(as_dict(pred).get("graph"))
    return {}


# ---------------------------------------------------------------------------- checks
def check_graphs(snap: Snapshot) -> list[Finding]:
    """Per executor pod: the nodes lacking their method, the nodes the executor cannot reach, else
    calls that failed without a node named."""
    out: list[Finding] = []
    for gp in snap.graph_pods:
        nodes = [n for n, _, _ in walk_graph(gp["graph"], ()) if as_str(n.get("name"))]
        records = _records(gp["executor_log"])
        found = _missing_methods(gp, nodes, records) + _unreachable(
            gp, nodes, records, _starting(gp, snap.now)
        )
        found = found or _unexplained(gp, records)
        ok = Finding(
            "graph", OK, _subject(gp), f"{len(nodes)} node(s); the executor's log shows no failed call"
        )
        out += found or [ok]
    return out


def _unexplained(gp: dict, records: list[dict]) -> list[Finding]:
    """Failed calls whose node neither log names: at its default level the executor logs no URL."""
    failed = [rec for rec in records if rec.get("msg") in ("httpPost failed", *_REQUEST_ERRORS)]
    if not failed:
        return []
    codes = sorted({str(rec["response code"]) for rec in failed if rec.get("response code")})
    pod = gp["pod"].split("/", 1)[1]
    return [Finding(
        "graph-call-failed", WARNING, _subject(gp),
        f"the executor logged {len(failed)} failed call(s) to the graph's components"
        + (f" (HTTP {', '.join(codes)})" if codes else "") + " without naming the node",
        f"each component's own log says which failed and why: `kubectl -n {gp['namespace']} logs {pod} -c NODE`; "
        "or have the executor log every call's URL: SELDON_LOG_LEVEL=DEBUG in the predictor's `svcOrchSpec.env`",
    )]  # fmt: skip


def _subject(gp: dict, node: str = "") -> str:
    where = f"SeldonDeployment {gp['namespace']}/{gp['sdep']}, predictor {gp['predictor']}"
    return f"{where}, node {node}" if node else where


def _records(log: str) -> list[dict]:
    """The executor's JSON log records (its default encoding); panics and other lines are skipped."""
    out = []
    for line in log.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict):
                out.append(rec)
    return out


def _starting(gp: dict, now: dt.datetime) -> bool:
    """Whether the pod is young enough that refused readiness may only mean components still starting."""
    try:
        started = dt.datetime.fromisoformat(gp["started"].replace("Z", "+00:00"))
    except ValueError:
        return False
    return (now - started).total_seconds() < STARTUP_GRACE


# --- (a) a component without the method its node's type calls
def _failed_urls(records: list[dict]) -> list[str]:
    """URLs of the calls answered with HTTP 400: the `Calling HTTP` record (DEBUG level) before each
    `httpPost failed`."""
    out, last = [], ""
    for rec in records:
        if rec.get("msg") == "Calling HTTP":
            last = as_str(rec.get("URL"))
        elif rec.get("msg") == "httpPost failed":
            if rec.get("response code") == 400 and last:
                out.append(last)
            last = ""
    return out


def _missing_methods(gp: dict, nodes: list[dict], records: list[dict]) -> list[Finding]:
    """ROUTER and COMBINER nodes whose wrapper said it lacks the method, or whose URL the executor
    logged before a 400: the executor's count of such answers says requests failed on them."""
    failed = sum(rec.get("msg") == "httpPost failed" and rec.get("response code") == 400 for rec in records)
    urls = _failed_urls(records)
    out = []
    for node in nodes:
        kind = as_str(node.get("type"))
        if kind not in CALLS:
            continue
        method, arg, path, answer = CALLS[kind]
        name = node["name"]
        answered = gp["component_logs"].get(name, "").count(answer)
        called = sum(urlsplit(u).path == path and _is_node(node, urlsplit(u).netloc) for u in urls)
        if not answered and not called:
            continue
        seen = [f"its wrapper answered `{answer}` {answered} time(s) (container {name})"] if answered else []
        if failed:
            seen.append(f"the executor logged {failed} call(s) answered with HTTP 400 (`httpPost failed`)")
        if called:
            seen.append(f"{called} of them to this node's {path}")
        if kind == "ROUTER" and _GRPC_ROUTE_PANIC.search(gp["executor_log"]):
            seen.append("the executor's gRPC server crashed on a failed route (a Go panic) and restarted")
        out.append(Finding(
            "graph-method-missing", ERROR, _subject(gp, name),
            f"node {name} is a {kind}, so the executor calls {path} on it, but its component defines no "
            f"{method}(): {'; '.join(seen)}. Requests through predictor {gp['predictor']} fail",
            f"add `def {method}(self, {arg}, features_names=None)` to the class container {name} serves and "
            f"package it again with `--service-type {kind}` (`fadi-seldon package DIR --service-type {kind}`, "
            f"then rebuild and roll out the image); if that class is not a {kind.lower()}, give node {name} the "
            "type its class serves (docs/graphs.md, \"Components you write\": node type, method, path)",
        ))  # fmt: skip
    return out


# --- (b) a node the executor cannot reach
def _endpoint(node: dict) -> dict:
    return as_dict(node.get("endpoint"))


def _ports(node: dict) -> set[int]:
    ep = _endpoint(node)
    return {
        p
        for p in (ep.get("service_port"), ep.get("httpPort"), ep.get("grpcPort"))
        if isinstance(p, int) and p
    }


def _same_host(a: str, b: str) -> bool:
    a, b = a or "localhost", b or "localhost"
    return a == b or bool(_LOOPBACK.match(a) and _LOOPBACK.match(b))


def _is_node(node: dict, addr: str) -> bool:
    host, _, port = addr.rpartition(":")
    return (
        port.isdigit()
        and int(port) in _ports(node)
        and _same_host(host, as_str(_endpoint(node).get("service_host")))
    )


def _nodes_at(nodes: list[dict], addr: str, host: str) -> list[dict]:
    """The nodes an error names by address or host; every node with an endpoint when it names none."""
    if addr:
        port = addr.rpartition(":")[2]
        return [n for n in nodes if _is_node(n, addr)] or [
            n for n in nodes if port.isdigit() and int(port) in _ports(n)
        ]
    if host:
        return [n for n in nodes if as_str(_endpoint(n).get("service_host")) == host]
    return [n for n in nodes if _ports(n)]


def _classify(error: str) -> tuple[str, str, str] | None:
    """(kind, address, host) of an executor error saying a node cannot be reached."""
    for kind, pattern in _UNREACHABLE:
        match = pattern.search(error)
        if match:
            found = match.groupdict()
            return kind, found.get("addr") or "", found.get("host") or ""
    return None


def _unreachable(gp: dict, nodes: list[dict], records: list[dict], starting: bool) -> list[Finding]:
    """One finding per node and kind of failure: a readiness check fails every probe, so lines repeat."""
    groups: dict[tuple[str, str], dict] = {}
    for rec in records:
        msg = rec.get("msg")
        readiness = msg == "Ready check failed"
        if readiness and (gp["executor_ready"] or starting):
            continue  # passed since, or the components may still be starting
        if not readiness and msg not in _REQUEST_ERRORS:
            continue
        problem = _classify(as_str(rec.get("error")))
        if problem is None:
            continue
        kind, addr, host = problem
        at = _nodes_at(nodes, addr, host)
        label = (
            at[0]["name"]
            if len(at) == 1
            else (f"one of {', '.join(n['name'] for n in at)}" if at else f"at {addr or host}")
        )
        group = groups.setdefault(
            (label, kind), {"count": 0, "how": set(), "node": at[0] if len(at) == 1 else {}}
        )
        group.update(addr=addr or group.get("addr", ""), host=host, error=as_str(rec.get("error")))
        group["count"] += 1
        group["how"].add("its readiness check" if readiness else "requests")
    return [_unreachable_finding(gp, label, kind, group) for (label, kind), group in groups.items()]


def _unreachable_finding(gp: dict, label: str, kind: str, group: dict) -> Finding:
    where = group["addr"] or group["host"] or "its endpoint"
    what = {
        "refused": f"connection refused at {where}: nothing listens there",
        "no-such-host": f"the host {group['host']} does not resolve",
        "rest-to-grpc": f"its REST call to {where} got a gRPC (HTTP/2) server's answer",
        "grpc-to-rest": "its gRPC call got a REST (HTTP/1) server's answer",
        "unhealthy": f"{where} answers the health check with an error status",
        "unreachable": f"{where} cannot be reached",
    }[kind]
    error = re.sub(r'(malformed HTTP response) ".*', r"\1", group["error"])  # not the gRPC frame's bytes
    error = error if len(error) <= 300 else error[:300] + "..."
    return Finding(
        "graph-node-unreachable", ERROR, _subject(gp, label),
        f"the executor cannot call node {label}: {what} ({group['count']} time(s) in its log, from "
        f"{' and '.join(sorted(group['how']))}; last: {error})",
        _reach_fix(gp, label, kind, group),
    )  # fmt: skip


def _reach_fix(gp: dict, label: str, kind: str, group: dict) -> str:
    ep = _endpoint(group["node"])
    ports = f" (REST {ep.get('httpPort')}, gRPC {ep.get('grpcPort')})" if ep.get("httpPort") else ""
    logs = f"`kubectl -n {gp['namespace']} logs {gp['pod'].split('/', 1)[1]} -c {label}`"
    env = "PREDICTIVE_UNIT_HTTP_SERVICE_PORT/PREDICTIVE_UNIT_GRPC_SERVICE_PORT"
    if kind == "no-such-host":
        return (
            f"the graph sets node {label}'s `endpoint.service_host` to {group['host']}: remove it (the operator "
            "points a node at its container in the pod) or name a Service that exists"
        )
    if kind in ("rest-to-grpc", "grpc-to-rest", "unhealthy"):
        return (
            f"make each port the executor calls on node {label}{ports} speak that protocol: the Seldon wrapper "
            f"serves REST on the port the operator passes in PREDICTIVE_UNIT_HTTP_SERVICE_PORT (container port "
            f"`http`) and gRPC on PREDICTIVE_UNIT_GRPC_SERVICE_PORT (`grpc`), so set neither by hand; for "
            f"another server, set node {label}'s `endpoint.type` (REST or GRPC) and the SeldonDeployment's "
            "`transport` to what it speaks"
        )
    return (
        f"check container {label} runs and listens on the ports the executor calls{ports}: {logs}; do not "
        f"override {env}, and keep the container ports named `http` and `grpc` the ones its server opens; a "
        "port set by hand in the graph's `endpoint` must be the component's"
    )
