"""kwok Stage configuration: how the simulated node and its pods move through their lifecycle.

kwok (the controller, not kwokctl) reads `Stage` objects (kwok.x-k8s.io/v1alpha1) from its
`--config` file. Each stage selects objects with jq-like expressions and patches their status
from a Go template; the template functions used here (Now, Quote, NodeConditions, NodeIPWith
...) are kwok's. Our stages:

- the node becomes Ready at once and keeps a heartbeat, so the node lifecycle controller never
  taints it;
- a scheduled Pod becomes Running and Ready with a pod IP (Deployments become Available,
  Service endpoints fill);
- a Pod owned by a Job, or a bare Helm test hook (`helm.sh/hook: test`), then Succeeds, so
  `helm test` and `ct install` finish (kwok's stock stages only complete Job pods);
- a Pod being deleted is removed at once (no kubelet would otherwise confirm it).
"""

from __future__ import annotations

import yaml

API_VERSION = "kwok.x-k8s.io/v1alpha1"
HELM_TEST_HOOKS = ("test", "test-success")

_NODE_STATUS = """\
{{ $now := Now }}
conditions:
{{ range NodeConditions }}
- type: {{ .type | Quote }}
  status: {{ .status | Quote }}
  reason: {{ .reason | Quote }}
  message: {{ .message | Quote }}
  lastHeartbeatTime: {{ $now | Quote }}
  lastTransitionTime: {{ $now | Quote }}
{{ end }}
addresses:
{{ with NodeIP }}
- type: InternalIP
  address: {{ . | Quote }}
{{ end }}
{{ with NodeName }}
- type: Hostname
  address: {{ . | Quote }}
{{ end }}
{{ with NodePort }}
daemonEndpoints:
  kubeletEndpoint:
    Port: {{ . }}
{{ end }}
capacity:
{{ with .status.capacity }}{{ YAML . 1 }}{{ else }}  cpu: "64"
  memory: 256Gi
  pods: "250"
{{ end }}
allocatable:
{{ with .status.allocatable }}{{ YAML . 1 }}{{ else }}  cpu: "64"
  memory: 256Gi
  pods: "250"
{{ end }}
nodeInfo:
  architecture: amd64
  operatingSystem: linux
  kubeletVersion: {{ printf "kwok-%s" Version | Quote }}
  kubeProxyVersion: {{ printf "kwok-%s" Version | Quote }}
  containerRuntimeVersion: {{ printf "kwok-%s" Version | Quote }}
  kernelVersion: {{ printf "kwok-%s" Version | Quote }}
  osImage: fadi-seldon local (kwok)
  machineID: ""
  systemUUID: ""
  bootID: ""
phase: Running
"""

_NODE_HEARTBEAT = """\
{{ $now := Now }}
conditions:
{{ range NodeConditions }}
- type: {{ .type | Quote }}
  status: {{ .status | Quote }}
  reason: {{ .reason | Quote }}
  message: {{ .message | Quote }}
  lastHeartbeatTime: {{ $now | Quote }}
  lastTransitionTime: {{ or $.metadata.creationTimestamp $now | Quote }}
{{ end }}
"""

_POD_RUNNING = """\
{{ $now := Now }}
phase: Running
startTime: {{ $now | Quote }}
conditions:
{{ range list "PodScheduled" "Initialized" "ContainersReady" "Ready" }}
- type: {{ . }}
  status: "True"
  lastTransitionTime: {{ $now | Quote }}
{{ end }}
{{ range $.spec.readinessGates }}
- type: {{ .conditionType | Quote }}
  status: "True"
  lastTransitionTime: {{ $now | Quote }}
{{ end }}
{{ with $.spec.initContainers }}
initContainerStatuses:
{{ range . }}
- name: {{ .name | Quote }}
  image: {{ .image | Quote }}
  ready: true
  restartCount: 0
  {{ if eq .restartPolicy "Always" }}
  started: true
  state:
    running:
      startedAt: {{ $now | Quote }}
  {{ else }}
  state:
    terminated:
      exitCode: 0
      reason: Completed
      startedAt: {{ $now | Quote }}
      finishedAt: {{ $now | Quote }}
  {{ end }}
{{ end }}
{{ end }}
containerStatuses:
{{ range .spec.containers }}
- name: {{ .name | Quote }}
  image: {{ .image | Quote }}
  ready: true
  started: true
  restartCount: 0
  state:
    running:
      startedAt: {{ $now | Quote }}
{{ end }}
{{ with NodeIPWith .spec.nodeName }}
hostIP: {{ . | Quote }}
hostIPs:
- ip: {{ . | Quote }}
{{ end }}
{{ with PodIPWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) }}
podIP: {{ . | Quote }}
podIPs:
- ip: {{ . | Quote }}
{{ end }}
"""

