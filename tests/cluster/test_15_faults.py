"""Models keep answering while things change: a client calls the user guide's model (Seldon's executor
in front of `seldonio/mock_classifier:1.0`, real pods) through its Service at 20 requests per second
during each change, and every request must be answered.

`make test` runs one case of each group here (a rollout of one replica, the operator killed while it
reconciles, the FADI release upgraded and rolled back, the kubelet restarted); `make test-faults` runs
them all (marker `faults`). Each case prints what it measured: requests sent, failed, the windows of
failures, the longest gap between two answers and the slowest answer (`bench/bench_faults.py` makes a
table of them).
"""

from __future__ import annotations

import json
import sys
import threading
import time

import pytest
import yaml

from cluster.kube import CRD, RELEASE_NS, Kube, wait_until
from cluster.kube import RELEASE as RELEASE_UMBRELLA
from cluster.traffic import Traffic
from conftest import ROOT
from machinery import crash_search, differential, mutants
from test_release import chart_version, released_charts, releases

RELEASE, NS, MODELS, CROWD = "seldon-faults", "seldon-faults", "models-faults", "crowd-faults"
GUIDE = ROOT / "examples" / "user-guide" / "seldon-model.yaml"
SETS = ("crd.create=false", "usageMetrics.enabled=false", "executor.resources.cpuRequest=100m",
        "executor.resources.memoryRequest=128Mi")  # fmt: skip
OPERATOR = "control-plane=seldon-controller-manager"
CROWD_SIZE = 50
# A pod going away must not refuse a request: Seldon's 1.17.1 executor stops listening at SIGTERM
# unless told to wait (the operator gives it no preStop hook and leaves --shutdown_delay at 0), while
# kube-proxy removes the pod's endpoint up to its 1 s minSyncPeriod later. Our executor image sets the
# delay (fadi_seldon.images.executor.SHUTDOWN_DELAY); without it every rollout here refused 4 to 12
# requests at 20 per second.


def model(name: str, replicas: int, revision: int = 0, graph: bool = False) -> dict:
    """The guide's SeldonDeployment; `revision` changes its pod template (an env var of the model),
    and with `graph` its graph too (the node and its container renamed)."""
    sdep = yaml.safe_load(GUIDE.read_text())
    sdep["metadata"] = {"name": name, "namespace": MODELS}
    predictor = sdep["spec"]["predictors"][0]
    predictor["replicas"] = replicas
    container = predictor["componentSpecs"][0]["spec"]["containers"][0]
    container["env"] = [{"name": "FADI_REVISION", "value": str(revision)}]
    if graph and revision:
        container["name"] = predictor["graph"]["name"] = f"{container['name']}-r{revision}"
    return sdep


def state(k: Kube, name: str, ns: str = MODELS) -> str:
    return ((k.get("sdep", name, "-n", ns) or {}).get("status") or {}).get("state", "")


def pods(k: Kube, name: str) -> list[dict]:
    return k.get("pods", "-n", MODELS, "-l", f"seldon-deployment-id={name}")["items"]


def settled(k: Kube, name: str, replicas: int, revision: int) -> bool:
    """Available, with exactly `replicas` pods, all ready, all of `revision` (the old ones gone)."""
    items = pods(k, name)
    revisions = {
        env["value"]
        for p in items
        for c in p["spec"]["containers"]
        for env in c.get("env") or []
        if env["name"] == "FADI_REVISION"
    }
    ready = all(
        c.get("ready") for p in items for c in (p.get("status") or {}).get("containerStatuses") or [{}]
    )
    return state(k, name) == "Available" and len(items) == replicas and revisions == {str(revision)} and ready


@pytest.fixture(scope="module")
def faults(kube: Kube, webhook_off, operator_image, seldon_images) -> Kube:
    """The operator chart with its operator running as a pod on the real node."""
    k = Kube(kube.kubeconfig, kube.env, kube.charts, simulated=False)
    k.namespace(NS)
    k.namespace(MODELS)
    k.install(RELEASE, NS, "charts/seldon-core-operator", *SETS, *operator_image)
    yield k
    for ns in (MODELS, CROWD):
        k.kubectl("delete", "namespace", ns, "--ignore-not-found", "--wait=true", check=False, timeout=240)
    k.helm("uninstall", RELEASE, "-n", NS, "--wait", "--timeout", "180s", check=False)
    k.kubectl("delete", "namespace", NS, "--ignore-not-found", "--wait=true", check=False, timeout=180)


