package chart_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/promobot/promobot/internal/notify"
	"github.com/promobot/promobot/test/kit"
)

// renderAll renders the chart as release promobot in namespace promobot
// and returns every object unstructured, custom resources included
// (parseManifest decodes only Kubernetes' own kinds).
func renderAll(ctx context.Context, t *testing.T, values map[string]any) []*unstructured.Unstructured {
	t.Helper()
	out, err := helm(ctx, "template", "promobot", chartDir, "--namespace", "promobot", "--values", writeValues(t, values))
	if err != nil {
		t.Fatal(err)
	}
	var objs []*unstructured.Unstructured
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(out)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatalf("rendered manifest read: %v", err)
		}
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(doc, &u.Object); err != nil {
			t.Fatalf("rendered object decode: %v\n%s", err, doc)
		}
		objs = append(objs, u)
	}
}

// find returns the rendered object of kind and name, or nil.
func find(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

// monitoring are values with each monitoring object on.
func monitoring(extra map[string]any) map[string]any {
	v := map[string]any{"github": github(nil), "metrics": map[string]any{
		"serviceMonitor": map[string]any{"enabled": true, "labels": map[string]any{"release": "kube-prometheus-stack"}},
		"prometheusRule": map[string]any{"enabled": true},
		"dashboard":      map[string]any{"enabled": true},
	}}
	for k, x := range extra {
		v[k] = x
	}
	return v
}

// TestChartMonitoringOptional: each monitoring object is off by default
// and on by its own value; all of them with notifications pass helm lint
// --strict, and rules without the ServiceMonitor are refused.
func TestChartMonitoringOptional(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	objects := []string{"Service/promobot-metrics", "ServiceMonitor/promobot", "PrometheusRule/promobot", "ConfigMap/promobot-dashboard"}
	tests := []struct {
		name    string
		metrics map[string]any
		want    []string
	}{
		{name: "default", want: nil},
		{name: "service monitor", metrics: map[string]any{"serviceMonitor": map[string]any{"enabled": true}}, want: objects[:2]},
		{name: "rules", metrics: map[string]any{"serviceMonitor": map[string]any{"enabled": true}, "prometheusRule": map[string]any{"enabled": true}}, want: objects[:3]},
		{name: "dashboard", metrics: map[string]any{"dashboard": map[string]any{"enabled": true}}, want: objects[3:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := map[string]any{"github": github(nil)}
			if tt.metrics != nil {
				v["metrics"] = tt.metrics
			}
			var got []string
			for _, o := range renderAll(ctx, t, v) {
				if ref := o.GetKind() + "/" + o.GetName(); slices.Contains(objects, ref) {
					got = append(got, ref)
				}
			}
			if diff := cmp.Diff(sorted(tt.want), sorted(got)); diff != "" {
				t.Errorf("monitoring objects (-want +got):\n%s", diff)
			}
		})
	}
	// Everything on at once passes helm lint --strict.
	all := monitoring(notifyValues(nil))
	if out, err := helmCombined(ctx, "lint", "--strict", chartDir, "--namespace", "promobot", "--values", writeValues(t, all)); err != nil {
		t.Errorf("helm lint --strict with monitoring and notifications: %v\n%s", err, out)
	}
	// The rules read the series the ServiceMonitor's scrape labels.
	checkRefused(ctx, t, map[string]any{"github": github(nil), "metrics": map[string]any{"prometheusRule": map[string]any{"enabled": true}}},
		"metrics.prometheusRule.enabled needs metrics.serviceMonitor.enabled")
}

// checkRefused checks that helm template refuses values with message.
func checkRefused(ctx context.Context, t *testing.T, values map[string]any, message string) {
	t.Helper()
	out, err := helmCombined(ctx, "template", "promobot", chartDir, "--namespace", "promobot", "--values", writeValues(t, values))
	if err == nil || !strings.Contains(out, message) {
		t.Errorf("helm template with %v = %v\n%s\nwant a refusal saying %q", values, err, out, message)
	}
}

// TestChartServiceMonitor: the ServiceMonitor selects the metrics Service
// and scrapes its port, which reaches the HTTP port serving /metrics; the
// Service selects the pod of every role, all in one or split, unready pods
// included.
func TestChartServiceMonitor(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	external := map[string]any{"mode": "external", "url": "nats://nats:4222"}
	for _, tc := range []struct {
		name   string
		values map[string]any
	}{
		{"all in one", monitoring(nil)},
		{"split roles", monitoring(map[string]any{"nats": external, "roles": map[string]any{"split": true}})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := renderAll(ctx, t, tc.values)
			sm, svc := find(objs, "ServiceMonitor", "promobot"), find(objs, "Service", "promobot-metrics")
			if sm == nil || svc == nil {
				t.Fatalf("ServiceMonitor %v, metrics Service %v: want both", sm != nil, svc != nil)
			}
			if sm.GetLabels()["release"] != "kube-prometheus-stack" {
				t.Errorf("ServiceMonitor labels %v lack metrics.serviceMonitor.labels", sm.GetLabels())
			}
			sel, _, _ := unstructured.NestedStringMap(sm.Object, "spec", "selector", "matchLabels")
			if len(sel) == 0 || !labels.SelectorFromSet(sel).Matches(labels.Set(svc.GetLabels())) {
				t.Errorf("ServiceMonitor selector %v does not select the metrics Service (labels %v)", sel, svc.GetLabels())
			}
			for _, other := range objs {
				if other.GetKind() == "Service" && other.GetName() != svc.GetName() && labels.SelectorFromSet(sel).Matches(labels.Set(other.GetLabels())) {
					t.Errorf("ServiceMonitor selector %v also selects Service %s", sel, other.GetName())
				}
			}
			nsNames, _, _ := unstructured.NestedStringSlice(sm.Object, "spec", "namespaceSelector", "matchNames")
			if diff := cmp.Diff([]string{"promobot"}, nsNames); diff != "" {
				t.Errorf("ServiceMonitor namespaces (-want +got):\n%s", diff)
			}
			endpoints, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
			ports, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
			if len(endpoints) != 1 || len(ports) != 1 {
				t.Fatalf("endpoints %v, Service ports %v: want one each", endpoints, ports)
			}
			ep, port := endpoints[0].(map[string]any), ports[0].(map[string]any)
			if ep["port"] != port["name"] || ep["path"] != "/metrics" {
				t.Errorf("ServiceMonitor endpoint %v, Service port %v: want the Service's port by name, path /metrics", ep, port)
			}
			if ready, _, _ := unstructured.NestedBool(svc.Object, "spec", "publishNotReadyAddresses"); !ready {
				t.Error("the metrics Service leaves unready pods out: promobot_bus_ready 0 would never be scraped")
			}
			podSel, _, _ := unstructured.NestedStringMap(svc.Object, "spec", "selector")
			m := parseManifest(t, mustYAML(t, objs, "Deployment"))
			deployments := of[*appsv1.Deployment](m)
			if len(deployments) == 0 {
				t.Fatal("no Deployment rendered")
			}
			for _, d := range deployments {
				if !labels.SelectorFromSet(podSel).Matches(labels.Set(d.Spec.Template.Labels)) {
					t.Errorf("metrics Service selector %v misses Deployment %s's pods %v", podSel, d.Name, d.Spec.Template.Labels)
				}
				served := false
				for _, p := range container(d).Ports {
					served = served || (p.Name == port["targetPort"] && p.ContainerPort == 8080)
				}
				if !served || !slices.Contains(container(d).Args, "--listen=:8080") {
					t.Errorf("Deployment %s: the Service's targetPort %v is not the port promobot serves /metrics on", d.Name, port["targetPort"])
				}
			}
		})
	}
}

