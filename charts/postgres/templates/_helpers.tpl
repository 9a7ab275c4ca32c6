{{/*
postgres.secretName: the Secret holding the passwords (existing or created by this chart).
*/}}
{{- define "postgres.secretName" -}}
{{- default (include "common.fullname" .) .Values.auth.existingSecret -}}
{{- end -}}
