{{/*
api.validateValues: every value that would break the chart, reported at once.
*/}}
{{- define "api.validateValues" -}}
{{- $problems := list (include "common.validate.image" (dict "key" "image" "image" .Values.image)) -}}
{{- $problems = append $problems (include "common.validate.resources" (dict "key" "resources" "resources" .Values.resources)) -}}
{{- $problems = append $problems (include "common.validate.templated" (dict "ctx" . "values" (dict "mlflowTrackingUri" .Values.mlflowTrackingUri "predictionLog.uri" .Values.predictionLog.uri "predictionLog.s3EndpointUrl" .Values.predictionLog.s3EndpointUrl "predictionLog.credentialsSecret" .Values.predictionLog.credentialsSecret))) -}}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) -}}
{{- $problems = append $problems (printf "autoscaling.minReplicas (%v) is above autoscaling.maxReplicas (%v)" .Values.autoscaling.minReplicas .Values.autoscaling.maxReplicas) -}}
{{- end -}}
{{- $floor := ternary .Values.autoscaling.minReplicas .Values.replicas .Values.autoscaling.enabled -}}
{{- if ge (int .Values.podDisruptionBudget.minAvailable) (int $floor) -}}
{{- $problems = append $problems (printf "podDisruptionBudget.minAvailable (%v) must be below the replica count (%v), or no pod could ever be evicted" .Values.podDisruptionBudget.minAvailable $floor) -}}
{{- end -}}
{{- include "common.validate" $problems -}}
{{- end -}}
