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

{{/*
minio.identitySecretName: the Secret holding an S3 identity's keys (AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY): identities.<identity>.existingSecret, else "<fullname>-<identity>".
Pass (dict "ctx" . "identity" "lake"|"mlflow"|"predictions").
*/}}
{{- define "minio.identitySecretName" -}}
{{- $existing := (index .ctx.Values.identities .identity).existingSecret -}}
{{- default (printf "%s-%s" (include "common.fullname" .ctx) .identity) $existing -}}
{{- end -}}

{{/*
minio.identityEnv: an identity's bucket and keys as the provisioning script reads them
(<PREFIX>_BUCKET, <PREFIX>_ACCESS_KEY, <PREFIX>_SECRET_KEY). Pass (dict "ctx" . "identity" NAME).
*/}}
{{- define "minio.identityEnv" -}}
{{- $secret := include "minio.identitySecretName" . -}}
{{- $prefix := upper .identity -}}
- name: {{ $prefix }}_BUCKET
  value: {{ (index .ctx.Values.identities .identity).bucket | quote }}
- name: {{ $prefix }}_ACCESS_KEY
  valueFrom: {secretKeyRef: {name: {{ $secret }}, key: AWS_ACCESS_KEY_ID}}
- name: {{ $prefix }}_SECRET_KEY
  valueFrom: {secretKeyRef: {name: {{ $secret }}, key: AWS_SECRET_ACCESS_KEY}}
{{- end -}}
