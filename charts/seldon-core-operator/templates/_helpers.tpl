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

{{/* The webhook's serving-certificate Secret: webhook.tls.existingSecret, or the chart's (or cert-manager's). */}}
{{- define "seldon-core-operator.webhookSecretName" -}}
{{- include "seldon-core-operator.webhookExistingSecret" . | default (printf "%s-webhook-server-cert" (include "seldon-core-operator.fullname" .)) -}}
{{- end }}

{{/* webhook.tls.existingSecret, or "" (webhook.tls may be absent when a parent chart replaces it). */}}
{{- define "seldon-core-operator.webhookExistingSecret" -}}
{{- (.Values.webhook.tls | default dict).existingSecret | default "" -}}
{{- end }}

{{/*
The webhook's caBundle (base64 PEM), or "" when unknown. With webhook.tls.existingSecret:
webhook.caBundle (base64 or PEM), else the Secret's ca.crt through lookup (nothing under
`helm template`); otherwise the chart-generated CA (_webhook_cert.tpl).
*/}}
{{- define "seldon-core-operator.webhookCaBundle" -}}
{{- if include "seldon-core-operator.webhookExistingSecret" . -}}
{{- $bundle := .Values.webhook.caBundle | default "" | trim -}}
{{- if hasPrefix "-----BEGIN" $bundle -}}
{{- $bundle | b64enc -}}
{{- else if $bundle -}}
{{- $bundle | nospace -}}
{{- else -}}
{{- $secret := lookup "v1" "Secret" (include "seldon-core-operator.namespace" .) (include "seldon-core-operator.webhookExistingSecret" .) -}}
{{- if $secret -}}{{ get ($secret.data | default dict) "ca.crt" | default "" }}{{- end -}}
{{- end -}}
{{- else -}}
{{- get (include "seldon-core-operator.webhookCert" . | fromYaml) "ca.crt" -}}
{{- end -}}
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

{{/*
registry/repository:tag[@digest], the tag defaulting to appVersion and global.imageRegistry, when
set, replacing the registry; call with (dict "image" map "root" $)
*/}}
{{- define "seldon-core-operator.imageRef" -}}
{{- $tag := default .root.Chart.AppVersion (toString (default "" .image.tag)) -}}
{{- $registry := include "seldon-core-operator.globalRegistry" .root | default .image.registry -}}
{{- $ref := .image.repository -}}
{{- if $registry }}{{ $ref = printf "%s/%s" $registry $ref }}{{ end -}}
{{- $ref = printf "%s:%s" $ref $tag -}}
{{- with .image.digest }}{{ $ref = printf "%s@%s" $ref . }}{{ end -}}
{{- $ref -}}
{{- end }}

{{/* global.imageRegistry without a trailing slash, or "". */}}
{{- define "seldon-core-operator.globalRegistry" -}}
{{- ((.Values.global | default dict).imageRegistry | default "") | trimSuffix "/" -}}
{{- end }}

{{/*
An image reference given as one string, its registry replaced by global.imageRegistry when set
(the first path component is a registry when it has a dot or a port, or is localhost); call with
(dict "ref" string "root" $)
*/}}
{{- define "seldon-core-operator.registryImage" -}}
{{- $registry := include "seldon-core-operator.globalRegistry" .root -}}
{{- if and $registry .ref -}}
{{- $parts := splitn "/" 2 .ref -}}
{{- if and $parts._1 (or (contains "." $parts._0) (contains ":" $parts._0) (eq $parts._0 "localhost")) -}}
{{- printf "%s/%s" $registry $parts._1 -}}
{{- else -}}
{{- printf "%s/%s" $registry .ref -}}
{{- end -}}
{{- else -}}
{{- .ref -}}
{{- end -}}
{{- end }}

