"""Scale of the real Seldon operator: hundreds to thousands of SeldonDeployments on simulated nodes.

A control plane with kwok nodes only (no kubelet), the operator chart installed by helm with its
webhook pointed at the real operator running as a host process. For each size step (cumulative:
SCALE=100,1000 creates 100, then 900 more):

- apply: creates of single-model SeldonDeployments through the API and the real webhook (8 at a time)
- Deployments: time until the operator has created the Deployment of every SeldonDeployment of the step
- Available: time until every SeldonDeployment of the step has status.state Available
- throughput: SeldonDeployments of the step per second, from the first create to the last Available
- the operator's RSS (now and peak, /proc VmRSS, VmHWM) and CPU seconds; kube-apiserver and etcd RSS
- admission latency p50/p99 of 50 concurrent server-side dry-run creates (dryRun=All) through the webhook
- error lines in the operator's log
- the operator's API requests (client-go's rest_client_requests_total from its metrics endpoint): per
  SeldonDeployment and per second, beside its client-side rate limit (QPS 20, burst 30: controller-
  runtime v0.11's default, which the operator does not change and exposes no flag for) and its one
  reconcile worker (controller_runtime_max_concurrent_reconciles)
- cost per SeldonDeployment: the operator's RSS slope between steps (MiB per 1,000)

Then all are deleted: time until every Deployment and Service the operator owned is gone.
Enough simulated nodes for the chart's default executor request (500m CPU, 512Mi per model pod).
Plain figures, no assertions.

Usage: .venv/bin/python bench/bench_scale.py [-o json]
Environment: SCALE (default "100,1000"): the cumulative sizes.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))  # the test machinery (tests/machinery)

from fadi_seldon.localkube import ControlPlane  # noqa: E402
from fadi_seldon.localkube.nodes import NodeSpec  # noqa: E402
from fadi_seldon.localkube.operator import OperatorRunner, StartOptions  # noqa: E402
from fadi_seldon.runtime import polling  # noqa: E402
from fadi_seldon.tools.layout import default_tools_dir  # noqa: E402
from machinery.proxy import Proxy  # noqa: E402

BIN = default_tools_dir() / "bin"  # TOOLS_DIR / FADI_TOOLS_DIR, as the Makefile sets it
CHART = ROOT / "charts" / "seldon-core-operator"
NAMESPACE = "scale"
SDEP = f"/apis/machinelearning.seldon.io/v1/namespaces/{NAMESPACE}/seldondeployments"
# the chart's default executor requests (values.yaml executor.resources), one executor per model pod
EXECUTOR_CPU = 0.5
EXECUTOR_MEMORY_GI = 0.5
NODE = NodeSpec()  # one simulated node's default capacity: 128 CPU, 512Gi, 250 pods
CREATE_WORKERS = 8
DRY_RUNS = 50
# counters of the operator's metrics endpoint summed over their label sets, and its worker gauge
REQUESTS = "rest_client_requests_total"
RECONCILES = "controller_runtime_reconcile_total"
WORKERS = "controller_runtime_max_concurrent_reconciles"
PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = os.sysconf("SC_CLK_TCK")


def say(line: str) -> None:
    print(f"[scale] {line}", file=sys.stderr, flush=True)


def sdep(name: str) -> dict:
    return {
        "apiVersion": "machinelearning.seldon.io/v1",
        "kind": "SeldonDeployment",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "predictors": [
                {
                    "name": "default",
                    "replicas": 1,
                    "componentSpecs": [
                        {"spec": {"containers": [{"name": "model", "image": "scale/model:1"}]}}
                    ],
                    "graph": {"name": "model", "type": "MODEL", "children": []},
                }
            ]
        },
    }


def nodes_for(pods: int) -> int:
    """Simulated nodes that fit `pods` model pods with the executor's default requests, plus one spare."""
    cpu = math.ceil(pods * EXECUTOR_CPU / float(NODE.cpu))
    memory = math.ceil(pods * EXECUTOR_MEMORY_GI / 512)
    count = math.ceil(pods / NODE.pods)
    return max(cpu, memory, count) + 1


