package applier

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/github"
	"github.com/promobot/promobot/internal/markdown"
	"github.com/promobot/promobot/internal/state"
)

var reportsQueued = promauto.NewGauge(prometheus.GaugeOpts{
	Name: "promobot_applier_reports_queued",
	Help: "Applier reports to GitHub (commit statuses, Deployments and their statuses) queued on the bus because GitHub's rate limits refused them, not yet delivered.",
})

// Report is one report to GitHub about a sync: an environment's
// Deployment and its status, the sync's check run, or an app's commit
// status. What GitHub's rate limits refuse is stored on the bus
// (events.BucketReports) and its steps are sent in order once the limit
// lifts; a step sent is removed from the stored report, so none is sent
// twice. Applies never wait for it.
type Report struct {
	Installation int64  `json:"installation"`
	Owner        string `json:"owner"`
	Repo         string `json:"repo"`
	// App is the app reported on, or the environment or check for a
	// report about several apps (what logs and facts name).
	App    string `json:"app"`
	Commit string `json:"commit"`
	// CheckRun completes the sync's check run: CheckRunID when it was
	// created in progress, else a new completed one.
	CheckRun   *github.CheckRun `json:"check_run,omitempty"`
	CheckRunID int64            `json:"check_run_id,omitempty"`
	// Deployment is created first when set; DeploymentID is the created
	// one the DeploymentStatus goes to.
	Deployment       *github.Deployment       `json:"deployment,omitempty"`
	DeploymentID     int64                    `json:"deployment_id,omitempty"`
	DeploymentStatus *github.DeploymentStatus `json:"deployment_status,omitempty"`
	Status           *github.Status           `json:"status,omitempty"`
	QueuedAt         time.Time                `json:"queued_at"`
}

func (r *Report) repo() Repo { return Repo{Owner: r.Owner, Name: r.Repo} }

func (r *Report) empty() bool {
	return r.Deployment == nil && (r.DeploymentStatus == nil || r.DeploymentID == 0) && r.Status == nil && r.CheckRun == nil
}

// send sends the report's steps in order without waiting on rate limits,
// calling save after each step sent. It returns the first error worth
// retrying (github.Temporary); a step GitHub refuses for good is dropped
// with a log line, as an inline report's would be.
func (a *Applier) send(ctx context.Context, gh GitHub, r *Report, save func() error) error {
	ctx = github.WithMaxWait(ctx, 0)
	step := func(name string, do func() error, done func()) error {
		err := do()
		if err != nil && github.Temporary(err) {
			return err
		}
		if err != nil {
			a.log.Warn(name+" not set", "repo", r.repo().String(), "app", r.App, "revision", markdown.ShortSHA(r.Commit), "error", err)
		}
		done()
		return save()
	}
	if r.Deployment != nil {
		if err := step("GitHub deployment", func() error {
			id, err := gh.CreateDeployment(ctx, r.repo(), *r.Deployment)
			r.DeploymentID = id
			return err
		}, func() { r.Deployment = nil }); err != nil {
			return err
		}
	}
	if r.DeploymentStatus != nil && r.DeploymentID != 0 {
		if err := step("deployment status", func() error {
			return gh.CreateDeploymentStatus(ctx, r.repo(), r.DeploymentID, *r.DeploymentStatus)
		}, func() { r.DeploymentStatus = nil }); err != nil {
			return err
		}
	}
	if r.CheckRun != nil {
		if err := step("check run", func() error {
			if r.CheckRunID != 0 {
				return gh.UpdateCheckRun(ctx, r.repo(), r.CheckRunID, *r.CheckRun)
			}
			_, err := gh.CreateCheckRun(ctx, r.repo(), *r.CheckRun)
			return err
		}, func() { r.CheckRun = nil }); err != nil {
			return err
		}
	}
	if r.Status != nil {
		if err := step("commit status", func() error {
			return gh.CreateStatus(ctx, r.repo(), r.Commit, *r.Status)
		}, func() { r.Status = nil }); err != nil {
			return err
		}
	}
	return nil
}

// deliver sends r now, or queues what GitHub's rate limits refused of it.
// It never waits on GitHub's pacing.
func (a *Applier) deliver(ctx context.Context, gh GitHub, r Report) {
	err := a.send(ctx, gh, &r, func() error { return nil })
	if err == nil || r.empty() {
		return
	}
	if r.Installation == 0 {
		if ri, err := a.registry.Repo(ctx, r.Owner, r.Repo); err == nil {
			r.Installation = ri.InstallationID
		}
	}
	if r.Installation == 0 {
		a.log.Warn("report not set and not queued: no installation known", "repo", r.repo().String(), "app", r.App, "error", err)
		return
	}
	r.QueuedAt = time.Now().UTC()
	if err := a.reports.put(ctx, &r); err != nil {
		a.log.Error("report not queued", "repo", r.repo().String(), "app", r.App, "error", err)
		return
	}
	backlog := a.reports.count(ctx)
	a.log.Info("report queued until GitHub's rate limit lifts", "repo", r.repo().String(), "app", r.App,
		"revision", markdown.ShortSHA(r.Commit), "error", err, "backlog", backlog)
	a.publish(ctx, r.repo(), "report", "queued", r.App, reportFact{Version: state.FactVersion, App: r.App, Commit: r.Commit, Backlog: backlog, Reason: err.Error()})
	a.reports.wake()
}

// reportFact is the data of promobot.report.{queued,delivered} facts.
type reportFact struct {
	// Version is state.FactVersion.
	Version int    `json:"version"`
	App     string `json:"app"`
	Commit  string `json:"commit"`
	// Backlog is how many reports are queued after this one.
	Backlog int    `json:"backlog"`
	Reason  string `json:"reason,omitempty"`
	// Waited is how long the report was queued.
	Waited string `json:"waited,omitempty"`
}

