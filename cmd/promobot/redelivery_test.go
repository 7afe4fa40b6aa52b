package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/pflag"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/test/githubapi"
)

func TestRedeliveryFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want time.Duration
	}{
		{name: "default", args: nil, want: 10 * time.Minute},
		{name: "set", args: []string{"--redelivery-interval", "30s"}, want: 30 * time.Second},
		{name: "off", args: []string{"--redelivery-interval", "0"}, want: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fl := pflag.NewFlagSet("serve", pflag.ContinueOnError)
			var got time.Duration
			registerRedeliveryFlags(fl, &got)
			if err := fl.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("interval (-want +got):\n%s", diff)
			}
		})
	}
}

// TestStartRedelivery runs the sweep as serve wires it, against the local
// GitHub API and an in-process bus: a push the receiver refused is
// redelivered with its GUID and recorded as a fact; interval 0 does nothing.
func TestStartRedelivery(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var status atomic.Int32
	status.Store(http.StatusAccepted)
	var (
		mu  sync.Mutex
		got []string
	)
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		got = append(got, r.Header.Get("X-GitHub-Delivery"))
		mu.Unlock()
		w.WriteHeader(int(status.Load()))
	}))
	defer rc.Close()
	received := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}

	dir := t.TempDir()
	srv, err := githubapi.New(githubapi.Options{Dir: filepath.Join(dir, "github"), WebhookURL: rc.URL, WebhookSecret: "s", SyncWebhooks: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	fixture := filepath.Join(dir, "fixture")
	if err := os.MkdirAll(fixture, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(fixture, "README.md"), []byte("fixture\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := srv.CreateRepo(ctx, "acme", "gitops", fixture); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Install(ctx, "acme", "gitops"); err != nil {
		t.Fatal(err)
	}
	status.Store(http.StatusServiceUnavailable)
	if _, err := srv.Push(ctx, "acme", "gitops", "main", githubapi.Commit{Files: map[string]string{"a": "1"}}); err != nil {
		t.Fatal(err)
	}
	all := srv.Deliveries()
	pushGUID := all[len(all)-1].GUID
	status.Store(http.StatusAccepted)

	emb, err := events.StartEmbedded(events.EmbeddedOptions{DataDir: filepath.Join(dir, "nats")})
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Shutdown()
	nc, err := emb.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	bus, err := events.New(ctx, nc, events.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	app, err := newGitHubApp(&appCredentials{id: srv.AppID(), key: srv.AppPrivateKeyPEM(), baseURL: srv.URL()}, log)
	if err != nil {
		t.Fatal(err)
	}

	// Off: returns at once, asks GitHub nothing.
	srv.ResetCalls()
	if err := startRedelivery(ctx, app, bus, 0, log)(ctx); err != nil {
		t.Fatal(err)
	}
	if n := srv.Calls().Total; n != 0 {
		t.Errorf("the sweep turned off made %d API calls", n)
	}

	// On, with an interval shorter than the default grace: the failure,
	// older than the interval, is redelivered.
	time.Sleep(300 * time.Millisecond)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- startRedelivery(ctx, app, bus, 200*time.Millisecond, log)(runCtx) }()
	deadline := time.Now().Add(20 * time.Second)
	for len(received()) < 3 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // more sweeps: nothing more to do
	stop()
	if err := <-done; err != nil {
		t.Fatalf("runner: %v", err)
	}
	r := received()
	if diff := cmp.Diff([]string{pushGUID}, r[2:]); diff != "" {
		t.Errorf("redelivered GUIDs (-want +got):\n%s", diff)
	}
	cons, err := bus.JetStream().OrderedConsumer(ctx, events.StreamFacts, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"promobot.redelivery.requested.>"}})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := cons.Next(jetstream.FetchMaxWait(2 * time.Second))
	if err != nil {
		t.Fatalf("no redelivery fact: %v", err)
	}
	ev, err := events.Decode(msg.Headers(), msg.Data())
	if err != nil {
		t.Fatal(err)
	}
	if ev.Subject() != pushGUID {
		t.Errorf("fact subject = %q, want the redelivered GUID %q", ev.Subject(), pushGUID)
	}
	if !strings.Contains(logs.String(), "redelivered=1") {
		t.Errorf("no sweep log line counting the redelivery:\n%s", logs.String())
	}
}
