package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/webhook"
)

// benchWebhookSync measures what --nats-sync costs: promobot's webhook
// ingest (signed push deliveries answered once JetStream stored them) on
// an embedded server with each fsync policy, as deliveries per second and
// their ratio to the default policy's.
func benchWebhookSync(ctx context.Context, cfg config) error {
	policies := []events.Sync{{}, {Interval: time.Second}, {Always: true}}
	dur := 4 * time.Second
	if cfg.quick {
		dur = time.Second
	}
	body := pushPayload()
	var seq atomic.Int64
	fmt.Printf("--nats-sync: promobot webhook ingest on the embedded server, push %dKB, %s per run\n", len(body)/1024, dur)
	fmt.Printf("%-12s %4s %10s %9s %9s %8s\n", "--nats-sync", "conc", "deliv/s", "p50", "p99", "ratio")
	base := map[int]float64{}
	for _, p := range policies {
		url, stop, err := startIngest(ctx, p)
		if err != nil {
			return err
		}
		for _, c := range []int{1, 8, 32} {
			res := closedLoop(ctx, url, "push", body, c, dur, &seq)
			if res.errors > 0 {
				stop()
				return fmt.Errorf("--nats-sync %s: %d requests failed", p, res.errors)
			}
			if _, ok := base[c]; !ok {
				base[c] = res.rate
			}
			fmt.Printf("%-12s %4d %10.0f %9s %9s %8.2f\n", p, c, res.rate, fmtDur(res.p50), fmtDur(res.p99), res.rate/base[c])
		}
		stop()
	}
	fmt.Println("ratio = deliveries/s with the setting / with the default (2m0s); on power failure a single node loses")
	fmt.Println("the deliveries acknowledged since the last fsync with an interval, none with always")
	return nil
}

// startIngest runs promobot's webhook receiver on an embedded server that
// fsyncs per sync, and returns its URL and the function that stops both.
func startIngest(ctx context.Context, sync events.Sync) (string, func(), error) {
	dir, err := os.MkdirTemp("", "promobot-bench-sync-")
	if err != nil {
		return "", nil, err
	}
	srv, err := events.StartEmbedded(events.EmbeddedOptions{DataDir: dir, Sync: sync})
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	stops := []func(){func() { os.RemoveAll(dir) }, srv.Shutdown}
	stop := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	nc, err := srv.Connect()
	if err != nil {
		stop()
		return "", nil, err
	}
	stops = append(stops, nc.Close)
	bus, err := events.New(ctx, nc, events.Options{})
	if err != nil {
		stop()
		return "", nil, err
	}
	rc, err := webhook.New(webhook.Options{Secrets: [][]byte{benchSecret}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, bus)
	if err != nil {
		stop()
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		stop()
		return "", nil, err
	}
	hs := &http.Server{Handler: rc}
	go func() { _ = hs.Serve(ln) }()
	stops = append(stops, func() { _ = hs.Close() })
	return "http://" + ln.Addr().String() + "/webhook", stop, nil
}
