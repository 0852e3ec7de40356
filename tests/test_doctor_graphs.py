"""doctor's graph checks, from the Seldon executor's log: a component without the method its node's
type calls (`graph-method-missing`), a node the executor cannot reach (`graph-node-unreachable`).

The logs in tests/data/executor-logs/ are what Seldon's 1.17.1 executor (`.tools/bin/seldon-executor`,
`-file` graph) and wrapper (`fadi-seldon serve`) wrote on loopback, one request each:
- router-rest, router-debug (-log_level DEBUG), router-grpc (a gRPC request): a ROUTER node on
  127.0.0.1:19103 (REST; gRPC 19203) whose class has no route(); router-wrapper is its wrapper's log;
- combiner-debug: a COMBINER node on 19102 serving a class without aggregate(); combiner-wrapper;
- refused-ready, nohost-ready: GET /ready with a node on the closed port 19999 (gRPC 19998), or on
  the host no-such-host.invalid; refused-grpc: a gRPC request to the former;
- grpc-to-rest: a gRPC request, the node's gRPC port being a wrapper's REST port (19102);
- rest-to-grpc-full-health: GET /ready with `-full_health_checks`, the node's REST port being a
  wrapper's gRPC port (19202).
The last test makes such logs again, with the real executor and wrapper, and checks them too.
"""

from __future__ import annotations

import ast
import base64
import json
import shutil
import subprocess
import textwrap
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from conftest import TOOLS_BIN
from fadi_seldon import doctor
from fadi_seldon.doctor import Snapshot, graphs

DATA = Path(__file__).resolve().parent / "data" / "executor-logs"
OLD = "2020-01-01T00:00:00Z"  # a pod long past its start


def log(name: str) -> str:
    return (DATA / f"{name}.log").read_text()


def node(name, kind, http, grpc, host="127.0.0.1", children=()):
    """A graph node as the operator hands it to the executor (ENGINE_PREDICTOR): with its endpoint."""
    endpoint = {
        "service_host": host,
        "service_port": http,
        "httpPort": http,
        "grpcPort": grpc,
        "type": "REST",
    }
    return {"name": name, "type": kind, "endpoint": endpoint, "children": list(children)}


def graph_pod(graph, executor_log, components=None, ready=False, started=OLD):
    return {
        "pod": "models/broken-default-0-router-abc", "namespace": "models", "sdep": "broken",
        "predictor": "default", "graph": graph, "executor_ready": ready, "started": started,
        "executor_log": executor_log, "component_logs": components or {},
    }  # fmt: skip


def findings(*pods):
    return graphs.check_graphs(Snapshot(graph_pods=list(pods)))


def only(found, check):
    [one] = [f for f in found if f.check == check]
    return one


ROUTER_GRAPH = node("my-router", "ROUTER", 19103, 19203, children=[node("model-a", "MODEL", 19102, 19202)])


# --- (a) a component without the method its node's type calls -------------------------------------


def test_a_router_without_route_is_named_by_its_wrappers_log():
    """At INFO the executor logs `httpPost failed` (400) and no node: the router's container names it."""
    found = findings(graph_pod(ROUTER_GRAPH, log("router-rest"), {"my-router": log("router-wrapper")}))
    one = only(found, "graph-method-missing")
    assert one.severity == "error"
    assert one.subject == "SeldonDeployment models/broken, predictor default, node my-router"
    assert "ROUTER" in one.message and "/route" in one.message and "route()" in one.message
    assert "`Route not defined` 3 time(s)" in one.message
    assert "1 call(s) answered with HTTP 400" in one.message
    assert "def route(self, X, features_names=None)" in one.fix and "--service-type ROUTER" in one.fix
    assert 'docs/graphs.md, "Components you write"' in one.fix
    assert [f.check for f in found] == ["graph-method-missing"]


def test_the_executors_debug_log_names_the_router_by_the_url_it_called():
    found = findings(graph_pod(ROUTER_GRAPH, log("router-debug")))
    one = only(found, "graph-method-missing")
    assert one.subject.endswith("node my-router")
    assert "1 of them to this node's /route" in one.message


