"""The SeldonDeployment types (machinelearning.seldon.io, Seldon Core v1): the one source of truth.

Every field, enum, required list and Kubernetes embedding of a SeldonDeployment is declared here
once, as a small tree of type objects. `openapi_schema()` renders that tree into the structural
OpenAPI v3 schema; `fadi_seldon.sdep.crd` wraps it into the CRD and `fadi_seldon.sdep.validator` compiles the
very same dict, so what the API server accepts and what `fadi-seldon validate` accepts cannot drift.

Field names, enum values and required fields follow the Go types of the Seldon Core 1.17.1 operator;
the descriptions are ours. Where upstream's CRD had no enum (it had none at all), the Go constants
are enforced here, because a typo such as `type: MODELL` otherwise only shows up as a broken graph.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from fadi_seldon.sdep import k8s_openapi

GROUP = "machinelearning.seldon.io"
KIND = "SeldonDeployment"
PLURAL = "seldondeployments"
SINGULAR = "seldondeployment"
SHORT_NAMES = ("sdep",)
CATEGORIES = ("seldon",)  # `kubectl get seldon`; not "all", which would flood `kubectl get all`
STORAGE_VERSION = "v1"
VERSIONS = ("v1", "v1alpha2", "v1alpha3")  # all served with this one schema, conversion None
API_VERSIONS = tuple(f"{GROUP}/{v}" for v in VERSIONS)

# How many graph levels the CRD types (the root graph is level 1). Upstream's examples nest at
# most 4 levels (the conformance corpus); upstream's CRD typed 10 at ~20 KB each. 8 keeps every
# real graph fully checked with room to spare while the whole CRD stays far below kubectl's
# 256 KiB annotation limit. Below level 8, `children` items are kept but not schema-checked by the
# API server (`x-kubernetes-preserve-unknown-fields`); the validator warns about them (graph-depth).
GRAPH_DEPTH = 8

# --- enums (Go constants of the operator) ---------------------------------------------------
PREDICTIVE_UNIT_TYPES = ("UNKNOWN_TYPE", "ROUTER", "COMBINER", "MODEL", "TRANSFORMER", "OUTPUT_TRANSFORMER")
BUILTIN_IMPLEMENTATIONS = (
    "UNKNOWN_IMPLEMENTATION",
    "SIMPLE_MODEL",
    "SIMPLE_ROUTER",
    "RANDOM_ABTEST",
    "AVERAGE_COMBINER",
)
PREDICTIVE_UNIT_METHODS = ("TRANSFORM_INPUT", "TRANSFORM_OUTPUT", "ROUTE", "AGGREGATE", "SEND_FEEDBACK")
ENDPOINT_TYPES = ("REST", "GRPC")
PARAMETER_TYPES = ("INT", "FLOAT", "DOUBLE", "STRING", "BOOL")
LOGGER_MODES = ("all", "request", "response")
# protocol, transport and serverType may also be "" (the webhook treats it as the default)
PROTOCOLS = ("seldon", "tensorflow", "kfserving", "v2")
TRANSPORTS = ("rest", "grpc")
SERVER_TYPES = ("rpc", "kafka")
EXPLAINER_TYPES = (
    "AnchorTabular",
    "AnchorImages",
    "AnchorText",
    "Counterfactuals",
    "Contrastive",
    "KernelShap",
    "IntegratedGradients",
    "ALE",
    "TreeShap",
)
STATES = ("Available", "Creating", "Failed")


# --- the type language ----------------------------------------------------------------------
@dataclass(frozen=True)
class Rule:
    """A CEL rule the API server enforces (x-kubernetes-validations), webhook or not.

    `rule` is the validator's rule id for the same condition (fadi_seldon.sdep.validator checks it in
    Python under that id), so `validate` and the API server refuse the same objects. CEL's
    `messageExpression`, `reason` and `fieldPath` need Kubernetes 1.27/1.28; the rules keep to `rule` and
    `message`, which every release from 1.25 accepts (the chart claims 1.28 and newer, the releases
    `make test-compat` runs the cluster suite on).
    """

    rule: str
    cel: str
    message: str


@dataclass(frozen=True)
class Type:
    doc: str = ""
    # `field:` left empty in YAML is null: client-side apply drops it, server-side apply rejects it
    # unless the schema says nullable
    nullable: bool = False
    rules: tuple[Rule, ...] = ()


@dataclass(frozen=True)
class Str(Type):
    enum: tuple[str, ...] = ()
    max_length: int = 0  # 0: unbounded; a bound lets CEL rules that compare the string stay cheap


@dataclass(frozen=True)
class Int(Type):
    format: str = "int32"


@dataclass(frozen=True)
class Bool(Type):
    pass


@dataclass(frozen=True)
class IntOrStr(Type):
    pass


@dataclass(frozen=True)
class StrMap(Type):
    """map[string]string (labels, annotations, config)."""


@dataclass(frozen=True)
class Opaque(Type):
    """An object kept as written, never checked (free-form configuration)."""


@dataclass(frozen=True)
class ListOf(Type):
    items: Type = field(default_factory=Type)
    max_items: int = 0  # 0: unbounded; CEL rules iterating a list need a bound within the cost budget


@dataclass(frozen=True)
class MapOf(Type):
    values: Type = field(default_factory=Type)


@dataclass(frozen=True)
class Obj(Type):
    name: str = ""
    fields: dict[str, Type] = field(default_factory=dict, hash=False, compare=False)
    required: tuple[str, ...] = ()
    open: bool = False  # keep fields it does not declare (x-kubernetes-preserve-unknown-fields)


@dataclass(frozen=True)
class K8s(Type):
    """A Kubernetes type, e.g. io.k8s.api.core.v1.PodSpec (see fadi_seldon.sdep.k8s_openapi)."""

    definition: str = ""


@dataclass(frozen=True)
class Children(Type):
    """The recursive `children` list of a PredictiveUnit, expanded GRAPH_DEPTH levels."""


# --- the SeldonDeployment -------------------------------------------------------------------
_CORE = "io.k8s.api.core.v1."
ANNOTATION_NO_ENGINE = "seldon.io/no-engine"
ANNOTATION_AMBASSADOR_HEADER = "seldon.io/ambassador-header"
ANNOTATION_AMBASSADOR_REGEX_HEADER = "seldon.io/ambassador-regex-header"
_HEADER, _REGEX = ANNOTATION_AMBASSADOR_HEADER, ANNOTATION_AMBASSADOR_REGEX_HEADER
# Bounds that let the API server's CEL cost estimate accept the rules below (an unbounded list of
# unbounded strings compared pairwise exceeds the per-rule budget). Each predictor is a Kubernetes
# Deployment of its own; 64 is far above any real graph. Names are DNS subdomains at most.
MAX_PREDICTORS = 64
MAX_NAME_LENGTH = 253

_BUILTINS = "[" + ", ".join(f"'{b}'" for b in BUILTIN_IMPLEMENTATIONS if b != "UNKNOWN_IMPLEMENTATION") + "]"
_BUILTIN_ROOT = f"has(self.graph.implementation) && self.graph.implementation in {_BUILTINS}"
# Key present, any value, as the webhook's own no-engine rule reads it: comparing the (unbounded)
# value case-insensitively, as the operator does, exceeds the CEL cost budget.
_NO_ENGINE = f"has(self.annotations) && '{ANNOTATION_NO_ENGINE}' in self.annotations"
# Rules on one predictor: shapes the operator dereferences a nil pointer on (docs/validation-rules.md
# has the upstream file and line of each); the webhook lets both through.
PREDICTOR_CRASH_RULES = (
    Rule(
        "crd-ssl-builtin-root",
        f"!has(self.ssl) || !has(self.ssl.certSecretName) || self.ssl.certSecretName == '' || !({_BUILTIN_ROOT})",
        "ssl.certSecretName needs a graph root that runs in a container: the operator crashes on a root with a "
        "built-in implementation (SIMPLE_MODEL, SIMPLE_ROUTER, RANDOM_ABTEST, AVERAGE_COMBINER); remove ssl or "
        "make the root a model container",
    ),
    Rule(
        "crd-no-engine-explainer",
        f"!({_NO_ENGINE} && has(self.explainer) && has(self.explainer.type) && self.explainer.type != '' "
        f"&& {_BUILTIN_ROOT})",
        f"an explainer on a {ANNOTATION_NO_ENGINE} predictor needs a graph root that runs in a container: the "
        "operator crashes on a built-in root; remove the explainer or the annotation",
    ),
)

# Rules on spec.predictors: what crashes the operator when the webhook is not in the path (an
# empty list: `Spec.Predictors[0]` in createAddressableResource, docs/validation-rules.md), and the
# webhook's own rules over the whole list, so a cluster with the webhook off still refuses them.
# The traffic sums stay webhook-only: CEL's list sum() is not in Kubernetes 1.25 to 1.28 (1.28 is the chart's floor).
_SHADOW = "has({p}.shadow) && {p}.shadow"
PREDICTOR_RULES = (
    Rule(
        "webhook-no-predictors",
        "size(self) > 0",
        "Graph contains no predictors: add at least one predictor to spec.predictors",
    ),
    Rule(
        "webhook-duplicate-predictor",
        "self.all(p, self.exists_one(q, q.name == p.name))",
        "Duplicate predictor name: give each predictor in spec.predictors its own name",
    ),
    Rule(
        "webhook-lone-shadow",
        "size(self) != 1 || !(" + _SHADOW.format(p="self[0]") + ")",
        "Shadow can not exist as only predictor: add the main predictor or remove shadow: true",
    ),
    Rule(
        "webhook-multiple-shadows",
        "size(self.filter(p, " + _SHADOW.format(p="p") + ")) <= 1",
        "Multiple shadows are not allowed: keep shadow: true on one predictor only",
    ),
    Rule(
        "crd-predictor-name-prefix",
        "self.all(a, self.all(b, a.name == b.name || !b.name.startsWith(a.name + '-') "
        "|| !b.name.substring(size(a.name) + 1).matches('^[0-9]+(-|$)')))",
        "predictor names where one is another plus '-<number>' (main, main-0-x) can give two Deployments one "
        "name, which crashes the operator for prepackaged TENSORFLOW/TRITON servers; rename one predictor",
    ),
    Rule(
        "webhook-shadow-traffic",
        "self.all(p, !("
        + _SHADOW.format(p="p")
        + ") || !has(p.traffic) || (p.traffic >= 0 && p.traffic <= 100))",
        "shadow traffic is illegal, the traffic number should be between [0, 100]",
    ),
)

ENDPOINT = Obj(
    name="Endpoint",
    doc="How the executor reaches this node. Usually left out: the operator fills it in.",
    fields={
        "service_host": Str(doc="Host name of the node's service."),
        "service_port": Int(doc="Port of the node's service."),
        "type": Str(enum=ENDPOINT_TYPES, doc="REST or GRPC. Prefer spec.transport."),
        "httpPort": Int(doc="HTTP port of the node."),
        "grpcPort": Int(doc="gRPC port of the node."),
    },
)

PARAMETER = Obj(
    name="Parameter",
    doc="A typed init parameter passed to the node's model class.",
    fields={
        "name": Str(doc="Parameter name (a keyword argument of the model class)."),
        "value": Str(doc="Value, always written as a string; `type` says how it is parsed."),
        "type": Str(enum=PARAMETER_TYPES, doc="How the value is parsed."),
    },
    required=("name", "value", "type"),
)

LOGGER = Obj(
    name="Logger",
    doc="Send this node's requests and/or responses to a request logger.",
    fields={
        "url": Str(doc="Where to send them (default: the executor's request logger endpoint)."),
        "mode": Str(enum=LOGGER_MODES, doc="What to log: all, request or response."),
    },
    rules=(
        Rule(
            "webhook-logger-mode",
            "has(self.mode) && self.mode != ''",
            "No logger mode specified: add mode: all, request or response to the logger",
        ),
    ),
)

PREDICTIVE_UNIT = Obj(
    name="PredictiveUnit",
    doc="A node of the inference graph: a model, router, combiner or transformer.",
    fields={
        "name": Str(
            doc="Node name; names the container in componentSpecs that runs it (unless prepackaged)."
        ),
        "children": Children(doc="Nodes this one sends its output to (routers choose one, combiners all)."),
        "type": Str(enum=PREDICTIVE_UNIT_TYPES, doc="Role of the node."),
        "implementation": Str(
            doc="A built-in (SIMPLE_MODEL, SIMPLE_ROUTER, RANDOM_ABTEST, AVERAGE_COMBINER) or a prepackaged "
            "server configured in the operator's predictor_servers (SKLEARN_SERVER, ...)."
        ),
        "methods": ListOf(
            items=Str(enum=PREDICTIVE_UNIT_METHODS), doc="Methods of a node of type UNKNOWN_TYPE."
        ),
        "endpoint": ENDPOINT,
        "parameters": ListOf(items=PARAMETER, doc="Init parameters of the model class."),
        "modelUri": Str(doc="Model artefact for a prepackaged server (gs://, s3://, pvc://, https://, ...)."),
        "serviceAccountName": Str(doc="Service account used to download modelUri."),
        "envSecretRefName": Str(doc="Secret with credentials for downloading modelUri."),
        "storageInitializerImage": Str(doc="Image of the init container that downloads modelUri."),
        "logger": LOGGER,
    },
    required=("name",),
)

HPA_SPEC = Obj(
    name="SeldonHpaSpec",
    doc="Horizontal Pod Autoscaler for this component.",
    fields={
        "minReplicas": Int(),
        "maxReplicas": Int(),
        "metrics": ListOf(
            items=Obj(name="MetricSpecV2beta1", fields={"type": Str()}, required=("type",), open=True),
            doc="Metrics in the autoscaling/v2beta1 form (deprecated: use metricsv2).",
        ),
        "metricsv2": ListOf(
            items=K8s(definition="io.k8s.api.autoscaling.v2.MetricSpec"), doc="autoscaling/v2 metrics."
        ),
    },
    required=("maxReplicas",),
)

KEDA_SPEC = Obj(
    name="SeldonScaledObjectSpec",
    doc="KEDA ScaledObject for this component (operator with keda.enabled).",
    fields={
        "pollingInterval": Int(),
        "cooldownPeriod": Int(),
        "idleReplicaCount": Int(),
        "minReplicaCount": Int(),
        "maxReplicaCount": Int(),
        "advanced": Opaque(),
        "triggers": ListOf(
            items=Obj(
                name="ScaleTriggers",
                fields={
                    "type": Str(),
                    "name": Str(),
                    "metadata": StrMap(),
                    "authenticationRef": Obj(
                        name="AuthenticationRef", fields={"name": Str(), "kind": Str()}, required=("name",)
                    ),
                    "metricType": Str(),
                    "useCachedMetrics": Bool(),
                },
                required=("type", "metadata"),
            )
        ),
        "fallback": Obj(
            name="Fallback",
            fields={"failureThreshold": Int(), "replicas": Int()},
            required=("failureThreshold", "replicas"),
        ),
    },
    required=("triggers",),
)

COMPONENT_SPEC = Obj(
    name="SeldonPodSpec",
    doc="A Pod template (one Kubernetes Deployment) holding containers of graph nodes.",
    fields={
        "metadata": K8s(definition="io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"),
        "spec": K8s(definition=_CORE + "PodSpec"),
        "hpaSpec": HPA_SPEC,
        "replicas": Int(doc="Replicas of this component (overrides the predictor's)."),
        "kedaSpec": KEDA_SPEC,
        "pdbSpec": Obj(
            name="SeldonPdbSpec",
            doc="PodDisruptionBudget for this component.",
            fields={"minAvailable": IntOrStr(), "maxUnavailable": IntOrStr()},
        ),
    },
)

EXPLAINER = Obj(
    name="Explainer",
    doc="An Alibi explainer deployed next to the predictor.",
    fields={
        "type": Str(enum=EXPLAINER_TYPES, doc="Alibi explainer algorithm."),
        "modelUri": Str(doc="Saved explainer artefact."),
        "serviceAccountName": Str(),
        "containerSpec": K8s(definition=_CORE + "Container"),
        "config": StrMap(doc="Explainer settings."),
        "endpoint": ENDPOINT,
        "envSecretRefName": Str(),
        "storageInitializerImage": Str(),
        "replicas": Int(),
        "initParameters": Str(doc="JSON-encoded init parameters."),
    },
)

PREDICTOR = Obj(
    name="PredictorSpec",
    doc="One inference graph with its Pods; several predictors split traffic (canary) or mirror it (shadow).",
    fields={
        "name": Str(
            doc="Predictor name, unique in the deployment; part of derived Kubernetes names.",
            max_length=MAX_NAME_LENGTH,
        ),
        "graph": PREDICTIVE_UNIT,
        "componentSpecs": ListOf(
            items=COMPONENT_SPEC, doc="Pod templates running the graph's containers.", nullable=True
        ),
        "replicas": Int(doc="Replicas of every component of this predictor."),
        "annotations": StrMap(doc="Predictor annotations (seldon.io/... options)."),
        "engineResources": K8s(definition=_CORE + "ResourceRequirements"),
        "labels": StrMap(doc="Labels added to the predictor's objects."),
        "svcOrchSpec": Obj(
            name="SvcOrchSpec",
            doc="The executor (service orchestrator) container.",
            fields={
                "resources": K8s(definition=_CORE + "ResourceRequirements"),
                "env": ListOf(items=K8s(definition=_CORE + "EnvVar")),
                "replicas": Int(),
            },
        ),
        "traffic": Int(doc="Percentage of requests sent here; non-shadow predictors must sum to 100."),
        "explainer": EXPLAINER,
        "shadow": Bool(doc="Receives a copy of the traffic; its answers are discarded."),
        "ssl": Obj(name="SSL", fields={"certSecretName": Str()}, doc="TLS for the predictor's services."),
        "progressDeadlineSeconds": Int(),
    },
    required=("name", "graph"),
    rules=(
        *PREDICTOR_CRASH_RULES,
        Rule(
            "webhook-no-engine-graph",
            f"!has(self.annotations) || !('{ANNOTATION_NO_ENGINE}' in self.annotations) "
            "|| !has(self.graph.children) || size(self.graph.children) == 0",
            "Running without engine only valid for single element graphs: "
            f"remove the {ANNOTATION_NO_ENGINE} annotation or the graph's children",
        ),
    ),
)

SPEC = Obj(
    name="SeldonDeploymentSpec",
    doc="Desired state: the predictors and deployment-wide options.",
    fields={
        "name": Str(doc="Deprecated deployment name (metadata.name is used)."),
        "predictors": ListOf(
            items=PREDICTOR, doc="At least one predictor.", max_items=MAX_PREDICTORS, rules=PREDICTOR_RULES
        ),
        "oauth_key": Str(),
        "oauth_secret": Str(),
        "annotations": StrMap(doc="Deployment annotations (seldon.io/... options)."),
        "protocol": Str(
            enum=("", *PROTOCOLS), doc="API protocol: seldon (default), tensorflow, kfserving or v2."
        ),
        "transport": Str(enum=("", *TRANSPORTS), doc="rest (default) or grpc."),
        "replicas": Int(doc="Default replicas of every component."),
        "serverType": Str(enum=("", *SERVER_TYPES), doc="rpc (default) or kafka."),
    },
    required=("predictors",),
    rules=(
        Rule(
            "crd-ambassador-header",
            f"!has(self.annotations) || ((!('{_HEADER}' in self.annotations) || self.annotations['{_HEADER}'] == '' "
            f"|| size(self.annotations['{_HEADER}'].split(':')) % 2 == 0) "
            f"&& (!('{_REGEX}' in self.annotations) || self.annotations['{_REGEX}'] == '' "
            f"|| ('{_HEADER}' in self.annotations && self.annotations['{_HEADER}'] != '')))",
            f"{ANNOTATION_AMBASSADOR_HEADER} must be name:value pairs (name:value or n1:v1:n2:v2), and "
            f"{ANNOTATION_AMBASSADOR_REGEX_HEADER} needs it too: otherwise the operator crashes when Ambassador "
            "is enabled",
        ),
    ),
)

STATUS = Obj(
    name="SeldonDeploymentStatus",
    doc="Observed state, written by the operator.",
    fields={
        "state": Str(enum=STATES),
        "description": Str(),
        "deploymentStatus": MapOf(
            values=Obj(
                name="DeploymentStatus",
                fields={
                    "name": Str(),
                    "status": Str(),
                    "description": Str(),
                    "replicas": Int(),
                    "availableReplicas": Int(),
                    "explainerFor": Str(),
                },
            )
        ),
        "serviceStatus": MapOf(
            values=Obj(
                name="ServiceStatus",
                fields={
                    "svcName": Str(),
                    "httpEndpoint": Str(),
                    "grpcEndpoint": Str(),
                    "explainerFor": Str(),
                },
            )
        ),
        "replicas": Int(),
        "address": Obj(name="Addressable", fields={"url": Str()}),
        "observedGeneration": Int(format="int64"),
        "annotations": StrMap(),
        "conditions": ListOf(
            items=Obj(
                name="Condition",
                fields={
                    "type": Str(),
                    "status": Str(),
                    "severity": Str(),
                    "lastTransitionTime": Str(),
                    "reason": Str(),
                    "message": Str(),
                },
                required=("type", "status"),
            )
        ),
    },
)

SELDON_DEPLOYMENT = Obj(
    name=KIND,
    doc="A Seldon Core inference graph: predictors, their graphs of models and the Pods that run them.",
    fields={
        "apiVersion": Str(),
        "kind": Str(),
        "metadata": Obj(name="ObjectMeta"),
        "spec": SPEC,
        "status": STATUS,
    },
    required=("spec",),
)


# --- rendering ------------------------------------------------------------------------------
Schema = dict[str, Any]


def _str(t: Str, depth: int, docs: bool) -> Schema:
    out: Schema = {"type": "string"}
    if t.enum:
        out["enum"] = list(t.enum)
    if t.max_length:
        out["maxLength"] = t.max_length
    return out


def _list(t: ListOf, depth: int, docs: bool) -> Schema:
    out: Schema = {"type": "array", "items": render(t.items, depth, docs)}
    if t.max_items:
        out["maxItems"] = t.max_items
    return out


def _children(t: Children, depth: int, docs: bool) -> Schema:
    if depth >= GRAPH_DEPTH:
        item = dict(k8s_openapi.OPAQUE_OBJECT)
    else:  # descriptions only on the first level: deeper copies would only add bytes
        item = render(PREDICTIVE_UNIT, depth + 1, docs=False)
    return {"type": "array", "items": item}


def _obj(t: Obj, depth: int, docs: bool) -> Schema:
    out: Schema = {"type": "object"}
    if t.fields:
        out["properties"] = {key: render(sub, depth, docs) for key, sub in t.fields.items()}
    if t.required:
        out["required"] = list(t.required)
    if t.open:
        out["x-kubernetes-preserve-unknown-fields"] = True
    return out


# one renderer per type; subclasses first where one type derives from another
_RENDERERS: tuple[tuple[type, Any], ...] = (
    (Str, _str),
    (Int, lambda t, depth, docs: {"type": "integer", "format": t.format}),
    (Bool, lambda t, depth, docs: {"type": "boolean"}),
    (IntOrStr, lambda t, depth, docs: dict(k8s_openapi.INT_OR_STRING)),
    (StrMap, lambda t, depth, docs: {"type": "object", "additionalProperties": {"type": "string"}}),
    (Opaque, lambda t, depth, docs: dict(k8s_openapi.OPAQUE_OBJECT)),
    (ListOf, _list),
    (MapOf, lambda t, depth, docs: {"type": "object", "additionalProperties": render(t.values, depth, docs)}),
    (K8s, lambda t, depth, docs: k8s_openapi.structural(t.definition)),
    (Children, _children),
    (Obj, _obj),
)


def render(t: Type, depth: int = 1, docs: bool = True) -> Schema:
    """One type as a structural OpenAPI v3 schema. `depth` is the graph level being rendered."""
    renderer = next((fn for kind, fn in _RENDERERS if isinstance(t, kind)), None)
    if renderer is None:  # pragma: no cover - a new Type subclass without a rendering
        raise TypeError(f"cannot render {t!r}")
    out = renderer(t, depth, docs)
    if t.nullable:
        out["nullable"] = True
    if t.rules:
        out["x-kubernetes-validations"] = [{"rule": r.cel, "message": r.message} for r in t.rules]
    if docs and t.doc:
        out = {"description": t.doc, **out}
    return out


@functools.cache
def _openapi_schema() -> Schema:
    return render(SELDON_DEPLOYMENT)


def openapi_schema() -> Schema:
    """The structural schema of a SeldonDeployment (shared, do not mutate)."""
    return _openapi_schema()


def graph_node_schema() -> Schema:
    """The schema of a level-1 graph node, as embedded in openapi_schema()."""
    return openapi_schema()["properties"]["spec"]["properties"]["predictors"]["items"]["properties"]["graph"]


def _rules(t: Type, seen: set[int]) -> list[Rule]:
    if id(t) in seen:
        return []
    seen.add(id(t))
    found = list(t.rules)
    children: list[Type] = []
    if isinstance(t, Obj):
        children = list(t.fields.values())
    elif isinstance(t, ListOf):
        children = [t.items]
    elif isinstance(t, MapOf):
        children = [t.values]
    for child in children:
        found += _rules(child, seen)
    return found


def crd_rules() -> list[Rule]:
    """Every CEL rule of the CRD, once each."""
    return _rules(SELDON_DEPLOYMENT, set())


def crd_rule_ids() -> frozenset[str]:
    """The validator rule ids the CRD's CEL rules enforce at the API server."""
    return frozenset(r.rule for r in crd_rules())