// mustYAML renders the objects of kind back to a YAML stream.
func mustYAML(t *testing.T, objs []*unstructured.Unstructured, kind string) string {
	t.Helper()
	var b strings.Builder
	for _, o := range objs {
		if o.GetKind() != kind {
			continue
		}
		raw, err := yaml.Marshal(o.Object)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("---\n")
		b.Write(raw)
	}
	return b.String()
}

// promobotBinary is promobot, built once for the package's tests.
var promobotBinary = sync.OnceValues(func() ([]byte, error) {
	dir, err := os.MkdirTemp("", "promobot-bin-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	bin := dir + "/promobot"
	if err := kit.BuildPromobot(bin); err != nil {
		return nil, err
	}
	return os.ReadFile(bin)
})

// exported checks that every metric name exprs select is one promobot
// registers: its name is in the binary (histograms' _bucket, _count and
// _sum by the histogram's name).
func exported(t *testing.T, exprs []string) map[string]bool {
	t.Helper()
	bin, err := promobotBinary()
	if err != nil {
		t.Fatal(err)
	}
	p := parser.NewParser(parser.Options{})
	names := map[string]bool{}
	for _, e := range exprs {
		expr, err := p.ParseExpr(e)
		if err != nil {
			t.Errorf("expr %q does not parse: %v", e, err)
			continue
		}
		parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
			if vs, ok := n.(*parser.VectorSelector); ok {
				names[vs.Name] = true
			}
			return nil
		})
	}
	for name := range names {
		base := name
		for _, suffix := range []string{"_bucket", "_count", "_sum"} {
			if trimmed, ok := strings.CutSuffix(name, suffix); ok && bytes.Contains(bin, []byte(trimmed)) {
				base = trimmed
			}
		}
		if !strings.HasPrefix(base, "promobot_") || !bytes.Contains(bin, []byte(base)) {
			t.Errorf("metric %s is not one promobot exports", name)
		}
	}
	return names
}