def test_a_combiner_without_aggregate_is_named_though_it_shares_a_port():
    graph = node("my-combiner", "COMBINER", 19102, 19202, children=[node("model-a2", "MODEL", 19102, 19202)])
    for components in ({}, {"my-combiner": log("combiner-wrapper")}):
        one = only(findings(graph_pod(graph, log("combiner-debug"), components)), "graph-method-missing")
        assert one.subject.endswith("node my-combiner"), components
        assert (
            "def aggregate(self, Xs, features_names=None)" in one.fix and "--service-type COMBINER" in one.fix
        )


def test_a_grpc_request_to_a_router_without_route_crashes_the_executor():
    """The executor's gRPC server dies on the failed route (a panic in its log, `--previous` in a pod)."""
    found = findings(graph_pod(ROUTER_GRAPH, log("router-grpc"), {"my-router": log("router-wrapper")}))
    one = only(found, "graph-method-missing")
    assert "crashed on a failed route" in one.message
    assert not [f for f in found if f.check == "graph-node-unreachable"]  # `Exception calling application`


def test_failed_calls_no_log_names_are_a_warning_with_the_way_to_name_them():
    """The router's wrapper log is not there (a restarted container, say): the calls still failed."""
    found = findings(graph_pod(ROUTER_GRAPH, log("router-rest")))
    one = only(found, "graph-call-failed")
    assert one.severity == "warning" and "1 failed call(s)" in one.message and "HTTP 400" in one.message
    assert "SELDON_LOG_LEVEL=DEBUG" in one.fix and "-c NODE" in one.fix


def test_a_quiet_log_is_ok():
    quiet = "\n".join(line for line in log("router-rest").splitlines() if "httpPost failed" not in line)
    [one] = findings(graph_pod(ROUTER_GRAPH, quiet))
    assert (one.check, one.severity) == ("graph", "ok")


# --- (b) a node the executor cannot reach ---------------------------------------------------------

REFUSED_GRAPH = node("model-b", "MODEL", 19999, 19998)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_refused_readiness_check_names_the_node_on_that_port(host):
    """The operator writes `localhost`; the executor's error gives the address it dialled."""
    graph = node(
        "model-a", "MODEL", 19102, 19202, host, children=[node("model-b", "MODEL", 19999, 19998, host)]
    )
    one = only(findings(graph_pod(graph, log("refused-ready"))), "graph-node-unreachable")
    assert one.subject.endswith("node model-b")
    assert "connection refused at 127.0.0.1:19999" in one.message and "its readiness check" in one.message
    assert "REST 19999, gRPC 19998" in one.fix and "PREDICTIVE_UNIT_HTTP_SERVICE_PORT" in one.fix


@pytest.mark.parametrize(("ready", "started"), [(True, OLD), (False, "2999-01-01T00:00:00Z")])
def test_readiness_failures_of_a_ready_or_starting_executor_are_not_reported(ready, started):
    [one] = findings(graph_pod(REFUSED_GRAPH, log("refused-ready"), ready=ready, started=started))
    assert one.check == "graph"


def test_a_refused_grpc_request_is_reported_even_when_the_executor_is_ready():
    one = only(findings(graph_pod(REFUSED_GRAPH, log("refused-grpc"), ready=True)), "graph-node-unreachable")
    assert one.subject.endswith("node model-b") and "127.0.0.1:19998" in one.message
    assert "from requests" in one.message


def test_a_host_that_does_not_resolve_names_the_node_with_that_host():
    graph = node("model-a", "MODEL", 19102, 19202, host="no-such-host.invalid")
    one = only(findings(graph_pod(graph, log("nohost-ready"))), "graph-node-unreachable")
    assert one.subject.endswith("node model-a") and "no-such-host.invalid does not resolve" in one.message
    assert "endpoint.service_host" in one.fix


def test_a_grpc_server_on_the_rest_port_is_a_protocol_mismatch():
    graph = node("model-a", "MODEL", 19202, 19202)
    one = only(findings(graph_pod(graph, log("rest-to-grpc-full-health"))), "graph-node-unreachable")
    assert one.subject.endswith("node model-a") and "REST call to 127.0.0.1:19202" in one.message
    assert "`endpoint.type`" in one.fix and "container port `http`" in one.fix