// reportQueue is the stored queue of reports.
type reportQueue struct {
	kv     jetstream.KeyValue
	signal chan struct{}
}

func openReports(ctx context.Context, bus *events.Bus) (*reportQueue, error) {
	kv, err := bus.KeyValue(ctx, events.BucketReports)
	if err != nil {
		return nil, err
	}
	return &reportQueue{kv: kv, signal: make(chan struct{}, 1)}, nil
}

func (q *reportQueue) wake() {
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// put stores r under a new key that sorts after every earlier one.
func (q *reportQueue) put(ctx context.Context, r *Report) error {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	key := fmt.Sprintf("%d.%020d%s", r.Installation, time.Now().UnixNano(), hex.EncodeToString(b))
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if _, err := q.kv.Create(context.WithoutCancel(ctx), key, data); err != nil {
		return fmt.Errorf("report %s store: %w", key, err)
	}
	reportsQueued.Inc()
	return nil
}

// keys returns the queued reports' keys, oldest first.
func (q *reportQueue) keys(ctx context.Context) ([]string, error) {
	keys, err := q.kv.Keys(ctx)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reports list: %w", err)
	}
	slices.SortFunc(keys, func(a, b string) int {
		_, ta, _ := strings.Cut(a, ".")
		_, tb, _ := strings.Cut(b, ".")
		return strings.Compare(ta, tb)
	})
	return keys, nil
}

// count returns the backlog and sets the metric to it.
func (q *reportQueue) count(ctx context.Context) int {
	keys, err := q.keys(ctx)
	if err != nil {
		return -1
	}
	reportsQueued.Set(float64(len(keys)))
	return len(keys)
}

// QueuedReports returns how many reports wait for GitHub's rate limits.
func (a *Applier) QueuedReports(ctx context.Context) (int, error) {
	keys, err := a.reports.keys(ctx)
	return len(keys), err
}

// runReports delivers queued reports until ctx ends: at start, whenever a
// report is queued, when the earliest rate-limit pause ends, and every
// ReportPoll for reports other replicas queued. Replicas take turns
// through a lease, so each report is sent by one of them.
func (a *Applier) runReports(ctx context.Context) {
	a.reports.count(ctx)
	for ctx.Err() == nil {
		next := a.drainReports(ctx)
		wctx, cancel := context.WithCancel(ctx)
		slept := make(chan struct{})
		if !next.IsZero() {
			go func() {
				if a.opts.Clock.Sleep(wctx, next.Sub(a.opts.Clock.Now())) == nil {
					close(slept)
				}
			}()
		}
		poll := time.NewTimer(a.opts.ReportPoll)
		select {
		case <-ctx.Done():
		case <-a.reports.signal:
		case <-slept:
		case <-poll.C:
		}
		poll.Stop()
		cancel()
	}
}

// drainReports sends what it can of the queue, oldest first, and returns
// when to try again (zero: nothing is waiting on a rate limit).
func (a *Applier) drainReports(ctx context.Context) time.Time {
	keys, err := a.reports.keys(ctx)
	if err != nil || len(keys) == 0 {
		if err != nil {
			a.log.Warn("queued reports not listed", "error", err)
		}
		return time.Time{}
	}
	lease, err := a.locks.Acquire(ctx, "applier-reports", 2*time.Minute)
	if err != nil {
		return time.Time{}
	}
	defer func() { _ = lease.Release(context.WithoutCancel(ctx)) }()
	var next time.Time
	paused := map[int64]bool{}
	var mu sync.Mutex
	for _, key := range keys {
		if ctx.Err() != nil {
			break
		}
		entry, err := a.reports.kv.Get(ctx, key)
		if err != nil {
			continue
		}
		var r Report
		if err := json.Unmarshal(entry.Value(), &r); err != nil {
			a.log.Error("queued report undecodable, dropped", "key", key, "error", err)
			_ = a.reports.kv.Delete(ctx, key)
			continue
		}
		if paused[r.Installation] {
			continue
		}
		gh, err := a.gh.GitHub(ctx, r.Installation)
		if err != nil {
			a.log.Warn("queued report: no GitHub client", "repo", r.repo().String(), "error", err)
			paused[r.Installation] = true
			continue
		}
		rev := entry.Revision()
		err = a.send(ctx, gh, &r, func() error {
			mu.Lock()
			defer mu.Unlock()
			data, err := json.Marshal(&r)
			if err != nil {
				return err
			}
			rev, err = a.reports.kv.Update(context.WithoutCancel(ctx), key, data, rev)
			return err
		})
		if err != nil {
			paused[r.Installation] = true
			var rl *github.RateLimitError
			if errors.As(err, &rl) && (next.IsZero() || rl.Reset.Before(next)) {
				next = rl.Reset
			}
			if !errors.As(err, &rl) && next.IsZero() {
				next = a.opts.Clock.Now().Add(time.Minute)
			}
			continue
		}
		if err := a.reports.kv.Delete(context.WithoutCancel(ctx), key); err != nil {
			a.log.Error("delivered report not removed", "key", key, "error", err)
		}
		backlog := a.reports.count(ctx)
		waited := time.Since(r.QueuedAt).Round(time.Second).String()
		a.log.Info("queued report delivered", "repo", r.repo().String(), "app", r.App, "revision", markdown.ShortSHA(r.Commit),
			"waited", waited, "backlog", backlog)
		a.publish(ctx, r.repo(), "report", "delivered", r.App, reportFact{Version: state.FactVersion, App: r.App, Commit: r.Commit, Backlog: backlog, Waited: waited})
	}
	return next
}
