{{/*
minio.credentialsEnv: the root credentials as MinIO and S3 clients expect them.
*/}}
{{- define "minio.credentialsEnv" -}}
{{- $secret := include "common.secretName" (dict "ctx" . "suffix" "credentials") -}}
- name: MINIO_ROOT_USER
  valueFrom: {secretKeyRef: {name: {{ $secret }}, key: AWS_ACCESS_KEY_ID}}
- name: MINIO_ROOT_PASSWORD
  valueFrom: {secretKeyRef: {name: {{ $secret }}, key: AWS_SECRET_ACCESS_KEY}}
{{- end -}}
