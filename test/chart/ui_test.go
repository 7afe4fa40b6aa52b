package chart_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// uiView is what the chart renders of the status page: each Deployment's
// --ui-listen flags and "ui" container ports, and what the page's Service
// sends traffic to.
type uiView struct {
	Flags   map[string][]string
	Ports   map[string][]int32
	Service string // "<name> → <deployments>:<target port>", "" without one
}

func uiOf(m manifest) uiView {
	v := uiView{Flags: flagsByDeployment(m, "--ui-listen"), Ports: map[string][]int32{}}
	for _, d := range of[*appsv1.Deployment](m) {
		var ports []int32
		for _, p := range container(d).Ports {
			if p.Name == "ui" {
				ports = append(ports, p.ContainerPort)
			}
		}
		v.Ports[d.Name] = ports
	}
	for _, s := range of[*corev1.Service](m) {
		if !strings.HasSuffix(s.Name, "-ui") {
			continue
		}
		var behind []string
		for _, d := range of[*appsv1.Deployment](m) {
			if labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
				behind = append(behind, d.Name)
			}
		}
		v.Service = s.Name + " " + string(s.Spec.Type) + " → " + strings.Join(behind, ",") + ":" + s.Spec.Ports[0].TargetPort.String()
	}
	return v
}

// TestChartStatusPage: the status page's Service is the operator's choice
// (off by default: the page stays on each pod's loopback), and when chosen
// it reaches only pods that serve the page, on their own port, never the
// webhook's.
func TestChartStatusPage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	external := map[string]any{"mode": "external", "url": "nats://nats:4222"}
	on := map[string]any{"enabled": true}
	const flag = "--ui-listen=:8090"
	tests := []struct {
		name   string
		values map[string]any
		want   uiView
	}{
		{"off by default", map[string]any{"github": github(nil)},
			uiView{Flags: map[string][]string{"promobot": nil}, Ports: map[string][]int32{"promobot": nil}}},
		{"all in one", map[string]any{"github": github(nil), "ui": on},
			uiView{Flags: map[string][]string{"promobot": {flag}}, Ports: map[string][]int32{"promobot": {8090}}, Service: "promobot-ui ClusterIP → promobot:ui"}},
		{"split roles", map[string]any{"github": github(nil), "ui": on, "nats": external, "roles": map[string]any{"split": true}},
			uiView{Flags: map[string][]string{"promobot-webhook": nil, "promobot-applier": {flag}, "promobot-promoter": {flag}},
				Ports:   map[string][]int32{"promobot-webhook": nil, "promobot-applier": {8090}, "promobot-promoter": {8090}},
				Service: "promobot-ui ClusterIP → promobot-applier:ui"}},
		{"split without the applier", map[string]any{"github": github(nil), "ui": map[string]any{"enabled": true, "service": map[string]any{"type": "NodePort"}}, "nats": external,
			"roles": map[string]any{"split": true, "applier": map[string]any{"enabled": false}}},
			uiView{Flags: map[string][]string{"promobot-webhook": nil, "promobot-promoter": {flag}},
				Ports:   map[string][]int32{"promobot-webhook": nil, "promobot-promoter": {8090}},
				Service: "promobot-ui NodePort → promobot-promoter:ui"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, uiOf(templateValues(ctx, t, tt.values))); diff != "" {
				t.Errorf("status page (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("webhook alone", func(t *testing.T) {
		values := map[string]any{"github": github(nil), "ui": on, "nats": external,
			"roles": map[string]any{"split": true, "applier": map[string]any{"enabled": false}, "promoter": map[string]any{"enabled": false}}}
		out, err := helmCombined(ctx, "template", "promobot", chartDir, "--namespace", "promobot", "--values", writeValues(t, values))
		if err == nil || !strings.Contains(out, "ui.enabled: the status page is served by the applier or the promoter") {
			t.Errorf("helm template = %v\n%s\nwant a refusal naming ui.enabled", err, out)
		}
	})
	checkSchemaRefuses(ctx, t, map[string]any{"github": github(nil), "ui": map[string]any{"enabled": "yes"}}, "/ui/enabled")
	checkSchemaRefuses(ctx, t, map[string]any{"github": github(nil), "ui": map[string]any{"service": map[string]any{"type": "Ingress"}}}, "/ui/service/type")
}

// The release notes say how to reach the status page: its Service when
// ui.enabled, else the pod's loopback (the split applier's Deployment).
func TestChartStatusPageNotes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tests := []struct {
		name   string
		values map[string]any
		want   string
	}{
		{"enabled", map[string]any{"github": github(nil), "ui": map[string]any{"enabled": true, "service": map[string]any{"port": 9000}}},
			"kubectl -n promobot port-forward service/promobot-ui 8090:9000"},
		{"loopback of the split applier", map[string]any{"github": github(nil), "nats": map[string]any{"mode": "external", "url": "nats://nats:4222"}, "roles": map[string]any{"split": true}},
			"kubectl -n promobot port-forward deploy/promobot-applier 8090:8090"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := helm(ctx, "install", "promobot", chartDir, "--dry-run=client", "--namespace", "promobot",
				"--kubeconfig", cluster.Kubeconfig, "--values", writeValues(t, tt.values))
			if err != nil {
				t.Fatal(err)
			}
			_, notes, ok := strings.Cut(out, "\nNOTES:\n")
			if !ok || !strings.Contains(notes, "\n     "+tt.want+"\n") {
				t.Errorf("NOTES lack %q:\n%s", tt.want, notes)
			}
		})
	}
}