def operator_restarts(k: Kube) -> int:
    from cluster.operator_fixtures import restart_count

    return restart_count(k, NS, OPERATOR)


def serving(k: Kube, name: str, replicas: int) -> Traffic:
    """The model applied and Available, and a client calling it. The apply waits for the webhook to
    answer: an earlier case may have restarted the operator (it exits when it cannot renew its
    leader lease, e.g. while the API server or etcd is down)."""
    wait_until("the operator's webhook to answer",
               lambda: k.apply([model(name, replicas)], "--dry-run=server", check=False).returncode == 0,
               timeout=180)  # fmt: skip
    k.apply([model(name, replicas)])
    wait_until(f"{name} to be Available", lambda: settled(k, name, replicas, 0), timeout=240)
    return Traffic(k.service_url(f"{name}-example", MODELS))


def report(case: str, traffic: Traffic, **figures: float) -> None:
    extra = "".join(f", {key} {value:.1f} s" for key, value in figures.items())
    print(f"[faults] {case}: {traffic.summary()}{extra}", file=sys.stderr)


@pytest.mark.parametrize(
    ("replicas", "graph"),
    [
        (1, False),
        pytest.param(2, False, marks=pytest.mark.faults),
        pytest.param(1, True, marks=pytest.mark.faults),
    ],
)
def test_a_rollout_of_a_changed_model_fails_no_request(faults, replicas, graph):
    """`kubectl apply` of a changed componentSpec (and, with `graph`, a changed graph): the Deployment
    rolls to new pods while the old ones still answer; no request fails and the old pods are gone at
    the end."""
    name = f"rollout-{replicas}" + ("-graph" if graph else "")
    with serving(faults, name, replicas) as traffic:
        time.sleep(2)
        started = time.monotonic()
        faults.apply([model(name, replicas, revision=1, graph=graph)])
        wait_until("the rollout to finish", lambda: settled(faults, name, replicas, 1), timeout=240)
        rolled = time.monotonic() - started
        time.sleep(3)
    report(f"rollout{' of a changed graph' if graph else ''}, {replicas} replica(s)", traffic, rolled=rolled)
    assert traffic.ok > 100
    assert traffic.failed == 0, traffic.errors[:10]


@pytest.mark.faults
def test_scaling_up_and_down_fails_no_request(faults):
    name = "scaling"
    with serving(faults, name, 1) as traffic:
        for replicas in (3, 1):
            faults.apply([model(name, replicas)])
            wait_until(f"{replicas} replicas", lambda r=replicas: settled(faults, name, r, 0), timeout=240)
            time.sleep(3)
    report("scale 1 -> 3 -> 1", traffic)
    assert traffic.failed == 0, traffic.errors[:10]


def crowd(k: Kube, count: int) -> list[dict]:
    """`count` copies of the guide's model in a namespace whose pods go to the simulated nodes."""
    sdep = yaml.safe_load(GUIDE.read_text())
    return [{**sdep, "metadata": {"name": f"crowd-{i:02d}", "namespace": CROWD}} for i in range(count)]


def test_the_operator_killed_while_reconciling_loses_nothing(faults, kube):
    """50 SeldonDeployments applied, the operator pod SIGKILLed while it reconciles them: its
    replacement brings every one to Available, and the model already serving never misses a request."""
    Kube(kube.kubeconfig, kube.env, kube.charts, simulated=True).namespace(CROWD)
    with serving(faults, "steady", 1) as traffic:
        faults.apply(crowd(faults, CROWD_SIZE))
        wait_until("the operator to be reconciling the crowd",
                   lambda: len(faults.get("deployments", "-n", CROWD)["items"]) >= 5, timeout=120)  # fmt: skip
        (victim,) = faults.get("pods", "-n", NS, "-l", OPERATOR)["items"]
        started = time.monotonic()
        faults.kubectl("delete", "pod", "-n", NS, victim["metadata"]["name"], "--grace-period=0", "--force")

        def all_available() -> bool:
            items = (faults.get("sdep", "-n", CROWD) or {}).get("items") or []
            states = [(i.get("status") or {}).get("state") for i in items]
            return len(states) == CROWD_SIZE and set(states) == {"Available"}

        wait_until("every SeldonDeployment to be Available after the kill", all_available, timeout=300)
        recovered = time.monotonic() - started
    report(f"operator SIGKILL with {CROWD_SIZE} reconciling", traffic, recovered=recovered)
    (replacement,) = faults.get("pods", "-n", NS, "-l", OPERATOR)["items"]
    assert replacement["metadata"]["name"] != victim["metadata"]["name"]
    deployments = faults.get("deployments", "-n", CROWD)["items"]
    assert len(deployments) == CROWD_SIZE  # one each: nothing duplicated, nothing lost
    assert traffic.failed == 0, traffic.errors[:10]
    faults.kubectl("delete", "namespace", CROWD, "--wait=true", timeout=240)


