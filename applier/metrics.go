package applier

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/promobot/promobot/applier/cluster"
	"github.com/promobot/promobot/internal/gitops"
)

// MaxAppSeries bounds the apps that have metric series of their own: the
// first MaxAppSeries (repository, app, environment) triples an applier
// process records get their own series; every later one is recorded under
// OtherLabel in all three labels. Repositories are anyone's who installs
// the App, so without a bound their apps could grow Prometheus's series
// without end. A process forgets its triples when it restarts.
const MaxAppSeries = 1000

// OtherLabel is the repository, app and environment label of the series
// that aggregate the apps beyond MaxAppSeries.
const OtherLabel = "other"

// appLabels are the labels of every per-app series.
var appLabels = []string{"repository", "app", "environment"}

// appMetrics are the applier's per-app series. Its methods are safe for
// concurrent use.
type appMetrics struct {
	series *appSeries
	// applySeconds is the time of each apply (render, apply, prune and
	// health wait), by result.
	applySeconds *prometheus.HistogramVec
	objects      *prometheus.CounterVec
	healthy      *prometheus.GaugeVec
	lastApplyOK  *prometheus.GaugeVec
	lastSuccess  *prometheus.GaugeVec
	drifted      *prometheus.GaugeVec
	leadTime     *prometheus.HistogramVec
}

// metrics are the series /metrics serves.
var metrics = newAppMetrics(prometheus.DefaultRegisterer, MaxAppSeries)

// newAppMetrics registers the per-app series with reg, giving at most max
// apps series of their own.
func newAppMetrics(reg prometheus.Registerer, max int) *appMetrics {
	with := func(extra ...string) []string { return append(append([]string{}, appLabels...), extra...) }
	m := &appMetrics{
		series: &appSeries{max: max, seen: map[[3]string]bool{}},
		applySeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "promobot_app_apply_duration_seconds",
			Help:    "Time an app's apply took (render, server-side apply, prune and the health wait), by result (applied, failed).",
			Buckets: prometheus.ExponentialBuckets(0.25, 2, 12),
		}, with("result")),
		objects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "promobot_app_objects_total",
			Help: "Objects an app's applies acted on, by action (created, configured, unchanged, deleted: pruned, skipped: left in place).",
		}, with("action")),
		healthy: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "promobot_app_healthy",
			Help: "1 when the app's last apply ended with every object healthy, else 0.",
		}, appLabels),
		lastApplyOK: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "promobot_app_last_apply_success",
			Help: "1 when the app's last apply succeeded, 0 when it failed (did not render, was refused or did not become healthy).",
		}, appLabels),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "promobot_app_last_success_timestamp_seconds",
			Help: "Unix time of the app's last successful apply; time() minus it is the age of what runs.",
		}, appLabels),
		drifted: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "promobot_app_drifted_objects",
			Help: "Objects whose live state differed from the app's render at the last drift check (0 after an apply or a self-heal).",
		}, appLabels),
		leadTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "promobot_promotion_lead_time_seconds",
			Help: "Time from the merge of the pull request a promotion carries (else the promotion commit) to the target environment applied from the promotion's merge.",
			// One minute to about eleven days.
			Buckets: prometheus.ExponentialBuckets(60, 2, 15),
		}, appLabels),
	}
	reg.MustRegister(m.applySeconds, m.objects, m.healthy, m.lastApplyOK, m.lastSuccess, m.drifted, m.leadTime)
	return m
}

// appSeries hands out the label values of an app: its own while fewer
// than max apps have series, else OtherLabel's.
type appSeries struct {
	mu   sync.Mutex
	max  int
	seen map[[3]string]bool
}

func (s *appSeries) labels(repo, app, env string) []string {
	k := [3]string{repo, app, env}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.seen[k] {
		if len(s.seen) >= s.max {
			return []string{OtherLabel, OtherLabel, OtherLabel}
		}
		s.seen[k] = true
	}
	return k[:]
}

// applied records one apply of app that reconcile attempted: its
// duration, the objects it acted on, its health and, on success, its time.
func (m *appMetrics) applied(repo Repo, o Outcome, took time.Duration, at time.Time) {
	l := m.series.labels(repo.String(), o.App, o.Environment)
	ok := o.State == StateApplied
	result := StateApplied
	if !ok {
		result = StateFailed
	}
	m.applySeconds.WithLabelValues(append(l, result)...).Observe(took.Seconds())
	for _, a := range []cluster.Action{cluster.Created, cluster.Configured, cluster.Unchanged, cluster.Deleted, cluster.Skipped} {
		if n := o.Changes.Count(a); n > 0 {
			m.objects.WithLabelValues(append(l, string(a))...).Add(float64(n))
		}
	}
	m.healthy.WithLabelValues(l...).Set(b2f(o.Healthy))
	m.lastApplyOK.WithLabelValues(l...).Set(b2f(ok))
	if ok {
		m.lastSuccess.WithLabelValues(l...).Set(float64(at.UnixNano()) / 1e9)
		m.drifted.WithLabelValues(l...).Set(0)
	}
}

// driftChecked records the objects a drift check of app found drifted (0
// once healed).
func (m *appMetrics) driftChecked(repo Repo, app, env string, drifted int) {
	m.drifted.WithLabelValues(m.series.labels(repo.String(), app, env)...).Set(float64(drifted))
}

// promoted records the lead time of a promotion of app: from since, when
// it started (Target.Promotions), to at, when its merge was applied.
func (m *appMetrics) promoted(repo Repo, app, env string, since, at time.Time) {
	if since.IsZero() || at.Before(since) {
		return
	}
	m.leadTime.WithLabelValues(m.series.labels(repo.String(), app, env)...).Observe(at.Sub(since).Seconds())
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// observeApply records an apply of app that started at start, and the lead
// time of the promotion t merged into app's environment, if any.
func (a *Applier) observeApply(t Target, app gitops.App, out Outcome, start time.Time) {
	now := time.Now()
	metrics.applied(t.Repo, out, now.Sub(start), now)
	if out.State == StateApplied {
		metrics.promoted(t.Repo, app.Name, app.Environment, t.promotedAt(app), now)
	}
}

// observeDrift records what a drift check of app found: res's drift, or
// none once self-heal re-applied without err. A check that could not
// compare records nothing.
func observeDrift(repo Repo, app gitops.App, res reconciliation, err error) {
	switch {
	case res.Applied && err == nil:
		metrics.driftChecked(repo, app.Name, app.Environment, 0)
	case res.Applied || err == nil:
		metrics.driftChecked(repo, app.Name, app.Environment, len(res.Drift))
	}
}

// seed sets the last-success time of every app recorded in the
// repositories the App is installed on, so that a restarted applier tells
// how long ago each app last applied instead of nothing until its next
// apply. Only that gauge is seeded: the largest of the replicas' values is
// right whichever replica applied last, which the other gauges are not.
func (m *appMetrics) seed(ctx context.Context, a *Applier) error {
	repos, err := a.registry.Repos(ctx)
	if err != nil {
		return fmt.Errorf("app metrics seed: %w", err)
	}
	for _, ri := range repos {
		repo := Repo{Owner: ri.Owner, Name: ri.Repo}
		recs, err := a.records.List(ctx, repo)
		if err != nil {
			return fmt.Errorf("app metrics seed: %w", err)
		}
		for _, r := range recs {
			if !r.AppliedAt.IsZero() {
				m.lastSuccess.WithLabelValues(m.series.labels(repo.String(), r.App, r.Environment)...).Set(float64(r.AppliedAt.UnixNano()) / 1e9)
			}
		}
	}
	return nil
}
