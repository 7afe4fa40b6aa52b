package applier

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"
	dto "github.com/prometheus/client_model/go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/test/githubapi"
	"github.com/promobot/promobot/test/kit"
	"github.com/promobot/promobot/test/kube"
)

// TestReportsQueuedUnderSecondaryLimits: GitHub's secondary limit on
// content-creating requests (here 4 a minute, Retry-After on every other
// refusal, as GitHub sends it only sometimes) refuses most of a sync's
// reports. The apply is not held back: every app is in the cluster when
// the sync returns, with the clock not moved. What was refused is queued
// on the bus (a fact and the metric count it) and delivered as the budget
// renews, each report exactly once: one completed check run listing every
// app, one Deployment per environment ending in success.
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
	if runs, err := srv.CheckRuns(owner, name, head); err != nil || completedSyncRuns(runs) != 0 {
		t.Fatalf("the sync's check run completed at once (%+v, %v): the throttle did not bite", runs, err)
	}

	// Each renewal of the budget lets four more writes through; the queue
	// waits on the clock in between.
	renewals := drainReports(t, ctx, a, clock, time.Hour, 20)
	runs, err := srv.CheckRuns(owner, name, head)
	if err != nil {
		t.Fatal(err)
	}
	if n := completedSyncRuns(runs); n != 1 {
		t.Fatalf("completed sync check runs = %d, want exactly one: %+v", n, runs)
	}
	var rows []string
	for _, app := range []string{"guestbook-staging", "my-api-service-production", "my-api-service-staging"} {
		st, ok := kit.SyncStatus(runs, app)
		rows = append(rows, fmt.Sprintf("%s %s %v", app, st.State, ok))
	}
	want := []string{"guestbook-staging success true", "my-api-service-production success true", "my-api-service-staging success true"}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("the check run's apps (-want +got):\n%s", diff)
	}
	if st, err := srv.Statuses(owner, name, head); err != nil || len(st) != 0 {
		t.Errorf("commit statuses %+v (%v), want none: the repository did not ask for them", st, err)
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
		got = append(got, fmt.Sprintf("%s %s success×%d", d.Environment, deployedApps(d.Payload), final))
	}
	sort.Strings(got)
	wantDeps := []string{"production my-api-service-production success×1", "staging guestbook-staging,my-api-service-staging success×1"}
	if diff := cmp.Diff(wantDeps, got); diff != "" {
		t.Errorf("deployments, one per environment (-want +got):\n%s", diff)
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

// completedSyncRuns counts the completed sync check runs among runs.
func completedSyncRuns(runs []githubapi.CheckRun) int {
	n := 0
	for _, r := range runs {
		if r.Name == SyncCheckName && r.Status == "completed" {
			n++
		}
	}
	return n
}

// deployedApps lists the apps of a sync's Deployment payload.
func deployedApps(payload any) string {
	var names []string
	m, _ := payload.(map[string]any)
	apps, _ := m["apps"].([]any)
	for _, a := range apps {
		if app, ok := a.(map[string]any); ok {
			names = append(names, fmt.Sprint(app["app"]))
		}
	}
	sort.Strings(names)
	return strings.Join(names, ",")
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
