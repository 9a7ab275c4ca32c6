{{/*
occupancy.validateValues: every value that would break the platform, reported at once. Each
subchart checks its own values; here, a component still pointing at a bundled one that is
disabled (its values name "<release>-<chart>" by default).
*/}}
{{- define "occupancy.validateValues" -}}
{{- $problems := list -}}
{{- /* (bundled chart, the component using it, the component's value that names it) */ -}}
{{- $references := list
      (list "postgres" "airflow" "database.host") (list "postgres" "airflow" "database.passwordSecret")
      (list "postgres" "mlflow" "database.host") (list "postgres" "mlflow" "database.passwordSecret")
      (list "minio" "mlflow" "artifacts.s3Endpoint") (list "minio" "mlflow" "artifacts.credentialsSecret")
      (list "minio" "airflow" "steps.secret") (list "minio" "airflow" "steps.env.AWS_ENDPOINT_URL")
      (list "mlflow" "airflow" "steps.env.MLFLOW_TRACKING_URI") (list "mlflow" "api" "mlflowTrackingUri") -}}
{{- range $references -}}
{{- $bundled := index . 0 -}}
{{- $user := index . 1 -}}
{{- $key := index . 2 -}}
{{- if and (index $.Values $user).enabled (not (index $.Values $bundled).enabled) -}}
{{- $value := index $.Values $user -}}
{{- range splitList "." $key }}{{ if kindIs "map" $value }}{{ $value = get $value . }}{{ else }}{{ $value = "" }}{{ end }}{{ end -}}
{{- $rendered := tpl (toString $value) $ -}}
{{- if contains (printf "%s-%s" $.Release.Name $bundled) $rendered -}}
{{- $problems = append $problems (printf "%s.%s (%q) names the bundled %s, which %s.enabled=false leaves out: point it at your own, or enable %s" $user $key $rendered $bundled $bundled $bundled) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- /* An identity in an existing Secret: its users must name that Secret, not the generated one. */ -}}
{{- if $.Values.minio.enabled -}}
{{- range list (list "lake" "airflow" "steps.secret") (list "mlflow" "mlflow" "artifacts.credentialsSecret") (list "predictions" "api" "predictionLog.credentialsSecret") -}}
{{- $identity := index . 0 -}}
{{- $user := index . 1 -}}
{{- $existing := dig "identities" $identity "existingSecret" "" $.Values.minio -}}
{{- $value := index $.Values $user -}}
{{- range splitList "." (index . 2) }}{{ if kindIs "map" $value }}{{ $value = get $value . }}{{ else }}{{ $value = "" }}{{ end }}{{ end -}}
{{- $rendered := tpl (toString $value) $ -}}
{{- if and $existing (index $.Values $user).enabled (ne $rendered $existing) -}}
{{- $problems = append $problems (printf "%s.%s (%q) must name minio.identities.%s.existingSecret (%q), the Secret with the %s identity's keys" $user (index . 2) $rendered $identity $existing $identity) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- include "common.validate" $problems -}}
{{- end -}}
