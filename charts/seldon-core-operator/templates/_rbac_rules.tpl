{{/*
RBAC rules of the operator, written once and used by the ClusterRoles (cluster-wide mode) and by
the Roles of each watched namespace. Optional integrations only get rules when enabled.
*/}}

{{- define "seldon-core-operator.crudVerbs" -}}
[create, delete, get, list, patch, update, watch]
{{- end }}

{{/* Workload rules; call with (dict "root" $ "clusterWide" bool) */}}
{{- define "seldon-core-operator.managerRules" -}}
{{- $crud := include "seldon-core-operator.crudVerbs" . -}}
{{- $v := .root.Values -}}
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
{{- if .clusterWide }}
- apiGroups: [""]
  resources: [namespaces]
  verbs: [get, list, watch]
{{- end }}
- apiGroups: [""]
  resources: [services]
  verbs: {{ $crud }}
- apiGroups: [apps]
  resources: [deployments]
  verbs: {{ $crud }}
- apiGroups: [apps]
  resources: [deployments/status]
  verbs: [get, patch, update]
- apiGroups: [autoscaling]
  resources: [horizontalpodautoscalers]
  verbs: {{ $crud }}
- apiGroups: [autoscaling]
  resources: [horizontalpodautoscalers/status]
  verbs: [get, patch, update]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: {{ $crud }}
- apiGroups: [policy]
  resources: [poddisruptionbudgets/status]
  verbs: [get, patch, update]
- apiGroups: [machinelearning.seldon.io]
  resources: [seldondeployments]
  verbs: {{ $crud }}
- apiGroups: [machinelearning.seldon.io]
  resources: [seldondeployments/status]
  verbs: [get, patch, update]
- apiGroups: [machinelearning.seldon.io]
  resources: [seldondeployments/finalizers]
  verbs: [get, patch, update]
{{- if $v.ambassador.enabled }}
- apiGroups: [getambassador.io]
  resources: [mappings, tlscontexts]
  verbs: {{ $crud }}
- apiGroups: [getambassador.io]
  resources: [mappings/status, tlscontexts/status]
  verbs: [get, patch, update]
{{- end }}
{{- if $v.istio.enabled }}
- apiGroups: [networking.istio.io]
  resources: [destinationrules, virtualservices]
  verbs: {{ $crud }}
- apiGroups: [networking.istio.io]
  resources: [destinationrules/status, virtualservices/status]
  verbs: [get, patch, update]
{{- end }}
{{- if $v.keda.enabled }}
- apiGroups: [keda.sh]
  resources: [scaledobjects, scaledobjects/finalizers]
  verbs: {{ $crud }}
- apiGroups: [keda.sh]
  resources: [scaledobjects/status]
  verbs: [get, patch, update]
{{- end }}
{{- end }}

{{/* Read access to what model pods reference; call with (dict "root" $ "clusterWide" bool) */}}
{{- define "seldon-core-operator.readRules" -}}
- apiGroups: [""]
  resources: {{ if .clusterWide }}[configmaps, secrets, serviceaccounts]{{ else }}[secrets, serviceaccounts]{{ end }}
  verbs: [get, list, watch]
{{- end }}
