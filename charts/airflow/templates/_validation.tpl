{{/*
airflow.validateValues: every value that would break the chart, reported at once.
*/}}
{{- define "airflow.validateValues" -}}
{{- $problems := list (include "common.validate.image" (dict "key" "image" "image" .Values.image)) -}}
{{- $problems = append $problems (include "common.validate.image" (dict "key" "steps.image" "image" .Values.steps.image)) -}}
{{- range $component := list "apiServer" "scheduler" "dagProcessor" "triggerer" -}}
{{- $resources := (index $.Values $component).resources -}}
{{- $problems = append $problems (include "common.validate.resources" (dict "key" (printf "%s.resources" $component) "resources" $resources)) -}}
{{- end -}}
{{- $problems = append $problems (include "common.validate.templated" (dict "ctx" . "values" (dict
      "database.host" .Values.database.host
      "database.passwordSecret" .Values.database.passwordSecret
      "steps.secret" .Values.steps.secret))) -}}
{{- if and .Values.networkPolicy.enabled (not .Values.networkPolicy.kubeApiCidrs) -}}
{{- $problems = append $problems (include "airflow.validate.kubeApiCidrs" .) -}}
{{- end -}}
{{- include "common.validate" $problems -}}
{{- end -}}

{{/*
airflow.validate.kubeApiCidrs: the message for a missing Kubernetes API address (no default: the
scheduler's egress to 443/6443 would otherwise be open to any address), with the commands that
print it. `make deploy` passes it itself.
*/}}
{{- define "airflow.validate.kubeApiCidrs" -}}
networkPolicy.kubeApiCidrs (airflow.networkPolicy.kubeApiCidrs in the occupancy chart) is empty: the scheduler's NetworkPolicy needs the Kubernetes API's addresses to start step pods. `make deploy` finds them; by hand, the `kubernetes` Service's ClusterIP (kubectl get service kubernetes -n default -o jsonpath='{.spec.clusterIP}') and its endpoints (kubectl get endpointslices -n default -l kubernetes.io/service-name=kubernetes -o jsonpath='{.items[*].endpoints[*].addresses[*]}'), each as a /32, e.g. --set 'airflow.networkPolicy.kubeApiCidrs={10.96.0.1/32,172.18.0.2/32}'
{{- end -}}
