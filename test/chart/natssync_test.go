package chart_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/promobot/promobot/events"
)

// TestChartNATSSync: nats.sync reaches the embedded bus as --nats-sync,
// every value the schema lets through is one promobot accepts, values it
// would refuse are refused by the schema, and an external NATS (whose
// fsync is its own) refuses it.
func TestChartNATSSync(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tests := []struct {
		sync string
		want []string // the pod's --nats-sync flags; nil: refused by the schema
	}{
		{sync: "", want: []string{}},
		{sync: "always", want: []string{"--nats-sync=always"}},
		{sync: "10s", want: []string{"--nats-sync=10s"}},
		{sync: "1m30s", want: []string{"--nats-sync=1m30s"}},
		{sync: "250ms", want: []string{"--nats-sync=250ms"}},
		{sync: "0s"},
		{sync: "never"},
		{sync: "-1m"},
		{sync: "10"},
	}
	for _, tt := range tests {
		t.Run("sync="+tt.sync, func(t *testing.T) {
			values := map[string]any{"github": github(nil), "nats": map[string]any{"sync": tt.sync}}
			if tt.want == nil {
				checkSchemaRefuses(ctx, t, values, "/nats/sync")
				if _, err := events.ParseSync(tt.sync); err == nil {
					t.Errorf("the schema refuses %q, which promobot accepts", tt.sync)
				}
				return
			}
			got := flagsByDeployment(templateValues(ctx, t, values), "--nats-sync")["promobot"]
			if diff := cmp.Diff(tt.want, append([]string{}, got...)); diff != "" {
				t.Errorf("--nats-sync flags (-want +got):\n%s", diff)
			}
			if tt.sync != "" {
				if _, err := events.ParseSync(tt.sync); err != nil {
					t.Errorf("the chart passes %q, which promobot refuses: %v", tt.sync, err)
				}
			}
		})
	}
	checkRefused(ctx, t, map[string]any{"github": github(nil), "nats": map[string]any{"mode": "external", "url": "nats://nats:4222", "sync": "always"}},
		"nats.sync applies to the embedded event bus only")
}
