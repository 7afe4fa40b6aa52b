package chart_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/promobot/promobot/test/kit"
)

// TestChartRefuses checks that values which cannot work are refused by helm
// template and helm install with a message that says what to change (golden
// files hold helm template's whole error output). helm lint refuses schema
// violations and prints the other messages.
func TestChartRefuses(t *testing.T) {
	ok := map[string]any{"appId": 12345, "existingSecret": "promobot-github"}
	external := map[string]any{"mode": "external", "url": "nats://nats:4222"}
	tests := []struct {
		name   string
		values map[string]any
		want   string // the line the user must see
	}{
		{
			name:   "embedded-split",
			values: map[string]any{"github": ok, "roles": map[string]any{"split": true}},
			want:   "roles.split needs nats.mode=external: the embedded event bus lives inside one promobot process",
		},
		{
			name:   "embedded-replicas",
			values: map[string]any{"github": ok, "replicaCount": 2},
			want:   "replicaCount=2 needs nats.mode=external: the embedded event bus runs in a single pod on one volume",
		},
		{
			name:   "embedded-stream-replicas",
			values: map[string]any{"github": ok, "nats": map[string]any{"streamReplicas": 3}},
			want:   "nats.streamReplicas above 1 needs nats.mode=external",
		},
		{
			name:   "schema-credentials-in-nats-url",
			values: map[string]any{"github": ok, "nats": map[string]any{"mode": "external", "url": "nats://promobot:hunter2@nats:4222"}},
			want:   "at '/nats/url': 'nats://promobot:hunter2@nats:4222' does not match pattern",
		},
		{
			name:   "no-secret",
			values: map[string]any{"github": map[string]any{"appId": 12345}},
			want:   "github.existingSecret is required",
		},
		{
			name:   "no-app-id",
			values: map[string]any{"github": map[string]any{"existingSecret": "promobot-github"}},
			want:   "github.appId is required when the applier or the promoter runs",
		},
		{
			name:   "external-without-url",
			values: map[string]any{"github": ok, "nats": map[string]any{"mode": "external"}},
			want:   "nats.mode=external needs nats.url",
		},
		{
			name:   "namespaces-scope-without-namespaces",
			values: map[string]any{"github": ok, "applier": map[string]any{"rbac": map[string]any{"scope": "namespaces"}}},
			want:   "applier.rbac.scope=namespaces needs applier.rbac.namespaces",
		},
		{
			name:   "ingress-without-host",
			values: map[string]any{"github": ok, "nats": external, "ingress": map[string]any{"enabled": true}},
			want:   "ingress.enabled needs ingress.host",
		},
		{
			name:   "no-roles",
			values: map[string]any{"github": ok, "roles": map[string]any{"webhook": map[string]any{"enabled": false}, "applier": map[string]any{"enabled": false}, "promoter": map[string]any{"enabled": false}}},
			want:   "roles: enable at least one of",
		},
		{
			name:   "schema-unknown-key",
			values: map[string]any{"github": ok, "replicas": 2},
			want:   "additional properties 'replicas' not allowed",
		},
		{
			name:   "schema-misspelled-nested-key",
			values: map[string]any{"github": ok, "roles": map[string]any{"webhook": map[string]any{"replica": 2}}},
			want:   "at '/roles/webhook': additional properties 'replica' not allowed",
		},
		{
			name:   "schema-bad-nats-mode",
			values: map[string]any{"github": ok, "nats": map[string]any{"mode": "cluster"}},
			want:   "at '/nats/mode': value must be one of 'embedded', 'external'",
		},
		{
			name:   "schema-bad-rbac-scope",
			values: map[string]any{"github": ok, "applier": map[string]any{"rbac": map[string]any{"scope": "namespace"}}},
			want:   "at '/applier/rbac/scope': value must be one of 'cluster', 'namespaces'",
		},
		{
			name:   "schema-wrong-type",
			values: map[string]any{"github": ok, "roles": map[string]any{"split": "yes"}},
			want:   "at '/roles/split': got string, want boolean",
		},
		{
			name:   "schema-bad-namespace-name",
			values: map[string]any{"github": ok, "applier": map[string]any{"rbac": map[string]any{"scope": "namespaces", "namespaces": []string{"Team_A"}}}},
			want:   "at '/applier/rbac/namespaces/0'",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			values := writeValues(t, tc.values)
			schema := strings.HasPrefix(tc.name, "schema-")

			// helm lint refuses what the schema refuses. It renders
			// templates in lint mode, where fail only prints the message.
			out, err := helmCombined(ctx, "lint", "--strict", chartDir, "--namespace", "promobot", "--values", values)
			if schema && err == nil {
				t.Errorf("helm lint accepted the values")
			}
			if !strings.Contains(out, tc.want) {
				t.Errorf("helm lint output does not say %q:\n%s", tc.want, out)
			}

			out, err = helm(ctx, "template", "promobot", chartDir, "--namespace", "promobot", "--values", values)
			var he *helmError
			if !errors.As(err, &he) {
				t.Fatalf("helm template accepted the values (err %v):\n%s", err, out)
			}
			if !strings.Contains(he.stderr, tc.want) {
				t.Errorf("helm template output does not say %q:\n%s", tc.want, he.stderr)
			}
			kit.Golden(t, filepath.Join("testdata", "refused", tc.name+".txt"), he.stderr)

			// helm install refuses before creating anything.
			ns := cluster.Namespace(t)
			_, err = helm(ctx, "install", "promobot", chartDir, "--kubeconfig", cluster.Kubeconfig, "--namespace", ns, "--values", values)
			if !errors.As(err, &he) || !strings.Contains(he.stderr, tc.want) {
				t.Errorf("helm install: got %v, want a refusal saying %q", err, tc.want)
			}
			if sas, err := cluster.Client.CoreV1().ServiceAccounts(ns).List(ctx, metav1.ListOptions{}); err != nil || len(sas.Items) != 0 {
				t.Errorf("helm install refused but left ServiceAccounts in %s: %v %v", ns, sas, err)
			}
		})
	}
}
