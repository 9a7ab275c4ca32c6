{{/*
airflow.stepConfigMap: the ConfigMap every step pod takes its environment from.
*/}}
{{- define "airflow.stepConfigMap" -}}
{{- printf "%s-step-env" (include "common.fullname" .) -}}
{{- end -}}

{{/*
airflow.env: the environment every Airflow component shares. Airflow 3 requires the same JWT and
API secret keys on every component; the database password enters the connection URI through
Kubernetes' $(VAR) expansion, never through values.
*/}}
{{- define "airflow.env" -}}
{{- $secret := include "common.secretName" (dict "ctx" .) -}}
- name: AIRFLOW_DB_PASSWORD
  valueFrom: {secretKeyRef: {name: {{ tpl .Values.database.passwordSecret . }}, key: {{ .Values.database.passwordKey }}}}
- name: AIRFLOW__DATABASE__SQL_ALCHEMY_CONN
  value: {{ printf "postgresql+psycopg2://%s:$(AIRFLOW_DB_PASSWORD)@%s:%v/%s" .Values.database.user (tpl .Values.database.host .) .Values.database.port .Values.database.name | quote }}
- name: AIRFLOW__CORE__FERNET_KEY
  valueFrom: {secretKeyRef: {name: {{ $secret }}, key: fernet-key}}
- name: AIRFLOW__API_AUTH__JWT_SECRET
  valueFrom: {secretKeyRef: {name: {{ $secret }}, key: jwt-secret}}
- name: AIRFLOW__API__SECRET_KEY
  valueFrom: {secretKeyRef: {name: {{ $secret }}, key: api-secret-key}}
- name: AIRFLOW__CORE__EXECUTOR
  value: LocalExecutor
- name: AIRFLOW__CORE__EXECUTION_API_SERVER_URL
  value: {{ printf "http://%s-api-server:8080/execution/" (include "common.fullname" .) | quote }}
# The official chart's auth manager for Airflow 3: users and roles (Admin, Op, User, Viewer) in
# the metadata database, whose tables `airflow db migrate` creates. Every component reads it: the
# api-server logs users in, the dag-processor syncs DAG permissions, the CLI has its `users`.
# FAB's login-form rate limit keeps its counts in memory (flask-limiter warns): exact for the one
# api-server process this chart runs; more replicas would need a shared store (webserver_config.py).
- name: AIRFLOW__CORE__AUTH_MANAGER
  value: airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager
# Task instances record this as their host, and the api-server fetches running logs from
# http://<host>:8793: pods of a Deployment have no DNS name of their own, but an IP.
- name: AIRFLOW__CORE__HOSTNAME_CALLABLE
  value: airflow.utils.net.get_host_ip_address
- name: AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION
  value: "False"
# The image's root filesystem is read-only here: Airflow writes airflow.cfg and logs under /tmp.
- name: AIRFLOW_HOME
  value: /tmp/airflow-home
- name: AIRFLOW__LOGGING__BASE_LOG_FOLDER
  value: /tmp/airflow-logs
- name: OCCUPANCY_STEP_RUNNER
  value: kubernetes
- name: OCCUPANCY_STEP_IMAGE
  value: {{ include "common.image" .Values.steps.image | quote }}
- name: OCCUPANCY_STEP_IMAGE_PULL_POLICY
  value: {{ .Values.steps.image.pullPolicy | quote }}
- name: OCCUPANCY_STEP_NAMESPACE
  value: {{ .Release.Namespace | quote }}
- name: OCCUPANCY_STEP_CONFIGMAP
  value: {{ include "airflow.stepConfigMap" . | quote }}
- name: OCCUPANCY_STEP_SECRET
  value: {{ tpl .Values.steps.secret . | quote }}
- name: OCCUPANCY_STEP_SERVICE_ACCOUNT
  value: {{ printf "%s-steps" (include "common.fullname" .) | quote }}
- name: OCCUPANCY_STEP_POD_LABELS
  value: {{ include "airflow.stepPodLabels" . | quote }}
- name: OCCUPANCY_STEP_RETRIES
  value: {{ .Values.steps.retries | quote }}
- name: OCCUPANCY_MODEL_FAMILIES
  value: {{ join "," .Values.steps.families | quote }}
