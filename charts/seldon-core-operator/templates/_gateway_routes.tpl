{{/*
The route controller (gatewayRoutes): Gateway API routes for SeldonDeployments, scoped like the
operator. Its RBAC follows the operator's watch list: a ClusterRole when the operator watches every
namespace, else a Role in each watched namespace; reading the Gateway for its address is a Role in
the Gateway's namespace either way.
*/}}
{{- define "seldon-core-operator.gatewayRoutesName" -}}
{{- printf "%s-gateway-routes" (include "seldon-core-operator.fullname" .) -}}
{{- end }}

{{/* "true" when the route controller runs: gatewayRoutes.enabled, or global.ingress.enabled with followGlobalIngress. */}}
{{- define "seldon-core-operator.gatewayRoutesEnabled" -}}
{{- $ingress := ((.Values.global | default dict).ingress | default dict).enabled -}}
{{- if or .Values.gatewayRoutes.enabled (and .Values.gatewayRoutes.followGlobalIngress $ingress) }}true{{ end -}}
{{- end }}

{{/* What the controller does on SeldonDeployments, routes and Events (Role or ClusterRole rules). */}}
{{- define "seldon-core-operator.gatewayRoutesRules" -}}
- apiGroups: ["machinelearning.seldon.io"]
  resources: ["seldondeployments"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["gateway.networking.k8s.io"]
  resources: ["httproutes"{{ if .Values.gatewayRoutes.grpc }}, "grpcroutes"{{ end }}]
  verbs: ["create", "get", "list", "watch", "patch", "update", "delete"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- if eq .Values.gatewayRoutes.mirror "traefik-service" }}
- apiGroups: ["traefik.io"]
  resources: ["traefikservices"]
  verbs: ["create", "get", "list", "watch", "patch", "update", "delete"]
{{- end }}
{{- end }}

{{- define "seldon-core-operator.gatewayRoutesArgs" -}}
- routes
- controller
- --gateway={{ .Values.gatewayRoutes.gateway.name }}
- --gateway-namespace={{ .Values.gatewayRoutes.gateway.namespace }}
{{- with .Values.gatewayRoutes.gateway.sectionName }}
- --section={{ . }}
{{- end }}
{{- with .Values.gatewayRoutes.publicUrl }}
- --public-url={{ . }}
{{- end }}
{{- if not .Values.gatewayRoutes.grpc }}
- --no-grpc
{{- end }}
- --mirror={{ .Values.gatewayRoutes.mirror }}
- --executor-port={{ .Values.executor.port }}
{{- with .Values.controllerId }}
- --controller-id={{ . }}
{{- end }}
{{- range $target := include "seldon-core-operator.watchList" . | fromJsonArray }}
{{- if $target }}
- --namespace={{ $target }}
{{- end }}
{{- end }}
- --liveness=http://0.0.0.0:8080/healthz
{{- end }}
