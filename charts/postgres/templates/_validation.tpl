{{/*
postgres.validateValues: every value that would break the chart, reported at once.
*/}}
{{- define "postgres.validateValues" -}}
{{- $problems := list (include "common.validate.image" (dict "key" "image" "image" .Values.image)) -}}
{{- $problems = append $problems (include "common.validate.resources" (dict "key" "resources" "resources" .Values.resources)) -}}
{{- /* Each entry is a role, a database and a Secret key "<entry>-password". */ -}}
{{- if has "postgres" .Values.databases -}}
{{- $problems = append $problems "databases lists \"postgres\": the superuser's role and database exist already, and its password key is postgres-password" -}}
{{- end -}}
{{- $seen := list -}}
{{- range .Values.databases -}}
{{- if has . $seen -}}
{{- $problems = append $problems (printf "databases lists %q more than once: the init script would create it twice and fail" .) -}}
{{- end -}}
{{- $seen = append $seen . -}}
{{- end -}}
{{- include "common.validate" $problems -}}
{{- end -}}
