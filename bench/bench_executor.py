"""What Seldon's executor costs: one model called directly and through the executor, in the cluster.

On the local real node (a fresh cluster of its own), the operator chart and Seldon's 1.17.1 executor
built from the source release serve examples/iris-model four ways, each through its predictor's
Service (ClusterIP, kube-proxy), as a client in the cluster's network would call it:

- `direct`: the model alone (`seldon.io/no-engine: "true"`), the wrapper's own ports;
- `chain-1`: the model behind the executor;
- `chain-2`, `chain-3`: one and two input transformers (examples/components/input-transformer with
  `factor` 1, so the answer is unchanged) before the model: the cost of each extra graph node.

Each is called over REST (a kept-alive HTTP/1.1 connection per client thread) and gRPC (one channel
per thread, Seldon's stubs from the serve venv), at concurrency 1 and 8; the targets take turns in
short blocks, so a slow moment of the machine falls on all of them. Figures: mean, p50, p95, p99 and
requests/s, then the executor's added latency (chain-1 minus direct) and each extra node's, beside
upstream's anchors. No assertion: the figures are for the README.

Needs root and `make tools`. Usage: .venv/bin/python bench/bench_executor.py [--requests N]
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from bench_cluster import BIN, env, figure, run  # noqa: E402

from fadi_seldon.images import executor, model, operator  # noqa: E402
from fadi_seldon.localkube import ControlPlane, host, node_images, node_lifecycle, services  # noqa: E402
from fadi_seldon.model import serving  # noqa: E402

NS = "bench-executor"
IRIS, SCALER = "fadi-seldon/iris-model:0.1.0", "fadi-seldon/feature-scaler:0.1.0"
ROW = [[5.1, 3.5, 1.4, 0.2]]
TARGETS = ("direct", "chain-1", "chain-2", "chain-3")
BLOCKS = 5
# upstream's published figures (docs and the executor's CI), for the side-by-side
ANCHORS = {
    "rest": "upstream: about +9 ms on their cluster",
    "grpc": "upstream: about +4 ms on their cluster",
}
CI_ANCHOR = "upstream CI: mean < 3 ms, p95 < 5 ms, p99 < 10 ms added"

# Run by the serve venv's python: argv target, requests, concurrency; prints the latencies (s) as JSON.
GRPC_LOAD = """
import json, sys, threading, time
import grpc
from google.protobuf import json_format
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc
target, total, concurrency = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
message = json_format.ParseDict({"data": {"ndarray": %s}}, prediction_pb2.SeldonMessage())
out, lock = [], threading.Lock()
def client(n):
    with grpc.insecure_channel(target) as channel:
        stub = prediction_pb2_grpc.SeldonStub(channel)
        stub.Predict(message, timeout=30)  # the connection, before the clock
        mine = []
        for _ in range(n):
            t0 = time.perf_counter()
            stub.Predict(message, timeout=30)
            mine.append(time.perf_counter() - t0)
    with lock:
        out.extend(mine)