def test_a_rest_server_on_the_grpc_port_is_a_protocol_mismatch_of_an_unnamed_address():
    """gRPC's error has no address: one node is named, several are listed."""
    one = only(
        findings(graph_pod(node("model-a", "MODEL", 19102, 19102), log("grpc-to-rest"))),
        "graph-node-unreachable",
    )
    assert one.subject.endswith("node model-a") and "REST (HTTP/1) server's answer" in one.message
    two = only(findings(graph_pod(ROUTER_GRAPH, log("grpc-to-rest"))), "graph-node-unreachable")
    assert two.subject.endswith("node one of my-router, model-a")


def test_diagnose_runs_the_graph_checks():
    snap = Snapshot(graph_pods=[graph_pod(REFUSED_GRAPH, log("refused-ready"))])
    assert "graph-node-unreachable" in {f.check for f in doctor.diagnose(snap)}


# --- gathering -----------------------------------------------------------------------------------


def _pod(name, containers, restarts=0, ready=False):
    return {
        "metadata": {"namespace": "models", "name": name, "labels": {graphs.SDEP_LABEL: "broken"}},
        "spec": {"containers": containers},
        "status": {"startTime": OLD, "containerStatuses": [
            {"name": "seldon-container-engine", "restartCount": restarts, "ready": ready}]},
    }  # fmt: skip


def _engine(predictor=None):
    env = [{"name": "ENGINE_PREDICTOR", "value": base64.b64encode(json.dumps(predictor).encode()).decode()}]
    return {
        "name": "seldon-container-engine",
        "args": ["--sdep", "broken", "--namespace", "models", "--predictor", "default", "--http_port", "8000",
                 "--full_health_checks=false"],
        "env": env if predictor else [],
    }  # fmt: skip


class FakeKubectl:
    def __init__(self, pods, logs):
        self.pods, self.texts, self.calls = pods, logs, []

    def get(self, *args):
        assert args == ("pods", "-A", "-l", graphs.SDEP_LABEL)
        return {"items": self.pods}

    def logs(self, pod, *, previous, tail, container=None, since=None):
        self.calls.append((pod["metadata"]["name"], container, previous, since))
        return self.texts.get((container, previous), "")


def test_gather_reads_the_executor_its_previous_run_and_the_routers_log():
    pods = [
        _pod("with-env", [_engine({"name": "default", "graph": ROUTER_GRAPH}), {"name": "my-router"},
                          {"name": "model-a"}], restarts=1),
        _pod("from-sdep", [_engine(), {"name": "my-router"}]),
        _pod("component-only", [{"name": "model-a"}]),
    ]  # fmt: skip
    sdep = {"metadata": {"namespace": "models", "name": "broken"},
            "spec": {"predictors": [{"name": "default", "graph": {"name": "my-router", "type": "ROUTER"}}]}}  # fmt: skip
    kubectl = FakeKubectl(pods, {("seldon-container-engine", True): "before\n",
                                 ("seldon-container-engine", False): "now\n", ("my-router", False): "wrapper\n"})  # fmt: skip
    snap = Snapshot(sdeps=[sdep])
    graphs.gather(kubectl, snap)
    first, second = snap.graph_pods
    assert (first["sdep"], first["predictor"], first["graph"]) == ("broken", "default", ROUTER_GRAPH)
    assert first["executor_log"] == "before\n\nnow\n" and first["component_logs"] == {
        "my-router": "wrapper\n"
    }
    assert second["graph"] == {"name": "my-router", "type": "ROUTER"} and second["executor_log"] == "\nnow\n"
    assert ("with-env", "seldon-container-engine", True, None) in kubectl.calls
    assert ("with-env", "my-router", False, graphs.LOG_SINCE) in kubectl.calls
    assert not [c for c in kubectl.calls if c[0] == "component-only" or c[1] == "model-a"]


def test_kubectl_logs_reads_one_container_recent_lines():
    kubectl = doctor.Kubectl(exe="/bin/echo")
    pod = {"metadata": {"namespace": "models", "name": "p"}}
    argv = kubectl.logs(
        pod, previous=False, tail="10", container="seldon-container-engine", since="1h"
    ).split()
    assert argv == ["logs", "p", "-n", "models", "--tail=10", "-c", "seldon-container-engine", "--since=1h"]
    assert "--all-containers" in kubectl.logs(pod, previous=True, tail="5")


