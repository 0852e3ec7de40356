"""Inference graphs routing real requests: Seldon's 1.17.1 executor in front of the example components,
in pods of the real node, each graph written by `fadi-seldon new` as docs/graphs.md prints it.

The components (examples/components and examples/iris-model) are packaged images built here; the
operator and the executor are Seldon's, built from its source release. Each test checks answers,
not states: the composed result of a chain, the child a router chose, a combiner's mean, the split of
a `RANDOM_ABTEST` router over hundreds of requests, `meta.requestPath`; both protocols the executor
speaks (REST, and gRPC through `fadi-seldon predict --transport grpc`); the executor's request
logging (CloudEvents received by a sink in the cluster); and the metrics a PodMonitor of the chart
scrapes from a running graph, checked against the dashboard's queries.
"""

from __future__ import annotations

import http.client
import json
import math
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections import Counter

import pytest
import yaml

from cluster.kube import Kube, wait_until
from conftest import ROOT
from fadi_seldon.localkube import node
from test_components import (
    A_ROW,
    B_ROW,
    EXPECTED,
    GRAPH_ANSWERS,
    SETOSA_CM,
    SETOSA_MM,
    VIRGINICA_CM,
    VIRGINICA_MM,
    _doc_commands,
    _images,
)

RELEASE, NS, GRAPHS = "seldon-graphs", "seldon-graphs", "graphs"
# the session's release keeps the CRD; executors ask 100m CPU so six graphs fit the 2-core node
SETS = ("crd.create=false", "usageMetrics.enabled=false", "executor.resources.cpuRequest=100m",
        "executor.resources.memoryRequest=128Mi")  # fmt: skip
A_IMAGE, B_IMAGE = "fadi-seldon/constant-model-a:0.1.0", "fadi-seldon/constant-model-b:0.1.0"
RATIO_A, SPLIT_REQUESTS = 0.7, 600
# two graphs the docs do not print: the built-in A/B router, and the chain with request logging
EXTRA_GRAPHS = {
    "abtest": [
        "--model",
        f"a={A_IMAGE}",
        "--model",
        f"b={B_IMAGE}",
        "--router",
        "RANDOM_ABTEST",
        "--ratio-a",
        str(RATIO_A),
    ],  # fmt: skip
}
SINK_PORT = 8080
# the log sink: keeps every POST (headers and body) and gives them back on GET /events
SINK = """
import http.server, json, sys
PORT = int(sys.argv[1])
EVENTS = []
class Sink(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        EVENTS.append({"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body.decode()})
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def do_GET(self):
        data = json.dumps(EVENTS).encode()
        self.send_response(200); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data))); self.end_headers(); self.wfile.write(data)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("0.0.0.0", PORT), Sink).serve_forever()
"""


def new(name: str, argv: list[str]) -> dict:
    """The SeldonDeployment `fadi-seldon new` writes, in the graphs' namespace."""
    proc = subprocess.run([sys.executable, "-m", "fadi_seldon", "new", name, *argv, "-n", GRAPHS, "-o", "json"],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def logged(manifest: dict) -> dict:
    """The iris chain with request logging on three nodes, one per logger mode, to the sink."""
    url = f"http://sink.{GRAPHS}.svc.cluster.local:{SINK_PORT}/"
    manifest = json.loads(json.dumps(manifest))
    manifest["metadata"]["name"] = "logged"
    root = manifest["spec"]["predictors"][0]["graph"]  # argmax -> scaler -> iris
    root["logger"] = {"mode": "all", "url": url}
    root["children"][0]["logger"] = {"mode": "request", "url": url}
    root["children"][0]["children"][0]["logger"] = {"mode": "response", "url": url}
    return manifest


def sink_objects() -> list[dict]:
    labels = {"app": "sink"}
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "sink", "namespace": GRAPHS, "labels": labels},
        "spec": {"containers": [{"name": "sink", "image": A_IMAGE, "command": ["python3", "-c", SINK, str(SINK_PORT)],
                                 "ports": [{"containerPort": SINK_PORT}],
                                 "readinessProbe": {"tcpSocket": {"port": SINK_PORT}, "periodSeconds": 1}}]},
    }  # fmt: skip
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "sink", "namespace": GRAPHS},
        "spec": {"selector": labels, "ports": [{"port": SINK_PORT, "targetPort": SINK_PORT}]},
    }
    return [pod, service]


