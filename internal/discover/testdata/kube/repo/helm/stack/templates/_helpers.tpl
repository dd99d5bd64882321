{{- define "stack.image" -}}
{{- $reg := .root.Values.global.imageRegistry -}}
{{- if $reg }}{{ $reg }}/{{ end }}{{ .image.repository }}:{{ .image.tag }}
{{- end -}}
