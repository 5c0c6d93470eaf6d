{{- define "cortex.fullname" -}}
{{- printf "%s-cortex" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "cortex.labels" -}}
app.kubernetes.io/part-of: cortex
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "cortex.secretName" -}}
{{- printf "%s-secrets" (include "cortex.fullname" .) -}}
{{- end -}}
