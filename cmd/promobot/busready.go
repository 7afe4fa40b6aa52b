package main

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/promobot/promobot/events"
)

var busReady = promauto.NewGauge(prometheus.GaugeOpts{
	Name: "promobot_bus_ready",
	Help: "1 when the event bus answered when /metrics was scraped (what /readyz asks), else 0.",
})

// busPingTimeout bounds the bus's answer to a scrape, well inside
// Prometheus's default 10-second scrape timeout.
const busPingTimeout = 2 * time.Second

// metricsHandler serves /metrics, asking the bus first so that
// promobot_bus_ready is as fresh as the scrape. A pod whose bus does not
// answer is unready, but Prometheus still scrapes it: its Endpoints list
// it as not ready.
func metricsHandler(bus *events.Bus) http.Handler {
	metrics := promhttp.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := bus.Ping(r.Context(), busPingTimeout); err != nil {
			busReady.Set(0)
		} else {
			busReady.Set(1)
		}
		metrics.ServeHTTP(w, r)
	})
}
