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
common.validate: fail once with every problem found. Pass a list of messages (empty: no-op).
*/}}
{{- define "common.validate" -}}
{{- $problems := compact . -}}
{{- if $problems -}}
{{- fail (printf "\n\nVALUES VALIDATION:\n  - %s" (join "\n  - " $problems)) -}}
{{- end -}}
{{- end -}}