def proc_figures(pid: int) -> dict:
    """RSS and peak RSS (MiB) and CPU seconds of a process, from /proc."""
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    kib = lambda key: int(fields[key].split()[0]) / 1024  # noqa: E731
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return {
        "rss_mib": round(kib("VmRSS"), 1),
        "peak_rss_mib": round(kib("VmHWM"), 1),
        "cpu_s": round((int(stat[11]) + int(stat[12])) / TICK, 1),
    }


def create_all(proxy: Proxy, names: list[str]) -> list[str]:
    """POST every SeldonDeployment through the webhook; the failures as messages."""

    def one(name: str) -> str | None:
        code, answer = proxy.request("POST", SDEP, json.dumps(sdep(name)).encode())
        return None if code in (200, 201) else f"{name}: {code} {answer.get('message', '')}"

    with ThreadPoolExecutor(CREATE_WORKERS) as pool:
        return [e for e in pool.map(one, names) if e]


def available_count(proxy: Proxy) -> int:
    code, answer = proxy.request("GET", SDEP)
    if code != 200:
        return -1
    return sum(
        1 for item in answer.get("items", []) if (item.get("status") or {}).get("state") == "Available"
    )


def wait_for(what: str, check, target: int, timeout: float) -> float:
    """Seconds until check() reaches `target` (a count), printing progress every 10 s."""
    t0 = time.perf_counter()
    seen: list[int] = [-1]

    def reached() -> bool:
        seen[0] = check()
        return seen[0] == target

    def note(waited: float) -> None:
        say(f"  {what}: {seen[0]}/{target} after {waited:.0f}s")

    try:
        polling.wait_until(what, reached, timeout, every=1.0, progress=note)
    except polling.WaitTimeout:
        raise SystemExit(f"{what}: {seen[0]} of {target} after {timeout:.0f}s") from None
    return time.perf_counter() - t0


def admission_latency(proxy: Proxy) -> dict:
    """p50/p99 (ms) of DRY_RUNS concurrent server-side dry-run creates through the webhook."""
    barrier = threading.Barrier(DRY_RUNS)

    def one(i: int) -> tuple[float, int]:
        body = json.dumps(sdep(f"dry-run-{i}")).encode()
        barrier.wait()
        t0 = time.perf_counter()
        code, _ = proxy.request("POST", SDEP + "?dryRun=All", body)
        return (time.perf_counter() - t0) * 1000, code

    with ThreadPoolExecutor(DRY_RUNS) as pool:
        results = list(pool.map(one, range(DRY_RUNS)))
    times = sorted(t for t, _ in results)
    return {
        "p50_ms": round(statistics.median(times), 1),
        "p99_ms": round(times[min(len(times) - 1, math.ceil(0.99 * len(times)) - 1)], 1),
        "refused": sum(1 for _, code in results if code not in (200, 201)),
    }


def error_lines(log: Path) -> int:
    count = 0
    with open(log, errors="replace") as f:
        for line in f:
            if '"level":"error"' in line or '"level":"ERROR"' in line or " ERROR " in line:
                count += 1
    return count


def operator_metrics(url: str) -> dict[str, float]:
    """The operator's request and reconcile counters (summed) and its reconcile workers (max)."""
    with urllib.request.urlopen(url, timeout=10) as resp:
        text = resp.read().decode()
    found = {REQUESTS: 0.0, RECONCILES: 0.0, WORKERS: 0.0}
    for line in text.splitlines():
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name in found:
            value = float(line.rsplit(" ", 1)[1])
            found[name] = max(found[name], value) if name == WORKERS else found[name] + value
    return found


