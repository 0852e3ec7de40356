"""What the validator reports: findings with a stable rule id, and the report of a whole run.

Rule ids are part of the public contract (CI filters on them, docs/validation-rules.md documents
each), so they live in one table, `RULES`, with their severity.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

ERROR = "error"
WARNING = "warning"

# rule id -> (severity, one-line summary). docs/validation-rules.md has a section per id (tested).
# Severity follows one principle, so that the exit code tells the truth: ERROR when the object will
# not run as written: `kubectl apply` fails (the API server: CRD schema with kubectl's strict field
# validation, object metadata; or the operator's admission webhook), the operator ends `Failed` after
# admitting it (a Deployment or Service it builds is refused: `validator.FAILED_LATER_RULES`), or a
# field is silently dropped that upstream's CRD refuses (`validator.STRICTER_THAN_THE_CLUSTER`).
# WARNING when it is deployed but misbehaves, or when it is a template whose placeholder only the
# rendering can make valid (`name-placeholder`). `--strict` fails on both.
RULES: dict[str, tuple[str, str]] = {
    # input
    "yaml-syntax": (ERROR, "the file is not valid YAML or JSON"),
    "duplicate-key": (ERROR, "a mapping repeats a key"),
    "not-a-mapping": (ERROR, "a SeldonDeployment document must be a mapping"),
    "unreadable": (ERROR, "the path cannot be read as text (missing, binary, not UTF-8)"),
    # CRD schema (the same schema the API server enforces)
    "schema-type": (ERROR, "a value has the wrong type"),
    "schema-enum": (ERROR, "a value is not one of the allowed values"),
    "schema-required": (ERROR, "a required field is missing"),
    "schema-unknown-field": (ERROR, "a field the CRD does not define"),
    "schema-limit": (
        ERROR,
        "a list or string longer than the CRD allows (bounds that keep its CEL rules cheap)",
    ),
    "schema-quantity": (
        ERROR,
        "a resource quantity outside Kubernetes' quantity grammar (the webhook refuses it)",
    ),
    "api-version": (ERROR, "apiVersion does not serve SeldonDeployment"),
    "metadata-name": (ERROR, "metadata.name is missing or not a valid Kubernetes name"),
    # the Kubernetes types the CRD keeps open, checked against their full definitions
    "k8s-type": (
        ERROR,
        "a value of the wrong type in a Kubernetes type the CRD keeps open (the webhook refuses it)",
    ),
    "k8s-unknown-field": (ERROR, "a field a Kubernetes type the CRD keeps open does not define (dropped)"),
    "k8s-enum": (ERROR, "a Kubernetes field outside its enum values: the operator's Deployment is refused"),
    # the operator's admission webhook (Seldon Core 1.17.1), same conditions and messages
    "webhook-kafka-env": (ERROR, "serverType kafka without the three KAFKA_* env vars"),
    "webhook-lone-shadow": (ERROR, "the only predictor is a shadow"),
    "webhook-duplicate-svc-name": (ERROR, "two predictors share a seldon.io/svc-name"),
    "webhook-no-predictors": (ERROR, "spec.predictors is empty"),
    "webhook-no-engine-graph": (ERROR, "seldon.io/no-engine on a graph with several nodes"),
    "webhook-duplicate-predictor": (ERROR, "two predictors share a name"),
    "webhook-no-container": (ERROR, "a graph node has no container and no implementation"),
    "webhook-no-methods": (ERROR, "an UNKNOWN_TYPE node declares no methods"),
    "webhook-model-uri": (ERROR, "a prepackaged server without modelUri"),
    "webhook-tensorflow-protocol": (ERROR, "a prepackaged server that cannot speak the tensorflow protocol"),
    "webhook-logger-mode": (ERROR, "a logger without mode"),
    "webhook-endpoint-types": (ERROR, "graph nodes mix REST and GRPC endpoint types"),
    "webhook-mixed-transport": (ERROR, "endpoint.type disagrees with spec.transport"),
    "webhook-multiple-shadows": (ERROR, "more than one shadow predictor"),
    "webhook-shadow-traffic": (ERROR, "a shadow's traffic outside [0, 100]"),
    "webhook-traffic-sum": (ERROR, "traffic of several predictors does not sum to 100"),
    "webhook-single-traffic": (ERROR, "a lone predictor with traffic between 0 and 100"),
    # the CRD's own CEL rules: shapes that crash the operator and that the webhook lets through
    "crd-ssl-builtin-root": (
        ERROR,
        "ssl.certSecretName with a graph root that has a built-in implementation",
    ),
    "crd-no-engine-explainer": (ERROR, "an explainer on a no-engine predictor whose root is built in"),
    "crd-predictor-name-prefix": (ERROR, "a predictor named like another plus '-<number>'"),
    "crd-ambassador-header": (ERROR, "an Ambassador header annotation that is not name:value pairs"),
    "unknown-server": (ERROR, "implementation is not a configured predictor server (the webhook refuses it)"),
    # what the cluster reports only later: the operator ends `Failed` (a name it cannot use)...
    "name-too-long": (ERROR, "a derived Kubernetes name is longer than 63 characters"),
    "container-name-too-long": (ERROR, "a graph container name longer than 48 characters"),
    "invalid-name": (ERROR, "a name that cannot become a Kubernetes object name"),
    "server-protocol": (ERROR, "a prepackaged server with no image for the deployment's protocol"),
    "model-uri-pvc": (ERROR, "a pvc:// modelUri that names no claim, or one no claim can have"),
    # ... or the object runs but misbehaves
    "hashed-name": (WARNING, "a derived name over 63 characters that the operator will hash"),
    "duplicate-node-name": (WARNING, "two graph nodes of one predictor share a name"),
    "unused-container": (WARNING, "a container no graph node uses"),
    "graph-children": (WARNING, "a router or combiner without the children it needs"),
    "builtin-with-type": (
        WARNING,
        "an engine built-in (RANDOM_ABTEST...) with a type the executor calls a container for",
    ),
    "graph-depth": (WARNING, "graph nodes deeper than the CRD types"),
    "model-uri-scheme": (WARNING, "modelUri has no storage scheme"),
    "model-uri-secret": (
        WARNING,
        "an s3:// (or other rclone remote's) modelUri without envSecretRefName to configure that remote",
    ),
    "model-uri-url": (WARNING, "an http(s) URL as modelUri, which the rclone initializer cannot copy"),
    # a template, not yet a manifest: the API server refuses the name until it is rendered
    "name-placeholder": (WARNING, "metadata.name holds a template placeholder ({{...}}, ${...}, $(...))"),
    # the API server refuses the Deployments the operator builds (pod template validation): `Failed`
    "pod-volume-mount": (ERROR, "a volumeMount names a volume the pod does not define"),
    "pod-duplicate-container": (ERROR, "two containers of one pod share a name"),
    "pod-duplicate-volume": (ERROR, "two volumes of one pod share a name"),
    "pod-volume-name": (ERROR, "a volume name that is not a DNS-1123 label"),
    "pod-port-name": (ERROR, "a container port name that is not an IANA service name"),
    "pod-duplicate-port-name": (ERROR, "two ports of one container share a name"),
    "pod-env-name": (ERROR, "an env var name that is empty or not printable ASCII without '='"),
    "pod-requests-above-limits": (ERROR, "a resource request above its limit"),
    "pod-probe-handlers": (ERROR, "a probe with no handler or more than one"),
    "pod-duplicate-mount-path": (ERROR, "two volumeMounts of one container share a mountPath"),
    "pod-container-image": (ERROR, "a container without an image that the operator does not fill in"),
    "engine-placement": (ERROR, "no graph node's container is where the operator puts the executor"),
}


@dataclass
class Finding:
    file: str
    document: int  # 1-based index of the YAML document in the file (0: the file itself)
    line: int  # 1-based; 0 when unknown
    column: int  # 1-based; 0 when unknown
    path: str  # field path, e.g. spec.predictors[1].traffic ("" for the whole document)
    rule: str
    severity: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def location(self) -> str:
        where = self.file
        if self.line:
            where += f":{self.line}:{self.column}"
        return where


@dataclass
class Report:
    documents: int = 0  # SeldonDeployment documents checked
    skipped: int = 0  # documents of other kinds
    findings: list[Finding] = field(default_factory=list)
    unreadable: int = 0  # inputs that could not be read at all (exit 2)
    # findings already printed and let go (`validate -o text` prints as it reads): (rule, severity) -> count
    released: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        return self._count(ERROR)

    @property
    def warnings(self) -> int:
        return self._count(WARNING)

    def _count(self, severity: str) -> int:
        kept = sum(1 for f in self.findings if f.severity == severity)
        return kept + sum(n for (_, level), n in self.released.items() if level == severity)

    def rules(self) -> set[str]:
        """The rule ids found, kept or released."""
        return {f.rule for f in self.findings} | {rule for rule, _ in self.released}

    def merge(self, other: Report, keep: bool = True) -> None:
        """Add another report's counts and findings (only counted, with keep=False)."""
        self.documents += other.documents
        self.skipped += other.skipped
        self.unreadable += other.unreadable
        if keep:
            self.findings.extend(other.findings)
        else:
            for f in other.findings:
                self._release((f.rule, f.severity), 1)
        for key, count in other.released.items():
            self._release(key, count)

    def _release(self, key: tuple[str, str], count: int) -> None:
        self.released[key] = self.released.get(key, 0) + count

    def as_dict(self) -> dict[str, Any]:
        return {
            "documents": self.documents,
            "errors": self.errors,
            "warnings": self.warnings,
            "skipped": self.skipped,
            "findings": [f.as_dict() for f in self.findings],
        }


_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def format_path(path: tuple) -> str:
    """('spec', 'predictors', 1, 'traffic') -> 'spec.predictors[1].traffic'.

    Keys that are not plain names (annotation keys) are bracketed as Kubernetes does:
    metadata.annotations[seldon.io/svc-name].
    """
    out = []
    for part in path:
        if isinstance(part, int) or not _PLAIN_KEY.match(str(part)):
            out.append(f"[{part}]")
        else:
            out.append(f".{part}" if out else str(part))
    return "".join(out)
