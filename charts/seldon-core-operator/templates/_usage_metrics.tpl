{{/*
Optional anonymous usage reporting (Spartakus volunteer), off by default and in FADI: a
ServiceAccount, a ClusterRole to list nodes, its binding and a Deployment, one template file each
(usage-metrics-*.yaml). Unlike upstream it runs in the release namespace (not kube-system) and with
a restricted security context.
*/}}

{{/* Name of the namespaced objects (ServiceAccount, Deployment). */}}
{{- define "seldon-core-operator.usageMetricsName" -}}
{{- printf "%s-spartakus-volunteer" (include "seldon-core-operator.fullname" .) -}}
{{- end }}

{{/* Name of the cluster-scoped objects (ClusterRole, ClusterRoleBinding). */}}
{{- define "seldon-core-operator.usageMetricsClusterName" -}}
{{- include "seldon-core-operator.clusterName" (dict "root" . "suffix" "spartakus-volunteer") -}}
{{- end }}
