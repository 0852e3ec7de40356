{{/*
Which SeldonDeployments the webhook sees, with upstream's semantics:
- cluster-wide: namespaces without a seldon.io/controller-id label (those belong to another operator);
- singleNamespace: namespaces labelled seldon.io/controller-id=<release namespace>;
- watchNamespaces (new): exactly the listed namespaces (kubernetes.io/metadata.name);
- kubeflow: also namespaces labelled serving.kubeflow.org/inferenceservice=enabled, no object selector;
- controllerId: only objects labelled seldon.io/controller-id=<controllerId>, otherwise unlabelled ones.
*/}}
{{- define "seldon-core-operator.webhookSelectors" -}}
{{- $v := .Values -}}
namespaceSelector:
  {{- if $v.watchNamespaces }}
  matchExpressions:
    - key: kubernetes.io/metadata.name
      operator: In
      values:
        {{- toYaml $v.watchNamespaces | nindent 8 }}
  {{- else if $v.singleNamespace }}
  matchLabels:
    seldon.io/controller-id: {{ include "seldon-core-operator.namespace" . }}
  {{- else }}
  matchExpressions:
    - key: seldon.io/controller-id
      operator: DoesNotExist
  {{- end }}
  {{- if $v.kubeflow }}
  {{- if $v.singleNamespace }}
    serving.kubeflow.org/inferenceservice: enabled
  {{- else }}
  matchLabels:
    serving.kubeflow.org/inferenceservice: enabled
  {{- end }}
  {{- end }}
{{- if not $v.kubeflow }}
objectSelector:
  {{- if $v.controllerId }}
  matchLabels:
    seldon.io/controller-id: {{ $v.controllerId | quote }}
  {{- else }}
  matchExpressions:
    - key: seldon.io/controller-id
      operator: DoesNotExist
  {{- end }}
{{- end }}
{{- end }}
