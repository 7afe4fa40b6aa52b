package applier

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"
	dto "github.com/prometheus/client_model/go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/github"
	"github.com/promobot/promobot/test/githubapi"
	"github.com/promobot/promobot/test/kube"
)

type appInstallations struct{ app *github.App }

func (i appInstallations) GitHub(ctx context.Context, id int64) (GitHub, error) {
	return i.app.Installation(ctx, id)
}

// TestReportsQueuedUnderSecondaryLimits: GitHub's secondary limit on
// content-creating requests (here 4 a minute, Retry-After on every other
// refusal, as GitHub sends it only sometimes) refuses most of a sync's
// reports. The apply is not held back: every app is in the cluster when
// the sync returns, with the clock not moved. What was refused is queued
// on the bus (a fact and the metric count it) and delivered as the budget
// renews, each report exactly once: one commit status per app, one
// Deployment per app ending in success.
func TestReportsQueuedUnderSecondaryLimits(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	clock := githubapi.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), false)

	nats, err := events.StartEmbedded(events.EmbeddedOptions{DataDir: filepath.Join(dir, "nats")})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect()
	if err != nil {
		nats.Shutdown()
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close(); nats.Shutdown() })
	bus, err := events.New(ctx, nc, events.Options{})
	if err != nil {
		t.Fatal(err)
	}

	// The throttle is GitHub's but for its budget: 4 a minute, so the 12
	// writes of three apps' reports meet it.
	srv, err := githubapi.New(githubapi.Options{Dir: filepath.Join(dir, "github"), AppSlug: "promobot",
		Throttle: &githubapi.Throttle{PerMinute: 4, RetryAfter: githubapi.RetryAfterAlternate, Clock: clock}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	const owner, name = "my-org", "cluster-config"
	fixture := filepath.Join(dir, "fixture")
	if err := os.CopyFS(fixture, os.DirFS(filepath.Join("..", "test", "fixtures", "gitops"))); err != nil {
		t.Fatal(err)
	}
	apps, _ := filepath.Glob(filepath.Join(fixture, "apps", "*.yaml"))
	for _, f := range apps {
		raw, _ := os.ReadFile(f)
		raw = bytes.ReplaceAll(raw, []byte("https://github.com/"+owner+"/"+name+".git"), []byte(srv.WebURL()+"/"+owner+"/"+name+".git"))
		if err := os.WriteFile(f, raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.CreateRepo(ctx, owner, name, fixture); err != nil {
		t.Fatal(err)
	}
	instID, err := srv.Install(ctx, owner, name)
	if err != nil {
		t.Fatal(err)
	}
	ghApp, err := github.NewApp(github.Options{AppID: srv.AppID(), PrivateKey: srv.AppPrivateKeyPEM(), BaseURL: srv.URL(), Clock: clock,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}

	home := kube.StartForTest(t)
	go kube.RollOut(ctx, home.Client, 100*time.Millisecond)
	a, err := New(ctx, Options{HealthTimeout: 30 * time.Second, Clock: clock, ReportPoll: time.Hour,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, bus, appInstallations{ghApp}, NewClusters(home.Config, nil))
	if err != nil {
		t.Fatal(err)
	}
	queued0 := gaugeValue(t)
	workerDone := make(chan struct{})
	wctx, stopWorker := context.WithCancel(ctx)
	go func() { defer close(workerDone); a.runReports(wctx) }()
	t.Cleanup(func() { stopWorker(); <-workerDone })

	gh, err := a.gh.GitHub(ctx, instID)
	if err != nil {
		t.Fatal(err)
	}
	start := clock.Now()
	outs, err := a.SyncHead(ctx, gh, Target{Repo: Repo{Owner: owner, Name: name}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !clock.Now().Equal(start) {
		t.Errorf("the sync waited %v of GitHub's time", clock.Now().Sub(start))
	}
	var states []string
	for _, o := range outs {
		states = append(states, o.App+" "+o.State)
	}
	sort.Strings(states)
	if diff := cmp.Diff([]string{"guestbook-staging applied", "my-api-service-production applied", "my-api-service-staging applied"}, states); diff != "" {
		t.Fatalf("outcomes (-want +got):\n%s", diff)
	}
	// The objects are in the cluster before any report could be sent.
	cs := home.Client
	for _, ns := range []string{"staging", "production"} {
		if _, err := cs.AppsV1().Deployments(ns).Get(ctx, "my-api-service", metav1.GetOptions{}); err != nil {
			t.Errorf("%s/my-api-service not applied: %v", ns, err)
		}
	}
	queued, err := a.QueuedReports(ctx)
	if err != nil || queued == 0 {
		t.Fatalf("queued reports: %d %v", queued, err)
	}
	head := outs[0].Commit
	if got := countStatuses(t, srv, owner, name, head); got >= 3 {
		t.Fatalf("every status was set at once (%d): the throttle did not bite", got)
	}

	// Each renewal of the budget lets four more writes through; the queue
	// waits on the clock in between.
	renewals := 0
	for {
		var n int
		eventuallyTrue(t, ctx, func() bool {
			n, _ = a.QueuedReports(ctx)
			return n == 0 || clock.Sleeping() > 0
		})
		if n == 0 {
			break
		}
		renewals++
		if renewals > 20 {
			t.Fatalf("reports still queued after %d renewals: %d", renewals, n)
		}
		clock.Advance(time.Hour)
	}
	statuses, err := srv.Statuses(owner, name, head)
	if err != nil {
		t.Fatal(err)
	}
	var contexts []string
	for _, s := range statuses {
		contexts = append(contexts, s.Context+" "+s.State)
	}
	sort.Strings(contexts)
	want := []string{"promobot/guestbook-staging success", "promobot/my-api-service-production success", "promobot/my-api-service-staging success"}
	if diff := cmp.Diff(want, contexts); diff != "" {
		t.Errorf("commit statuses, each exactly once (-want +got):\n%s", diff)
	}
	deps, err := srv.Deployments(owner, name)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range deps {
		final := 0
		for _, s := range d.Statuses {
			if s.State == "success" {
				final++
			}
		}
		got = append(got, fmt.Sprintf("%s %s success×%d", d.Environment, d.Payload.(map[string]any)["app"], final))
	}
	sort.Strings(got)
	wantDeps := []string{"production my-api-service-production success×1", "staging guestbook-staging success×1", "staging my-api-service-staging success×1"}
	if diff := cmp.Diff(wantDeps, got); diff != "" {
		t.Errorf("deployments (-want +got):\n%s", diff)
	}
	if got := gaugeValue(t) - queued0; got != 0 {
		t.Errorf("promobot_applier_reports_queued after delivery: %v", got)
	}
	facts := reportFacts(t, ctx, bus)
	if facts["queued"] != queued || facts["delivered"] != queued {
		t.Errorf("report facts: %v, want %d queued and delivered", facts, queued)
	}
	t.Logf("%d reports queued, delivered after %d renewals of the budget; %d requests throttled", queued, renewals, srv.Throttled())
}

func countStatuses(t *testing.T, srv *githubapi.Server, owner, name, sha string) int {
	t.Helper()
	st, err := srv.Statuses(owner, name, sha)
	if err != nil {
		t.Fatal(err)
	}
	return len(st)
}

// eventuallyTrue polls cond, an observable state, until it holds.
func eventuallyTrue(t *testing.T, ctx context.Context, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatal("timed out")
		case <-tick.C:
		}
	}
}

func gaugeValue(t *testing.T) float64 {
	t.Helper()
	var m dto.Metric
	if err := reportsQueued.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetGauge().GetValue()
}

// reportFacts counts promobot.report.* facts by verb.
func reportFacts(t *testing.T, ctx context.Context, bus *events.Bus) map[string]int {
	t.Helper()
	s, err := bus.JetStream().Stream(ctx, events.StreamFacts)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, verb := range []string{"queued", "delivered"} {
		info, err := s.Info(ctx, jetstream.WithSubjectFilter(events.FactPrefix+".report."+verb+".>"))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range info.State.Subjects {
			out[verb] += int(n)
		}
	}
	return out
}
