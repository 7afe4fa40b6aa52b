package chart_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/promobot/promobot/internal/notify"
)

// notifyValues are values with two sinks: a CloudEvents endpoint whose URL
// is the Secret's key "platform" (its name), and a Slack webhook under the
// key "slack-url".
func notifyValues(extra map[string]any) map[string]any {
	v := map[string]any{"github": github(nil), "notifications": map[string]any{
		"existingSecret": "promobot-notify",
		"sinks": []any{
			map[string]any{"name": "platform", "type": "cloudevents", "encoding": "structured", "subjects": []any{"promobot.apply.failed.>"}},
			map[string]any{"name": "chat", "type": "slack", "urlKey": "slack-url", "apps": []any{"api"}, "environments": []any{"production"}},
		},
	}}
	for k, x := range extra {
		v[k] = x
	}
	return v
}

// TestChartNotifications: the sinks in values become a notification file
// that promobot's own parser accepts (and whose URL files it reads once
// the Secret's keys are there), passed with --notify-config only to the
// pods that run the applier or the promoter, with each sink's URL mounted
// from the Secret and never in the manifests; sinks without a Secret are
// refused.
func TestChartNotifications(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	external := map[string]any{"mode": "external", "url": "nats://nats:4222"}
	const flag = "--notify-config=/etc/promobot/notify-config/notify.yaml"
	tests := []struct {
		name   string
		values map[string]any
		want   map[string][]string // Deployment → its --notify-config flags
	}{
		{name: "all in one", values: notifyValues(nil), want: map[string][]string{"promobot": {flag}}},
		{name: "split roles", values: notifyValues(map[string]any{"nats": external, "roles": map[string]any{"split": true}}),
			want: map[string][]string{"promobot-webhook": nil, "promobot-applier": {flag}, "promobot-promoter": {flag}}},
		{name: "no sinks", values: map[string]any{"github": github(nil)}, want: map[string][]string{"promobot": nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := templateValues(ctx, t, tt.values)
			if diff := cmp.Diff(tt.want, flagsByDeployment(m, "--notify-config")); diff != "" {
				t.Errorf("--notify-config per Deployment (-want +got):\n%s", diff)
			}
			var cm *corev1.ConfigMap
			for _, c := range of[*corev1.ConfigMap](m) {
				if c.Name == "promobot-notify" {
					cm = c
				}
			}
			if tt.name == "no sinks" {
				if cm != nil {
					t.Error("a notification ConfigMap without sinks")
				}
				return
			}
			if cm == nil {
				t.Fatal("no promobot-notify ConfigMap")
			}
			checkNotifyConfig(t, cm.Data["notify.yaml"])
			for _, d := range of[*appsv1.Deployment](m) {
				checkNotifyMounts(t, d, len(tt.want[d.Name]) > 0)
			}
		})
	}
	checkRefused(ctx, t, notifyValues(map[string]any{"notifications": map[string]any{"sinks": []any{map[string]any{"name": "x", "type": "slack"}}}}),
		"notifications.sinks needs notifications.existingSecret")
	checkSchemaRefuses(ctx, t, notifyValues(map[string]any{"notifications": map[string]any{"existingSecret": "s",
		"sinks": []any{map[string]any{"name": "x", "type": "email"}}}}), "/notifications/sinks/0/type")
	checkSchemaRefuses(ctx, t, notifyValues(map[string]any{"notifications": map[string]any{"existingSecret": "s",
		"sinks": []any{map[string]any{"name": "X Y", "type": "slack"}}}}), "/notifications/sinks/0/name")
}

// checkNotifyConfig parses the rendered notification file with promobot's
// own parser, compares it with the values, and has promobot read the
// sinks' URL files from where the Secret's keys would be mounted.
func checkNotifyConfig(t *testing.T, file string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "notify.yaml")
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := notify.LoadConfig(path)
	if err != nil {
		t.Fatalf("promobot refuses the rendered notification file: %v\n%s", err, file)
	}
	want := notify.Config{Sinks: []notify.SinkConfig{
		{Name: "platform", Type: notify.TypeCloudEvents, Encoding: notify.EncodingStructured, URLFile: "/etc/promobot/notify/platform",
			Subjects: []string{"promobot.apply.failed.>"}},
		{Name: "chat", Type: notify.TypeSlack, URLFile: "/etc/promobot/notify/slack-url", Apps: []string{"api"}, Environments: []string{"production"}},
	}}
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Errorf("notification file (-want +got):\n%s", diff)
	}
	// The Secret's keys, mounted: promobot reads each URL.
	for i, s := range cfg.Sinks {
		url := filepath.Join(dir, filepath.Base(s.URLFile))
		if err := os.WriteFile(url, []byte("https://hooks.example.com/"+s.Name+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg.Sinks[i].URLFile = url
	}
	if _, err := notify.NewSinks(cfg, nil); err != nil {
		t.Errorf("promobot cannot start the rendered sinks: %v", err)
	}
}

// checkNotifyMounts checks that a pod sending notifications mounts the
// file and exactly the sinks' URL keys of the Secret, read-only, and that
// other pods mount neither.
func checkNotifyMounts(t *testing.T, d *appsv1.Deployment, sends bool) {
	t.Helper()
	spec := &d.Spec.Template.Spec
	cfgVol, urls := volume(spec, "notify-config"), volume(spec, "notify-urls")
	if !sends {
		if cfgVol != nil || urls != nil {
			t.Errorf("Deployment %s sends no notifications but mounts their volumes", d.Name)
		}
		return
	}
	if cfgVol == nil || cfgVol.ConfigMap == nil || cfgVol.ConfigMap.Name != "promobot-notify" {
		t.Errorf("Deployment %s: notify-config volume %+v, want the promobot-notify ConfigMap", d.Name, cfgVol)
	}
	if urls == nil || urls.Secret == nil || urls.Secret.SecretName != "promobot-notify" {
		t.Fatalf("Deployment %s: notify-urls volume %+v, want the promobot-notify Secret", d.Name, urls)
	}
	var keys []string
	for _, it := range urls.Secret.Items {
		keys = append(keys, it.Key+"→"+it.Path)
	}
	if diff := cmp.Diff([]string{"platform→platform", "slack-url→slack-url"}, keys); diff != "" {
		t.Errorf("Deployment %s: Secret keys mounted (-want +got):\n%s", d.Name, diff)
	}
	got := mounts(container(d))
	if got["/etc/promobot/notify-config"] != "notify-config" || got["/etc/promobot/notify"] != "notify-urls" {
		t.Errorf("Deployment %s mounts %v", d.Name, got)
	}
	for _, vm := range container(d).VolumeMounts {
		if strings.HasPrefix(vm.Name, "notify-") && !vm.ReadOnly {
			t.Errorf("Deployment %s mounts %s writable", d.Name, vm.Name)
		}
	}
	if d.Spec.Template.Annotations["checksum/notify"] == "" {
		t.Errorf("Deployment %s: a changed notification file would not roll it (no checksum/notify)", d.Name)
	}
}
