{{/* The chart's name: "idpbot" unless nameOverride says otherwise. */}}
{{- define "idpbot.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The name of every object: the release name when it already holds the chart's name. */}}
{{- define "idpbot.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "idpbot.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "idpbot.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The labels the pods are selected by. app.kubernetes.io/name is the scrape
job (the ServiceMonitor's jobLabel), which the alert rules select on. */}}
{{- define "idpbot.selectorLabels" -}}
app.kubernetes.io/name: {{ include "idpbot.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The labels of every object. */}}
{{- define "idpbot.labels" -}}
{{ include "idpbot.selectorLabels" . }}
app.kubernetes.io/component: bot
app.kubernetes.io/part-of: internal-developer-platform
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "idpbot.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "idpbot.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Whether a driver talks to this cluster with the pod's identity. */}}
{{- define "idpbot.rbacEnabled" -}}
{{- if or .Values.rbac.kubernetes.enabled .Values.rbac.manifests.enabled -}}true{{- end -}}
{{- end -}}

{{- define "idpbot.configMapName" -}}
{{- .Values.config.existingConfigMap | default (printf "%s-config" (include "idpbot.fullname" .)) -}}
{{- end -}}

{{- define "idpbot.catalogConfigMapName" -}}
{{- .Values.catalog.existingConfigMap | default (printf "%s-catalog" (include "idpbot.fullname" .)) -}}
{{- end -}}

{{/* The config file's text: config.content, or the example configuration. */}}
{{- define "idpbot.configContent" -}}
{{- .Values.config.content | default (.Files.Get "files/config.yaml") -}}
{{- end -}}

{{- define "idpbot.image" -}}
{{- $img := .Values.image -}}
{{- $tag := $img.tag | default .Chart.AppVersion -}}
{{- printf "%s%s%s" $img.repository (ternary (printf ":%s" $tag) "" (ne $tag "")) (ternary (printf "@%s" $img.digest) "" (ne $img.digest "")) -}}
{{- end -}}