def build_components(cluster_kubeconfig) -> None:
    """Every example component's image (and the iris model's), built without Docker and loaded."""
    from fadi_seldon.images import model
    from fadi_seldon.localkube import node_images
    from fadi_seldon.localkube.layout import Layout

    types = {f"examples/components/{folder}": kind for folder, (kind, _) in EXPECTED.items()}
    for image, folder in _images().items():
        kind = types.get(str(folder.relative_to(ROOT)), "MODEL")
        built = model.build(folder, image, service_type=kind)
        node_images.import_archive(built.archive, Layout(cluster_kubeconfig.parent))


def states(kube: Kube) -> dict[str, str]:
    items = (kube.get("sdep", "-n", GRAPHS) or {}).get("items") or []
    return {i["metadata"]["name"]: (i.get("status") or {}).get("state", "") for i in items}


@pytest.fixture(scope="module")
def graphs(kube: Kube, webhook_off, operator_image, seldon_images, cluster_kubeconfig) -> dict:
    """The operator chart on the real node, the components loaded, and every graph Available:
    name -> the manifest `new` wrote."""
    k = Kube(kube.kubeconfig, kube.env, kube.charts, simulated=False)
    k.namespace(NS)
    k.namespace(GRAPHS)
    started = time.monotonic()
    build_components(cluster_kubeconfig)
    print(f"[graphs] components built and loaded in {time.monotonic() - started:.1f}s", file=sys.stderr)
    k.install(RELEASE, NS, "charts/seldon-core-operator", *SETS, *operator_image)
    manifests = {argv[0]: new(argv[0], argv[1:]) for argv in _doc_commands("new")}
    manifests.update({name: new(name, argv) for name, argv in EXTRA_GRAPHS.items()})
    manifests["logged"] = logged(manifests["iris-chain"])
    k.apply(sink_objects())
    started = time.monotonic()
    k.apply(list(manifests.values()))
    wait_until("every graph to be Available",
               lambda: states(k) == dict.fromkeys(manifests, "Available"), timeout=300)  # fmt: skip
    print(f"[graphs] {len(manifests)} graphs Available in {time.monotonic() - started:.1f}s", file=sys.stderr)
    yield {"kube": k, "manifests": manifests}
    k.kubectl("delete", "namespace", GRAPHS, "--ignore-not-found", "--wait=true", check=False, timeout=240)
    k.helm("uninstall", RELEASE, "-n", NS, "--wait", "--timeout", "180s", check=False)
    k.kubectl("delete", "namespace", NS, "--ignore-not-found", "--wait=true", check=False, timeout=180)


class Graph:
    """One graph's predictor Service, called over one kept-alive HTTP connection."""

    def __init__(self, kube: Kube, name: str) -> None:
        self.url = kube.service_url(f"{name}-default", GRAPHS)
        parts = urllib.parse.urlsplit(self.url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)

    def predict(self, rows: list, puid: str | None = None) -> dict:
        """The answer; `puid` is sent as the request's id (Seldon-Puid), which the executor echoes."""
        body = json.dumps({"data": {"ndarray": rows}})
        headers = {"Content-Type": "application/json", **({"Seldon-Puid": puid} if puid else {})}
        self.conn.request("POST", "/api/v1.0/predictions", body, headers)
        resp = self.conn.getresponse()
        data = resp.read()
        assert resp.status == 200, (resp.status, data[:2000])
        self.puid = resp.getheader("Seldon-Puid")
        return json.loads(data)


