{{/*
common.podSecurityContext: restricted Pod Security Standard at pod level. Pass the numeric id.
*/}}
{{- define "common.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ . }}
runAsGroup: {{ . }}
fsGroup: {{ . }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
common.containerSecurityContext: restricted fields for one container. Pass (dict "uid" N "readOnly" bool).
*/}}
{{- define "common.containerSecurityContext" -}}
allowPrivilegeEscalation: false
capabilities:
  drop: ["ALL"]
readOnlyRootFilesystem: {{ .readOnly }}
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .uid }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}
