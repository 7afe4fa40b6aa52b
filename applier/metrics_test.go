package applier

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/promobot/promobot/applier/cluster"
	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/state"
	"github.com/promobot/promobot/test/githubapi"
	"github.com/promobot/promobot/test/kit"
	"github.com/promobot/promobot/test/kube"
)

// series is one sample of a gathered metric: a gauge's or counter's value,
// or a histogram's count and sum.
type series struct {
	Value, Sum float64
	Count      uint64
}

// gather returns the series of metric name in g whose labels include
// labels, keyed by nothing but existence (ok false when there is none).
func gather(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) (series, bool) {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if !hasLabels(m, labels) {
				continue
			}
			switch {
			case m.Gauge != nil:
				return series{Value: m.GetGauge().GetValue()}, true
			case m.Counter != nil:
				return series{Value: m.GetCounter().GetValue()}, true
			case m.Histogram != nil:
				return series{Count: m.GetHistogram().GetSampleCount(), Sum: m.GetHistogram().GetSampleSum()}, true
			}
		}
	}
	return series{}, false
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	n := 0
	for _, l := range m.GetLabel() {
		if v, ok := want[l.GetName()]; ok {
			if v != l.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(want)
}

// appSeriesLabels are the label sets a registry's per-app gauge holds.
func appSeriesLabels(t *testing.T, g prometheus.Gatherer, name string) [][3]string {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out [][3]string
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var l [3]string
			for _, p := range m.GetLabel() {
				switch p.GetName() {
				case "repository":
					l[0] = p.GetValue()
				case "app":
					l[1] = p.GetValue()
				case "environment":
					l[2] = p.GetValue()
				}
			}
			out = append(out, l)
		}
	}
	slices.SortFunc(out, func(a, b [3]string) int {
		return strings.Compare(strings.Join(a[:], "\x00"), strings.Join(b[:], "\x00"))
	})
	return out
}

// TestAppSeriesBound: the first apps recorded get series of their own; an
// app beyond the bound is recorded under "other", however many there are,
// and an app that has its series keeps it.
func TestAppSeriesBound(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := newAppMetrics(reg, 2)
	repo := Repo{Owner: "acme", Name: "gitops"}
	for _, app := range []string{"api-staging", "web-staging", "db-staging", "cache-staging", "api-staging"} {
		m.applied(repo, Outcome{App: app, Environment: "staging", State: StateApplied, Healthy: true}, time.Second, time.Unix(1700000000, 0))
	}
	want := [][3]string{
		{"acme/gitops", "api-staging", "staging"},
		{"acme/gitops", "web-staging", "staging"},
		{OtherLabel, OtherLabel, OtherLabel},
	}
	for _, name := range []string{"promobot_app_healthy", "promobot_app_last_success_timestamp_seconds", "promobot_app_apply_duration_seconds"} {
		if diff := cmp.Diff(want, appSeriesLabels(t, reg, name)); diff != "" {
			t.Errorf("%s series (-want +got):\n%s", name, diff)
		}
	}
	got, _ := gather(t, reg, "promobot_app_apply_duration_seconds", map[string]string{"app": OtherLabel})
	if got.Count != 2 {
		t.Errorf("applies recorded under %q = %d, want 2 (db-staging, cache-staging)", OtherLabel, got.Count)
	}
	got, _ = gather(t, reg, "promobot_app_apply_duration_seconds", map[string]string{"app": "api-staging"})
	if got.Count != 2 {
		t.Errorf("applies of api-staging = %d, want 2 (its series kept past the bound)", got.Count)
	}
}