def cli_predict(url: str, rows: list, *extra: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "fadi_seldon", "predict", url, "--ndarray", json.dumps(rows), "-o", "json",
         "--wait", "30", *extra],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def served_path(manifest: dict, child: str | None) -> set[str]:
    """The nodes `meta.requestPath` names: every node that answered (a router only chooses, so it is
    not there), with only the chosen child of a router."""
    graph = manifest["spec"]["predictors"][0]["graph"]

    def walk(node: dict) -> set[str]:
        children = node.get("children") or []
        if node.get("type") == "ROUTER" or node.get("implementation") == "RANDOM_ABTEST":
            return set().union(*(walk(c) for c in children if c["name"] == child))
        return {node["name"]}.union(*(walk(c) for c in children))

    return walk(graph)


def images_of(manifest: dict) -> dict[str, str]:
    containers = manifest["spec"]["predictors"][0]["componentSpecs"][0]["spec"]["containers"]
    return {c["name"]: c["image"] for c in containers}


def test_every_graph_runs_behind_the_executor_on_the_real_node(graphs):
    k = graphs["kube"]
    for name, manifest in graphs["manifests"].items():
        (pod,) = k.get("pods", "-n", GRAPHS, "-l", f"seldon-deployment-id={name}")["items"]
        assert pod["spec"]["nodeName"] == node.NODE_NAME, name
        statuses = {c["name"]: c for c in pod["status"]["containerStatuses"]}
        assert set(statuses) == {*images_of(manifest), "seldon-container-engine"}, name
        assert all(c["ready"] for c in statuses.values()), name
        assert (
            statuses["seldon-container-engine"]["image"] == "docker.io/seldonio/seldon-core-executor:1.17.1"
        )


@pytest.mark.parametrize("name", sorted(GRAPH_ANSWERS))
def test_each_documented_graph_answers_through_the_executor(graphs, name):
    """The answers docs/graphs.md gives, through the executor; `requestPath` names the nodes that
    served, with their images."""
    manifest = graphs["manifests"][name]
    images = images_of(manifest)
    graph = Graph(graphs["kube"], name)
    for rows, expected, served_by in GRAPH_ANSWERS[name]:
        answer = graph.predict(rows)
        assert answer["data"]["ndarray"] == [pytest.approx(row) for row in expected], (name, rows)
        path = answer["meta"]["requestPath"]
        child = served_by[-1] if served_by else None  # constant-model-a -> node a
        if served_by:
            assert answer["meta"]["tags"]["served_by"] == served_by, (name, rows)
        assert set(path) == served_path(manifest, child), (name, rows, path)
        assert all(path[node_name] == images[node_name] for node_name in path)


def test_a_transformer_chain_composes_through_the_cli(graphs):
    """`fadi-seldon predict` on the chain: millimetres scaled to centimetres, the iris model, then the
    output transformer applied to the model's answer (each class index, not probabilities)."""
    url = graphs["kube"].service_url("iris-chain-default", GRAPHS)
    answer = cli_predict(url, [SETOSA_MM, VIRGINICA_MM])
    assert answer["data"]["ndarray"] == [[0], [2]]
    assert answer["data"]["names"] == ["class_index"]
    assert answer["meta"]["tags"]["scaled_by"] == pytest.approx(0.1)  # the transformer's tag, kept


def test_a_custom_router_routes_each_request_by_its_features(graphs):
    graph = Graph(graphs["kube"], "routed")
    for rows, row, child in (
        ([SETOSA_CM], A_ROW, 0),
        ([VIRGINICA_CM], B_ROW, 1),
        ([[5.0, 3.0, 2.49, 0.5]], A_ROW, 0),
    ):
        answer = graph.predict(rows)
        assert answer["data"]["ndarray"] == [pytest.approx(row)]
        assert answer["meta"]["tags"]["served_by"] == f"constant-model-{'ab'[child]}"
        assert set(answer["meta"]["requestPath"]) == {"ab"[child]}