def owned_count(proxy: Proxy, *kinds: str) -> int:
    """Deployments and Services (or only `kinds`) labelled with a SeldonDeployment's id."""
    paths = {
        "deployments": f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments",
        "services": f"/api/v1/namespaces/{NAMESPACE}/services",
    }
    total = 0
    for kind in kinds or tuple(paths):
        code, answer = proxy.request("GET", paths[kind] + "?labelSelector=seldon-deployment-id")
        total += len(answer.get("items", [])) if code == 200 else 1
    return total


def step(proxy: Proxy, operator: dict, pids: dict[str, int], done: int, size: int) -> dict:
    names = [f"sdep-{i:05d}" for i in range(done, size)]
    say(f"step to {size}: creating {len(names)} SeldonDeployments")
    before = operator_metrics(operator["metrics"])
    t0 = time.perf_counter()
    failures = create_all(proxy, names)
    apply_s = time.perf_counter() - t0
    if failures:
        say(f"  {len(failures)} creates failed, first: {failures[0]}")
    say(f"  created in {apply_s:.1f}s; waiting for the operator's Deployments, then Available")
    deployments_s = wait_for("Deployments", lambda: owned_count(proxy, "deployments"), size, timeout=1200)
    avail_s = deployments_s + wait_for("Available", lambda: available_count(proxy), size, timeout=1200)
    total_s = time.perf_counter() - t0
    after = operator_metrics(operator["metrics"])
    requests = after[REQUESTS] - before[REQUESTS]
    time.sleep(5)  # let the operator settle before reading its memory
    row = {
        "size": size,
        "created": len(names) - len(failures),
        "create_failures": len(failures),
        "apply_s": round(apply_s, 1),
        # after the creates returned, until the operator had created every Deployment (its own share
        # of the work; the rest of the way to Available is the controller manager's ReplicaSets and pods)
        "deployments_s": round(deployments_s, 1),
        "available_s": round(avail_s, 1),
        "throughput_per_s": round(len(names) / total_s, 1),
        "operator": proc_figures(pids["operator"]),
        "kube_apiserver_rss_mib": proc_figures(pids["kube-apiserver"])["rss_mib"],
        "etcd_rss_mib": proc_figures(pids["etcd"])["rss_mib"],
        "admission": admission_latency(proxy),
        "operator_error_lines": error_lines(Path(operator["log"])),
        "operator_requests_per_sdep": round(requests / len(names), 1),
        "operator_requests_per_s": round(requests / total_s, 1),
        "reconciles_per_sdep": round((after[RECONCILES] - before[RECONCILES]) / len(names), 1),
        "reconcile_workers": int(after[WORKERS]),
    }
    say(f"  done: {json.dumps(row)}")
    return row


def delete_all(proxy: Proxy) -> float:
    say("deleting every SeldonDeployment")
    t0 = time.perf_counter()
    proxy.request("DELETE", SDEP)  # deletecollection: the garbage collector removes what they own
    wait_for("owned Deployments and Services left (target 0)", lambda: owned_count(proxy), 0, timeout=900)
    return round(time.perf_counter() - t0, 1)


def add_slopes(rows: list[dict]) -> None:
    """Operator RSS per SeldonDeployment between consecutive steps (MiB per 1,000)."""
    for prev, row in zip(rows, rows[1:], strict=False):
        added = row["size"] - prev["size"]
        row["operator_mib_per_1000"] = round(
            (row["operator"]["rss_mib"] - prev["operator"]["rss_mib"]) / added * 1000, 1
        )


