package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/test/kit"
)

// TestNATSSyncFlag: --nats-sync reaches the embedded server (its log line
// carries the policy the server reports), the deprecated
// --nats-sync-always still means always, and a bad value is refused.
func TestNATSSyncFlag(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    string
		wantErr string
	}{
		{name: "default", want: "sync=2m0s"},
		{name: "always", args: []string{"--nats-sync", "always"}, want: "sync=always"},
		{name: "interval", args: []string{"--nats-sync=10s"}, want: "sync=10s"},
		{name: "deprecated always", args: []string{"--nats-sync-always"}, want: "sync=always"},
		{name: "zero", args: []string{"--nats-sync", "0s"}, wantErr: "must be positive"},
		{name: "word", args: []string{"--nats-sync", "never"}, wantErr: `want "always" or a duration`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The flags as serve registers them, read back into the
			// fields serve's run gets.
			fl := newServeCommand().Flags()
			err := fl.Parse(tc.args)
			f := &serveFlags{dataDir: t.TempDir(), roles: []string{roleWebhook}, unverifiedBytesFlag: "64Mi"}
			if err == nil {
				f.natsSync = *fl.Lookup("nats-sync").Value.(*events.Sync)
				f.natsSyncAlways, _ = fl.GetBool("nats-sync-always")
				err = f.validate()
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			logs := &kit.Buffer{}
			bus, closeBus, err := connectBus(context.Background(), f, slog.New(slog.NewTextHandler(logs, nil)))
			if err != nil {
				t.Fatal(err)
			}
			defer closeBus()
			if _, err := bus.JetStream().AccountInfo(context.Background()); err != nil {
				t.Fatalf("the bus does not answer: %v", err)
			}
			if !strings.Contains(logs.String(), "embedded NATS started") || !strings.Contains(logs.String(), " "+tc.want+"\n") {
				t.Errorf("log %q, want the embedded server's line with %s", logs.String(), tc.want)
			}
		})
	}
}
