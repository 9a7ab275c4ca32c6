{{/*
airflow.validateValues: every value that would break the chart, reported at once.
*/}}
{{- define "airflow.validateValues" -}}
{{- $problems := list (include "common.validate.image" (dict "key" "image" "image" .Values.image)) -}}
{{- $problems = append $problems (include "common.validate.image" (dict "key" "steps.image" "image" .Values.steps.image)) -}}
{{- range $component := list "apiServer" "scheduler" "dagProcessor" "triggerer" -}}
{{- $resources := (index $.Values $component).resources -}}
{{- $problems = append $problems (include "common.validate.resources" (dict "key" (printf "%s.resources" $component) "resources" $resources)) -}}
{{- end -}}
{{- $problems = append $problems (include "common.validate.templated" (dict "ctx" . "values" (dict
      "database.host" .Values.database.host
      "database.passwordSecret" .Values.database.passwordSecret
      "steps.secret" .Values.steps.secret))) -}}
{{- include "common.validate" $problems -}}
{{- end -}}
