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
		{name: "embedded", values: map[string]any{"github": github(nil)},
			want: map[string][]string{"promobot": {"--data-dir=/var/lib/promobot"}}},
		{name: "external credentials file", values: map[string]any{"github": github(nil), "nats": external(""), "roles": split},
			want: map[string][]string{
				"promobot-webhook":  {"--nats-url=nats://nats:4222", "--nats-creds=/etc/promobot/nats/promobot.nk"},
				"promobot-applier":  {"--nats-url=nats://nats:4222", "--nats-creds=/etc/promobot/nats/promobot.nk"},
				"promobot-promoter": {"--nats-url=nats://nats:4222", "--nats-creds=/etc/promobot/nats/promobot.nk"},
			}},
		{name: "external nkey", values: map[string]any{"github": github(nil), "nats": external("nkey"), "roles": split},
			want: map[string][]string{
				"promobot-webhook":  {"--nats-url=nats://nats:4222", "--nats-nkey=/etc/promobot/nats/promobot.nk"},
				"promobot-applier":  {"--nats-url=nats://nats:4222", "--nats-nkey=/etc/promobot/nats/promobot.nk"},
				"promobot-promoter": {"--nats-url=nats://nats:4222", "--nats-nkey=/etc/promobot/nats/promobot.nk"},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := templateValues(ctx, t, tt.values)
			if diff := cmp.Diff(tt.want, flagsByDeployment(m, "--nats-", "--data-dir")); diff != "" {
				t.Errorf("NATS flags per Deployment (-want +got):\n%s", diff)
			}
			if !strings.Contains(tt.name, "external") {
				return
			}
			for _, d := range of[*appsv1.Deployment](m) {
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
		})
	}
	checkSchemaRefuses(ctx, t, map[string]any{"github": github(nil), "nats": external("password")}, "/nats/credsFormat")
}