// TestChartPrometheusRule: the PrometheusRule's groups pass Prometheus's
// own rule-file checks (promtool check rules: the YAML, every expr, every
// annotation template), every alert the issue lists is there, and each
// expr selects only metrics promobot exports, from this release's scrape.
func TestChartPrometheusRule(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rule := find(renderAll(ctx, t, monitoring(nil)), "PrometheusRule", "promobot")
	if rule == nil {
		t.Fatal("no PrometheusRule rendered")
	}
	spec, err := yaml.Marshal(rule.Object["spec"])
	if err != nil {
		t.Fatal(err)
	}
	groups, errs := rulefmt.Parse(spec, false, model.UTF8Validation, parser.NewParser(parser.Options{}), slog.New(slog.DiscardHandler))
	for _, err := range errs {
		t.Errorf("rule groups: %v", err)
	}
	if groups == nil {
		t.Fatalf("no rule groups in\n%s", spec)
	}
	var alerts, exprs []string
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			alerts = append(alerts, r.Alert)
			exprs = append(exprs, r.Expr)
			if !strings.Contains(r.Expr, `job="promobot-metrics", namespace="promobot"`) {
				t.Errorf("alert %s reads series of other releases too: %s", r.Alert, r.Expr)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("alert %s lacks a summary or a description", r.Alert)
			}
		}
	}
	want := []string{"PromobotApplyFailing", "PromobotBusNotReady", "PromobotDeadLetters", "PromobotDriftPersisting", "PromobotGitHubRateLimitLow"}
	if diff := cmp.Diff(want, sorted(alerts)); diff != "" {
		t.Errorf("alerts (-want +got):\n%s", diff)
	}
	names := exported(t, exprs)
	for _, name := range []string{"promobot_app_last_apply_success", "promobot_app_drifted_objects", "promobot_events_handled_total",
		"promobot_github_rate_limit_remaining", "promobot_bus_ready"} {
		if !names[name] {
			t.Errorf("no alert reads %s", name)
		}
	}
}

// grafanaVariable is a Grafana template variable in an expr ($x, ${x},
// $__rate_interval).
var grafanaVariable = regexp.MustCompile(`\$\{?(__[a-z_]+|[A-Za-z0-9_]+)\}?`)

