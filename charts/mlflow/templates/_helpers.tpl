{{/*
mlflow.env: what both the server and the migration Job need: the store URI.
The password enters the URI through Kubernetes' $(VAR) expansion, never through values.
*/}}
{{- define "mlflow.env" -}}
- name: MLFLOW_DB_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ tpl .Values.database.passwordSecret . }}, key: {{ .Values.database.passwordKey }}}
- name: MLFLOW_BACKEND_STORE_URI
  value: {{ printf "postgresql://%s:$(MLFLOW_DB_PASSWORD)@%s:%v/%s" .Values.database.user (tpl .Values.database.host .) .Values.database.port .Values.database.name | quote }}
- name: MLFLOW_SERVER_ENABLE_JOB_EXECUTION
  value: "false"
- name: HOME
  value: /tmp
{{- end -}}


{{/*
mlflow.artifactsEnv: the server's S3 access to the artifact store it proxies (the minio chart's
mlflow identity by default). Only the server gets it: the migration Job touches no artifact.
*/}}
{{- define "mlflow.artifactsEnv" -}}
- name: MLFLOW_S3_ENDPOINT_URL
  value: {{ tpl .Values.artifacts.s3Endpoint . | quote }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef: {name: {{ tpl .Values.artifacts.credentialsSecret . }}, key: AWS_ACCESS_KEY_ID}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef: {name: {{ tpl .Values.artifacts.credentialsSecret . }}, key: AWS_SECRET_ACCESS_KEY}
- name: AWS_DEFAULT_REGION
  value: us-east-1
{{- end -}}
