{{/*
mlflow.validateValues: every value that would break the chart, reported at once.
*/}}
{{- define "mlflow.validateValues" -}}
{{- $problems := list (include "common.validate.image" (dict "key" "image" "image" .Values.image)) -}}
{{- $problems = append $problems (include "common.validate.resources" (dict "key" "resources" "resources" .Values.resources)) -}}
{{- $problems = append $problems (include "common.validate.templated" (dict "ctx" . "values" (dict
      "database.host" .Values.database.host
      "database.passwordSecret" .Values.database.passwordSecret
      "artifacts.s3Endpoint" .Values.artifacts.s3Endpoint
      "artifacts.credentialsSecret" .Values.artifacts.credentialsSecret))) -}}
{{- include "common.validate" $problems -}}
{{- end -}}
