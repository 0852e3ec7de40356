"""Names the Python code shares with the seldon-core-operator chart, written once.

Each value below is what charts/seldon-core-operator/templates/_helpers.tpl (and the templates using
it) render with default values; tests/test_runtime_names.py renders the chart and checks them, so a
rename in the chart fails a test instead of silently breaking the operator runner or doctor.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

# --------------------------------------------------------------------------- chart and CRD
CHART_NAME = "seldon-core-operator"  # Chart.yaml `name`; the values key of the chart in an umbrella
CRD_GROUP = "machinelearning.seldon.io"
CRD_PLURAL = "seldondeployments"
CRD_NAME = f"{CRD_PLURAL}.{CRD_GROUP}"

# --------------------------------------------------------------------------- labels
COMPONENT_LABEL = "app.kubernetes.io/component"
PART_OF_LABEL = "app.kubernetes.io/part-of"
PART_OF = "seldon-core"  # labelsJson: every object of the chart
CONTROLLER_COMPONENT = "controller-manager"  # selectorLabels: the controller Deployment and its pods
UPSTREAM_CONTROLLER_LABEL = "control-plane"  # upstream's chart, kept on the controller for its users
UPSTREAM_CONTROLLER = "seldon-controller-manager"

# The controller Deployment (and its pods) as our chart labels it...
CONTROLLER_LABELS: Mapping[str, str] = MappingProxyType(
    {COMPONENT_LABEL: CONTROLLER_COMPONENT, PART_OF_LABEL: PART_OF}
)
# ...and as upstream's chart labels it (ours carries this label too).
UPSTREAM_CONTROLLER_LABELS: Mapping[str, str] = MappingProxyType(
    {UPSTREAM_CONTROLLER_LABEL: UPSTREAM_CONTROLLER}
)


def selector(labels: Mapping[str, str]) -> str:
    """A `kubectl -l` equality selector matching every one of `labels`."""
    return ",".join(f"{key}={value}" for key, value in labels.items())


def has_labels(obj: dict, labels: Mapping[str, str]) -> bool:
    """True when the object's metadata.labels hold every one of `labels` with the same value."""
    own = ((obj.get("metadata") or {}).get("labels") or {}) if isinstance(obj, dict) else {}
    return all(own.get(key) == value for key, value in labels.items())


# kubectl selectors of the controller pods: our chart's labels first, then upstream's.
CONTROLLER_SELECTORS = (selector(CONTROLLER_LABELS), selector(UPSTREAM_CONTROLLER_LABELS))

# --------------------------------------------------------------------------- objects (default fullname "seldon")
FULLNAME = "seldon"
CONTROLLER_DEPLOYMENT = f"{FULLNAME}-controller-manager"  # managerName; "-<namespace>" per watched one
MANAGER_CONTAINER = "manager"  # the controller's container in _deployment.tpl
SERVICE_ACCOUNT = f"{FULLNAME}-manager"
CONFIG_MAP = "seldon-config"  # the operator reads its configuration from this exact name
WEBHOOK_SERVICE = f"{FULLNAME}-webhook-service"
WEBHOOK_SECRET = f"{FULLNAME}-webhook-server-cert"
WEBHOOK_PATH = "/validate-machinelearning-seldon-io-v1-seldondeployment"
WEBHOOK_NAME = "v1.vseldondeployment.kb.io"  # the webhook entry of the ValidatingWebhookConfiguration


def validating_webhook_configuration(namespace: str) -> str:
    """Name of the chart's ValidatingWebhookConfiguration (cluster-scoped, so it carries the namespace)."""
    return f"{FULLNAME}-validating-webhook-configuration-{namespace}"