def run(sizes: list[int]) -> dict:
    nodes = nodes_for(sizes[-1])
    say(f"sizes {sizes}; {nodes} simulated nodes of {NODE.cpu} CPU, {NODE.memory}, {NODE.pods} pods")
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        plane = ControlPlane(Path(tmp) / "state", bin_dir=BIN, out=open(os.devnull, "w"))  # noqa: SIM115
        runner = None
        try:
            t0 = time.perf_counter()
            plane.up(timeout_scale=2.0, nodes=NodeSpec(count=nodes), node_kind="simulated")
            kubeconfig = plane.layout.kubeconfig
            runner = OperatorRunner(kubeconfig, plane.layout.root / "operator", bin_dir=BIN)
            runner.start(StartOptions("seldon-core-operator", "seldon-system", CHART))
            say(f"cluster and operator up in {time.perf_counter() - t0:.0f}s")
            proc = runner.load_state()["processes"][0]
            operator = {"log": proc["log"], "metrics": runner.status()["processes"][0]["metrics"]}
            records = plane.records()
            pids = {
                "operator": proc["pid"],
                "kube-apiserver": records["kube-apiserver"].pid,
                "etcd": records["etcd"].pid,
            }
            baseline = {
                "operator": proc_figures(pids["operator"]),
                "kube_apiserver_rss_mib": proc_figures(pids["kube-apiserver"])["rss_mib"],
                "etcd_rss_mib": proc_figures(pids["etcd"])["rss_mib"],
            }
            env = dict(os.environ, KUBECONFIG=str(kubeconfig))
            with Proxy(str(BIN / "kubectl"), env) as proxy:
                proxy.request(
                    "POST", "/api/v1/namespaces", json.dumps({"metadata": {"name": NAMESPACE}}).encode()
                )
                rows, done = [], 0
                for size in sizes:
                    rows.append(step(proxy, operator, pids, done, size))
                    done = size
                add_slopes(rows)
                delete_s = delete_all(proxy)
            runner.stop(uninstall=False)
        finally:
            if runner is not None:
                runner.stop()
            plane.down()
    return {"nodes": nodes, "baseline": baseline, "steps": rows, "delete_all_s": delete_s}


def table(result: dict) -> str:
    base = result["baseline"]
    lines = [
        f"real Seldon operator at scale ({result['nodes']} simulated nodes); idle operator "
        f"{base['operator']['rss_mib']} MiB, kube-apiserver {base['kube_apiserver_rss_mib']} MiB, "
        f"etcd {base['etcd_rss_mib']} MiB",
        f"{'sdeps':>6} {'apply s':>8} {'deploy s':>8} {'avail s':>8} {'/s':>6} {'op MiB':>7} {'op peak':>8} {'op cpu s':>8} "
        f"{'apisrv':>7} {'etcd':>6} {'adm p50':>8} {'adm p99':>8} {'errors':>6} {'MiB/1000':>9} "
        f"{'req/sdep':>8} {'req/s':>6} {'rec/sdep':>8}",
    ]
    for r in result["steps"]:
        op = r["operator"]
        lines.append(
            f"{r['size']:>6} {r['apply_s']:>8} {r['deployments_s']:>8} {r['available_s']:>8} {r['throughput_per_s']:>6} "
            f"{op['rss_mib']:>7} {op['peak_rss_mib']:>8} {op['cpu_s']:>8} {r['kube_apiserver_rss_mib']:>7} "
            f"{r['etcd_rss_mib']:>6} {r['admission']['p50_ms']:>8} {r['admission']['p99_ms']:>8} "
            f"{r['operator_error_lines']:>6} {r.get('operator_mib_per_1000', '-'):>9} "
            f"{r['operator_requests_per_sdep']:>8} {r['operator_requests_per_s']:>6} {r['reconciles_per_sdep']:>8}"
        )
    workers = {r["reconcile_workers"] for r in result["steps"]}
    lines.append(f"operator reconcile workers: {sorted(workers)}; client-side limit QPS 20, burst 30")
    lines.append(f"delete all -> owned Deployments and Services gone: {result['delete_all_s']} s")
    return "\n".join(lines)


def main() -> int:
    sizes = sorted({int(s) for s in os.environ.get("SCALE", "100,1000").split(",") if s.strip()})
    as_json = sys.argv[1:3] == ["-o", "json"]
    result = run(sizes)
    print(json.dumps(result, indent=2) if as_json else table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