class Applies(threading.Thread):
    """`kubectl apply --dry-run=server` of a SeldonDeployment every 0.5 s: the webhook's refusals, timed."""

    def __init__(self, k: Kube, doc: dict) -> None:
        super().__init__(daemon=True)
        self.k, self.doc = k, doc
        self.sent, self.refused = 0, []  # (monotonic time, the error the user sees)
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            proc = self.k.apply([self.doc], "--dry-run=server", check=False)
            self.sent += 1
            if proc.returncode != 0:
                self.refused.append((time.monotonic(), proc.stderr.strip().splitlines()[-1][:300]))
            time.sleep(0.5)

    def stop(self) -> Applies:
        self.stopping.set()
        self.join(timeout=60)
        return self

    def window(self) -> float:
        return self.refused[-1][0] - self.refused[0][0] if self.refused else 0.0


@pytest.mark.faults
def test_a_chart_upgrade_that_restarts_the_operator_fails_no_request(faults, operator_image):
    """`helm upgrade` with a changed pod annotation restarts the operator (one replica): the model
    keeps answering; applies are refused only while no operator serves the webhook, a window measured
    and reported with the error the user sees."""
    with serving(faults, "upgraded", 1) as traffic:
        applies = Applies(faults, model("upgraded", 1))
        applies.start()
        sets = [*SETS, *operator_image, f"manager.annotations.fadi-restart=r{int(time.time())}"]
        argv = ["upgrade", RELEASE, faults.chart("charts/seldon-core-operator"), "-n", NS]
        faults.helm(*argv, *(a for s in sets for a in ("--set", s)), "--wait", "--timeout", "180s")
        time.sleep(10)
        applies.stop()
    report("helm upgrade restarting the operator", traffic, refusing=applies.window())
    print(f"[faults] applies during the upgrade: {applies.sent} sent, {len(applies.refused)} refused "
          f"{[why for _, why in applies.refused[:3]]}", file=sys.stderr)  # fmt: skip
    assert traffic.failed == 0, traffic.errors[:10]
    assert applies.sent > 20


@pytest.mark.faults
def test_two_operator_replicas_restarted_refuse_no_apply(faults, operator_image):
    """With `manager.replicas: 2`, a rolling restart of the operator keeps the webhook served: not one
    server-side apply is refused, and the model keeps answering."""
    sets = [*SETS, *operator_image, "manager.replicas=2"]
    argv = ["upgrade", RELEASE, faults.chart("charts/seldon-core-operator"), "-n", NS]
    faults.helm(*argv, *(a for s in sets for a in ("--set", s)), "--wait", "--timeout", "180s")
    try:
        with serving(faults, "two-operators", 1) as traffic:
            applies = Applies(faults, model("two-operators", 1))
            applies.start()
            faults.kubectl("rollout", "restart", "deployment", "-n", NS, "-l", OPERATOR)
            faults.kubectl("rollout", "status", "deployment", "-n", NS, "-l", OPERATOR, "--timeout=180s",
                           timeout=200)  # fmt: skip
            time.sleep(5)
            applies.stop()
        report("operator rolling restart, 2 replicas", traffic, refusing=applies.window())
        assert applies.sent > 10 and not applies.refused, applies.refused[:3]
        assert traffic.failed == 0, traffic.errors[:10]
    finally:
        sets = [*SETS, *operator_image]
        faults.helm(*argv, *(a for s in sets for a in ("--set", s)), "--wait", "--timeout", "180s")


