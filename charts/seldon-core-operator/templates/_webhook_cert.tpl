{{/*
The webhook's serving certificate when the chart issues it (no cert-manager).

Upstream regenerates the CA at every render, so each `helm upgrade` rotates it and rolls the
operator. Here the existing Secret is looked up and reused while it still covers the same names
and is not within webhook.tls.renewBeforeDays of expiry; the expiry and a digest of the names
are kept as annotations on the Secret because templates cannot parse certificates.

The result is computed once per render and memoised in .Values, because the Secret, the
webhook's caBundle and the Deployment's checksum must all see the SAME generated certificate.
Returns YAML: {ca.crt, tls.crt, tls.key (base64), notAfter (RFC 3339), sansDigest, reused}.
*/}}
{{- define "seldon-core-operator.webhookCert" -}}
{{- if not (hasKey .Values "__seldonWebhookCert") -}}
{{- $ns := include "seldon-core-operator.namespace" . -}}
{{- $svc := include "seldon-core-operator.webhookServiceName" . -}}
{{- $dns := list $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.cluster.local" $svc $ns) -}}
{{- $ips := list -}}
{{- with include "seldon-core-operator.webhookUrlHost" . -}}
{{- if regexMatch "^[0-9.]+$|:" . }}{{ $ips = append $ips . }}{{ else }}{{ $dns = append $dns . }}{{ end -}}
{{- end -}}
{{- $digest := concat $dns $ips | join "," | sha256sum | trunc 16 -}}
{{- $layout := "2006-01-02T15:04:05Z07:00" -}}
{{- $days := int .Values.webhook.tls.validityDays -}}
{{- $renewBy := (now | dateModify (printf "+%dh" (mul (int .Values.webhook.tls.renewBeforeDays) 24))).Unix -}}
{{- $result := dict -}}
{{- $existing := lookup "v1" "Secret" $ns (include "seldon-core-operator.webhookSecretName" .) -}}
{{- if and $existing $existing.data $existing.metadata -}}
{{- $data := $existing.data -}}
{{- $ann := $existing.metadata.annotations | default dict -}}
{{- $notAfter := get $ann "seldon.io/cert-not-after" -}}
{{- if and (get $data "ca.crt") (get $data "tls.crt") (get $data "tls.key") $notAfter (eq (get $ann "seldon.io/cert-sans-digest") $digest) -}}
{{- if gt (toDate $layout $notAfter).Unix $renewBy -}}
{{- $result = dict "ca.crt" (get $data "ca.crt") "tls.crt" (get $data "tls.crt") "tls.key" (get $data "tls.key") "notAfter" $notAfter "reused" true -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if not $result -}}
{{- $ca := genCA (printf "%s-webhook-ca" (include "seldon-core-operator.fullname" .)) $days -}}
{{- $cert := genSignedCert $svc $ips $dns $days $ca -}}
{{- $notAfter := now | dateModify (printf "+%dh" (mul $days 24)) | date $layout -}}
{{- $result = dict "ca.crt" ($ca.Cert | b64enc) "tls.crt" ($cert.Cert | b64enc) "tls.key" ($cert.Key | b64enc) "notAfter" $notAfter "reused" false -}}
{{- end -}}
{{- $_ := set $result "sansDigest" $digest -}}
{{- $_ := set .Values "__seldonWebhookCert" $result -}}
{{- end -}}
{{- toYaml (get .Values "__seldonWebhookCert") -}}
{{- end }}