threads = [threading.Thread(target=client, args=(total // concurrency,)) for _ in range(concurrency)]
start = time.perf_counter()
[t.start() for t in threads]
[t.join() for t in threads]
print(json.dumps({"latencies": out, "elapsed": time.perf_counter() - start}))
""" % json.dumps(ROW)  # noqa: UP031 - a program's text


def kubectl(plane: ControlPlane, *args: str, **kw) -> subprocess.CompletedProcess:
    return run([str(BIN / "kubectl"), "--kubeconfig", str(plane.layout.kubeconfig), *args], **kw)


def graph(name: str, *argv: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", "fadi_seldon", "new", name, *argv, "-n", NS, "-o", "json"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return json.loads(proc.stdout)


def manifests() -> list[dict]:
    """The four SeldonDeployments; the transformers keep the features as they are (factor 1)."""
    direct = graph("direct", "--image", IRIS, "--model-name", "iris")
    direct["spec"]["predictors"][0]["annotations"] = {"seldon.io/no-engine": "true"}
    scalers = {"chain-1": [], "chain-2": ["s1"], "chain-3": ["s1", "s2"]}
    out = [direct]
    for name, nodes in scalers.items():
        argv = ["--image", IRIS, "--model-name", "iris"]
        for node in nodes:
            argv += ["--transformer", f"{node}={SCALER}", "--param", f"{node}.factor=1.0"]
        out.append(graph(name, *argv))
    return out


def setup(plane: ControlPlane) -> dict[str, dict[str, str]]:
    """Images loaded, the chart installed, the four models Available: name -> {rest, grpc} addresses."""
    for built in (operator.build(), executor.build()):
        node_images.import_archive(built.archive, plane.layout)
    for folder, image, kind in ((ROOT / "examples" / "iris-model", IRIS, "MODEL"),
                                (ROOT / "examples" / "components" / "input-transformer", SCALER, "TRANSFORMER")):  # fmt: skip
        node_images.import_archive(model.build(folder, image, service_type=kind).archive, plane.layout)
    sets = [a for s in (*operator.chart_sets(), "usageMetrics.enabled=false", "executor.resources.cpuRequest=100m",
                        "executor.resources.cpuLimit=2") for a in ("--set", s)]  # fmt: skip
    run([str(BIN / "helm"), "install", "seldon", str(ROOT / "charts" / "seldon-core-operator"), "-n", "seldon",
         "--create-namespace", "--wait", "--timeout", "180s", *sets], env=env(KUBECONFIG=str(plane.layout.kubeconfig)))  # fmt: skip
    kubectl(plane, "create", "namespace", NS)
    kubectl(
        plane,
        "apply",
        "-f",
        "-",
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": manifests()}),
    )
    for name in TARGETS:
        kubectl(plane, "wait", "-n", NS, f"sdep/{name}", "--for=jsonpath={.status.state}=Available",
                "--timeout=300s")  # fmt: skip
    from fadi_seldon.doctor import Kubectl

    kube = Kubectl(str(BIN / "kubectl"), kubeconfig=str(plane.layout.kubeconfig))
    out = {}
    for name in TARGETS:
        rest = services.wait_ready(kube, NS, f"{name}-default", port="http", timeout=120).url
        grpc = services.wait_ready(kube, NS, f"{name}-default", port="grpc", timeout=120).url
        out[name] = {"rest": rest, "grpc": grpc.removeprefix("http://")}
    return out


def rest_load(url: str, total: int, concurrency: int) -> tuple[list[float], float]:
    parts = urllib.parse.urlsplit(url)
    body = json.dumps({"data": {"ndarray": ROW}})
    headers = {"Content-Type": "application/json"}
    out: list[float] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        mine = []
        for i in range(n + 1):  # the first call opens the connection, before the clock
            t0 = time.perf_counter()
            conn.request("POST", "/api/v1.0/predictions", body, headers)
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                raise RuntimeError(f"{url} answered HTTP {resp.status}")
            if i:
                mine.append(time.perf_counter() - t0)
        conn.close()
        with lock:
            out.extend(mine)

    threads = [threading.Thread(target=client, args=(total // concurrency,)) for _ in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out, time.perf_counter() - start


def grpc_load(python: Path, target: str, total: int, concurrency: int) -> tuple[list[float], float]:
    proc = subprocess.run([str(python), "-c", GRPC_LOAD, target, str(total), str(concurrency)],
                          capture_output=True, text=True, check=True, timeout=600)  # fmt: skip
    result = json.loads(proc.stdout)
    return result["latencies"], result["elapsed"]


def measure(addresses: dict, python: Path, total: int) -> dict:
    """(transport, concurrency, target) -> {latencies, seconds}, the targets taking turns in blocks."""
    results: dict = {}
    for transport in ("rest", "grpc"):
        for concurrency in (1, 8):
            block = max(total // BLOCKS, concurrency)
            for _ in range(BLOCKS):
                for name in TARGETS:
                    address = addresses[name][transport]
                    if transport == "rest":
                        lat, secs = rest_load(address, block, concurrency)
                    else:
                        lat, secs = grpc_load(python, address, block, concurrency)
                    slot = results.setdefault(
                        (transport, concurrency, name), {"latencies": [], "seconds": 0.0}
                    )
                    slot["latencies"] += lat
                    slot["seconds"] += secs
    return results


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def stats(slot: dict) -> dict[str, float]:
    lat = slot["latencies"]
    return {"mean": statistics.fmean(lat) * 1000, "p50": pct(lat, 0.5) * 1000, "p95": pct(lat, 0.95) * 1000,
            "p99": pct(lat, 0.99) * 1000, "rps": len(lat) / slot["seconds"]}  # fmt: skip


def report(results: dict) -> None:
    table = {key: stats(slot) for key, slot in results.items()}
    print("  target    transport conc   mean ms  p50 ms  p95 ms  p99 ms   req/s")
    for (transport, concurrency, name), s in table.items():
        print(f"  {name:<9} {transport:<9} {concurrency:>4} {s['mean']:>9.2f} {s['p50']:>7.2f} {s['p95']:>7.2f} "
              f"{s['p99']:>7.2f} {s['rps']:>7.0f}")  # fmt: skip
    for transport in ("rest", "grpc"):
        for concurrency in (1, 8):
            d, e = table[(transport, concurrency, "direct")], table[(transport, concurrency, "chain-1")]
            added = {k: e[k] - d[k] for k in ("mean", "p95", "p99")}
            figure(f"executor adds, {transport} c={concurrency} (mean/p95/p99)",
                   "{mean:+.2f}/{p95:+.2f}/{p99:+.2f} ms".format(**added),
                   ANCHORS[transport] + "; " + CI_ANCHOR)  # fmt: skip
            figure(f"executor / direct, {transport} c={concurrency} (mean; req/s)",
                   f"{e['mean'] / d['mean']:.2f}x; {e['rps'] / d['rps']:.2f}x")  # fmt: skip
            for a, b in (("chain-1", "chain-2"), ("chain-2", "chain-3")):
                extra = (
                    table[(transport, concurrency, b)]["mean"] - table[(transport, concurrency, a)]["mean"]
                )
                figure(f"one more node ({a} -> {b}), {transport} c={concurrency}", f"{extra:+.2f} ms")
    figure("direct model, REST c=1", f"{table[('rest', 1, 'direct')]['rps']:.0f} req/s",
           "upstream: the Python wrapper above 180 req/s")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--requests", type=int, default=1000, help="requests per target, transport and concurrency"
    )
    args = parser.parse_args()
    problems = node_lifecycle.host_problems(BIN)
    if problems:
        print("[bench] no real node on this host: " + "; ".join(problems))
        return 0
    python = serving.ensure_venv(
        serving.default_venv(), install=True, progress=lambda m: print(f"[bench] {m}")
    )
    with tempfile.TemporaryDirectory(prefix="bench-executor-") as tmp:
        plane = ControlPlane(Path(tmp) / "cluster", bin_dir=BIN, out=open("/dev/null", "w"))  # noqa: SIM115
        before = host.snapshot()
        plane.up(node_kind="real")
        try:
            t0 = time.perf_counter()
            addresses = setup(plane)
            figure("images, chart and four models Available", f"{time.perf_counter() - t0:.0f} s")
            report(measure(addresses, python, args.requests))
        finally:
            plane.down()
            figure("host differences after down", str(len(host.differences(before, host.snapshot()))), "0")
    return 0


if __name__ == "__main__":
    sys.exit(main())
