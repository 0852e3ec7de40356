{{/*
The controller Deployment; call with (dict "root" $ "watch" namespace-or-"" "perNamespace" bool).
Environment variables and arguments follow the Seldon 1.17.1 operator's contract.
*/}}
{{- define "seldon-core-operator.managerDeployment" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
{{- $ns := include "seldon-core-operator.namespace" $root -}}
{{- $suffix := ternary .watch "" .perNamespace -}}
{{- $leaderID := ternary (printf "%s.%s" .watch $v.manager.leaderElectionID) $v.manager.leaderElectionID .perNamespace -}}
{{- $chartCerts := include "seldon-core-operator.chartManagesWebhook" $root -}}
{{- $securityContext := $v.manager.containerSecurityContext | default dict -}}
{{- if hasKey $securityContext "securityContext" }}{{ $securityContext = get $securityContext "securityContext" | default dict }}{{ end -}}
{{- $securityContext = mergeOverwrite (deepCopy ($v.manager.defaultContainerSecurityContext | default dict)) (deepCopy $securityContext) -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "seldon-core-operator.managerName" (dict "root" $root "watch" $suffix) }}
  namespace: {{ $ns }}
  labels:
    {{- include "seldon-core-operator.componentLabels" (dict "root" $root "component" "controller-manager" "extra" (dict "control-plane" "seldon-controller-manager")) | nindent 4 }}
  {{- include "seldon-core-operator.annotations" (dict "root" $root) }}
spec:
  replicas: {{ $v.manager.replicas }}
  selector:
    matchLabels:
      {{- include "seldon-core-operator.selectorLabels" $root | nindent 6 }}
      {{- if $suffix }}
      seldon.io/watch-namespace: {{ $suffix }}
      {{- end }}
  template:
    metadata:
      {{- $podLabels := include "seldon-core-operator.selectorLabels" $root | fromYaml }}
      {{- if $suffix }}{{ $_ := set $podLabels "seldon.io/watch-namespace" $suffix }}{{ end }}
      {{- $podLabels = merge $podLabels (dict "app.kubernetes.io/version" ($root.Chart.AppVersion | toString) "app" "seldon" "control-plane" "seldon-controller-manager") ($v.manager.podLabels | default dict) }}
      labels:
        {{- toYaml $podLabels | nindent 8 }}
      {{- $podAnnotations := dict "prometheus.io/scrape" "true" "prometheus.io/port" ($v.metrics.port | toString) "sidecar.istio.io/inject" "false" }}
      {{- if and $chartCerts (not $v.certManager.enabled) (not (include "seldon-core-operator.webhookExistingSecret" $root)) }}
      {{- /* roll the pods when the chart issues a new certificate, not at every upgrade */}}
      {{- $_ := set $podAnnotations "checksum/webhook-cert" (include "seldon-core-operator.webhookCert" $root | sha256sum | trunc 16) }}
      {{- end }}
      annotations:
        {{- toYaml (mergeOverwrite $podAnnotations ($v.manager.annotations | default dict)) | nindent 8 }}
    spec:
      serviceAccountName: {{ include "seldon-core-operator.serviceAccountName" $root }}
      automountServiceAccountToken: true
      terminationGracePeriodSeconds: 10
      {{- if $v.hostNetwork }}
      hostNetwork: true
      dnsPolicy: ClusterFirstWithHostNet
      {{- end }}
      {{- with $v.manager.priorityClassName }}
      priorityClassName: {{ . }}
      {{- end }}
      {{- with $v.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml (mergeOverwrite (dict "runAsUser" $v.managerUserID) (deepCopy ($v.manager.podSecurityContext | default dict))) | nindent 8 }}
      {{- with $v.manager.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.manager.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.manager.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.manager.topologySpreadConstraints }}
      {{- $selector := include "seldon-core-operator.selectorLabels" $root | fromYaml }}
      {{- if $suffix }}{{ $_ := set $selector "seldon.io/watch-namespace" $suffix }}{{ end }}
      {{- $constraints := list }}
      {{- range . }}
      {{- /* a constraint without labelSelector counts this Deployment's operator pods */}}
      {{- $c := deepCopy . }}
      {{- if not (hasKey $c "labelSelector") }}{{ $_ := set $c "labelSelector" (dict "matchLabels" $selector) }}{{ end }}
      {{- $constraints = append $constraints $c }}
      {{- end }}
      topologySpreadConstraints:
        {{- toYaml $constraints | nindent 8 }}
      {{- end }}
      containers:
        - name: manager
          image: {{ include "seldon-core-operator.imageRef" (dict "image" $v.image "root" $root) }}
          imagePullPolicy: {{ $v.image.pullPolicy }}
          command: [/manager]
          args:
            - --enable-leader-election
            - --webhook-port={{ $v.webhook.port }}
            - --metrics-addr=:{{ $v.metrics.port }}
            - --create-resources=$(MANAGER_CREATE_RESOURCES)
            - --log-level=$(MANAGER_LOG_LEVEL)
            - --leader-election-id=$(MANAGER_LEADER_ELECTION_ID)
            - --leader-election-resource-lock=$(MANAGER_LEADER_ELECTION_RESOURCE_LOCK)
            - --leader-election-lease-duration-secs=$(MANAGER_LEADER_ELECTION_LEASE_DURATION_SECS)
            - --leader-election-renew-deadline-secs=$(MANAGER_LEADER_ELECTION_RENEW_DEADLINE_SECS)
            - --leader-election-retry-period-secs=$(MANAGER_LEADER_ELECTION_RETRY_PERIOD_SECS)
            {{- if .watch }}
            - --namespace={{ .watch }}
            {{- end }}
            {{- range $v.manager.extraArgs }}
            - {{ . | quote }}
            {{- end }}
          env:
            {{- /* an extraEnv entry named like one of the chart's variables replaces it in place */}}
            {{- $extra := dict }}
            {{- range $v.manager.extraEnv }}{{ $_ := set $extra .name . }}{{ end }}
            {{- $env := list }}
            {{- range (include "seldon-core-operator.managerEnv" (dict "root" $root "watch" .watch "leaderID" $leaderID) | fromYamlArray) }}
            {{- $env = append $env (get $extra .name | default .) }}
            {{- $_ := unset $extra .name }}
            {{- end }}
            {{- range $v.manager.extraEnv }}{{ if hasKey $extra .name }}{{ $env = append $env . }}{{ end }}{{ end }}
            {{- toYaml $env | nindent 12 }}
          ports:
            - name: webhook-server
              containerPort: {{ $v.webhook.port }}
              protocol: TCP
            - name: metrics
              containerPort: {{ $v.metrics.port }}
              protocol: TCP
          {{- with include "seldon-core-operator.probe" (dict "override" $v.manager.livenessProbe "default" (dict "tcpSocket" (dict "port" "metrics") "initialDelaySeconds" 15 "periodSeconds" 20 "failureThreshold" 3)) }}
          livenessProbe:
            {{- . | nindent 12 }}
          {{- end }}
          {{- with include "seldon-core-operator.probe" (dict "override" $v.manager.readinessProbe "default" (dict "tcpSocket" (dict "port" "webhook-server") "initialDelaySeconds" 5 "periodSeconds" 10)) }}
          readinessProbe:
            {{- . | nindent 12 }}
          {{- end }}
          resources:
            limits:
              cpu: {{ $v.manager.cpuLimit | quote }}
              memory: {{ $v.manager.memoryLimit | quote }}
            requests:
              cpu: {{ $v.manager.cpuRequest | quote }}
              memory: {{ $v.manager.memoryRequest | quote }}
          securityContext:
            {{- toYaml $securityContext | nindent 12 }}
          volumeMounts:
            - name: cert
              mountPath: /tmp/k8s-webhook-server/serving-certs
              readOnly: {{ ternary true false (eq $chartCerts "true") }}
            {{- with $v.manager.extraVolumeMounts }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
      volumes:
        - name: cert
          {{- if $chartCerts }}
          secret:
            secretName: {{ include "seldon-core-operator.webhookSecretName" $root }}
            defaultMode: 0444
          {{- else }}
          {{- /* the operator writes its own certificates here at start-up (managerCreateResources) */}}
          emptyDir:
            sizeLimit: 1Mi
          {{- end }}
        {{- with $v.manager.extraVolumes }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
{{- end }}

{{/*
Environment of the operator container as a YAML list (the Seldon 1.17.1 operator's contract);
call with (dict "root" $ "watch" namespace-or-"" "leaderID" string).
*/}}
{{- define "seldon-core-operator.managerEnv" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
{{- $leaderID := .leaderID -}}
- {name: MANAGER_LEADER_ELECTION_ID, value: {{ $leaderID | quote }}}
- {name: MANAGER_LEADER_ELECTION_RESOURCE_LOCK, value: {{ $v.manager.leaderElectionResourceLock | default "" | quote }}}
- {name: MANAGER_LEADER_ELECTION_LEASE_DURATION_SECS, value: {{ $v.manager.leaderElectionLeaseDurationSecs | quote }}}
- {name: MANAGER_LEADER_ELECTION_RENEW_DEADLINE_SECS, value: {{ $v.manager.leaderElectionRenewDeadlineSecs | quote }}}
- {name: MANAGER_LEADER_ELECTION_RETRY_PERIOD_SECS, value: {{ $v.manager.leaderElectionRetryPeriodSecs | quote }}}
- {name: MANAGER_LOG_LEVEL, value: {{ $v.manager.logLevel | quote }}}
- {name: WATCH_NAMESPACE, value: {{ .watch | quote }}}
{{- /* OpenShift-style image overrides: empty means the ConfigMap and executor values apply. */}}
{{- range $image := list "EXECUTOR" "STORAGE_INITIALIZER" "SKLEARNSERVER" "SKLEARNSERVER_V2" "XGBOOSTSERVER" "XGBOOSTSERVER_V2" "MLFLOWSERVER" "MLFLOWSERVER_V2" "TFPROXY" "TENSORFLOW" "EXPLAINER" "EXPLAINER_V2" "MOCK_CLASSIFIER" }}
- {name: RELATED_IMAGE_{{ $image }}, value: ""}
{{- end }}
- {name: MANAGER_CREATE_RESOURCES, value: {{ $v.managerCreateResources | quote }}}
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- {name: CONTROLLER_ID, value: {{ $v.controllerId | quote }}}
- {name: AMBASSADOR_ENABLED, value: {{ $v.ambassador.enabled | quote }}}
- {name: AMBASSADOR_VERSION, value: {{ $v.ambassador.version | quote }}}
- {name: AMBASSADOR_SINGLE_NAMESPACE, value: {{ $v.ambassador.singleNamespace | quote }}}
- {name: PREDICTIVE_UNIT_HTTP_SERVICE_PORT, value: {{ $v.predictiveUnit.httpPort | quote }}}
- {name: PREDICTIVE_UNIT_GRPC_SERVICE_PORT, value: {{ $v.predictiveUnit.grpcPort | quote }}}
- {name: PREDICTIVE_UNIT_DEFAULT_ENV_SECRET_REF_NAME, value: {{ $v.predictiveUnit.defaultEnvSecretRefName | quote }}}
- {name: PREDICTIVE_UNIT_METRICS_PORT_NAME, value: {{ $v.predictiveUnit.metricsPortName | quote }}}
- {name: ISTIO_ENABLED, value: {{ $v.istio.enabled | quote }}}
- {name: KEDA_ENABLED, value: {{ $v.keda.enabled | quote }}}
- {name: ISTIO_GATEWAY, value: {{ $v.istio.gateway | quote }}}
- {name: ISTIO_TLS_MODE, value: {{ $v.istio.tlsMode | quote }}}
- {name: USE_EXECUTOR, value: "true"}
- {name: EXECUTOR_CONTAINER_IMAGE_AND_VERSION, value: {{ include "seldon-core-operator.imageRef" (dict "image" $v.executor.image "root" $root) | quote }}}
- {name: EXECUTOR_CONTAINER_IMAGE_PULL_POLICY, value: {{ $v.executor.image.pullPolicy | quote }}}
- {name: EXECUTOR_PROMETHEUS_PATH, value: {{ $v.executor.prometheus.path | quote }}}
- {name: EXECUTOR_SERVER_PORT, value: {{ $v.executor.port | quote }}}
- {name: EXECUTOR_CONTAINER_USER, value: {{ $v.executor.user | quote }}}
- {name: EXECUTOR_CONTAINER_SERVICE_ACCOUNT_NAME, value: {{ $v.executor.serviceAccount.name | quote }}}
- {name: EXECUTOR_SERVER_METRICS_PORT_NAME, value: {{ $v.executor.metricsPortName | quote }}}
- {name: EXECUTOR_REQUEST_LOGGER_DEFAULT_ENDPOINT, value: {{ $v.executor.requestLogger.defaultEndpoint | quote }}}
- {name: EXECUTOR_REQUEST_LOGGER_WORK_QUEUE_SIZE, value: {{ $v.executor.requestLogger.workQueueSize | quote }}}
- {name: EXECUTOR_REQUEST_LOGGER_WRITE_TIMEOUT_MS, value: {{ $v.executor.requestLogger.writeTimeoutMs | quote }}}
- {name: DEFAULT_USER_ID, value: {{ $v.defaultUserID | quote }}}
- {name: EXECUTOR_DEFAULT_CPU_REQUEST, value: {{ $v.executor.resources.cpuRequest | quote }}}
- {name: EXECUTOR_DEFAULT_MEMORY_REQUEST, value: {{ $v.executor.resources.memoryRequest | quote }}}
- {name: EXECUTOR_DEFAULT_CPU_LIMIT, value: {{ $v.executor.resources.cpuLimit | quote }}}
- {name: EXECUTOR_DEFAULT_MEMORY_LIMIT, value: {{ $v.executor.resources.memoryLimit | quote }}}
- {name: DEPLOYMENT_NAME_AS_PREFIX, value: {{ $v.manager.deploymentNameAsPrefix | quote }}}
- {name: EXECUTOR_FULL_HEALTH_CHECKS, value: {{ $v.executor.fullHealthChecks | quote }}}
{{- end }}

{{/*
A probe: the built-in default with the user's keys merged over it. A handler in the override
replaces the default handler (Kubernetes allows one); `enabled: false` drops the probe.
Call with (dict "default" map "override" map).
*/}}
{{- define "seldon-core-operator.probe" -}}
{{- $override := .override | default dict -}}
{{- if not (and (hasKey $override "enabled") (not $override.enabled)) -}}
{{- $base := deepCopy .default -}}
{{- $handlers := list "exec" "httpGet" "tcpSocket" "grpc" -}}
{{- range $h := $handlers }}{{ if hasKey $override $h }}{{ $base = omit $base "exec" "httpGet" "tcpSocket" "grpc" }}{{ end }}{{ end -}}
{{- toYaml (omit (mergeOverwrite $base (deepCopy $override)) "enabled") -}}
{{- end -}}
{{- end }}
