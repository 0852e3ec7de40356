{{/*
Names, labels and shared fragments of the seldon-core-operator chart.
Every object name comes from a helper here, so a rename happens in one place.
*/}}

{{/* Chart name for the app.kubernetes.io/name label. */}}
{{- define "seldon-core-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end }}

{{/*
Prefix of every object name. It defaults to "seldon" rather than the release name: upstream's
object names are part of the operator's contract (with managerCreateResources it looks up the
Deployment "seldon-controller-manager"; docs and scripts use these names).
*/}}
{{- define "seldon-core-operator.fullname" -}}
{{- default "seldon" .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- end }}

{{- define "seldon-core-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end }}

{{/* Namespace of every namespaced object. */}}
{{- define "seldon-core-operator.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride | trunc 63 | trimSuffix "-" -}}
{{- end }}

{{/*
Labels of every object as a JSON map: the standard ones win over commonLabels, so a user label can
never produce a duplicate key or change what selectors match. Call with (dict "root" $ "component" "..."),
component optional.
*/}}
{{- define "seldon-core-operator.labelsJson" -}}
{{- $root := .root -}}
{{- $std := dict
  "helm.sh/chart" (include "seldon-core-operator.chart" $root)
  "app.kubernetes.io/name" (include "seldon-core-operator.name" $root)
  "app.kubernetes.io/instance" $root.Release.Name
  "app.kubernetes.io/version" ($root.Chart.AppVersion | toString)
  "app.kubernetes.io/managed-by" $root.Release.Service
  "app.kubernetes.io/part-of" "seldon-core"
  "app" "seldon" -}}
{{- with .component }}{{ $_ := set $std "app.kubernetes.io/component" . }}{{ end -}}
{{- with .extra }}{{ $std = merge $std . }}{{ end -}}
{{- toJson (merge $std ($root.Values.commonLabels | default dict)) -}}
{{- end }}

{{/* Labels of every object, as YAML lines (used by the generated CRD template too). */}}
{{- define "seldon-core-operator.labels" -}}
{{- include "seldon-core-operator.labelsJson" (dict "root" .) | fromJson | toYaml -}}
{{- end }}

{{/* Labels plus a component (and optional extra labels); call with (dict "root" $ "component" "..." ["extra" map]) */}}
{{- define "seldon-core-operator.componentLabels" -}}
{{- include "seldon-core-operator.labelsJson" . | fromJson | toYaml -}}
{{- end }}

{{/* Selector labels of the controller pods (stable across upgrades: never add version labels here). */}}
{{- define "seldon-core-operator.selectorLabels" -}}
{{- include "seldon-core-operator.componentSelectorLabels" (dict "root" . "component" "controller-manager") -}}
{{- end }}

{{/* Selector labels of any component's pods; call with (dict "root" $ "component" "...") */}}
{{- define "seldon-core-operator.componentSelectorLabels" -}}
app.kubernetes.io/name: {{ include "seldon-core-operator.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
metadata.annotations (commonAnnotations plus extra ones), indented for metadata, or nothing;
call with (dict "root" $ "extra" map) right after the labels: `  {{- include ... }}`.
*/}}
{{- define "seldon-core-operator.annotations" -}}
{{- $all := merge (dict) (.extra | default dict) (.root.Values.commonAnnotations | default dict) -}}
{{- if $all }}
  annotations:
    {{- toYaml $all | nindent 4 }}
{{- end }}
{{- end }}

{{- define "seldon-core-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (printf "%s-manager" (include "seldon-core-operator.fullname" .)) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end }}

{{/* Name of a controller Deployment; call with (dict "root" $ "watch" namespace-or-empty) */}}
{{- define "seldon-core-operator.managerName" -}}
{{- $base := printf "%s-controller-manager" (include "seldon-core-operator.fullname" .root) -}}
{{- if .watch }}{{ printf "%s-%s" $base .watch | trunc 63 | trimSuffix "-" }}{{ else }}{{ $base }}{{ end -}}
{{- end }}

{{- define "seldon-core-operator.webhookServiceName" -}}
{{- printf "%s-webhook-service" (include "seldon-core-operator.fullname" .) -}}
{{- end }}

{{- define "seldon-core-operator.webhookSecretName" -}}
{{- printf "%s-webhook-server-cert" (include "seldon-core-operator.fullname" .) -}}
{{- end }}

{{- define "seldon-core-operator.certificateName" -}}
{{- printf "%s-serving-cert" (include "seldon-core-operator.fullname" .) -}}
{{- end }}

{{- define "seldon-core-operator.issuerName" -}}
{{- printf "%s-selfsigned-issuer" (include "seldon-core-operator.fullname" .) -}}
{{- end }}

{{/* Cluster-scoped names carry the namespace so releases in two namespaces do not collide. */}}
{{- define "seldon-core-operator.clusterName" -}}
{{- printf "%s-%s-%s" (include "seldon-core-operator.fullname" .root) .suffix (include "seldon-core-operator.namespace" .root) | trunc 253 -}}
{{- end }}

{{/* The operator reads its configuration from the ConfigMap of this exact name in its namespace. */}}
{{- define "seldon-core-operator.configMapName" -}}
seldon-config
{{- end }}

{{- define "seldon-core-operator.webhookPath" -}}
/validate-machinelearning-seldon-io-v1-seldondeployment
{{- end }}

{{/* registry/repository:tag, the tag defaulting to appVersion; call with (dict "image" map "root" $) */}}
{{- define "seldon-core-operator.imageRef" -}}
{{- $tag := default .root.Chart.AppVersion (toString (default "" .image.tag)) -}}
{{- if .image.registry -}}
{{- printf "%s/%s:%s" .image.registry .image.repository $tag -}}
{{- else -}}
{{- printf "%s:%s" .image.repository $tag -}}
{{- end -}}
{{- end }}

{{/*
Watched namespaces: "" (all) for the cluster-wide mode, the release namespace in singleNamespace
mode, or the watchNamespaces list. Returns a JSON list.
*/}}
{{- define "seldon-core-operator.watchList" -}}
{{- if .Values.watchNamespaces -}}
{{- toJson .Values.watchNamespaces -}}
{{- else if .Values.singleNamespace -}}
{{- toJson (list (include "seldon-core-operator.namespace" .)) -}}
{{- else -}}
{{- toJson (list "") -}}
{{- end -}}
{{- end }}

{{/* "true" when the chart (not the operator) owns the webhook objects and the serving certificate. */}}
{{- define "seldon-core-operator.chartManagesWebhook" -}}
{{- if not .Values.managerCreateResources }}true{{ end -}}
{{- end }}

{{/*
Host of webhook.url without scheme, port or path ("" when unset), for the certificate SANs.
*/}}
{{- define "seldon-core-operator.webhookUrlHost" -}}
{{- with .Values.webhook.url -}}
{{- (urlParse .).hostname -}}
{{- end -}}
{{- end }}

{{/*
Refuses value combinations that would install something broken, with a message that says what to
change. Included by the templates that are always rendered.
*/}}
{{- define "seldon-core-operator.validateValues" -}}
{{- $v := .Values -}}
{{- if and $v.singleNamespace $v.watchNamespaces -}}
{{- fail "singleNamespace and watchNamespaces are exclusive: use singleNamespace=true to watch the release namespace, or list the namespaces in watchNamespaces" -}}
{{- end -}}
{{- if and $v.certManager.enabled $v.webhook.url -}}
{{- fail "webhook.url is served outside the cluster with the chart's own certificate: set certManager.enabled=false or webhook.url=\"\"" -}}
{{- end -}}
{{- if and $v.managerCreateResources $v.watchNamespaces -}}
{{- fail "managerCreateResources runs one operator that creates its own webhook; it cannot be combined with watchNamespaces (use singleNamespace, or let the chart create the resources)" -}}
{{- end -}}
{{- if and $v.managerCreateResources $v.webhook.url -}}
{{- fail "managerCreateResources makes the operator register its own in-cluster webhook; webhook.url needs managerCreateResources=false" -}}
{{- end -}}
{{- if and $v.managerCreateResources $v.certManager.enabled -}}
{{- fail "managerCreateResources makes the operator generate its own certificates; set certManager.enabled=false" -}}
{{- end -}}
{{- if and $v.managerCreateResources (ne (include "seldon-core-operator.fullname" .) "seldon") -}}
{{- fail "managerCreateResources needs upstream's object names (the operator looks up the Deployment seldon-controller-manager): unset fullnameOverride" -}}
{{- end -}}
{{- if $v.crd.forceV1beta1 -}}
{{- fail "crd.forceV1beta1: apiextensions.k8s.io/v1beta1 CRDs were removed in Kubernetes 1.22 and this chart needs 1.25+; remove the key (the CRD is always apiextensions.k8s.io/v1)" -}}
{{- end -}}
{{- if and $v.hostNetwork $v.watchNamespaces (gt (len $v.watchNamespaces) 1) -}}
{{- fail "hostNetwork with several watchNamespaces would start one operator per namespace on the same host ports; watch one namespace or turn hostNetwork off" -}}
{{- end -}}
{{- if and $v.webhook.tls (le (int $v.webhook.tls.validityDays) (int $v.webhook.tls.renewBeforeDays)) -}}
{{- fail "webhook.tls.renewBeforeDays must be smaller than webhook.tls.validityDays, or every upgrade would renew the certificate" -}}
{{- end -}}
{{- end }}