class Watch(threading.Thread):
    """Polls an object's uid every 0.2 s: a delete and re-create (or a gap) shows as a changed uid or None."""

    def __init__(self, k: Kube, *what: str) -> None:
        super().__init__(daemon=True)
        self.k, self.what = k, what
        self.uids: set[str | None] = set()
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            proc = self.k.kubectl("get", *self.what, "-o", "jsonpath={.metadata.uid}", check=False)
            self.uids.add(proc.stdout.strip() or None if proc.returncode == 0 else None)
            time.sleep(0.2)

    def stop(self) -> set[str | None]:
        self.stopping.set()
        self.join(timeout=30)
        return self.uids


def fadi_chart(k: Kube) -> tuple[str, int]:
    """The chart (`fadi-<version>`) and the revision of FADI's deployed release."""
    history = json.loads(k.helm("history", RELEASE_UMBRELLA, "-n", RELEASE_NS, "-o", "json").stdout)
    deployed = [h for h in history if h["status"] == "deployed"][-1]
    return deployed["chart"], deployed["revision"]


def test_upgrading_fadi_from_its_previous_release_and_rolling_back_removes_nothing(faults, kube, tmp_path):
    """FADI at its previous release (releases.yaml, the charts from that commit), then, while a model
    serves: `helm upgrade` to this checkout's chart, `helm rollback` to the previous release, and the
    upgrade again. The CRD and the SeldonDeployment keep their uids the whole time (never deleted and
    re-created), the model stays Available and no request fails."""
    previous = releases()[0]["version"]
    old = released_charts(previous, tmp_path / "previous") / "fadi"
    kube.helm("dependency", "build", str(old))

    def upgrade(chart: str) -> None:
        # the user's values on the chart's own defaults: `--reuse-values` would carry one version's
        # defaults into the other (0.2.0's gatewayRoutes refused by 0.1.0's schema, or missing in 0.2.0)
        kube.helm("upgrade", RELEASE_UMBRELLA, chart, "-n", RELEASE_NS, "--reset-then-reuse-values", "--wait",
                  "--timeout", "180s")  # fmt: skip

    upgrade(str(old))  # the cluster as a user of the previous release has it
    old_chart, old_revision = fadi_chart(kube)
    assert old_chart == f"fadi-{previous}"
    crd, sdep = Watch(kube, "crd", CRD), Watch(faults, "sdep", "released", "-n", MODELS)
    with serving(faults, "released", 1) as traffic:
        crd.start()
        sdep.start()
        upgrade(kube.chart("fadi"))
        assert fadi_chart(kube)[0] == f"fadi-{chart_version('fadi')}"
        kube.helm("rollback", RELEASE_UMBRELLA, str(old_revision), "-n", RELEASE_NS, "--wait",
                  "--timeout", "180s")  # fmt: skip
        assert fadi_chart(kube)[0] == old_chart
        upgrade(kube.chart("fadi"))
        time.sleep(2)
    crd_uids, sdep_uids = crd.stop(), sdep.stop()
    report(f"FADI {previous} upgraded to {chart_version('fadi')}, rolled back, upgraded", traffic)
    assert fadi_chart(kube)[0] == f"fadi-{chart_version('fadi')}"
    assert len(crd_uids) == 1 and None not in crd_uids, crd_uids
    assert len(sdep_uids) == 1 and None not in sdep_uids, sdep_uids
    assert state(faults, "released") == "Available"
    assert traffic.failed == 0, traffic.errors[:10]


BAD_INPUT = "bad-input"
# a part of the standalone searches' counts (tests/cluster/test_08 and test_11), enough to give the
# operator hundreds of bad objects in a minute or two while the model serves
BAD_MUTANTS = {"differential": 150, "crash": 200}


def search_bad_input(k: Kube, kind: str, say) -> dict:
    """The differential (webhook in the path) or crash search (webhook out of it) against the faults
    release's operator pod, its mutants in a namespace whose pods go to the simulated nodes."""
    from cluster.kube import Proxy
    from cluster.operator_fixtures import PodOperator

    with Proxy(k) as proxy:
        target = PodOperator(k, NS, OPERATOR, proxy)
        seeds = mutants.checkout_seeds(ROOT)
        if kind == "differential":
            run = differential.Differential(target, BAD_INPUT, say=say)
            found = run.run(mutants.mutants(seeds, BAD_MUTANTS[kind], 31, pods=True), applied=20)
            failures = []
        else:
            search = crash_search.Search(target, BAD_INPUT, state_timeout=90, say=say)
            found = search.run(mutants.mutants(seeds, BAD_MUTANTS[kind], 17), batch=20)
            failures = [c.report() for c in found.failures()]
        return {"cases": len(found.cases), "disagreements": found.disagreements, "failures": failures,
                "restarts": target.restart_count() - target.restarts}  # fmt: skip