# --- the real executor and wrapper on loopback -------------------------------------------------------

EXECUTOR = TOOLS_BIN / "seldon-executor"
REQUEST = {"data": {"ndarray": [[5.1, 3.5, 1.4, 0.2]]}}
# a gRPC Predict call through the wrapper's own stubs (the serve venv has them)
GRPC_PREDICT = textwrap.dedent("""
    import sys, grpc
    from seldon_core.proto import prediction_pb2_grpc
    from seldon_core.utils import json_to_seldon_message
    stub = prediction_pb2_grpc.SeldonStub(grpc.insecure_channel(sys.argv[1]))
    try:
        stub.Predict(json_to_seldon_message({"data": {"ndarray": [[5.1, 3.5, 1.4, 0.2]]}}), timeout=20)
    except grpc.RpcError as err:
        sys.exit(f"{err.code()}: {err.details()}")
""")


def _router_without_route(folder: Path) -> Path:
    """examples/components/router with route() deleted. Its class gets a base from another file, as
    `serve` (like `package`) refuses a ROUTER class without route() unless a base may hold it."""
    source = Path(__file__).resolve().parents[1] / "examples" / "components" / "router"
    shutil.copytree(source, folder, ignore=shutil.ignore_patterns("Dockerfile", "requirements-seldon.txt"))
    module = folder / "ThresholdRouter.py"
    lines = module.read_text().splitlines(keepends=True)
    [route] = [
        n for n in ast.walk(ast.parse("".join(lines))) if isinstance(n, ast.FunctionDef) and n.name == "route"
    ]
    del lines[route.lineno - 1 : route.end_lineno]
    text = "from routing_base import RoutingBase\n" + "".join(lines)
    module.write_text(text.replace("class ThresholdRouter:", "class ThresholdRouter(RoutingBase):"))
    (folder / "routing_base.py").write_text("class RoutingBase:\n    def tags(self):\n        return {}\n")
    return folder