// TestPromotionTimes: only a merge naming a promotion branch dates a
// promotion, from the earliest promotion commit of that app and
// environment the push brought; other commits and timestamps that do not
// parse are left out.
func TestPromotionTimes(t *testing.T) {
	early, late := "2026-11-30T04:00:00Z", "2026-11-30T05:00:00+01:00"
	promo := func(app, env, ts string) pushCommit {
		return pushCommit{Message: "Promote " + app + " to " + env + "\n\napi: a:1 → a:2\n", Timestamp: ts}
	}
	merge := "Merge pull request #7 from acme/promobot/promote/api/production\n\nPromote api to production"
	tests := []struct {
		name    string
		head    string
		commits []pushCommit
		want    map[string]time.Time
	}{
		{"a promotion merged", merge,
			[]pushCommit{promo("api", "production", late), promo("api", "production", early), {Message: merge, Timestamp: "2026-11-30T06:00:00Z"}},
			map[string]time.Time{"api/production": time.Date(2026, 11, 30, 4, 0, 0, 0, time.UTC)}},
		{"not a promotion merge", "Bump api", []pushCommit{promo("api", "production", early)}, nil},
		{"another app's promotion commit", merge, []pushCommit{promo("web", "production", early)}, nil},
		{"a longer app name is another app", merge, []pushCommit{promo("api-v2", "production", early)}, nil},
		{"a timestamp that does not parse", merge, []pushCommit{promo("api", "production", "yesterday")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := promotionTimes(tt.head, tt.commits)
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
				t.Errorf("promotionTimes (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAppMetricsAfterApply: after a real apply an app's series say it is
// healthy, when it last applied, how long that took and which objects it
// created; the merge of a promotion pull request records the promotion's
// lead time when its push is applied; a hand edit found by the drift check
// shows as drifted objects.
func TestAppMetricsAfterApply(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	env := startApplierEnv(t, ctx, envOptions{})
	go kube.RollOut(ctx, env.home.Client, 100*time.Millisecond)
	rc := kit.NewReceiver(t)
	env.srv.SetWebhookURL(rc.URL)
	a := env.newApplier(t, ctx, Options{HealthTimeout: 30 * time.Second})
	gh, err := a.gh.GitHub(ctx, env.inst)
	if err != nil {
		t.Fatal(err)
	}
	app := map[string]string{"repository": env.repo.String(), "app": "guestbook-staging", "environment": "staging"}
	with := func(k, v string) map[string]string {
		out := map[string]string{k: v}
		for k, v := range app {
			out[k] = v
		}
		return out
	}
	g := prometheus.DefaultGatherer
	appliesBefore, _ := gather(t, g, "promobot_app_apply_duration_seconds", with("result", StateApplied))
	createdBefore, _ := gather(t, g, "promobot_app_objects_total", with("action", string(cluster.Created)))

	before := time.Now()
	outs, err := a.SyncHead(ctx, gh, Target{Repo: env.repo}, nil)
	if err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	var created int
	for _, o := range outs {
		if o.App == "guestbook-staging" {
			if o.State != StateApplied {
				t.Fatalf("guestbook-staging %s: %s", o.State, o.Error)
			}
			created = o.Changes.Count(cluster.Created)
		}
	}
	if created == 0 {
		t.Fatalf("guestbook-staging created nothing: %+v", outs)
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		check  func(series) bool
		want   string
	}{
		{"promobot_app_healthy", app, func(s series) bool { return s.Value == 1 }, "1"},
		{"promobot_app_last_apply_success", app, func(s series) bool { return s.Value == 1 }, "1"},
		{"promobot_app_last_success_timestamp_seconds", app, func(s series) bool {
			return s.Value >= float64(before.UnixNano())/1e9 && s.Value <= float64(after.UnixNano())/1e9
		}, "the time of the apply"},
		{"promobot_app_apply_duration_seconds", with("result", StateApplied), func(s series) bool {
			return s.Count == appliesBefore.Count+1 && s.Sum-appliesBefore.Sum <= after.Sub(before).Seconds()
		}, "one more apply, no longer than the sync"},
		{"promobot_app_objects_total", with("action", string(cluster.Created)), func(s series) bool {
			return s.Value-createdBefore.Value == float64(created)
		}, "the objects the apply created"},
		{"promobot_app_drifted_objects", app, func(s series) bool { return s.Value == 0 }, "0"},
	} {
		got, ok := gather(t, g, c.name, c.labels)
		if !ok || !c.check(got) {
			t.Errorf("%s%v = %+v (found: %v), want %s", c.name, c.labels, got, ok, c.want)
		}
	}

	// A promotion of guestbook to staging, merged: its push applies it.
	// The pull request it promotes, #41, merged two hours ago (as its
	// closed event told the promoter): the lead time starts there.
	lead0, _ := gather(t, g, "promobot_promotion_lead_time_seconds", app)
	sourceMerged := time.Now().Add(-2 * time.Hour)
	if err := a.merges.Put(ctx, env.repo, 41, state.Merge{Commit: "abc1234", MergedAt: sourceMerged}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.srv.Push(ctx, env.repo.Owner, env.repo.Name, "promobot/promote/guestbook/staging", githubapi.Commit{
		Message: "Promote guestbook to staging\n\nguestbook: a → b\n\nSource: dev at abc1234 (#41)\n",
		Files: map[string]string{"guestbook/service.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: guestbook\n  labels:\n    app: guestbook\n    promoted: b\n" +
			"spec:\n  selector:\n    app: guestbook\n  ports:\n  - name: http\n    port: 80\n    targetPort: http\n"},
	}); err != nil {
		t.Fatal(err)
	}
	n, err := env.srv.OpenPR(ctx, env.repo.Owner, env.repo.Name, githubapi.NewPR{Title: "Promote guestbook to staging", Head: "promobot/promote/guestbook/staging"})
	if err != nil {
		t.Fatal(err)
	}
	merged, err := env.srv.MergePR(ctx, env.repo.Owner, env.repo.Name, n, "", "merge")
	if err != nil {
		t.Fatal(err)
	}
	if err := env.srv.WaitDeliveries(ctx); err != nil {
		t.Fatal(err)
	}
	var push *githubapi.Delivery
	for _, d := range env.srv.Deliveries() {
		if d.Event == "push" && !d.Redelivery && merged != "" && bytes.Contains(d.Payload, []byte(merged)) {
			push = &d
		}
	}
	if push == nil {
		t.Fatal("no push delivery of the merge")
	}
	ev := event.New()
	ev.SetID(push.GUID)
	ev.SetType("com.github.push")
	ev.SetSource(env.srv.WebURL() + "/" + env.repo.String())
	if err := ev.SetData(event.ApplicationJSON, push.Payload); err != nil {
		t.Fatal(err)
	}
	if _, err := a.handlePush(ctx, events.Delivery{Event: ev, Attempt: 1}); err != nil {
		t.Fatal(err)
	}
	applied := time.Now()
	lead, _ := gather(t, g, "promobot_promotion_lead_time_seconds", app)
	if got, want := lead.Sum-lead0.Sum, applied.Sub(sourceMerged).Seconds(); lead.Count != lead0.Count+1 || got > want || got < want-60 {
		t.Errorf("promobot_promotion_lead_time_seconds = %+v, was %+v; want one more of about %.0fs (from #41's merge)", lead, lead0, want)
	}
	// A hand edit of guestbook (selfHeal off: reported, not reverted).
	if err := a.registry.AddRepo(ctx, state.RepoInstallation{Owner: env.repo.Owner, Repo: env.repo.Name, InstallationID: env.inst}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.home.Client.AppsV1().Deployments("guestbook").Patch(ctx, "guestbook", types.MergePatchType,
		[]byte(`{"spec":{"replicas":3}}`), metav1.PatchOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	a.CheckDrift(ctx)
	if got, _ := gather(t, g, "promobot_app_drifted_objects", app); got.Value != 1 {
		t.Errorf("promobot_app_drifted_objects after a hand edit = %v, want 1", got.Value)
	}

}

// TestAppMetricsSeededFromRecords: a restarted applier's
// promobot_app_last_success_timestamp_seconds is each recorded app's last
// successful apply, before it applies anything; the gauges a replica that
// did not apply would get wrong stay unset.
func TestAppMetricsSeededFromRecords(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	env := startApplierEnv(t, ctx, envOptions{})
	go kube.RollOut(ctx, env.home.Client, 100*time.Millisecond)
	a := env.newApplier(t, ctx, Options{HealthTimeout: 30 * time.Second})
	gh, err := a.gh.GitHub(ctx, env.inst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.SyncHead(ctx, gh, Target{Repo: env.repo}, nil); err != nil {
		t.Fatal(err)
	}
	if err := a.registry.AddRepo(ctx, state.RepoInstallation{Owner: env.repo.Owner, Repo: env.repo.Name, InstallationID: env.inst}); err != nil {
		t.Fatal(err)
	}
	recs, err := a.records.List(ctx, env.repo)
	if err != nil || len(recs) == 0 {
		t.Fatalf("records: %v, %v", recs, err)
	}

	// The process restarted: its metrics are new.
	reg := prometheus.NewRegistry()
	m := newAppMetrics(reg, MaxAppSeries)
	restarted := env.newApplier(t, ctx, Options{})
	if err := m.seed(ctx, restarted); err != nil {
		t.Fatal(err)
	}
	want, got := map[string]float64{}, map[string]float64{}
	for _, r := range recs {
		want[r.App] = float64(r.AppliedAt.UnixNano()) / 1e9
		s, _ := gather(t, reg, "promobot_app_last_success_timestamp_seconds", map[string]string{"repository": env.repo.String(), "app": r.App, "environment": r.Environment})
		got[r.App] = s.Value
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("last success after a restart (-want +got):\n%s", diff)
	}
	for _, name := range []string{"promobot_app_healthy", "promobot_app_last_apply_success", "promobot_app_drifted_objects"} {
		if l := appSeriesLabels(t, reg, name); len(l) > 0 {
			t.Errorf("%s seeded for %v: a replica that did not apply cannot know it", name, l)
		}
	}
}

// FuzzPromotionTimes: whatever a push's messages and timestamps hold
// (repository input), promotionTimes dates only promotion branches the
// head message names, with a time one of the promotion commits carries.
func FuzzPromotionTimes(f *testing.F) {
	f.Add("Merge pull request #7 from acme/promobot/promote/api/production", "Promote api to production\n\nx", "2026-11-30T04:00:00Z")
	f.Add("promobot/promote/a/b promobot/promote/a/b", "Promote a to b", "2026-11-30T04:00:00+01:00")
	f.Add("promobot/promote/../x", "Promote .. to x\n", "yesterday")
	f.Add("", "", "")
	f.Fuzz(func(t *testing.T, head, message, ts string) {
		got := promotionTimes(head, []pushCommit{{Message: message, Timestamp: ts}, {Message: head, Timestamp: ts}})
		for key, at := range got {
			app, env, _ := strings.Cut(key, "/")
			if !strings.Contains(head, "promobot/promote/"+key) || app == "" || env == "" {
				t.Fatalf("%q dated, but the head message %q names no such branch", key, head)
			}
			parsed, err := time.Parse(time.RFC3339, ts)
			if err != nil || !parsed.Equal(at) {
				t.Fatalf("%q dated %v, not the commits' time %q", key, at, ts)
			}
		}
	})
}