@pytest.mark.parametrize("kind", ["differential", pytest.param("crash", marks=pytest.mark.faults)])
def test_bad_input_under_load_leaves_the_model_answering(faults, kube, kind):
    """Hundreds of mutated SeldonDeployments (machinery.mutants) sent to the operator that also runs
    the serving model: through its webhook (the differential search, a subset created for real), or
    straight to the operator with the webhook out of the path (the crash search). The model's traffic
    does not notice, the operator neither crashes nor wedges, and `validate` agrees with what refused."""
    Kube(kube.kubeconfig, kube.env, kube.charts, simulated=True).namespace(BAD_INPUT)
    webhook_off = kind == "crash"
    argv = [
        "upgrade",
        RELEASE,
        faults.chart("charts/seldon-core-operator"),
        "-n",
        NS,
        "--reuse-values",
        "--wait",
    ]
    if webhook_off:
        faults.helm(*argv, "--set", "webhook.enabled=false")
    try:
        say = lambda line: print(f"[bad input, {kind}] {line}", file=sys.stderr, flush=True)  # noqa: E731
        with serving(faults, f"under-{kind}", 1) as traffic:
            before = restart_counts(faults, f"under-{kind}")
            started = time.monotonic()
            found = search_bad_input(faults, kind, say)
            took = time.monotonic() - started
    finally:
        if webhook_off:
            faults.helm(*argv, "--set", "webhook.enabled=true")
        faults.kubectl("delete", "namespace", BAD_INPUT, "--wait=true", timeout=240)
    report(f"bad input under load: {found['cases']} mutants, {kind} search", traffic, searching=took)
    assert found["cases"] == BAD_MUTANTS[kind]
    assert found["failures"] == [] and found["restarts"] == 0, found
    assert found["disagreements"] == [], "\n".join(found["disagreements"][:10])
    assert restart_counts(faults, f"under-{kind}") == before
    assert state(faults, f"under-{kind}") == "Available"
    assert traffic.ok > 100 and traffic.failed == 0, traffic.errors[:10]


NODE_PARTS = ["kube-proxy", "kube-apiserver", "etcd", "containerd"]


def restart_counts(k: Kube, name: str) -> dict[str, int]:
    return {
        f"{p['metadata']['name']}/{c['name']}": c["restartCount"]
        for p in pods(k, name)
        for c in p["status"]["containerStatuses"]
    }


@pytest.mark.parametrize(
    "part", ["kubelet", *(pytest.param(p, marks=pytest.mark.faults) for p in NODE_PARTS)]
)
def test_a_node_component_restarted_costs_no_request(faults, cluster_kubeconfig, part):
    """One component of the node or control plane stopped and started again (as its supervisor would
    after a crash or an upgrade) while the model serves: no request fails, no container of the model
    restarts, the node is Ready again and the SeldonDeployment still Available."""
    from conftest import TOOLS_BIN
    from fadi_seldon.localkube import ControlPlane

    plane = ControlPlane(cluster_kubeconfig.parent, bin_dir=TOOLS_BIN, out=sys.stderr)
    name = f"node-{part}".replace("kube-", "")
    with serving(faults, name, 1) as traffic:
        before, operator_before = restart_counts(faults, name), operator_restarts(faults)
        time.sleep(2)
        took = plane.restart(part, timeout_scale=2.0)
        wait_until("the node to be Ready again",
                   lambda: plane.status()["ready"], timeout=120)  # fmt: skip
        time.sleep(5)
    operator = operator_restarts(faults) - operator_before
    report(f"{part} restarted (operator restarts: {operator})", traffic, back_in=took)
    assert state(faults, name) == "Available"
    assert restart_counts(faults, name) == before
    assert traffic.ok > 50
    assert traffic.failed == 0, traffic.errors[:10]
