{{/*
minio.validateValues: every value that would break the chart, reported at once.
*/}}
{{- define "minio.validateValues" -}}
{{- $problems := list (include "common.validate.image" (dict "key" "image" "image" .Values.image)) -}}
{{- $problems = append $problems (include "common.validate.image" (dict "key" "clientImage" "image" .Values.clientImage)) -}}
{{- $problems = append $problems (include "common.validate.resources" (dict "key" "resources" "resources" .Values.resources)) -}}
{{- /* The schema bounds the length and the characters; `mc mb` refuses the rest (the Job fails). */ -}}
{{- range .Values.buckets -}}
{{- if or (not (regexMatch "^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$" .)) (regexMatch "^[0-9.]+$" .) -}}
{{- $problems = append $problems (printf "buckets: %q is not an S3 bucket name (dot-separated labels of lowercase letters, digits and inner hyphens, not an IP address)" .) -}}
{{- end -}}
{{- end -}}
{{- range $identity := list "lake" "mlflow" "predictions" -}}
{{- $bucket := (index $.Values.identities $identity).bucket -}}
{{- if not (has $bucket $.Values.buckets) -}}
{{- $problems = append $problems (printf "identities.%s.bucket: %q is not one of buckets %v, which the Job creates" $identity $bucket $.Values.buckets) -}}
{{- end -}}
{{- end -}}
{{- include "common.validate" $problems -}}
{{- end -}}