// TestChartDashboard: the dashboard ConfigMap carries the label Grafana's
// sidecar loads, its JSON parses, and every panel's expr parses as PromQL
// (Grafana's variables given values) and selects only metrics promobot
// exports.
func TestChartDashboard(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	values := monitoring(nil)
	values["metrics"].(map[string]any)["dashboard"] = map[string]any{"enabled": true, "namespace": "monitoring", "annotations": map[string]any{"grafana_folder": "Platform"}}
	cm := find(renderAll(ctx, t, values), "ConfigMap", "promobot-dashboard")
	if cm == nil {
		t.Fatal("no dashboard ConfigMap rendered")
	}
	if cm.GetLabels()["grafana_dashboard"] != "1" || cm.GetNamespace() != "monitoring" || cm.GetAnnotations()["grafana_folder"] != "Platform" {
		t.Errorf("dashboard ConfigMap %s/%s labels %v annotations %v: want grafana_dashboard=1 in monitoring, the folder annotation",
			cm.GetNamespace(), cm.GetName(), cm.GetLabels(), cm.GetAnnotations())
	}
	raw, _, _ := unstructured.NestedString(cm.Object, "data", "promobot.json")
	var dash struct {
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal([]byte(raw), &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	var exprs []string
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			exprs = append(exprs, grafanaVariable.ReplaceAllStringFunc(tg.Expr, func(v string) string {
				if strings.Contains(v, "__") {
					return "5m" // $__rate_interval, $__range
				}
				return "promobot" // $namespace
			}))
		}
	}
	if dash.UID == "" || len(exprs) < 10 {
		t.Fatalf("dashboard uid %q with %d queries: want a uid and a panel per metric", dash.UID, len(exprs))
	}
	names := exported(t, exprs)
	for _, name := range []string{"promobot_app_apply_duration_seconds_bucket", "promobot_app_objects_total", "promobot_app_healthy",
		"promobot_app_drifted_objects", "promobot_app_last_success_timestamp_seconds", "promobot_promotion_lead_time_seconds_bucket"} {
		if !names[name] {
			t.Errorf("no panel shows %s", name)
		}
	}
}

// readmeYAML returns the main README's ```yaml block that starts with
// prefix.
func readmeYAML(t *testing.T, prefix string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(repoRoot + "/README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, block := range strings.Split(string(raw), "```yaml\n")[1:] {
		block, _, _ = strings.Cut(block, "```")
		if strings.HasPrefix(block, prefix) {
			v := map[string]any{}
			if err := yaml.Unmarshal([]byte(block), &v); err != nil {
				t.Fatalf("README block %q: %v", prefix, err)
			}
			return v
		}
	}
	t.Fatalf("the README has no ```yaml block starting with %q", prefix)
	return nil
}

// TestREADMEChartExamples: the README's chart values for monitoring and
// notifications render what it says they do.
func TestREADMEChartExamples(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	values := readmeYAML(t, "metrics:")
	values["github"] = github(nil)
	objs := renderAll(ctx, t, values)
	for _, ref := range [][2]string{{"Service", "promobot-metrics"}, {"ServiceMonitor", "promobot"}, {"PrometheusRule", "promobot"}, {"ConfigMap", "promobot-dashboard"}} {
		if find(objs, ref[0], ref[1]) == nil {
			t.Errorf("the README's metrics values render no %s/%s", ref[0], ref[1])
		}
	}
	values = readmeYAML(t, "notifications:")
	values["github"] = github(nil)
	m := templateValues(ctx, t, values)
	for _, c := range of[*corev1.ConfigMap](m) {
		if c.Name != "promobot-notify" {
			continue
		}
		path := t.TempDir() + "/notify.yaml"
		if err := os.WriteFile(path, []byte(c.Data["notify.yaml"]), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := notify.LoadConfig(path); err != nil {
			t.Errorf("promobot refuses the README's notifications rendered: %v", err)
		}
		return
	}
	t.Error("the README's notifications values render no promobot-notify ConfigMap")
}
