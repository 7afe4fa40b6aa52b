package chart_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestChartRenderLimits sets render: in the values: every pod that renders
// (the applier's, the promoter's) gets the limits as serve flags, the
// webhook-only pod gets none, empty values keep promobot's defaults (no
// flag), and a value promobot could not parse is refused by the schema.
func TestChartRenderLimits(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	render := map[string]any{"timeout": "45s", "maxMemory": "2Gi", "maxObjects": 50000}
	limits := []string{"--render-timeout=45s", "--render-max-memory=2Gi", "--render-max-objects=50000"}
	tests := []struct {
		name   string
		values map[string]any
		want   map[string][]string // Deployment name → its render flags
	}{
		{name: "all in one with the defaults", values: map[string]any{"github": github(nil)},
			want: map[string][]string{"promobot": nil}},
		{name: "all in one", values: map[string]any{"github": github(nil), "render": render},
			want: map[string][]string{"promobot": limits}},
		{name: "one Deployment per role", values: map[string]any{"github": github(nil), "render": render,
			"nats": map[string]any{"mode": "external", "url": "nats://nats:4222"}, "roles": map[string]any{"split": true}},
			want: map[string][]string{"promobot-webhook": nil, "promobot-applier": limits, "promobot-promoter": limits}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := flagsByDeployment(templateValues(ctx, t, tt.values), "--render-")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("render flags per Deployment (-want +got):\n%s", diff)
			}
		})
	}
	for _, bad := range []map[string]any{{"timeout": "soon"}, {"maxMemory": "lots"}, {"maxObjects": -1}, {"maxCPU": "1"}} {
		checkSchemaRefuses(ctx, t, map[string]any{"github": github(nil), "render": bad}, "/render")
	}
}
