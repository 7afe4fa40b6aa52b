package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/promobot/promobot/events"
)

// TestMetricsBusReady: serve's /metrics says promobot_bus_ready 1 while
// the bus answers and 0 once it is gone.
func TestMetricsBusReady(t *testing.T) {
	emb, err := events.StartEmbedded(events.EmbeddedOptions{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Shutdown)
	nc, err := emb.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	bus, err := events.New(context.Background(), nc, events.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	mux, err := serveMux(&serveFlags{roles: []string{roleApplier}}, bus, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	scrape := func() string {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("GET /metrics: %d", rec.Code)
		}
		return rec.Body.String()
	}
	if body := scrape(); !strings.Contains(body, "\npromobot_bus_ready 1\n") {
		t.Errorf("/metrics with the bus up lacks promobot_bus_ready 1")
	}
	emb.Shutdown()
	if body := scrape(); !strings.Contains(body, "\npromobot_bus_ready 0\n") {
		t.Errorf("/metrics with the bus gone lacks promobot_bus_ready 0")
	}
}
