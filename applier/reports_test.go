package applier

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"
	dto "github.com/prometheus/client_model/go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/test/githubapi"
	"github.com/promobot/promobot/test/kube"
)

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
	clock := githubapi.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), false)
	// The throttle is GitHub's but for its budget: 4 a minute, so the 12
	// writes of three apps' reports meet it.
	env := startApplierEnv(t, ctx, envOptions{Clock: clock,
		Throttle: &githubapi.Throttle{PerMinute: 4, RetryAfter: githubapi.RetryAfterAlternate, Clock: clock}})
	srv, bus, home := env.srv, env.bus, env.home
	const owner, name = "my-org", "cluster-config"
	instID := env.inst
	go kube.RollOut(ctx, home.Client, 100*time.Millisecond)
	a := env.newApplier(t, ctx, Options{HealthTimeout: 30 * time.Second, Clock: clock, ReportPoll: time.Hour})
	queued0 := gaugeValue(t)
	runReports(t, ctx, a)

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
	renewals := drainReports(t, ctx, a, clock, time.Hour, 20)
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
