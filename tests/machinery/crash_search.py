"""Crash and wedge search: mutated SeldonDeployments applied for real, with the webhook out of the path.

For each batch of mutants (machinery.mutants): create each through the API server with strict
field validation (what `kubectl apply` does); a refusal is what the CRD is for. Every accepted one
must then reach a state (status.state Available, Creating or Failed) while the operator process
stays alive. A dead operator is a crash: its log names the panic, the source location and the
object it was reconciling (fadi_seldon.doctor.operator_log); that object is deleted and the operator
restarted, as a user would, and the search goes on. An object still without a state after the
timeout is a wedge. The validator is checked against the API server on every mutant on the way:
it must report an error of a rule the API server enforces exactly when the API server refuses.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

import yaml

from fadi_seldon.doctor import operator_log
from fadi_seldon.runtime import polling
from fadi_seldon.sdep import schema, validator

API_SERVER_RULES = validator.API_SERVER_RULES


class Target(Protocol):
    """The cluster and the operator under test."""

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, dict]: ...

    def operator_alive(self) -> bool: ...

    def operator_log(self) -> str: ...

    def restart_operator(self) -> None: ...


@dataclass
class Case:
    origin: str  # corpus file and mutant index
    name: str
    labels: list[str]
    manifest: dict
    verdict: str = ""  # refused | state | crash | wedge
    detail: str = ""  # the API server's message, the state, the panic, or the operator's last error
    location: str = ""  # source location of a panic

    def report(self) -> str:
        lines = [f"{self.verdict}: {self.name} ({self.origin}; {', '.join(self.labels)})", f"  {self.detail}"]
        if self.location:
            lines.append(f"  at {self.location}")
        lines.append("  " + yaml.safe_dump(self.manifest, sort_keys=False).replace("\n", "\n  ").rstrip())
        return "\n".join(lines)


@dataclass
class Result:
    cases: list[Case] = field(default_factory=list)
    disagreements: list[str] = field(default_factory=list)  # validator vs API server
    seconds: float = 0.0

    def count(self, verdict: str) -> int:
        return sum(1 for c in self.cases if c.verdict == verdict)

    def failures(self) -> list[Case]:
        return [c for c in self.cases if c.verdict in ("crash", "wedge")]

    def to_json(self) -> dict:
        return {
            "mutants": len(self.cases),
            **{v: self.count(v) for v in ("refused", "state", "crash", "wedge")},
            "disagreements": len(self.disagreements),
            "seconds": round(self.seconds, 1),
            "failures": [c.report() for c in self.failures()],
        }


def _collection(api_version: str, namespace: str) -> str:
    return f"/apis/{api_version}/namespaces/{namespace}/{schema.PLURAL}"


class Search:
    def __init__(
        self,
        target: Target,
        namespace: str,
        *,
        state_timeout: float = 60.0,
        say: Callable[[str], None] = lambda _: None,
        states: tuple[str, ...] = schema.STATES,
    ) -> None:
        self.target = target
        self.namespace = namespace
        self.state_timeout = state_timeout
        self.states = states  # what counts as reached (the differential test waits for Available or Failed)
        self.say = say
        self.result = Result()

    def run(self, mutants: Iterable[tuple[str, dict, list[str]]], batch: int = 20) -> Result:
        started = time.monotonic()
        pending: list[Case] = []
        for origin, manifest, labels in mutants:
            pending.append(Case(origin, manifest["metadata"]["name"], labels, manifest))
            if len(pending) == batch:
                self._batch(pending)
                pending = []
        if pending:
            self._batch(pending)
        self._settle()
        self.result.seconds = time.monotonic() - started
        return self.result

    def _settle(self, timeout: float = 600) -> None:
        """Wait until the garbage collector has removed what the operator built for the mutants.

        Deleted SeldonDeployments leave their Deployments and Services to the garbage collector, and
        every event on those wakes the operator for an owner that is gone: a test that follows the
        search would meet an operator and a controller-manager still busy with a thousand leftovers.
        """
        owned = "labelSelector=seldon-deployment-id&limit=1"
        paths = [
            f"/apis/apps/v1/namespaces/{self.namespace}/deployments?{owned}",
            f"/api/v1/namespaces/{self.namespace}/services?{owned}",
        ]

        def empty() -> bool:
            answers = [self.target.request("GET", path) for path in paths]
            return all(status == 200 and not answer.get("items") for status, answer in answers)

        self.say("waiting for the garbage collector to remove the mutants' Deployments and Services")
        polling.wait_until(
            f"the objects the operator built in namespace {self.namespace} to be gone",
            empty,
            timeout,
            every=2,
        )

    def _batch(self, cases: list[Case]) -> None:
        accepted = [c for c in cases if self._create(c)]
        self._wait_for_states(accepted)
        self._clear()
        self.result.cases.extend(cases)
        done = len(self.result.cases)
        self.say(
            f"{done} mutants: {self.result.count('refused')} refused by the API server, "
            f"{self.result.count('state')} reached a state, {self.result.count('crash')} crash(es), "
            f"{self.result.count('wedge')} wedge(s)"
        )

    def _clear(self) -> None:
        """Delete the batch's objects and wait until they are gone, so the next batch (and whatever
        runs after the search) meets an operator without a backlog."""

        def cleared() -> bool:
            status, answer = self.target.request(
                "DELETE", _collection(schema.API_VERSIONS[0], self.namespace)
            )
            if status >= 300:
                self.say(f"delete of the batch answered HTTP {status}: {answer.get('message', '')}; retrying")
                return False
            status, answer = self.target.request("GET", _collection(schema.API_VERSIONS[0], self.namespace))
            return status == 200 and not answer.get("items")

        polling.wait_until(
            f"the SeldonDeployments of namespace {self.namespace} to be deleted", cleared, 120, every=1
        )

    def _create(self, case: Case) -> bool:
        path = _collection(case.manifest["apiVersion"], self.namespace) + "?fieldValidation=Strict"
        status, answer = self.target.request("POST", path, json.dumps(case.manifest).encode())
        refused = status >= 300
        findings = validator.validate_object(case.manifest)
        expected = sorted(
            {f.rule for f in findings if f.severity == validator.ERROR and f.rule in API_SERVER_RULES}
        )
        if refused != bool(expected):
            said = answer.get("message", "") if refused else "accepted"
            self.result.disagreements.append(
                f"{case.name}: API server: {said}; validate: {expected or 'no error'}"
            )
        if refused:
            case.verdict, case.detail = "refused", str(answer.get("message", status))
        return not refused

    def _states(self) -> dict[str, dict]:
        status, answer = self.target.request("GET", _collection(schema.API_VERSIONS[0], self.namespace))
        if status != 200:
            return {}
        return {item["metadata"]["name"]: item.get("status") or {} for item in answer.get("items") or []}

    def _wait_for_states(self, cases: list[Case]) -> None:
        waiting = {c.name: c for c in cases}
        deadline = time.monotonic() + self.state_timeout
        while waiting and time.monotonic() < deadline:
            if not self.target.operator_alive():
                self._crashed(waiting)
                deadline = time.monotonic() + self.state_timeout
                continue
            for name, status in self._states().items():
                if name in waiting and status.get("state") in self.states:
                    case = waiting.pop(name)
                    case.verdict = "state"
                    case.detail = f"{status['state']}: {status.get('description') or ''}".rstrip(": ")
            time.sleep(0.25)
        self._unsettled(waiting)
        errors = operator_log.last_errors(self.target.operator_log())
        for case in waiting.values():
            case.verdict = "wedge"
            last = errors.get(f"{self.namespace}/{case.name}", "no error logged for it")
            case.detail = f"no state after {self.state_timeout:.0f}s; operator's last error: {last}"

    def _unsettled(self, waiting: dict[str, Case]) -> None:
        """Waiting for fewer states than there are (Available or Failed): an object the operator keeps
        `Creating` (its pods cannot be scheduled, zero replicas) has a state all the same."""
        for name, status in self._states().items():
            if name in waiting and status.get("state") in schema.STATES:
                case = waiting.pop(name)
                case.verdict = "state"
                case.detail = (
                    f"{status['state']} after {self.state_timeout:.0f}s: {status.get('description') or ''}"
                )
                case.detail = case.detail.rstrip(": ")

    def _crashed(self, waiting: dict[str, Case]) -> None:
        """Record the crash, delete the object it names (or the whole batch when none), restart."""
        crash = operator_log.parse_crash(self.target.operator_log())
        culprits = [waiting.pop(crash.name)] if crash and crash.name in waiting else list(waiting.values())
        if not (crash and crash.name in [c.name for c in culprits]):
            waiting.clear()
        for case in culprits:
            case.verdict = "crash"
            case.detail = crash.message if crash else "the operator exited without a panic in its log"
            case.location = f"{crash.function} {crash.location}" if crash else ""
            path = _collection(schema.API_VERSIONS[0], self.namespace) + f"/{case.name}"
            self.target.request("DELETE", path)
        self.say(
            f"operator crashed on {', '.join(c.name for c in culprits)}: {culprits[0].detail}; restarting it"
        )
        self.target.restart_operator()


class HostOperator:
    """The target on the local cluster: the operator as a host process (`cluster operator start`)."""

    def __init__(self, runner, options, proxy) -> None:
        self.runner = runner  # fadi_seldon.localkube.operator.OperatorRunner
        self.options = options  # its StartOptions
        self.proxy = proxy  # machinery.proxy.Proxy
        self.log_offset = 0  # the log is appended to across restarts: read only this run's part
        self.log_path = self.runner.start(self.options)["processes"][0]["log"]

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, dict]:
        return self.proxy.request(method, path, body)

    def operator_alive(self) -> bool:
        return all(p["running"] for p in self.runner.status()["processes"])

    def operator_log(self) -> str:
        with open(self.log_path, "rb") as fh:
            fh.seek(self.log_offset)
            return fh.read().decode(errors="replace")

    def restart_operator(self) -> None:
        with open(self.log_path, "rb") as fh:
            self.log_offset = fh.seek(0, 2)
        # the release is installed already: a restart only starts the process again, as a pod would be
        self.runner.start(dataclasses.replace(self.options, install=False))


CRD_PATH = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{schema.PLURAL}.{schema.GROUP}"


def _without_rules(value):
    if isinstance(value, dict):
        return {k: _without_rules(v) for k, v in value.items() if k != "x-kubernetes-validations"}
    if isinstance(value, list):
        return [_without_rules(v) for v in value]
    return value


def strip_crd_rules(target: Target) -> int:
    """Remove every CEL rule from the installed CRD (what upstream's CRD is like); returns how many.

    For measuring what the rules prevent: the same search with and without them.
    """
    status, crd = target.request("GET", CRD_PATH)
    if status != 200:
        raise RuntimeError(f"cannot read the CRD: HTTP {status}: {crd.get('message', '')}")
    count = json.dumps(crd).count('"x-kubernetes-validations"')
    status, answer = target.request("PUT", CRD_PATH, json.dumps(_without_rules(crd)).encode())
    if status >= 300:
        raise RuntimeError(f"cannot update the CRD: HTTP {status}: {answer.get('message', '')}")
    return count
