{{/*
api.secretName: the Secret with OCCUPANCY_API_TOKEN (existing or created by this chart).
*/}}
{{- define "api.secretName" -}}
{{- default (include "common.fullname" .) .Values.auth.existingSecret -}}
{{- end -}}

{{/*
api.validate: every inconsistent combination of values, reported at once.
*/}}
{{- define "api.validate" -}}
{{- $problems := list -}}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) -}}
{{- $problems = append $problems (printf "autoscaling.minReplicas (%v) is above autoscaling.maxReplicas (%v)" .Values.autoscaling.minReplicas .Values.autoscaling.maxReplicas) -}}
{{- end -}}
{{- $floor := ternary .Values.autoscaling.minReplicas .Values.replicas .Values.autoscaling.enabled -}}
{{- if ge (int .Values.podDisruptionBudget.minAvailable) (int $floor) -}}
{{- $problems = append $problems (printf "podDisruptionBudget.minAvailable (%v) must be below the replica count (%v), or no pod could ever be evicted" .Values.podDisruptionBudget.minAvailable $floor) -}}
{{- end -}}
{{- include "common.validate" $problems -}}
{{- end -}}
