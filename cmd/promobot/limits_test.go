package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/events/eventstest"
)

func TestParseMaxBytes(t *testing.T) {
	tests := []struct {
		name    string
		flag    map[string]string
		want    map[string]int64
		wantErr string
	}{
		{"none", nil, map[string]int64{}, ""},
		{"binary and decimal units", map[string]string{"GITHUB": "4Gi", "PROMOBOT": "1G", "promobot-ledger": "1048576"},
			map[string]int64{"GITHUB": 4 << 30, "PROMOBOT": 1e9, "promobot-ledger": 1 << 20}, ""},
		{"unknown name", map[string]string{"github": "1Gi"}, nil, `unknown stream or bucket "github"`},
		{"not a size", map[string]string{"GITHUB": "lots"}, nil, `--nats-max-bytes GITHUB: "lots": want a size`},
		{"zero", map[string]string{"GITHUB": "0"}, nil, "want a positive whole number of bytes"},
		{"fraction of a byte", map[string]string{"GITHUB": "0.5"}, nil, "want a positive whole number of bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseMaxBytes(tt.flag)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseUnverifiedBytes(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr string
	}{
		{"64Mi", 64 << 20, ""},
		{"25Mi", 25 << 20, ""},
		{"24Mi", 0, "below 25Mi"},
		{"-1", 0, "positive"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseUnverifiedBytes(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("= %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}

// TestServeBoundsStorage: --nats-max-bytes reaches the streams serve
// provisions; the others keep their defaults.
func TestServeBoundsStorage(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv(envWebhookSecret, "s3cret")
	natsAddr := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := startServe(ctx, t, freePort(t), "--roles", "webhook", "--nats-listen", natsAddr,
		"--nats-max-bytes", "GITHUB=3Mi,promobot-ledger=5Mi", "--webhook-unverified-bytes", "32Mi")

	nc := eventstest.Connect(t, "nats://"+natsAddr, filepath.Join("promobot-data", events.CredentialsFile))
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, name := range []string{events.StreamGitHub, events.StreamFacts, "KV_" + events.BucketLedger, "KV_" + events.BucketApps} {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		got[name] = s.CachedInfo().Config.MaxBytes
	}
	want := map[string]int64{events.StreamGitHub: 3 << 20, events.StreamFacts: 2 << 30, "KV_" + events.BucketLedger: 5 << 20, "KV_" + events.BucketApps: 1 << 30}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("MaxBytes (-want +got):\n%s", diff)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve returned %v", err)
	}
}
