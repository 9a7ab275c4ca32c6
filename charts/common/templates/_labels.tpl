{{/*
common.labels: the app.kubernetes.io labels every object carries. Pass (dict "ctx" . "component" "x").
*/}}
{{- define "common.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version | replace "+" "_" }}
{{ include "common.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: occupancy
{{- end -}}

{{/*
common.selectorLabels: name, instance and component only; selectors are immutable, so nothing
that changes between releases (versions) may appear here.
*/}}
{{- define "common.selectorLabels" -}}
app.kubernetes.io/name: {{ include "common.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}