{{/*
predictor_servers as the operator reads them (JSON): each image with global.imageRegistry applied;
a protocol's `digest` pins it. The 1.17.1 operator pulls `<image>:<defaultImageVersion>`, so a
digest is written as image `<image>:<version>@sha256` and version `<hex>`.
*/}}
{{- define "seldon-core-operator.predictorServersJson" -}}
{{- $root := . -}}
{{- $servers := deepCopy (.Values.predictor_servers | default dict) -}}
{{- range $name, $server := $servers -}}
{{- range $protocol, $cfg := ($server.protocols | default dict) -}}
{{- if kindIs "map" $cfg -}}
{{- $image := include "seldon-core-operator.registryImage" (dict "ref" $cfg.image "root" $root) -}}
{{- with $cfg.digest -}}
{{- $version := toString (default "" $cfg.defaultImageVersion) -}}
{{- $image = ternary (printf "%s:%s@sha256" $image $version) (printf "%s@sha256" $image) (ne $version "") -}}
{{- $_ := set $cfg "defaultImageVersion" (trimPrefix "sha256:" .) -}}
{{- end -}}
{{- $_ := set $cfg "image" $image -}}
{{- $_ := unset $cfg "digest" -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toJson $servers -}}
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
{{- $existing := include "seldon-core-operator.webhookExistingSecret" . -}}
{{- if and $existing $v.certManager.enabled -}}
{{- fail "webhook.tls.existingSecret provides the certificate, certManager.enabled issues one: set only one of them" -}}
{{- end -}}
{{- if and $existing $v.managerCreateResources -}}
{{- fail "managerCreateResources makes the operator generate its own certificates; webhook.tls.existingSecret needs managerCreateResources=false" -}}
{{- end -}}
{{- if and $v.webhook.caBundle (not $existing) -}}
{{- fail "webhook.caBundle is the CA of webhook.tls.existingSecret: set webhook.tls.existingSecret too, or remove webhook.caBundle (the chart's own certificate and cert-manager fill the caBundle themselves)" -}}
{{- end -}}
{{- range $v.manager.extraVolumes }}{{ if eq .name "cert" }}{{ fail "manager.extraVolumes: the volume name \"cert\" is the chart's (webhook certificate); choose another name" }}{{ end }}{{ end -}}
{{- if and $v.webhook.tls (le (int $v.webhook.tls.validityDays) (int $v.webhook.tls.renewBeforeDays)) -}}
{{- fail "webhook.tls.renewBeforeDays must be smaller than webhook.tls.validityDays, or every upgrade would renew the certificate" -}}
{{- end -}}
{{- end }}

{{/* The Service in front of the operator pods' metrics port (kubebuilder's name for it). */}}
{{- define "seldon-core-operator.metricsServiceName" -}}
{{- printf "%s-controller-manager-metrics-service" (include "seldon-core-operator.fullname" .) -}}
{{- end }}

{{/* Name of the ServiceMonitor, PodMonitor and PrometheusRule of the operator. */}}
{{- define "seldon-core-operator.monitorName" -}}
{{- printf "%s-controller-manager" (include "seldon-core-operator.fullname" .) -}}
{{- end }}

{{/* "true" when the metrics Service is rendered: asked for, or needed by the ServiceMonitor. */}}
{{- define "seldon-core-operator.metricsServiceEnabled" -}}
{{- $m := .Values.metrics -}}
{{- if or ($m.service | default dict).enabled ($m.serviceMonitor | default dict).enabled }}true{{ end -}}
{{- end }}

{{/*
PromQL label matchers of the operator's series for the alerts: metrics.prometheusRule.selector, or
the release namespace and the jobs Prometheus gives the chart's ServiceMonitor (the Service's name)
and PodMonitor (`<namespace>/<name>`) targets.
*/}}
{{- define "seldon-core-operator.alertSelector" -}}
{{- $ns := include "seldon-core-operator.namespace" . -}}
{{- .Values.metrics.prometheusRule.selector | default (printf "namespace=%q, job=~%q" $ns (printf "%s|%s/%s" (include "seldon-core-operator.metricsServiceName" .) $ns (include "seldon-core-operator.monitorName" .))) -}}
{{- end }}

{{/* A ServiceMonitor endpoint or PodMonitor podMetricsEndpoint; call with (dict "monitor" values "port" name
and optionally "path", default /metrics) */}}
{{- define "seldon-core-operator.scrapeEndpoint" -}}
{{- $m := .monitor -}}
- port: {{ .port }}
  path: {{ .path | default "/metrics" }}
  scheme: http
  {{- with $m.interval }}
  interval: {{ . }}
  {{- end }}
  {{- with $m.scrapeTimeout }}
  scrapeTimeout: {{ . }}
  {{- end }}
  {{- if $m.honorLabels }}
  honorLabels: true
  {{- end }}
  {{- with $m.relabelings }}
  relabelings:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $m.metricRelabelings }}
  metricRelabelings:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
