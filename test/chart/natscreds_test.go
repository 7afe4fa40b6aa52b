package chart_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
)

// TestChartNATSCredentials: every pod on an external NATS gets the
// credentials Secret as the flag its format needs, the embedded bus's pod
// gets no credential flag (promobot generates its own on the volume and
// listens on loopback only), and an unknown format is refused.
func TestChartNATSCredentials(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	github := map[string]any{"appId": 12345, "existingSecret": "promobot-github"}
	external := func(format string) map[string]any {
		n := map[string]any{"mode": "external", "url": "nats://nats:4222", "credsSecret": "promobot-nats", "credsKey": "promobot.nk"}
		if format != "" {
			n["credsFormat"] = format
		}
		return n
	}
	split := map[string]any{"split": true}
	tests := []struct {
		name   string
		values map[string]any
		want   map[string][]string // Deployment name → its NATS flags
	}{
		{name: "embedded", values: map[string]any{"github": github},
			want: map[string][]string{"promobot": {"--data-dir=/var/lib/promobot"}}},
		{name: "external credentials file", values: map[string]any{"github": github, "nats": external(""), "roles": split},
			want: map[string][]string{
				"promobot-webhook":  {"--nats-url=nats://nats:4222", "--nats-creds=/etc/promobot/nats/promobot.nk"},
				"promobot-applier":  {"--nats-url=nats://nats:4222", "--nats-creds=/etc/promobot/nats/promobot.nk"},
				"promobot-promoter": {"--nats-url=nats://nats:4222", "--nats-creds=/etc/promobot/nats/promobot.nk"},
			}},
		{name: "external nkey", values: map[string]any{"github": github, "nats": external("nkey"), "roles": split},
			want: map[string][]string{
				"promobot-webhook":  {"--nats-url=nats://nats:4222", "--nats-nkey=/etc/promobot/nats/promobot.nk"},
				"promobot-applier":  {"--nats-url=nats://nats:4222", "--nats-nkey=/etc/promobot/nats/promobot.nk"},
				"promobot-promoter": {"--nats-url=nats://nats:4222", "--nats-nkey=/etc/promobot/nats/promobot.nk"},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := helm(ctx, "template", "promobot", chartDir, "--namespace", "promobot", "--values", writeValues(t, tt.values))
			if err != nil {
				t.Fatal(err)
			}
			got := map[string][]string{}
			for _, d := range of[*appsv1.Deployment](parseManifest(t, out)) {
				var flags []string
				for _, a := range container(d).Args {
					if strings.HasPrefix(a, "--nats-") || strings.HasPrefix(a, "--data-dir") {
						flags = append(flags, a)
					}
				}
				got[d.Name] = flags
				if strings.Contains(tt.name, "external") {
					mounted := false
					for _, v := range d.Spec.Template.Spec.Volumes {
						if v.Secret != nil && v.Secret.SecretName == "promobot-nats" {
							mounted = true
						}
					}
					if !mounted {
						t.Errorf("%s does not mount the Secret promobot-nats", d.Name)
					}
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("NATS flags per Deployment (-want +got):\n%s", diff)
			}
		})
	}
	out, err := helmCombined(ctx, "template", "promobot", chartDir, "--namespace", "promobot",
		"--values", writeValues(t, map[string]any{"github": github, "nats": external("password")}))
	if err == nil || !strings.Contains(out, "/nats/credsFormat") {
		t.Errorf("credsFormat password: helm template = %v\n%s\nwant a schema refusal naming /nats/credsFormat", err, out)
	}
}
