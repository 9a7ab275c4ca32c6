{{/*
common.secretValue: a secret value that is generated once and kept across upgrades: the value
already stored in the cluster under (secret, key) if any, else a new random one.
Pass (dict "ctx" . "secret" NAME "key" KEY "length" N). Returns the plain (not base64) value.
*/}}
{{- define "common.secretValue" -}}
{{- $existing := lookup "v1" "Secret" .ctx.Release.Namespace .secret -}}
{{- if and $existing (hasKey $existing.data .key) -}}
{{- index $existing.data .key | b64dec -}}
{{- else -}}
{{- randAlphaNum (default 24 .length) -}}
{{- end -}}
{{- end -}}

{{/*
common.secretName: the Secret a chart's credentials are in: auth.existingSecret when set, else the
one the chart creates, "<fullname>" or "<fullname>-<suffix>". Pass (dict "ctx" . "suffix" S-or-omitted).
*/}}
{{- define "common.secretName" -}}
{{- $generated := include "common.fullname" .ctx -}}
{{- with .suffix }}{{ $generated = printf "%s-%s" $generated . }}{{ end -}}
{{- default $generated .ctx.Values.auth.existingSecret -}}
{{- end -}}
