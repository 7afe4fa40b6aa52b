package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/test/githubapi"
	"github.com/promobot/promobot/test/kit"
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

// redeliveryFixture is the local GitHub API with the App installed on
// acme/gitops, whose webhooks go to rc, an in-process bus, and the App as
// serve builds it, logging to logs.
type redeliveryFixture struct {
	ctx  context.Context
	srv  *githubapi.Server
	rc   *kit.Receiver
	bus  *events.Bus
	app  *githubApp
	logs *kit.Buffer
	log  *slog.Logger
}

func newRedeliveryFixture(t *testing.T) *redeliveryFixture {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	rc := kit.NewReceiver(t)
	rc.SetStatus(http.StatusAccepted)
	dir := t.TempDir()
	srv, err := githubapi.New(githubapi.Options{Dir: filepath.Join(dir, "github"), WebhookURL: rc.URL, WebhookSecret: "s", SyncWebhooks: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
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
	bus := kit.Bus(t)
	logs := &kit.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	app, err := newGitHubApp(&appCredentials{id: srv.AppID(), key: srv.AppPrivateKeyPEM(), baseURL: srv.URL()}, log)
	if err != nil {
		t.Fatal(err)
	}
	return &redeliveryFixture{ctx: ctx, srv: srv, rc: rc, bus: bus, app: app, logs: logs, log: log}
}

// failedPush pushes a commit while the receiver answers 503 and returns the
// GUID of its delivery.
func (f *redeliveryFixture) failedPush(t *testing.T) string {
	t.Helper()
	f.rc.SetStatus(http.StatusServiceUnavailable)
	defer f.rc.SetStatus(http.StatusAccepted)
	if _, err := f.srv.Push(f.ctx, "acme", "gitops", "main", githubapi.Commit{Files: map[string]string{"a": "1"}}); err != nil {
		t.Fatal(err)
	}
	all := f.srv.Deliveries()
	return all[len(all)-1].GUID
}

// sweeps counts the sweeps logged so far.
func (f *redeliveryFixture) sweeps() int {
	return strings.Count(f.logs.String(), `msg="redelivery sweep"`)
}

// runUntil runs the sweep as serve wires it until cond holds and two more
// sweeps have completed (the sentinel: they had the chance to do more),
// then stops it.
func (f *redeliveryFixture) runUntil(t *testing.T, interval time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	runCtx, stop := context.WithCancel(f.ctx)
	done := make(chan error, 1)
	go func() { done <- startRedelivery(f.ctx, f.app, f.bus, interval, f.log)(runCtx) }()
	kit.Eventually(t, 20*time.Second, what, cond)
	n := f.sweeps()
	kit.Eventually(t, 20*time.Second, "two more sweeps", func() (bool, string) { return f.sweeps() >= n+2, f.logs.String() })
	stop()
	if err := <-done; err != nil {
		t.Fatalf("runner: %v", err)
	}
}

// TestStartRedelivery runs the sweep as serve wires it, against the local
// GitHub API and an in-process bus: a push the receiver refused is
// redelivered with its GUID and recorded as a fact; interval 0 does nothing.
func TestStartRedelivery(t *testing.T) {
	f := newRedeliveryFixture(t)
	pushGUID := f.failedPush(t)

	// Off: returns at once, asks GitHub nothing.
	f.srv.ResetCalls()
	if err := startRedelivery(f.ctx, f.app, f.bus, 0, f.log)(f.ctx); err != nil {
		t.Fatal(err)
	}
	if n := f.srv.Calls().Total; n != 0 {
		t.Errorf("the sweep turned off made %d API calls", n)
	}

	// On, with an interval shorter than the default grace: the failure,
	// older than the interval, is redelivered, and later sweeps find
	// nothing more to do.
	f.runUntil(t, 200*time.Millisecond, "the redelivery", func() (bool, string) {
		got := f.rc.GUIDs()
		return len(got) >= 3, fmt.Sprintf("received %v", got)
	})
	r := f.rc.GUIDs()
	if diff := cmp.Diff([]string{pushGUID}, r[2:]); diff != "" {
		t.Errorf("redelivered GUIDs (-want +got):\n%s", diff)
	}
	facts := kit.Facts(t, f.bus.JetStream(), "promobot.redelivery.requested.>")
	if len(facts) == 0 {
		t.Fatal("no redelivery fact")
	}
	if facts[0].Subject != pushGUID {
		t.Errorf("fact subject = %q, want the redelivered GUID %q", facts[0].Subject, pushGUID)
	}
	if !strings.Contains(f.logs.String(), "redelivered=1") {
		t.Errorf("no sweep log line counting the redelivery:\n%s", f.logs.String())
	}
}

// TestRedeliverySweepRetriesGitHub: the sweep calls the App's endpoints
// through promobot's one GitHub client, so a server error of GitHub's on
// the deliveries listing is retried within the sweep, which redelivers at
// once instead of failing.
func TestRedeliverySweepRetriesGitHub(t *testing.T) {
	f := newRedeliveryFixture(t)
	pushGUID := f.failedPush(t)
	f.srv.InjectFault(githubapi.Fault{Kind: githubapi.FaultServerError, Count: 1})
	f.runUntil(t, 200*time.Millisecond, "the redelivery", func() (bool, string) {
		got := f.rc.GUIDs()
		return len(got) >= 3, fmt.Sprintf("received %v", got)
	})
	if diff := cmp.Diff([]string{pushGUID}, f.rc.GUIDs()[2:]); diff != "" {
		t.Errorf("redelivered GUIDs (-want +got):\n%s", diff)
	}
	for _, line := range strings.Split(f.logs.String(), "\n") {
		if strings.Contains(line, `msg="redelivery sweep"`) && strings.Contains(line, "error=") {
			t.Errorf("a sweep failed on GitHub's server error instead of retrying it: %s", line)
		}
	}
}
