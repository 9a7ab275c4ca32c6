{{/*
common.clientLabel: the label a pod carries to be admitted by a service's NetworkPolicy,
"occupancy.io/<service>-client" (postgres, s3, mlflow). Pass the service name.
*/}}
{{- define "common.clientLabel" -}}
{{- printf "occupancy.io/%s-client" . -}}
{{- end -}}

{{/*
common.clientLabels: the client labels (value "true") of the services a pod calls. Pass a list of
service names.
*/}}
{{- define "common.clientLabels" -}}
{{- $labels := dict -}}
{{- range . }}{{ $_ := set $labels (include "common.clientLabel" .) "true" }}{{ end -}}
{{- toYaml $labels -}}
{{- end -}}

{{/*
common.podLabels: a pod template's labels, common.labels plus the client labels of the services it
calls. Pass (dict "ctx" . "component" NAME "clients" LIST).
*/}}
{{- define "common.podLabels" -}}
{{ include "common.labels" . }}
{{- with .clients }}
{{ include "common.clientLabels" . }}
{{- end }}
{{- end -}}

{{/*
common.clientSelector: matchLabels of the pods a service admits: this release's pods labelled as its
clients. Pass (dict "ctx" . "client" SERVICE).
*/}}
{{- define "common.clientSelector" -}}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{ include "common.clientLabels" (list .client) }}
{{- end -}}

{{/*
common.dnsEgress: the egress rule to DNS (UDP and TCP 53) every policy with egress needs, to the
cluster DNS only: global.networkPolicy.dnsPeers (NetworkPolicy peers), by default the pods
labelled k8s-app: kube-dns in kube-system (CoreDNS as kubeadm, kind, EKS and GKE run it; policies
see the DNS pod after the Service's DNAT). A cluster with NodeLocal DNSCache or another DNS lists
its own peers (e.g. an ipBlock 169.254.20.10/32); an empty list opens port 53 to any address.
Pass the chart's context.
*/}}
{{- define "common.dnsEgress" -}}
{{- $clusterDns := list (dict
      "namespaceSelector" (dict "matchLabels" (dict "kubernetes.io/metadata.name" "kube-system"))
      "podSelector" (dict "matchLabels" (dict "k8s-app" "kube-dns"))) -}}
{{- $peers := dig "networkPolicy" "dnsPeers" $clusterDns (.Values.global | default dict) -}}
- ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]
{{- with $peers }}
  to:
    {{- toYaml . | nindent 4 }}
{{- end }}
{{- end -}}
