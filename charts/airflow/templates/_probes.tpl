{{/*
airflow.jobCheck: the check of a component's liveness and readiness probes: its job is alive on
this host. Pass the job type (SchedulerJob, DagProcessorJob, TriggererJob).
*/}}
{{- define "airflow.jobCheck" -}}
exec:
  command: ["airflow", "jobs", "check", "--job-type", {{ . | quote }}, "--local"]
{{- end -}}

{{/*
airflow.httpCheck: the check of the api-server's probes: GET of a path on its http port. Pass the path.
*/}}
{{- define "airflow.httpCheck" -}}
httpGet:
  path: {{ . }}
  port: http
{{- end -}}

{{/*
airflow.probes: a container's probes, each a check (httpGet or exec, the same for all) with the
timings of one entry of the component's `probes` value. Pass (dict "check" YAML "probes" MAP).
*/}}
{{- define "airflow.probes" -}}
{{- $probes := dict -}}
{{- range $probe, $timings := .probes }}
{{- $_ := set $probes $probe (merge (fromYaml $.check) $timings) }}
{{- end }}
{{- with $probes }}{{ toYaml . }}{{ end -}}
{{- end -}}
