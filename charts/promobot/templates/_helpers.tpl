{{/* Names, labels and the pod template shared by promobot's workloads. */}}

{{- define "promobot.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* fullname: "<release>-<chart>" unless the release name already contains the chart name. */}}
{{- define "promobot.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* clusterName prefixes cluster-scoped objects with the namespace, so releases of the same name in two namespaces do not collide. */}}
{{- define "promobot.clusterName" -}}
{{- printf "%s-%s" .Release.Namespace (include "promobot.fullname" .) }}
{{- end }}

{{- define "promobot.selectorLabels" -}}
app.kubernetes.io/name: {{ include "promobot.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "promobot.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "promobot.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "promobot.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* enabledRoles: the enabled roles, comma-separated, in a fixed order. */}}
{{- define "promobot.enabledRoles" -}}
{{- $roles := list }}
{{- range $r := list "webhook" "applier" "promoter" }}
{{- if (index $.Values.roles $r).enabled }}
{{- $roles = append $roles $r }}
{{- end }}
{{- end }}
{{- join "," $roles }}
{{- end }}

{{/* serviceAccountBase: the ServiceAccount name, or the prefix of the per-role names when roles are split. */}}
{{- define "promobot.serviceAccountBase" -}}
{{- default (include "promobot.fullname" .) .Values.serviceAccount.name }}
{{- end }}

{{/* applierServiceAccount: the ServiceAccount the applier runs as (RBAC subjects). */}}
{{- define "promobot.applierServiceAccount" -}}
{{- if .Values.roles.split }}
{{- printf "%s-applier" (include "promobot.serviceAccountBase" .) }}
{{- else }}
{{- include "promobot.serviceAccountBase" . }}
{{- end }}
{{- end }}

{{/* webhookComponent: the component label of the pods that serve POST /webhook. */}}
{{- define "promobot.webhookComponent" -}}
{{- if .Values.roles.split }}webhook{{ else }}all-in-one{{ end }}
{{- end }}

{{/*
validate refuses values that cannot work, with a message saying what to change.
values.schema.json checks types and names; this checks combinations.
*/}}
{{- define "promobot.validate" -}}
{{- $v := .Values }}
{{- if not $v.github.existingSecret }}
{{- fail "github.existingSecret is required: create a Secret with the App's private key and webhook secret (see the chart's values.yaml) and name it here" }}
{{- end }}
{{- $roles := include "promobot.enabledRoles" . }}
{{- if not $roles }}
{{- fail "roles: enable at least one of roles.webhook, roles.applier, roles.promoter" }}
{{- end }}
{{- if and (or $v.roles.applier.enabled $v.roles.promoter.enabled) (not $v.github.appId) }}
{{- fail "github.appId is required when the applier or the promoter runs: set it to the GitHub App's id" }}
{{- end }}
{{- if eq $v.nats.mode "embedded" }}
{{- if $v.roles.split }}
{{- fail "roles.split needs nats.mode=external: the embedded event bus lives inside one promobot process, so all roles must run in it (set nats.mode=external and nats.url to split roles)" }}
{{- end }}
{{- if gt (int $v.replicaCount) 1 }}
{{- fail (printf "replicaCount=%d needs nats.mode=external: the embedded event bus runs in a single pod on one volume (set replicaCount=1, or nats.mode=external and nats.url)" (int $v.replicaCount)) }}
{{- end }}
{{- if $v.nats.url }}
{{- fail "nats.url is set but nats.mode is embedded: set nats.mode=external to use it" }}
{{- end }}
{{- if gt (int $v.nats.streamReplicas) 1 }}
{{- fail "nats.streamReplicas above 1 needs nats.mode=external: the embedded event bus is a single server" }}
{{- end }}
{{- else }}
{{- if not $v.nats.url }}
{{- fail "nats.mode=external needs nats.url, e.g. nats://nats.nats.svc:4222" }}
{{- end }}
{{- if $v.nats.sync }}
{{- fail "nats.sync applies to the embedded event bus only: an external NATS server's fsync is set in its own configuration (sync_interval)" }}
{{- end }}
{{- end }}
{{- if and $v.applier.rbac.create (eq $v.applier.rbac.scope "namespaces") (not $v.applier.rbac.namespaces) }}
{{- fail "applier.rbac.scope=namespaces needs applier.rbac.namespaces: list the namespaces the applier may apply to" }}
{{- end }}
{{- if and $v.ingress.enabled (not $v.ingress.host) }}
{{- fail "ingress.enabled needs ingress.host: the host name GitHub sends webhooks to" }}
{{- end }}
{{- if and $v.ingress.enabled (not $v.roles.webhook.enabled) }}
{{- fail "ingress.enabled needs roles.webhook.enabled: without the webhook receiver there is nothing to expose" }}
{{- end }}
{{- if and $v.notifications.sinks (not $v.notifications.existingSecret) }}
{{- fail "notifications.sinks needs notifications.existingSecret: the Secret holding each sink's URL under its urlKey (default the sink's name)" }}
{{- end }}
{{- if and $v.notifications.sinks (not (or $v.roles.applier.enabled $v.roles.promoter.enabled)) }}
{{- fail "notifications.sinks needs roles.applier.enabled or roles.promoter.enabled: notifications are sent by the pods running them" }}
{{- end }}
{{- if and $v.ingress.tls.enabled (not $v.ingress.tls.secretName) }}
{{- fail "ingress.tls.enabled needs ingress.tls.secretName: the Secret holding the host's certificate" }}
{{- end }}
{{- end }}

{{/*
pod renders a pod template. Arguments (a dict):
  root            the chart's root context
  component       the component label (all-in-one, webhook, applier, promoter)
  roles           list of roles the container runs
  serviceAccount  the ServiceAccount name
  resources       the container's resources
  extraArgs       extra arguments for this workload
*/}}
{{- define "promobot.pod" -}}
{{- $root := .root }}
{{- $v := $root.Values }}
{{- $webhook := has "webhook" .roles }}
{{- $app := or (has "applier" .roles) (has "promoter" .roles) }}
{{- $embedded := eq $v.nats.mode "embedded" -}}
metadata:
  labels:
    {{- include "promobot.selectorLabels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
    {{- with $v.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    kubectl.kubernetes.io/default-container: promobot
    {{- if and (has "applier" .roles) $v.applier.projects }}
    # A changed projects file rolls the applier.
    checksum/projects: {{ toYaml $v.applier.projects | sha256sum }}
    {{- end }}
    {{- if and $app $v.notifications.sinks }}
    # A changed notification file rolls the pods that send notifications.
    checksum/notify: {{ include "promobot.notifyConfig" $root | sha256sum }}
    {{- end }}
    {{- with $v.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ .serviceAccount }}
  # Only the applier talks to Kubernetes; other pods get no API token.
  automountServiceAccountToken: {{ has "applier" .roles }}
  enableServiceLinks: false
  terminationGracePeriodSeconds: {{ $v.terminationGracePeriodSeconds }}
  {{- with $v.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  securityContext:
    {{- toYaml $v.podSecurityContext | nindent 4 }}
  containers:
    - name: promobot
      image: {{ include "promobot.image" $root }}
      imagePullPolicy: {{ $v.image.pullPolicy }}
      args:
        - serve
        - {{ printf "--roles=%s" (join "," .roles) | quote }}
        - --listen=:8080
        {{- if and $v.ui.enabled (or (has "applier" .roles) (has "promoter" .roles)) }}
        - --ui-listen=:8090
        {{- end }}
        - {{ printf "--log-format=%s" $v.logFormat | quote }}
        - {{ printf "--log-level=%s" $v.logLevel | quote }}
        {{- if $embedded }}
        - --data-dir=/var/lib/promobot
        {{- with $v.nats.sync }}
        - {{ printf "--nats-sync=%s" . | quote }}
        {{- end }}
        {{- else }}
        - {{ printf "--nats-url=%s" $v.nats.url | quote }}
        {{- if $v.nats.credsSecret }}
        - {{ printf "--%s=/etc/promobot/nats/%s" (ternary "nats-nkey" "nats-creds" (eq $v.nats.credsFormat "nkey")) $v.nats.credsKey | quote }}
        {{- end }}
        {{- end }}
        {{- if $v.nats.streamReplicas }}
        - {{ printf "--nats-replicas=%d" (int $v.nats.streamReplicas) | quote }}
        {{- end }}
        {{- if $webhook }}
        - {{ printf "--webhook-secret-file=/etc/promobot/github/%s" $v.github.webhookSecretKey | quote }}
        {{- end }}
        {{- if $app }}
        - {{ printf "--private-key-file=/etc/promobot/github/%s" $v.github.privateKeyKey | quote }}
        - {{ printf "--github-url=%s" $v.github.apiURL | quote }}
        {{- end }}
        {{- if has "applier" .roles }}
        {{- range $i, $c := $v.applier.clusters }}
        - {{ printf "--cluster-kubeconfig=%s=/etc/promobot/clusters/%d/kubeconfig%s" $c.server $i (ternary (printf "#%s" $c.context) "" (not (empty $c.context))) | quote }}
        {{- end }}
        {{- if $v.applier.projects }}
        - --projects-file=/etc/promobot/projects/projects.yaml
        {{- end }}
        {{- end }}
        {{- if or (has "applier" .roles) (has "promoter" .roles) }}
        {{- with $v.render.timeout }}
        - {{ printf "--render-timeout=%s" . | quote }}
        {{- end }}
        {{- with $v.render.maxMemory }}
        - {{ printf "--render-max-memory=%s" . | quote }}
        {{- end }}
        {{- with $v.render.maxObjects }}
        - {{ printf "--render-max-objects=%d" (int .) | quote }}
        {{- end }}
        {{- end }}
        {{- if and $app $v.notifications.sinks }}
        - --notify-config=/etc/promobot/notify-config/notify.yaml
        {{- end }}
        {{- range concat $v.extraArgs .extraArgs }}
        - {{ . | quote }}
        {{- end }}
      env:
        # The applier unpacks repository archives here (an emptyDir).
        - name: TMPDIR
          value: /tmp
        {{- if has "applier" .roles }}
        # promobot's own namespace is never a destination unless a project
        # names it exactly.
        - name: POD_NAMESPACE
          valueFrom:
            fieldRef:
              fieldPath: metadata.namespace
        {{- end }}
        {{- if $app }}
        - name: PROMOBOT_APP_ID
          value: {{ $v.github.appId | int64 | quote }}
        {{- end }}
        {{- with $v.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      ports:
        - name: http
          containerPort: 8080
          protocol: TCP
        {{- if and $v.ui.enabled (or (has "applier" .roles) (has "promoter" .roles)) }}
        - name: ui
          containerPort: 8090
          protocol: TCP
        {{- end }}
      startupProbe:
        httpGet:
          path: /healthz
          port: http
        {{- toYaml $v.startupProbe | nindent 8 }}
      livenessProbe:
        httpGet:
          path: /healthz
          port: http
        {{- toYaml $v.livenessProbe | nindent 8 }}
      readinessProbe:
        httpGet:
          path: /readyz
          port: http
        {{- toYaml $v.readinessProbe | nindent 8 }}
      {{- with .resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml $v.securityContext | nindent 8 }}
      volumeMounts:
        - name: tmp
          mountPath: /tmp
        - name: github
          mountPath: /etc/promobot/github
          readOnly: true
        {{- if has "applier" .roles }}
        {{- range $i, $c := $v.applier.clusters }}
        - name: cluster-{{ $i }}
          mountPath: /etc/promobot/clusters/{{ $i }}
          readOnly: true
        {{- end }}
        {{- if $v.applier.projects }}
        - name: projects
          mountPath: /etc/promobot/projects
          readOnly: true
        {{- end }}
        {{- end }}
        {{- if and $app $v.notifications.sinks }}
        - name: notify-config
          mountPath: /etc/promobot/notify-config
          readOnly: true
        - name: notify-urls
          mountPath: /etc/promobot/notify
          readOnly: true
        {{- end }}
        {{- if $embedded }}
        - name: data
          mountPath: /var/lib/promobot
        {{- else if $v.nats.credsSecret }}
        - name: nats-creds
          mountPath: /etc/promobot/nats
          readOnly: true
        {{- end }}
  volumes:
    - name: tmp
      emptyDir:
        sizeLimit: {{ $v.tmpSizeLimit }}
    # Each pod gets only the keys its roles need.
    - name: github
      secret:
        secretName: {{ $v.github.existingSecret }}
        defaultMode: 0440
        items:
          {{- if $webhook }}
          - key: {{ $v.github.webhookSecretKey }}
            path: {{ $v.github.webhookSecretKey }}
          {{- end }}
          {{- if $app }}
          - key: {{ $v.github.privateKeyKey }}
            path: {{ $v.github.privateKeyKey }}
          {{- end }}
    {{- if has "applier" .roles }}
    {{- range $i, $c := $v.applier.clusters }}
    # Kubeconfig for {{ $c.server }}.
    - name: cluster-{{ $i }}
      secret:
        secretName: {{ $c.secretName }}
        defaultMode: 0440
        items:
          - key: {{ default "kubeconfig" $c.key }}
            path: kubeconfig
    {{- end }}
    {{- if $v.applier.projects }}
    - name: projects
      configMap:
        name: {{ include "promobot.fullname" $root }}-projects
    {{- end }}
    {{- end }}
    {{- if and $app $v.notifications.sinks }}
    - name: notify-config
      configMap:
        name: {{ include "promobot.fullname" $root }}-notify
    # Only the sinks' URLs, one file each.
    - name: notify-urls
      secret:
        secretName: {{ $v.notifications.existingSecret }}
        defaultMode: 0440
        items:
          {{- $keys := list }}
          {{- range $s := $v.notifications.sinks }}
          {{- $keys = append $keys (default $s.name $s.urlKey) }}
          {{- end }}
          {{- range $k := uniq $keys }}
          - key: {{ $k }}
            path: {{ $k }}
          {{- end }}
    {{- end }}
    {{- if $embedded }}
    - name: data
      {{- if not $v.nats.persistence.enabled }}
      emptyDir: {}
      {{- else }}
      persistentVolumeClaim:
        claimName: {{ default (printf "%s-data" (include "promobot.fullname" $root)) $v.nats.persistence.existingClaim }}
      {{- end }}
    {{- else if $v.nats.credsSecret }}
    - name: nats-creds
      secret:
        secretName: {{ $v.nats.credsSecret }}
        defaultMode: 0440
        items:
          - key: {{ $v.nats.credsKey }}
            path: {{ $v.nats.credsKey }}
    {{- end }}
  {{- with $v.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{/* notifyConfig: the notification file (--notify-config), each sink's URL read from its file in the notify-urls volume. */}}
{{- define "promobot.notifyConfig" -}}
{{- $sinks := list }}
{{- range $s := .Values.notifications.sinks }}
{{- $sink := dict "name" $s.name "type" $s.type "url_file" (printf "/etc/promobot/notify/%s" (default $s.name $s.urlKey)) }}
{{- with $s.encoding }}{{ $_ := set $sink "encoding" . }}{{ end }}
{{- with $s.subjects }}{{ $_ := set $sink "subjects" . }}{{ end }}
{{- with $s.apps }}{{ $_ := set $sink "apps" . }}{{ end }}
{{- with $s.environments }}{{ $_ := set $sink "environments" . }}{{ end }}
{{- $sinks = append $sinks $sink }}
{{- end }}
{{- toYaml (dict "sinks" $sinks) }}
{{- end }}
