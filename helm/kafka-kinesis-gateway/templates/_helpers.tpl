{{/* Names */}}
{{- define "kkg.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kkg.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "kkg.headlessName" -}}
{{- printf "%s-headless" (include "kkg.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kkg.bootstrapName" -}}
{{- printf "%s-bootstrap" (include "kkg.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kkg.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "kkg.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Labels */}}
{{- define "kkg.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kkg.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "kkg.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "kkg.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: broker
{{- end -}}

{{/* Ports and paths, with the gateway's own defaults (src/config.ts) when config leaves them out. */}}
{{- define "kkg.kafkaPort" -}}
{{- .Values.config.port | default 9092 | int -}}
{{- end -}}

{{- define "kkg.metricsPort" -}}
{{- .Values.config.metricsPort | default 11001 | int -}}
{{- end -}}

{{- define "kkg.dataDir" -}}
{{- .Values.config.dataDir | default "/var/lib/kafka-kinesis-gateway" -}}
{{- end -}}

{{/* The gateway's config.json: .Values.config less the per-pod settings. */}}
{{- define "kkg.configJson" -}}
{{- $config := omit .Values.config "nodeId" "advertisedHost" -}}
{{- $_ := set $config "port" (include "kkg.kafkaPort" . | int) -}}
{{- $_ := set $config "metricsPort" (include "kkg.metricsPort" . | int) -}}
{{- $_ := set $config "dataDir" (include "kkg.dataDir" .) -}}
{{- $config | toPrettyJson -}}
{{- end -}}

{{/* The host name a pod advertises, for ordinal $i, with external access ("" for the node's IP). */}}
{{- define "kkg.externalHost" -}}
{{- $ := index . 0 -}}
{{- $i := index . 1 -}}
{{- $ext := $.Values.externalAccess -}}
{{- if $ext.addresses -}}
{{- index $ext.addresses $i -}}
{{- else if $ext.hostnameTemplate -}}
{{- $ext.hostnameTemplate | replace "{ordinal}" (toString $i) -}}
{{- end -}}
{{- end -}}

{{/* The port pod $i advertises with external access. */}}
{{- define "kkg.externalPort" -}}
{{- $ := index . 0 -}}
{{- $i := index . 1 -}}
{{- if eq $.Values.externalAccess.type "NodePort" -}}
{{- add (int $.Values.externalAccess.nodePort.basePort) $i -}}
{{- else -}}
{{- include "kkg.kafkaPort" $ -}}
{{- end -}}
{{- end -}}

{{- define "kkg.validate" -}}
{{- if hasKey .Values.config "nodeId" -}}
{{- fail "config.nodeId is set per pod from its ordinal: use nodeIdOffset instead" -}}
{{- end -}}
{{- if hasKey .Values.config "advertisedHost" -}}
{{- fail "config.advertisedHost is set per pod (headless Service DNS name, or externalAccess)" -}}
{{- end -}}
{{- if hasKey .Values.config "advertisedPort" -}}
{{- fail "config.advertisedPort is set per pod by externalAccess (NodePort)" -}}
{{- end -}}
{{- if hasKey .Values.config "redisUrl" -}}
{{- fail "config.redisUrl would put the Redis password in a ConfigMap: use secrets.redisUrl.existingSecret" -}}
{{- end -}}
{{- if .Values.externalAccess.enabled -}}
{{- $ext := .Values.externalAccess -}}
{{- if and (eq $ext.type "LoadBalancer") (not $ext.addresses) (not $ext.hostnameTemplate) -}}
{{- fail "externalAccess with LoadBalancer needs addresses (one per replica) or a hostnameTemplate with {ordinal}" -}}
{{- end -}}
{{- if and $ext.addresses (lt (len $ext.addresses) (int .Values.replicaCount)) -}}
{{- fail (printf "externalAccess.addresses has %d entries for %d replicas" (len $ext.addresses) (int .Values.replicaCount)) -}}
{{- end -}}
{{- if and $ext.hostnameTemplate (not (contains "{ordinal}" $ext.hostnameTemplate)) -}}
{{- fail "externalAccess.hostnameTemplate must contain {ordinal}" -}}
{{- end -}}
{{- if and (eq $ext.type "NodePort") (gt (add (int $ext.nodePort.basePort) (int .Values.replicaCount) -1) 65535) -}}
{{- fail "externalAccess.nodePort.basePort + replicaCount - 1 is above 65535" -}}
{{- end -}}
{{- end -}}
{{- end -}}
