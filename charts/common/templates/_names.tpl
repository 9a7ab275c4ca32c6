{{/*
common.name: the component name, from nameOverride or the chart name.
*/}}
{{- define "common.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
common.fullname: "<release>-<component>" (or fullnameOverride), at most 63 characters.
*/}}
{{- define "common.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "common.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/*
common.image: "repository:tag" of an image block ({repository, tag}).
*/}}
{{- define "common.image" -}}
{{- printf "%s:%s" .repository .tag -}}
{{- end -}}