def test_random_abtest_splits_requests_by_ratio_a(graphs):
    """`RANDOM_ABTEST` with ratioA 0.7 over 600 requests: the share served by `a` within 4.5 standard
    deviations of the binomial (a false alarm about once in 150,000 runs; ratioA 0.5 would give about
    300 and fail)."""
    graph = Graph(graphs["kube"], "abtest")
    served = Counter()
    for _ in range(SPLIT_REQUESTS):
        answer = graph.predict([SETOSA_CM])
        by = answer["meta"]["tags"]["served_by"]
        served[by] += 1
        child = {"constant-model-a": "a", "constant-model-b": "b"}[by]
        assert set(answer["meta"]["requestPath"]) == {child}, answer["meta"]
        assert answer["data"]["ndarray"] == [pytest.approx(A_ROW if child == "a" else B_ROW)]
    mean = SPLIT_REQUESTS * RATIO_A
    spread = 4.5 * math.sqrt(SPLIT_REQUESTS * RATIO_A * (1 - RATIO_A))
    print(f"[graphs] RANDOM_ABTEST ratioA={RATIO_A}: {dict(served)}", file=sys.stderr)
    assert sum(served.values()) == SPLIT_REQUESTS
    assert abs(served["constant-model-a"] - mean) <= spread, (dict(served), mean, spread)


def test_a_combiner_gets_every_childs_answer(graphs):
    answer = Graph(graphs["kube"], "ensemble").predict([SETOSA_CM, VIRGINICA_CM, [1.0, 1.0, 1.0, 1.0]])
    assert answer["data"]["ndarray"] == [pytest.approx([0.4, 0.25, 0.35])] * 3
    assert set(answer["meta"]["requestPath"]) == {"mean", "a", "b"}


def test_grpc_gives_the_rest_answers(graphs):
    """The executor's gRPC port (5001) runs the graph over gRPC to every component: the five-node graph
    and the chain answer as they do over REST (`fadi-seldon predict --transport grpc`)."""
    k = graphs["kube"]
    for name, rows in (
        ("full", [SETOSA_MM]),
        ("full", [VIRGINICA_MM]),
        ("iris-chain", [SETOSA_MM, VIRGINICA_MM]),
    ):
        rest = Graph(k, name).predict(rows)
        url = k.service_url(f"{name}-default", GRAPHS, port="grpc")
        target = url.removeprefix("http://")
        assert target.endswith(":5001")
        answer = cli_predict(target, rows, "--transport", "grpc")
        assert answer["data"]["ndarray"] == rest["data"]["ndarray"], (name, rows)
        assert answer["meta"]["requestPath"] == rest["meta"]["requestPath"], (name, rows)


# ------------------------------------------------------------------------------ request logging

CE_REQUEST, CE_RESPONSE = "io.seldon.serving.inference.request", "io.seldon.serving.inference.response"


def sink_events(k: Kube) -> list[dict]:
    url = k.service_url("sink", GRAPHS)
    with urllib.request.urlopen(url + "/events", timeout=10) as resp:  # noqa: S310 - a ClusterIP of ours
        return json.load(resp)


def assert_both(logged: list, first, second) -> None:
    """The two payloads, in either order (the executor's log workers send them concurrently)."""
    assert len(logged) == 2 and (
        (logged[0] == first and logged[1] == second) or (logged[0] == second and logged[1] == first)
    ), (logged, first, second)


