{{/* Names, labels and the shared pieces of every workload. */}}

{{- define "dwf.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "dwf.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Name of one workflow's objects: <fullname>-<workflow>, within the 63-character DNS label limit. */}}
{{- define "dwf.workflowName" -}}
{{- $full := include "dwf.fullname" .root -}}
{{- $name := printf "%s-%s" $full .wf.name -}}
{{- if gt (len $name) 63 -}}
{{- fail (printf "workflows[%s]: the object name %q is longer than 63 characters; shorten the workflow name or set fullnameOverride" .wf.name $name) -}}
{{- end -}}
{{- $name -}}
{{- end -}}

{{- define "dwf.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "dwf.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dwf.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "dwf.labels" -}}
helm.sh/chart: {{ include "dwf.chart" . }}
{{ include "dwf.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: dana-workflows
{{- end -}}

{{/* Selector of one workflow's pods (immutable once deployed: keep it small). */}}
{{- define "dwf.workflowSelectorLabels" -}}
{{ include "dwf.selectorLabels" .root }}
app.kubernetes.io/component: worker
dana-workflows.io/workflow: {{ .wf.name }}
{{- end -}}

{{- define "dwf.workflowLabels" -}}
{{ include "dwf.labels" .root }}
app.kubernetes.io/component: worker
dana-workflows.io/workflow: {{ .wf.name }}
{{- end -}}

{{/* All workers of the release, whatever their workflow: the metrics Service and the NetworkPolicy. */}}
{{- define "dwf.workerSelectorLabels" -}}
{{ include "dwf.selectorLabels" . }}
app.kubernetes.io/component: worker
{{- end -}}

{{- define "dwf.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "dwf.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "dwf.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The ConfigMap and key a workflow's spec is read from. */}}
{{- define "dwf.specSource" -}}
{{- if and .wf.spec .wf.existingConfigMap -}}
{{- fail (printf "workflows[%s]: give either spec or existingConfigMap, not both" .wf.name) -}}
{{- else if .wf.spec -}}
name: {{ include "dwf.fullname" .root }}-workflows
key: {{ .wf.name }}.yaml
{{- else if .wf.existingConfigMap -}}
name: {{ required (printf "workflows[%s].existingConfigMap.name is required" .wf.name) .wf.existingConfigMap.name }}
key: {{ required (printf "workflows[%s].existingConfigMap.key is required" .wf.name) .wf.existingConfigMap.key }}
{{- else -}}
{{- fail (printf "workflows[%s]: set spec (the workflow YAML inline) or existingConfigMap {name, key}" .wf.name) -}}
{{- end -}}
{{- end -}}

{{/*
Flatten .Values.settings into DWF_* env vars: nested keys join with "__", empty values are skipped so the
engine's own default applies; names in .skip (a workflow's own env) are left to it.
Called with (dict "prefix" "DWF_" "settings" .Values.settings "skip" $wf.env).
*/}}
{{- define "dwf.settingsEnv" -}}
{{- $prefix := .prefix -}}
{{- $skip := .skip | default dict -}}
{{- range $key, $value := .settings }}
{{- $env := printf "%s%s" $prefix (upper $key) -}}
{{- if hasKey $skip $env }}
{{- else if kindIs "map" $value }}
{{- include "dwf.settingsEnv" (dict "prefix" (printf "%s__" $env) "settings" $value "skip" $skip) }}
{{- else if kindIs "slice" $value }}
- name: {{ $env }}
  value: {{ toJson $value | quote }}
{{- else if or (kindIs "float64" $value) (kindIs "int64" $value) (kindIs "int" $value) }}
{{- /* toJson, not toString: a float64 1000000 would print as 1e+06, which an int setting refuses */}}
- name: {{ $env }}
  value: {{ toJson $value | quote }}
{{- else if not (or (kindIs "invalid" $value) (and (kindIs "string" $value) (eq $value ""))) }}
- name: {{ $env }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* An env var from a key of an existing Secret, when the Secret is named. */}}
{{- define "dwf.secretEnv" -}}
{{- if .ref.existingSecret }}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      name: {{ .ref.existingSecret }}
      key: {{ required (printf "secrets.%s.key is required with existingSecret" .name) .ref.key }}
{{- end }}
{{- end -}}

{{/* Refuse settings that would start pods doomed to fail on a missing secret. */}}
{{- define "dwf.checkSecrets" -}}
{{- $s := .Values.settings -}}
{{- if and $s.schema_registry .Values.secrets.schemaRegistry.existingSecret -}}
{{- fail "settings.schema_registry and secrets.schemaRegistry.existingSecret are both set: the registry URL comes from one place; clear settings.schema_registry (the Secret's url key sets DWF_SCHEMA_REGISTRY)" -}}
{{- end -}}
{{- if and (contains "$(DWF_AUDIT_PASSWORD)" (toString $s.audit_dsn)) (not .Values.secrets.clickhousePassword.existingSecret) -}}
{{- fail "settings.audit_dsn uses $(DWF_AUDIT_PASSWORD) but secrets.clickhousePassword.existingSecret is empty: name the Secret holding the ClickHouse password, or remove $(DWF_AUDIT_PASSWORD) from the DSN" -}}
{{- end -}}
{{- if and (hasPrefix "SASL" (toString $s.kafka_security_protocol)) (not .Values.secrets.kafkaSaslPassword.existingSecret) -}}
{{- fail (printf "settings.kafka_security_protocol is %s but secrets.kafkaSaslPassword.existingSecret is empty: name the Secret holding the SASL password" $s.kafka_security_protocol) -}}
{{- end -}}
{{- if and (hasPrefix "SASL" (toString $s.kafka_security_protocol)) (not $s.kafka_sasl_mechanism) -}}
{{- fail "settings.kafka_sasl_mechanism is required with a SASL security protocol (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)" -}}
{{- end -}}
{{- $sasl := hasPrefix "SASL" (toString $s.kafka_security_protocol) -}}
{{- $tls := has (toString $s.kafka_security_protocol) (list "SSL" "SASL_SSL") -}}
{{- if and (not $sasl) (or $s.kafka_sasl_mechanism $s.kafka_sasl_username .Values.secrets.kafkaSaslPassword.existingSecret) -}}
{{- fail (printf "settings.kafka_sasl_mechanism, kafka_sasl_username or secrets.kafkaSaslPassword is set but settings.kafka_security_protocol is %q: use SASL_SSL (or SASL_PLAINTEXT), or clear them (the worker refuses SASL settings it would not use)" (toString $s.kafka_security_protocol)) -}}
{{- end -}}
{{- if and .Values.kafkaTls.caSecret (not $tls) -}}
{{- fail (printf "kafkaTls.caSecret is set but settings.kafka_security_protocol is %q: use SSL or SASL_SSL, or clear kafkaTls.caSecret" (toString $s.kafka_security_protocol)) -}}
{{- end -}}
{{- $allowed := list -}}
{{- if .Values.networkPolicy.enabled -}}
{{- range $purpose, $ports := .Values.networkPolicy.egressPorts -}}{{- range $ports -}}{{- $allowed = append $allowed (toString .) -}}{{- end -}}{{- end -}}
{{- if not .Values.networkPolicy.extraEgress -}}
{{- range $server := splitList "," (toString $s.kafka_bootstrap_servers) -}}
{{- $port := regexFind "[0-9]+$" (trim $server) -}}
{{- if and $port (not (has $port $allowed)) -}}
{{- fail (printf "settings.kafka_bootstrap_servers uses port %s, which networkPolicy.egressPorts does not allow: add it, e.g. --set 'networkPolicy.egressPorts.kafkaExtra={%s}' (or list it in networkPolicy.extraEgress)" $port $port) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
