{{/*
minio.secretName: the Secret with the root credentials (existing or created by this chart).
*/}}
{{- define "minio.secretName" -}}
{{- default (printf "%s-credentials" (include "common.fullname" .)) .Values.auth.existingSecret -}}
{{- end -}}

{{/*
minio.credentialsEnv: the root credentials as MinIO and S3 clients expect them.
*/}}
{{- define "minio.credentialsEnv" -}}
- name: MINIO_ROOT_USER
  valueFrom: {secretKeyRef: {name: {{ include "minio.secretName" . }}, key: AWS_ACCESS_KEY_ID}}
- name: MINIO_ROOT_PASSWORD
  valueFrom: {secretKeyRef: {name: {{ include "minio.secretName" . }}, key: AWS_SECRET_ACCESS_KEY}}
{{- end -}}
