"""Differential testing of `validate` against the real stack: does it say what the cluster says?

Two questions per mutant (machinery.mutants, with the pod-level operations):
1. Admission. The mutant is created with `dryRun=All&fieldValidation=Strict` (`kubectl apply
   --dry-run=server`) through the API server and the operator's own admission webhook. The cluster
   refuses it exactly when `validate` reports an error other than a later failure's (question 2),
   and the refuser matches the rule: a rule the API server enforces (`validator.API_SERVER_RULES`)
   when the API server refuses, a webhook rule when the webhook does. Rules that are stricter than
   the cluster on purpose (`validator.STRICTER_THAN_THE_CLUSTER`) may report an error on an object
   the cluster accepts.
2. Later. A subset of the admitted mutants is created for real and waited on until the operator
   settles it (Available or Failed, machinery.crash_search does the applying and waiting): the
   operator ends Failed exactly when `validate` reports a finding of a rule that predicts it
   (`validator.FAILED_LATER_RULES`: the pod templates the API server refuses, names it refuses).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import yaml

from fadi_seldon.sdep import schema, validator
from machinery import crash_search

# how the API server words a refusal that came from an admission webhook
WEBHOOK_REFUSAL = "admission webhook"
SETTLED = ("Available", "Failed")


@dataclass
class Answer:
    refused_by: str  # "" (admitted), "api-server" or "webhook"
    message: str = ""


@dataclass
class Case:
    origin: str
    labels: list[str]
    manifest: dict
    findings: list[validator.Finding]
    answer: Answer
    state: str = ""  # after a real create: Available or Failed (and the operator's description)

    @property
    def name(self) -> str:
        return self.manifest["metadata"]["name"]

    def report(self, problem: str) -> str:
        said = [f"{f.severity} [{f.rule}] {f.path}: {f.message}" for f in self.findings] or ["nothing"]
        cluster = (
            f"refused by the {self.answer.refused_by}: {self.answer.message}"
            if self.answer.refused_by
            else "admitted"
        )
        lines = [
            f"{problem}: {self.name} ({self.origin}; {', '.join(self.labels)})",
            f"  cluster: {cluster}" + (f"; then {self.state}" if self.state else ""),
            *(f"  validate: {line}" for line in said),
            "  " + yaml.safe_dump(self.manifest, sort_keys=False).replace("\n", "\n  ").rstrip(),
        ]
        return "\n".join(lines)


@dataclass
class Result:
    cases: list[Case] = field(default_factory=list)
    disagreements: list[str] = field(default_factory=list)
    applied: int = 0
    seconds: float = 0.0

    def count(self, refused_by: str) -> int:
        return sum(1 for c in self.cases if c.answer.refused_by == refused_by)

    def failed(self) -> int:
        return sum(1 for c in self.cases if c.state.startswith("Failed"))

    def agreement(self) -> float:
        compared = len(self.cases) + self.applied
        return 1.0 if not compared else 1 - len(self.disagreements) / compared

    def to_json(self) -> dict:
        return {
            "mutants": len(self.cases),
            "admitted": self.count(""),
            "refused_by_api_server": self.count("api-server"),
            "refused_by_webhook": self.count("webhook"),
            "applied": self.applied,
            "failed_later": self.failed(),
            "disagreements": len(self.disagreements),
            "agreement": round(self.agreement(), 4),
            "seconds": round(self.seconds, 1),
        }


def classify(status: int, answer: dict) -> Answer:
    if status < 300:
        return Answer("")
    message = str(answer.get("message", status))
    return Answer("webhook" if WEBHOOK_REFUSAL in message else "api-server", message)


def expected_refuser(findings: list[validator.Finding]) -> set[str]:
    """Who may refuse, by `validate`'s errors: {""} when none; a rule of the API server's means
    the API server (it runs first); only webhook rules, the webhook; rules stricter than the
    cluster on purpose allow an admission too. Errors predicting `Failed` after admission
    (`validator.FAILED_LATER_RULES`) predict no refusal: `later_disagreement` judges them."""
    errors = {
        f.rule
        for f in findings
        if f.severity == validator.ERROR and f.rule not in validator.FAILED_LATER_RULES
    }
    allowed = {""} if errors <= validator.STRICTER_THAN_THE_CLUSTER.keys() else set()
    if errors & validator.API_SERVER_RULES:
        allowed.add("api-server")
    elif errors - validator.STRICTER_THAN_THE_CLUSTER.keys():
        allowed.add("webhook")
    return allowed


def admission_disagreement(case: Case) -> str | None:
    allowed = expected_refuser(case.findings)
    if case.answer.refused_by in allowed:
        return None
    wanted = " or ".join(sorted(a or "admission" for a in allowed))
    return case.report(f"validate predicts {wanted}")


def predicts_failure(findings: list[validator.Finding]) -> bool:
    return any(f.rule in validator.FAILED_LATER_RULES for f in findings)


def later_disagreement(case: Case) -> str | None:
    """The operator's state against the prediction: Failed when predicted, else Available or still
    Creating (pods waiting for a volume or a GPU are no failure of the manifest); a crash or a wedge
    is never agreement."""
    predicted = predicts_failure(case.findings)
    state = case.state.split(":")[0].split(" ")[0]
    if state in SETTLED + ("Creating",) and (state == "Failed") == predicted:
        return None
    wanted = "Failed" if predicted else "Available (or Creating)"
    return case.report(f"validate predicts {wanted} after the operator's reconcile")


class Differential:
    def __init__(
        self,
        target: crash_search.Target,
        namespace: str,
        *,
        state_timeout: float = 40.0,  # Failed comes at the first reconcile; kwok pods are ready in seconds
        say: Callable[[str], None] = lambda _: None,
    ) -> None:
        self.target = target
        self.namespace = namespace
        self.state_timeout = state_timeout
        self.say = say
        self.result = Result()

    def run(self, mutants: Iterable[tuple[str, dict, list[str]]], applied: int) -> Result:
        """Every mutant through admission; then `applied` of the admitted ones created for real: half
        of them (or as many as there are) among those `validate` expects to fail, the rest among the
        others, in order."""
        started = time.monotonic()
        for origin, manifest, labels in mutants:
            self._admit(origin, manifest, labels)
        admitted = [c for c in self.result.cases if not c.answer.refused_by]
        failing = [c for c in admitted if predicts_failure(c.findings)]
        passing = [c for c in admitted if not predicts_failure(c.findings)]
        half = min(len(failing), max(applied // 2, applied - len(passing)))
        chosen = failing[:half] + passing[: applied - half]
        self._apply(chosen)
        self.result.seconds = time.monotonic() - started
        return self.result

    def _admit(self, origin: str, manifest: dict, labels: list[str]) -> None:
        path = (
            f"/apis/{manifest['apiVersion']}/namespaces/{self.namespace}/{schema.PLURAL}"
            "?dryRun=All&fieldValidation=Strict"
        )
        status, answer = self.target.request("POST", path, json.dumps(manifest).encode())
        case = Case(origin, labels, manifest, validator.validate_object(manifest), classify(status, answer))
        self.result.cases.append(case)
        problem = admission_disagreement(case)
        if problem:
            self.result.disagreements.append(problem)
        if len(self.result.cases) % 50 == 0:
            self.say(
                f"{len(self.result.cases)} mutants through admission, {len(self.result.disagreements)} disagreement(s)"
            )

    def _apply(self, cases: list[Case]) -> None:
        """Create for real, wait until the operator settles each, compare with the later findings."""
        search = crash_search.Search(
            self.target, self.namespace, state_timeout=self.state_timeout, say=self.say, states=SETTLED
        )
        found = search.run(((c.origin, c.manifest, c.labels) for c in cases), batch=20)
        by_name = {c.name: c for c in cases}
        for applied in found.cases:
            case = by_name[applied.name]
            case.state = (
                applied.detail if applied.verdict == "state" else f"{applied.verdict}: {applied.detail}"
            )
            problem = later_disagreement(case)
            if problem:
                self.result.disagreements.append(problem)
        self.result.disagreements.extend(found.disagreements)
        self.result.applied = len(found.cases)