class Executor:
    """Seldon's executor as a host process on loopback, running one predictor graph read from a file."""

    def __init__(self, folder: Path, name: str, graph: dict, *flags: str):
        from fadi_seldon.runtime import processes

        self.http, self.grpc = processes.free_port(), processes.free_port()
        self.predictor = {"name": "default", "graph": graph, "componentSpecs": []}
        sdep = {"apiVersion": "machinelearning.seldon.io/v1", "kind": "SeldonDeployment",
                "metadata": {"name": name, "namespace": "models"}, "spec": {"predictors": [self.predictor]}}  # fmt: skip
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(sdep))  # -file wants a name ending in yaml
        self.log = folder / f"{name}.log"
        argv = [str(EXECUTOR), "-sdep", name, "-namespace", "models", "-predictor", "default", "-protocol", "seldon",
                "-http_port", str(self.http), "-grpc_port", str(self.grpc), "-file", f"{name}.yaml", *flags]  # fmt: skip
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(argv, cwd=folder, stdout=out, stderr=subprocess.STDOUT)
        from fadi_seldon.runtime.polling import wait_until

        try:
            wait_until("the executor's /live", lambda: self.get("/live") == 200, timeout=30)
        except BaseException:
            self.close()  # the caller never gets it to stop
            raise

    def get(self, path: str) -> int | None:
        assert self.proc.poll() is None, self.log.read_text()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http}{path}", timeout=10) as resp:
                return resp.status
        except urllib.error.HTTPError as err:
            return err.code
        except OSError:
            return None

    def predict(self) -> tuple[int, str]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.http}/api/v1.0/predictions", json.dumps(REQUEST).encode(),
            {"Content-Type": "application/json"},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    def close(self) -> str:
        """Stop it (its own process only) and return its log."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.log.read_text()


def _gathered(executor: Executor, executor_log: str, components: dict[str, str]) -> Snapshot:
    """The snapshot `gather` makes of a pod running this executor, its real logs served by kubectl."""
    value = base64.b64encode(json.dumps(executor.predictor).encode()).decode()
    engine = {**_engine(), "env": [{"name": "ENGINE_PREDICTOR", "value": value}]}
    pod = _pod("broken-default-0-router-abc", [engine, *({"name": n} for n in components)])
    texts = {("seldon-container-engine", False): executor_log} | {
        (n, False): t for n, t in components.items()
    }
    snap = Snapshot()
    graphs.gather(FakeKubectl([pod], texts), snap)
    return snap


def _serve(serve_venv, folder: Path, log: Path, *argv: str):
    from served import ServeProcess

    return ServeProcess("FADI_SERVE_VENV", serve_venv, str(folder), *argv, log=log)


@pytest.mark.tools
@pytest.mark.skipif(
    not EXECUTOR.is_file(),
    reason=f"{EXECUTOR} is not built (`fadi-seldon tools install seldon-executor`, from Seldon's source release)",
)
def test_the_real_executors_log_names_the_broken_nodes(serve_venv, tmp_path):
    """(a) a ROUTER whose class lost route(), (b) a node on a closed port, and a wrapper's REST and
    gRPC ports swapped in the graph: the executor's real log, fed to the check, names each node."""
    from fadi_seldon.runtime import processes

    examples = Path(__file__).resolve().parents[1] / "examples" / "components"
    servers, executors, logs = [], [], {}
    try:
        router = _serve(serve_venv, _router_without_route(tmp_path / "router"), tmp_path / "router.log",
                        "--class", "ThresholdRouter", "--service-type", "ROUTER", "--no-grpc")  # fmt: skip
        servers.append(router)
        model = _serve(serve_venv, examples / "constant-model-a", tmp_path / "model.log")
        servers.append(model)
        for server in servers:
            server.wait_for("/health/ping", lambda status, body: body.strip() == b"pong", 90)
        closed = processes.free_port()  # nothing listens there
        broken = node("my-router", "ROUTER", router.http, router.grpc, "localhost", children=[
            node("model-a", "MODEL", model.http, model.grpc, "localhost"),
            node("model-b", "MODEL", closed, closed, "localhost")])  # fmt: skip
        for name, flags in (("broken", ()), ("broken-debug", ("-log_level", "DEBUG"))):
            executors.append(executor := Executor(tmp_path, name, broken, *flags))
            assert executor.get("/ready") == 503  # model-b
            status, answer = executor.predict()
            assert status == 400 and f":{router.http}/route status code 400" in answer, answer
            logs[name] = executor.close()
        swapped = node("model-a", "MODEL", model.grpc, model.http)  # REST on the gRPC port and back
        executors.append(executor := Executor(tmp_path, "swapped", swapped, "-full_health_checks"))
        assert executor.get("/ready") == 503
        call = subprocess.run([str(serve_venv / "bin" / "python"), "-c", GRPC_PREDICT, f"127.0.0.1:{executor.grpc}"],
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        assert call.returncode != 0 and "UNAVAILABLE" in call.stderr, call.stderr
        logs["swapped"] = executor.close()
    finally:
        for executor in executors:
            executor.close()
        for server in servers:
            server.close(graceful=True)
    router_log = (tmp_path / "router.log").read_text()
    assert "Route not defined" in router_log

    by_check = {
        f.check: f
        for f in graphs.check_graphs(_gathered(executors[0], logs["broken"], {"my-router": router_log}))
    }
    assert sorted(by_check) == ["graph-method-missing", "graph-node-unreachable"], by_check
    assert by_check["graph-method-missing"].subject.endswith("node my-router")
    assert by_check["graph-node-unreachable"].subject.endswith("node model-b")
    assert f"connection refused at 127.0.0.1:{closed}" in by_check["graph-node-unreachable"].message

    debug_found = graphs.check_graphs(_gathered(executors[1], logs["broken-debug"], {}))  # its log alone
    debug = only(debug_found, "graph-method-missing")
    assert debug.subject.endswith("node my-router")
    assert "1 of them to this node's /route" in debug.message

    swapped_found = graphs.check_graphs(_gathered(executors[2], logs["swapped"], {}))
    assert [f.subject.split(", ")[-1] for f in swapped_found] == ["node model-a", "node model-a"], (
        swapped_found
    )
    messages = " | ".join(f.message for f in swapped_found)
    assert f"REST call to 127.0.0.1:{model.grpc} got a gRPC (HTTP/2) server's answer" in messages
    assert "gRPC call got a REST (HTTP/1) server's answer" in messages