- name: OCCUPANCY_TRAIN_CONCURRENCY
  value: {{ .Values.steps.train.concurrency | quote }}
- name: OCCUPANCY_MAX_PARALLEL_SOURCES
  value: {{ .Values.steps.sources.concurrency | quote }}
- name: OCCUPANCY_SCORE_CONCURRENCY
  value: {{ .Values.steps.scoring.concurrency | quote }}
- name: OCCUPANCY_TRAIN_CPU_REQUEST
  value: {{ .Values.steps.train.requests.cpu | quote }}
- name: OCCUPANCY_TRAIN_MEMORY_REQUEST
  value: {{ .Values.steps.train.requests.memory | quote }}
- name: HOME
  value: /tmp
{{- end -}}

{{/*
airflow.stepPodLabels: the labels KubernetesPodOperator gives every step pod, as "k=v,…": the
release, and the client labels the S3 and MLflow policies admit.
*/}}
{{- define "airflow.stepPodLabels" -}}
{{- $labels := list (printf "app.kubernetes.io/instance=%s" .Release.Name) -}}
{{- range list "s3" "mlflow" }}{{ $labels = append $labels (printf "%s=true" (include "common.clientLabel" .)) }}{{ end -}}
{{- join "," $labels -}}
{{- end -}}

{{/*
airflow.podLabels: component labels plus the database-client label the PostgreSQL policy admits
(every Airflow pod reads and writes the metadata database). Pass (dict "ctx" . "component" NAME).
*/}}
{{- define "airflow.podLabels" -}}
{{ include "common.podLabels" (dict "ctx" .ctx "component" .component "clients" (list "postgres")) }}
{{- end -}}

{{/*
airflow.pod: the pod spec of one long-running component. Pass (dict "ctx" . "component" NAME
"values" ITS-VALUES-BLOCK "args" LIST "serviceAccount" NAME-or-"" "ports" LIST-or-nil
"check" PROBE-CHECK); its resources and probe timings come from "values".
Every component waits for the schema (the migration Job) before it starts.
*/}}
{{- define "airflow.pod" -}}
{{- $ctx := .ctx -}}
{{- if .serviceAccount }}
serviceAccountName: {{ .serviceAccount }}
automountServiceAccountToken: true
{{- else }}
automountServiceAccountToken: false
{{- end }}
securityContext:
  {{- include "common.podSecurityContext" $ctx.Values.uid | nindent 2 }}
initContainers:
  - name: wait-for-migrations
    image: {{ include "common.image" $ctx.Values.image }}
    imagePullPolicy: {{ $ctx.Values.image.pullPolicy }}
    args: ["airflow", "db", "check-migrations", "--migration-wait-timeout", "600"]
    env:
      {{- include "airflow.env" $ctx | nindent 6 }}
    resources:
      requests: {cpu: 50m, memory: 256Mi}
      limits: {cpu: 500m, memory: 512Mi}
    securityContext:
      {{- include "common.containerSecurityContext" (dict "uid" $ctx.Values.uid "readOnly" true) | nindent 6 }}
    volumeMounts:
      - {name: tmp, mountPath: /tmp}
containers:
  - name: {{ .component }}
    image: {{ include "common.image" $ctx.Values.image }}
    imagePullPolicy: {{ $ctx.Values.image.pullPolicy }}
    args: {{ toJson .args }}
    env:
      {{- include "airflow.env" $ctx | nindent 6 }}
      # Only the migration Job writes FAB's roles and permissions: an api-server syncing them
      # while the Job does fails one of the two on FAB's unique keys.
      - name: AIRFLOW__FAB__UPDATE_FAB_PERMS
        value: "False"
    {{- with .ports }}
    ports:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    {{- with include "airflow.probes" (dict "check" .check "probes" .values.probes) }}
    {{- . | nindent 4 }}
    {{- end }}
    resources:
      {{- toYaml .values.resources | nindent 6 }}
    securityContext:
      {{- include "common.containerSecurityContext" (dict "uid" $ctx.Values.uid "readOnly" true) | nindent 6 }}
    volumeMounts:
      - {name: tmp, mountPath: /tmp}
volumes:
  - name: tmp
    emptyDir: {sizeLimit: 2Gi}
{{- end -}}
