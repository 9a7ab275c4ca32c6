{{/*
Value checks for each chart's <chart>.validateValues (templates/validate-values.yaml). Every check
returns its problems, one a line, or nothing; common.validate reports them all at once. The
schemas reject unknown keys and wrong types; these catch what a schema cannot see.
*/}}

{{/*
common.validate: fail once with every problem found (each once). Pass a list of entries, each holding
zero or more problems, one a line (none at all: no-op).
*/}}
{{- define "common.validate" -}}
{{- $problems := splitList "\n" (join "\n" .) | compact | uniq -}}
{{- if $problems -}}
{{- fail (printf "\n\nVALUES VALIDATION:\n  - %s" (join "\n  - " $problems)) -}}
{{- end -}}
{{- end -}}

{{/*
common.validate.image: an image block ({repository, tag}) with a blank repository or tag (the
schema's minLength lets blanks through, and --skip-schema-validation everything).
Pass (dict "key" "image" "image" .Values.image).
*/}}
{{- define "common.validate.image" -}}
{{- range $field := list "repository" "tag" }}
{{- if not (trim (toString (get $.image $field))) }}
{{ printf "%s.%s is empty: the pod would have no image to pull" $.key $field }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
common.validate.templated: templated values (host names, Secret names) that render empty, which
the schema cannot see. Pass (dict "ctx" . "values" (dict "database.host" .Values.database.host …)).
*/}}
{{- define "common.validate.templated" -}}
{{- range $key, $value := .values }}
{{- if not (trim (tpl (toString $value) $.ctx)) }}
{{ printf "%s renders empty (from %q)" $key $value }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
common.validate.resources: a request above its limit, which the API server refuses (the install
would stop half-way). Pass (dict "key" "resources" "resources" .Values.resources).
*/}}
{{- define "common.validate.resources" -}}
{{- range $resource := list "cpu" "memory" }}
{{- $request := dig "requests" $resource "" $.resources | toString }}
{{- $limit := dig "limits" $resource "" $.resources | toString }}
{{- $requested := include "common.quantity" $request }}
{{- $allowed := include "common.quantity" $limit }}
{{- if and $requested $allowed (gt (float64 $requested) (float64 $allowed)) }}
{{ printf "%s.requests.%s (%s) is above %s.limits.%s (%s): Kubernetes refuses such a pod" $.key $resource $request $.key $resource $limit }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
common.quantity: a Kubernetes quantity ("250m", "1", "1.5", "768Mi", "2Gi", "1G") as a number of
base units (cores, bytes), for comparisons; empty for a form it does not read. Pass the quantity.
*/}}
{{- define "common.quantity" -}}
{{- $quantity := toString . -}}
{{- $number := regexFind "^[0-9]+(\\.[0-9]+)?" $quantity -}}
{{- $units := dict "" 1.0 "m" 0.001 "k" 1e3 "M" 1e6 "G" 1e9 "T" 1e12 "Ki" 1024.0 "Mi" 1048576.0 "Gi" 1073741824.0 "Ti" 1099511627776.0 -}}
{{- $unit := trimPrefix $number $quantity -}}
{{- if and $number (hasKey $units $unit) -}}
{{- mulf (float64 $number) (index $units $unit) -}}
{{- end -}}
{{- end -}}