_POD_SUCCEEDED = """\
{{ $now := Now }}
phase: Succeeded
conditions:
{{ range list "PodScheduled" "Initialized" }}
- type: {{ . }}
  status: "True"
  lastTransitionTime: {{ $now | Quote }}
{{ end }}
{{ range list "ContainersReady" "Ready" }}
- type: {{ . }}
  status: "False"
  reason: PodCompleted
  lastTransitionTime: {{ $now | Quote }}
{{ end }}
containerStatuses:
{{ range .spec.containers }}
- name: {{ .name | Quote }}
  image: {{ .image | Quote }}
  ready: false
  started: false
  restartCount: 0
  state:
    terminated:
      exitCode: 0
      reason: Completed
      startedAt: {{ $now | Quote }}
      finishedAt: {{ $now | Quote }}
{{ end }}
"""


def _expr(key: str, operator: str, *values: str) -> dict:
    out: dict = {"key": key, "operator": operator}
    if values:
        out["values"] = list(values)
    return out


def _stage(name: str, kind: str, match: list[dict], nxt: dict, **extra) -> dict:
    spec = {"resourceRef": {"apiGroup": "v1", "kind": kind}, "selector": {"matchExpressions": match}}
    spec.update(extra)
    spec["next"] = nxt
    return {"apiVersion": API_VERSION, "kind": "Stage", "metadata": {"name": name}, "spec": spec}


_READY = '.status.conditions.[] | select( .type == "Ready" ) | .status'
_NOT_DELETING = _expr(".metadata.deletionTimestamp", "DoesNotExist")


def stages(heartbeat_ms: int = 15000) -> list[dict]:
    """The Stage objects, in the order kwok should consider them."""
    return [
        _stage("fadi-node-ready", "Node", [_expr(_READY, "NotIn", "True")], {"statusTemplate": _NODE_STATUS}),
        _stage(
            "fadi-node-heartbeat",
            "Node",
            [_expr(".status.phase", "In", "Running"), _expr(_READY, "In", "True")],
            {"statusTemplate": _NODE_HEARTBEAT},
            delay={"durationMilliseconds": heartbeat_ms, "jitterDurationMilliseconds": heartbeat_ms // 3},
            immediateNextStage=True,
        ),
        _stage(
            "fadi-pod-running",
            "Pod",
            [_NOT_DELETING, _expr(".status.phase", "In", "Pending"), _expr(_READY, "NotIn", "True")],
            {"statusTemplate": _POD_RUNNING},
        ),
        _stage(
            "fadi-job-pod-succeeded",
            "Pod",
            [
                _NOT_DELETING,
                _expr(".status.phase", "In", "Running"),
                _expr(".metadata.ownerReferences.[].kind", "In", "Job"),
            ],
            {"statusTemplate": _POD_SUCCEEDED},
        ),
        _stage(
            "fadi-helm-test-pod-succeeded",
            "Pod",
            [
                _NOT_DELETING,
                _expr(".status.phase", "In", "Running"),
                _expr('.metadata.annotations["helm.sh/hook"]', "In", *HELM_TEST_HOOKS),
            ],
            {"statusTemplate": _POD_SUCCEEDED},
        ),
        _stage("fadi-pod-remove", "Pod", [_expr(".metadata.deletionTimestamp", "Exists")], {"delete": True}),
    ]


def render(heartbeat_ms: int = 15000) -> str:
    header = (
        "# kwok Stage configuration generated by `fadi-seldon cluster up` (fadi_seldon.localkube.stages)\n"
    )
    return header + yaml.safe_dump_all(stages(heartbeat_ms), sort_keys=False, width=200)