def test_request_logging_sends_cloudevents_per_logger_mode(graphs):
    """Three calls to the logged chain (argmax `mode: all` -> scaler `request` -> iris `response`).

    Seldon's 1.17.1 executor logs at each step where a node handles the message: a node with children
    logs what it passes to them and what they answer, and a transformer or model logs its own call too.
    So per call: argmax logs the request and the probabilities (to and from its child) and then the
    probabilities and the class index (its own transform); scaler logs the millimetres (its own input)
    and the centimetres (to its child); iris logs its probabilities. Each is a CloudEvent (binary
    mode) with Seldon's type, the caller's request id and the deployment's names.
    """
    k = graphs["kube"]
    graph = Graph(k, "logged")
    rows = (SETOSA_MM, VIRGINICA_MM, SETOSA_MM)
    puids = [f"fadi-logged-{i}-{time.time_ns()}" for i in range(len(rows))]
    calls = []
    for row, puid in zip(rows, puids, strict=True):
        calls.append(graph.predict([row], puid))
        assert graph.puid == puid  # the executor keeps the caller's request id
    events: list[dict] = []

    def arrived() -> bool:
        events[:] = [e for e in sink_events(k) if e["headers"].get("ce-requestid") in puids]
        return len(events) >= 7 * len(calls)

    wait_until("the executor's request logs at the sink", arrived, timeout=60)
    time.sleep(1)  # nothing more should come
    arrived()
    kinds = Counter((e["headers"]["ce-modelid"], e["headers"]["ce-type"]) for e in events)
    assert kinds == {
        ("argmax", CE_REQUEST): 6, ("argmax", CE_RESPONSE): 6,
        ("scaler", CE_REQUEST): 6, ("iris", CE_RESPONSE): 3,
    }  # fmt: skip
    for event in events:
        h = event["headers"]
        assert h["ce-specversion"] == "1.0" and h["ce-id"] and h["ce-source"]
        names = (h["ce-inferenceservicename"], h["ce-namespace"], h["ce-endpoint"])
        assert names == ("logged", GRAPHS, "default")
        assert h["content-type"].startswith("application/json")
    for call, row, puid in zip(calls, rows, puids, strict=True):
        logged_call: dict = {}
        for e in events:
            if e["headers"]["ce-requestid"] == puid:
                key = (e["headers"]["ce-modelid"], e["headers"]["ce-type"])
                logged_call.setdefault(key, []).append(json.loads(e["body"])["data"]["ndarray"])
        [probabilities] = logged_call[("iris", CE_RESPONSE)]
        assert len(probabilities[0]) == 3 and sum(probabilities[0]) == pytest.approx(1)
        assert probabilities[0].index(max(probabilities[0])) == call["data"]["ndarray"][0][0]
        scaled = [[pytest.approx(x / 10) for x in row]]
        assert_both(logged_call[("scaler", CE_REQUEST)], [row], scaled)
        assert_both(logged_call[("argmax", CE_REQUEST)], [row], probabilities)
        assert_both(logged_call[("argmax", CE_RESPONSE)], probabilities, call["data"]["ndarray"])


# ------------------------------------------------------------------------------ metrics


def pod_monitor_endpoints(k: Kube) -> list[dict]:
    """The chart's model PodMonitor, rendered with this release's values: its scrape endpoints."""
    text = k.helm("template", RELEASE, k.chart("charts/seldon-core-operator"), "-n", NS,
                  "--set", "metrics.modelPodMonitor.enabled=true",
                  "--show-only", "templates/model-podmonitor.yaml").stdout  # fmt: skip
    (monitor,) = [d for d in yaml.safe_load_all(text) if d]
    return monitor["spec"]["podMetricsEndpoints"]


def scrape(pod: dict, endpoints: list[dict]) -> dict[str, str]:
    """container name -> what Prometheus would read from each of its ports the PodMonitor names."""
    out = {}
    for container in pod["spec"]["containers"]:
        for port in container.get("ports") or []:
            for endpoint in endpoints:
                if port.get("name") == endpoint["port"]:
                    url = f"http://{pod['status']['podIP']}:{port['containerPort']}{endpoint.get('path', '/metrics')}"
                    with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 - a pod of ours
                        out[container["name"]] = resp.read().decode()
    return out


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def series(text: str, metric: str) -> list[tuple[dict[str, str], float]]:
    """(labels, value) of every sample of `metric` in a Prometheus text exposition."""
    out = []
    for line in text.splitlines():
        sample = _SAMPLE.match(line)
        if sample and sample.group(1) == metric:
            out.append((dict(_LABEL.findall(sample.group(2) or "")), float(sample.group(3))))
    return out


