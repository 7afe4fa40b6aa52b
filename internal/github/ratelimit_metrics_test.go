package github

import (
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// value is a gauge's value.
func value(t *testing.T, g prometheus.Gauge) float64 {
	t.Helper()
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetGauge().GetValue()
}

// TestRateLimitGauges: the budget GitHub states on each answer is what the
// gauges show: after one more request it is one lower.
func TestRateLimitGauges(t *testing.T) {
	f := newFixture(t)
	if _, err := f.inst.Repository(f.ctx, repo); err != nil {
		t.Fatal(err)
	}
	first := value(t, rateLimitRemaining.WithLabelValues("core"))
	if _, err := f.inst.BranchHead(f.ctx, repo, "main"); err != nil {
		t.Fatal(err)
	}
	if got := value(t, rateLimitRemaining.WithLabelValues("core")); got != first-1 {
		t.Errorf("promobot_github_rate_limit_remaining{resource=core} after one more request = %v, want %v", got, first-1)
	}
	if got := value(t, rateLimitLimit.WithLabelValues("core")); got != 5000 {
		t.Errorf("promobot_github_rate_limit_limit{resource=core} = %v, want 5000 (an installation's budget)", got)
	}
}

// TestObserveRateLimit: the resource label takes only the values GitHub
// documents, and an answer whose headers do not state a budget leaves the
// gauges as they were.
func TestObserveRateLimit(t *testing.T) {
	const sentinel = -7
	tests := []struct {
		name                string
		remaining, limit    string
		resource, wantLabel string
		want                float64
	}{
		{name: "core", remaining: "4321", limit: "5000", resource: "core", wantLabel: "core", want: 4321},
		{name: "no resource is core", remaining: "12", limit: "5000", wantLabel: "core", want: 12},
		{name: "search", remaining: "29", limit: "30", resource: "search", wantLabel: "search", want: 29},
		{name: "an undocumented resource is other", remaining: "3", limit: "10", resource: "made-up\nvalue", wantLabel: "other", want: 3},
		{name: "no headers", resource: "graphql", wantLabel: "graphql", want: sentinel},
		{name: "not a number", remaining: "NaN", limit: "5000", resource: "graphql", wantLabel: "graphql", want: sentinel},
		{name: "negative", remaining: "-1", limit: "5000", resource: "graphql", wantLabel: "graphql", want: sentinel},
		{name: "no limit", remaining: "1", limit: "0", resource: "graphql", wantLabel: "graphql", want: sentinel},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rateLimitRemaining.WithLabelValues(tt.wantLabel).Set(sentinel)
			h := http.Header{}
			for k, v := range map[string]string{"X-Ratelimit-Remaining": tt.remaining, "X-Ratelimit-Limit": tt.limit, "X-Ratelimit-Resource": tt.resource} {
				if v != "" {
					h.Set(k, v)
				}
			}
			observeRateLimit(h)
			if got := value(t, rateLimitRemaining.WithLabelValues(tt.wantLabel)); got != tt.want {
				t.Errorf("remaining{resource=%q} = %v, want %v", tt.wantLabel, got, tt.want)
			}
		})
	}
}
