{{/*
The operator's workload RBAC, in two parts bound to its ServiceAccount:
- "manager": what it reconciles (managerRules), always;
- "manager-sas": read access to what model pods reference (readRules), with rbac.configmap.create.
Each part is a ClusterRole and its ClusterRoleBinding when the operator watches all namespaces,
otherwise a Role and a RoleBinding in every watched namespace. One template file per kind and part
includes the helpers below; call them with (dict "root" $ "suffix" part "rules" rules-helper),
plus "namespace" for the namespaced kinds.
*/}}

{{/* "true" when the operator watches every namespace (cluster-wide RBAC), "" otherwise. */}}
{{- define "seldon-core-operator.watchesAllNamespaces" -}}
{{- if eq (first (include "seldon-core-operator.watchList" . | fromJsonArray)) "" }}true{{ end -}}
{{- end }}

{{- define "seldon-core-operator.workloadClusterRole" -}}
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: {{ include "seldon-core-operator.clusterName" (dict "root" .root "suffix" (printf "%s-role" .suffix)) }}
  labels:
    {{- include "seldon-core-operator.componentLabels" (dict "root" .root "component" "rbac") | nindent 4 }}
  {{- include "seldon-core-operator.annotations" (dict "root" .root) }}
rules:
  {{- include (printf "seldon-core-operator.%s" .rules) (dict "root" .root "clusterWide" true) | nindent 2 }}
{{- end }}

{{- define "seldon-core-operator.workloadClusterRoleBinding" -}}
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: {{ include "seldon-core-operator.clusterName" (dict "root" .root "suffix" (printf "%s-rolebinding" .suffix)) }}
  labels:
    {{- include "seldon-core-operator.componentLabels" (dict "root" .root "component" "rbac") | nindent 4 }}
  {{- include "seldon-core-operator.annotations" (dict "root" .root) }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: {{ include "seldon-core-operator.clusterName" (dict "root" .root "suffix" (printf "%s-role" .suffix)) }}
subjects:
  {{- include "seldon-core-operator.operatorSubjects" .root | nindent 2 }}
{{- end }}

{{- define "seldon-core-operator.workloadRole" -}}
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: {{ printf "%s-%s-role" (include "seldon-core-operator.fullname" .root) .suffix }}
  namespace: {{ .namespace }}
  labels:
    {{- include "seldon-core-operator.componentLabels" (dict "root" .root "component" "rbac") | nindent 4 }}
  {{- include "seldon-core-operator.annotations" (dict "root" .root) }}
rules:
  {{- include (printf "seldon-core-operator.%s" .rules) (dict "root" .root "clusterWide" false) | nindent 2 }}
{{- end }}

{{- define "seldon-core-operator.workloadRoleBinding" -}}
{{- $role := printf "%s-%s-role" (include "seldon-core-operator.fullname" .root) .suffix -}}
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: {{ printf "%s-%s-rolebinding" (include "seldon-core-operator.fullname" .root) .suffix }}
  namespace: {{ .namespace }}
  labels:
    {{- include "seldon-core-operator.componentLabels" (dict "root" .root "component" "rbac") | nindent 4 }}
  {{- include "seldon-core-operator.annotations" (dict "root" .root) }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: {{ $role }}
subjects:
  {{- include "seldon-core-operator.operatorSubjects" .root | nindent 2 }}
{{- end }}

{{/* subjects of every binding: the operator's ServiceAccount in the release namespace */}}
{{- define "seldon-core-operator.operatorSubjects" -}}
- kind: ServiceAccount
  name: {{ include "seldon-core-operator.serviceAccountName" . }}
  namespace: {{ include "seldon-core-operator.namespace" . }}
{{- end }}