def test_the_pod_monitor_scrapes_the_executor_and_the_components(graphs):
    """The PodMonitor's ports and path on a running graph: the executor's series the dashboard's model
    row queries, with the labels it aggregates by, and the custom metric a component returns."""
    from fadi_seldon.dev import dashboard

    k = graphs["kube"]
    graph = Graph(k, "ensemble")
    for _ in range(5):
        graph.predict([SETOSA_CM, VIRGINICA_CM])
    (pod,) = k.get("pods", "-n", GRAPHS, "-l", "seldon-deployment-id=ensemble")["items"]
    scraped = scrape(pod, pod_monitor_endpoints(k))
    assert "seldon-container-engine" in scraped and {"a", "b", "mean"} <= set(scraped), sorted(scraped)
    executor = scraped["seldon-container-engine"]
    model_rows = [table for title, table in dashboard.ROWS if table is dashboard.MODEL_PANELS]
    for metric, labels in dashboard.queried_series(model_rows).items():
        samples = series(executor, metric)
        assert samples, f"the dashboard queries {metric}, which the executor does not expose"
        assert all(labels <= set(sample) for sample, _ in samples), (metric, labels, samples[0][0])
    count = [v for labels, v in series(executor, dashboard.EXECUTOR + "_count")
             if labels.get("deployment_name") == "ensemble" and labels.get("service") == "predictions"]  # fmt: skip
    assert count and sum(count) >= 5
    rows = series(scraped["a"], "fadi_constant_model_rows_total")
    assert rows, "the custom metric ConstantModelA.metrics() returns is not in its scrape"
    assert sum(v for labels, v in rows if labels.get("method") == "predict") >= 10
    assert not series(scraped["b"], "fadi_constant_model_rows_total")  # b reports no custom metric


def cli(k: Kube, state_dir, *argv: str) -> subprocess.CompletedProcess:
    """A command run as a user of the local cluster runs it (`eval "$(fadi-seldon cluster env)"`)."""
    env = {**k.env, "KUBECONFIG": str(k.kubeconfig), "FADI_CLUSTER_DIR": str(state_dir)}
    return subprocess.run([sys.executable, "-m", "fadi_seldon", *argv], capture_output=True, text=True,
                          timeout=120, env=env)  # fmt: skip


def test_status_and_logs_show_a_running_graph(graphs, cluster_kubeconfig):
    """`fadi-seldon status` on the five-node graph: Available, every component ready with its image on
    the node, the URL that `cluster service` gives; `logs --component executor` reads the executor."""
    k, state = graphs["kube"], cluster_kubeconfig.parent
    proc = cli(k, state, "status", "full", "-n", GRAPHS, "-o", "json")
    assert proc.returncode == 0, proc.stderr
    status = json.loads(proc.stdout)
    assert status["state"] == "Available" and status["node_images_checked"]
    [pod] = status["pods"]
    components = {c["component"]: c for c in pod["containers"]}
    assert set(components) == {*images_of(graphs["manifests"]["full"]), "executor"}
    assert all(c["ready"] and c["image_on_node"] == "present" for c in components.values()), components
    [url] = status["urls"]
    assert url["http"] == k.service_url("full-default", GRAPHS)
    assert url["grpc"] == k.service_url("full-default", GRAPHS, port="grpc").removeprefix("http://")
    text = cli(k, state, "status", "full", "-n", GRAPHS)
    assert text.returncode == 0 and "Available" in text.stdout and url["http"] in text.stdout
    logs = cli(k, state, "logs", "full", "-n", GRAPHS, "--component", "executor", "-o", "json")
    assert logs.returncode == 0, logs.stderr
    [entry] = json.loads(logs.stdout)
    assert entry["container"] == "seldon-container-engine" and entry["lines"]
    missing = cli(k, state, "status", "no-such-graph", "-n", GRAPHS)
    assert missing.returncode == 3 and "no-such-graph" in missing.stderr
