// Package redelivery recovers webhook deliveries GitHub recorded as failed.
//
// GitHub never retries a webhook on its own: when promobot was down, or
// answered 503 because the event bus could not store the delivery, the
// delivery stays failed. It can be redelivered for 3 days (7 on GitHub
// Enterprise Server) through the App's deliveries API, and a redelivery
// carries the original X-GitHub-Delivery GUID, so the receiver and the
// handlers recognise it. Sweep lists the App's recent deliveries, groups
// them by GUID as GitHub's own redelivery script does, and asks GitHub to
// redeliver each GUID that never got a 2xx answer; Run sweeps periodically.
//
// The deliveries API is Hooks, which promobot's one GitHub client
// (*github.App) implements: its calls retry server errors like every
// other, but a sweep never waits out a rate limit; it stops, and the next
// sweep does the work.
package redelivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/github"
	"github.com/promobot/promobot/internal/state"
)

// LeaseName is the lease a sweep holds so that one replica sweeps at a
// time.
const LeaseName = "redelivery-sweep"

// Fact kind and verb of the fact published per redelivered GUID
// (subject promobot.redelivery.requested.…).
const (
	FactKind = "redelivery"
	FactVerb = "requested"
)

var redeliveriesTotal = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "promobot_redeliveries_total",
	Help: "Webhook redeliveries asked of GitHub by the redelivery sweep, by result (requested, error).",
}, []string{"result"})

// ErrRateLimited marks a Hooks error caused by a GitHub rate limit: the
// sweep stops at once instead of spending more requests. It is
// internal/github's, which every *github.RateLimitError matches.
var ErrRateLimited = github.ErrRateLimited

// ErrSweepInProgress is returned by Sweep when another replica holds the
// sweep lease: that replica does the work.
var ErrSweepInProgress = errors.New("redelivery sweep in progress elsewhere")

// Hooks is the App's webhook deliveries API; *github.App implements it.
type Hooks interface {
	// ListDeliveries returns one page of the App's deliveries, newest
	// first, and the cursor of the next page ("" after the last). An empty
	// cursor asks for the first page. Safe for concurrent use; read-only.
	ListDeliveries(ctx context.Context, cursor string, perPage int) ([]github.Delivery, string, error)
	// Redeliver asks GitHub to attempt delivery id again; the new attempt
	// has the same GUID. Not idempotent: every call is one more attempt
	// (and one content-creating request against GitHub's secondary
	// limits). Errors caused by a rate limit wrap ErrRateLimited.
	Redeliver(ctx context.Context, id int64) error
}

// FactPublisher records promobot's own facts; *events.Bus implements it.
type FactPublisher interface {
	PublishFact(ctx context.Context, f events.Fact) (events.PubAck, error)
}

// Options configure a sweep. Zero values get the defaults of
// DefaultOptions.
type Options struct {
	// Window is how far back deliveries are considered: GitHub keeps them
	// redeliverable for 3 days (default), 7 on GitHub Enterprise Server.
	Window time.Duration
	// Grace is how old a GUID's latest attempt must be before it is
	// redelivered, so a delivery still being handled or redelivered by
	// someone else is not duplicated (default 1 minute).
	Grace time.Duration
	// PerPage is the page size of the listing (default and maximum 100).
	PerPage int
	// MaxPerSweep bounds the redeliveries one sweep asks for (default 50);
	// the rest wait for the next sweep.
	MaxPerSweep int
	// Pace is the pause between two redelivery requests (default 1s, so at
	// most 60 a minute, under GitHub's 80 content-creating requests a
	// minute).
	Pace time.Duration
	// Remember is how long a redelivered GUID is left alone, so a
	// redelivery GitHub has not attempted yet is not asked for twice
	// (default 30 minutes).
	Remember time.Duration
	// MaxAttempts is how many attempts a GUID may have in the window
	// before the sweep gives up on it (default 10): a delivery the receiver
	// refuses for good (bad signature, malformed) is not sent for days.
	MaxAttempts int
	// Ledger remembers what was redelivered across sweeps and replicas
	// (BusLedger). Nil: Sweep remembers nothing; Run keeps a MemoryLedger.
	Ledger Ledger
	// Locker, when set, makes a sweep hold the LeaseName lease, so one
	// replica sweeps at a time; the others return ErrSweepInProgress.
	Locker *events.Locker
	// LeaseTTL is how long the lease lasts before it must be refreshed
	// (default 2 minutes; refreshed while the sweep goes on).
	LeaseTTL time.Duration
	// LeaseWait is how long a sweep waits for the lease (default 2s).
	LeaseWait time.Duration
	// Publisher, when set, receives a promobot.redelivery.requested fact
	// per redelivered GUID.
	Publisher FactPublisher
	// Logger logs each redelivery and, in Run, each sweep (default
	// slog.Default()).
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// DefaultOptions returns the defaults documented on Options.
func DefaultOptions() Options {
	return Options{
		Window:      72 * time.Hour,
		Grace:       time.Minute,
		PerPage:     100,
		MaxPerSweep: 50,
		Pace:        time.Second,
		Remember:    30 * time.Minute,
		MaxAttempts: 10,
		LeaseTTL:    2 * time.Minute,
		LeaseWait:   2 * time.Second,
		Now:         time.Now,
	}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.Window <= 0 {
		o.Window = d.Window
	}
	if o.Grace <= 0 {
		o.Grace = d.Grace
	}
	if o.PerPage <= 0 || o.PerPage > 100 {
		o.PerPage = d.PerPage
	}
	if o.MaxPerSweep <= 0 {
		o.MaxPerSweep = d.MaxPerSweep
	}
	if o.Pace <= 0 {
		o.Pace = d.Pace
	}
	if o.Remember <= 0 {
		o.Remember = d.Remember
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = d.MaxAttempts
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = d.LeaseTTL
	}
	if o.LeaseWait <= 0 {
		o.LeaseWait = d.LeaseWait
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = d.Now
	}
	return o
}

// Result says what one sweep found and did.
type Result struct {
	// Scanned is the number of attempts listed inside the window.
	Scanned int
	// Failed is the number of GUIDs without a successful attempt.
	Failed int
	// Redelivered is the number of GUIDs redelivered by this sweep.
	Redelivered int
	// GUIDs are the redelivered GUIDs, oldest delivery first.
	GUIDs []string
	// Deferred is the number of failed GUIDs left for a later sweep: the
	// latest attempt is within the grace period, the GUID was redelivered
	// recently, or the sweep reached MaxPerSweep.
	Deferred int
	// GaveUp is the number of failed GUIDs with MaxAttempts attempts.
	GaveUp int
	// Errors is the number of redelivery requests GitHub refused.
	Errors int
}

// failedGUID is a GUID without a successful attempt.
type failedGUID struct {
	first    github.Delivery // oldest attempt in the window
	latest   github.Delivery // newest attempt: the one redelivered
	attempts int
}

// failed groups deliveries by GUID and returns those with no successful
// attempt, oldest first, so redeliveries arrive in the order GitHub first
// sent them.
func failed(deliveries []github.Delivery) []failedGUID {
	ok := map[string]bool{}
	by := map[string]*failedGUID{}
	for _, d := range deliveries {
		if d.OK() {
			ok[d.GUID] = true
		}
		g, seen := by[d.GUID]
		if !seen {
			by[d.GUID] = &failedGUID{first: d, latest: d, attempts: 1}
			continue
		}
		g.attempts++
		if d.ID < g.first.ID {
			g.first = d
		}
		if d.ID > g.latest.ID {
			g.latest = d
		}
	}
	var out []failedGUID
	for guid, g := range by {
		if !ok[guid] {
			out = append(out, *g)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].first.ID < out[j].first.ID })
	return out
}

// list pages through the deliveries newest first and stops at the first
// one older than since.
func list(ctx context.Context, hooks Hooks, since time.Time, perPage int) ([]github.Delivery, error) {
	var out []github.Delivery
	cursor := ""
	seen := map[string]bool{}
	for {
		page, next, err := hooks.ListDeliveries(ctx, cursor, perPage)
		if err != nil {
			return nil, fmt.Errorf("hook deliveries list: %w", err)
		}
		for _, d := range page {
			if d.DeliveredAt.Before(since) {
				return out, nil
			}
			out = append(out, d)
		}
		if next == "" || len(page) == 0 || seen[next] {
			return out, nil
		}
		seen[next] = true
		cursor = next
	}
}

// Sweep lists the App's deliveries of the last Window and redelivers, once
// each, the GUIDs that never got a 2xx answer and whose latest attempt is
// older than Grace, skipping GUIDs the Ledger saw redelivered within
// Remember and GUIDs with MaxAttempts attempts, at most MaxPerSweep of them,
// Pace apart. It redelivers the GUID's latest attempt, so GitHub sends the
// same GUID and payload again.
//
// A rate-limit error stops the sweep; any other refused redelivery is
// counted in Result.Errors, logged, and the sweep goes on. The Result
// describes what was done even when an error is returned. Sweeps are safe
// to run concurrently when they share a Locker; without one, two concurrent
// sweeps may redeliver the same GUID twice (harmless to promobot's
// idempotent handlers, but a waste of requests).
func Sweep(ctx context.Context, hooks Hooks, opts Options) (Result, error) {
	opts = opts.withDefaults()
	lease, err := acquire(ctx, opts)
	if err != nil {
		return Result{}, err
	}
	if lease != nil {
		defer release(ctx, lease, opts.Logger)
	}
	// The sweep never waits on GitHub's rate limits: it stops, and the
	// next sweep does the work.
	ctx = github.WithMaxWait(ctx, 0)
	s := &sweep{hooks: hooks, opts: opts, lease: lease, now: opts.Now()}
	all, err := list(ctx, hooks, s.now.Add(-opts.Window), opts.PerPage)
	if err != nil {
		return Result{}, err
	}
	s.res.Scanned = len(all)
	candidates := failed(all)
	s.res.Failed = len(candidates)
	for _, g := range candidates {
		skip, err := s.skip(ctx, g)
		if err != nil {
			// Without the ledger a redelivery may be asked twice; the bus
			// it lives on is likely down, so the receiver would answer 503
			// anyway.
			return s.res, err
		}
		if skip {
			continue
		}
		if err := s.redeliver(ctx, g); err != nil {
			return s.res, errors.Join(append(s.errs, err)...)
		}
	}
	return s.res, errors.Join(s.errs...)
}

// acquire takes the sweep lease when opts has a Locker (nil lease
// otherwise), or returns ErrSweepInProgress when another replica holds it.
func acquire(ctx context.Context, opts Options) (*events.Lease, error) {
	if opts.Locker == nil {
		return nil, nil
	}
	wctx, cancel := context.WithTimeout(ctx, opts.LeaseWait)
	defer cancel()
	l, err := opts.Locker.Acquire(wctx, LeaseName, opts.LeaseTTL)
	if err != nil {
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return nil, ErrSweepInProgress
		}
		return nil, fmt.Errorf("redelivery sweep lease: %w", err)
	}
	return l, nil
}

// release gives the lease back, even when the sweep's context ended.
func release(ctx context.Context, lease *events.Lease, log *slog.Logger) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := lease.Release(rctx); err != nil {
		log.Warn("redelivery sweep lease release failed", "error", err)
	}
}

// sweep is one Sweep in progress.
type sweep struct {
	hooks Hooks
	opts  Options
	lease *events.Lease // nil without a Locker
	now   time.Time
	res   Result
	errs  []error // redeliveries GitHub refused
}

// skip reports whether g is left alone by this sweep (counted as deferred
// or given up). Its error is the ledger's.
func (s *sweep) skip(ctx context.Context, g failedGUID) (bool, error) {
	opts := s.opts
	switch {
	case s.now.Sub(g.latest.DeliveredAt) < opts.Grace:
		s.res.Deferred++
		return true, nil
	case g.attempts >= opts.MaxAttempts:
		s.res.GaveUp++
		opts.Logger.Debug("redelivery given up", "delivery_id", g.latest.GUID, "event", g.latest.Event, "attempts", g.attempts)
		return true, nil
	case s.res.Redelivered+s.res.Errors >= opts.MaxPerSweep:
		s.res.Deferred++
		return true, nil
	case opts.Ledger == nil:
		return false, nil
	}
	at, err := opts.Ledger.LastRedelivered(ctx, g.latest.GUID)
	if err != nil {
		return true, err
	}
	if !at.IsZero() && s.now.Sub(at) < opts.Remember {
		s.res.Deferred++
		return true, nil
	}
	return false, nil
}

// redeliver asks GitHub to redeliver g's latest attempt, Pace after the
// previous request, and records it. A refusal other than a rate limit is
// counted and kept in s.errs; the error returned stops the sweep.
func (s *sweep) redeliver(ctx context.Context, g failedGUID) error {
	opts, log := s.opts, s.opts.Logger
	if s.res.Redelivered+s.res.Errors > 0 {
		if err := pause(ctx, opts.Pace); err != nil {
			return err
		}
	}
	if s.lease != nil && time.Until(s.lease.Expires) < opts.LeaseTTL/2 {
		if err := s.lease.Refresh(ctx); err != nil {
			return fmt.Errorf("redelivery sweep lease: %w", err)
		}
	}
	if err := s.hooks.Redeliver(ctx, g.latest.ID); err != nil {
		redeliveriesTotal.WithLabelValues("error").Inc()
		err = fmt.Errorf("delivery %s (attempt %d) redeliver: %w", g.latest.GUID, g.latest.ID, err)
		if errors.Is(err, ErrRateLimited) || ctx.Err() != nil {
			return err
		}
		log.Warn("redelivery refused", "delivery_id", g.latest.GUID, "event", g.latest.Event, "error", err)
		s.res.Errors++
		s.errs = append(s.errs, err)
		return nil
	}
	redeliveriesTotal.WithLabelValues("requested").Inc()
	s.res.Redelivered++
	s.res.GUIDs = append(s.res.GUIDs, g.latest.GUID)
	log.Info("redelivery requested", "delivery_id", g.latest.GUID, "event", g.latest.Event, "action", g.latest.Action,
		"attempt_id", g.latest.ID, "attempts", g.attempts, "status", g.latest.Status)
	if opts.Ledger != nil {
		if err := opts.Ledger.MarkRedelivered(ctx, g.latest.GUID, opts.Now()); err != nil {
			log.Warn("redelivery not recorded; it may be asked again", "delivery_id", g.latest.GUID, "error", err)
		}
	}
	if opts.Publisher != nil {
		publishFact(ctx, opts.Publisher, log, g)
	}
	return nil
}

// requestedFact is the data of a promobot.redelivery.requested fact.
type requestedFact struct {
	// Version is state.FactVersion.
	Version        int       `json:"version"`
	GUID           string    `json:"guid"`
	Event          string    `json:"event"`
	Action         string    `json:"action,omitempty"`
	AttemptID      int64     `json:"attempt_id"`
	Attempts       int       `json:"attempts"`
	LastStatus     string    `json:"last_status"`
	LastStatusCode int       `json:"last_status_code"`
	FirstAttemptAt time.Time `json:"first_attempt_at"`
	LastAttemptAt  time.Time `json:"last_attempt_at"`
	InstallationID int64     `json:"installation_id,omitempty"`
	RepositoryID   int64     `json:"repository_id,omitempty"`
}

func publishFact(ctx context.Context, pub FactPublisher, log *slog.Logger, g failedGUID) {
	d := g.latest
	_, err := pub.PublishFact(ctx, events.Fact{
		Kind: FactKind, Verb: FactVerb, Subject: d.GUID,
		Data: requestedFact{
			Version: state.FactVersion, GUID: d.GUID, Event: d.Event, Action: d.Action, AttemptID: d.ID, Attempts: g.attempts,
			LastStatus: d.Status, LastStatusCode: d.StatusCode, FirstAttemptAt: g.first.DeliveredAt, LastAttemptAt: d.DeliveredAt,
			InstallationID: d.InstallationID, RepositoryID: d.RepositoryID,
		},
	})
	if err != nil {
		// The redelivery itself went out; only the audit record is missing.
		log.Warn("redelivery fact not recorded", "delivery_id", d.GUID, "error", err)
	}
}

func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// DefaultInterval is how often Run sweeps when given no interval.
const DefaultInterval = 10 * time.Minute

// Run sweeps at once and then every interval (DefaultInterval when not
// positive) until ctx ends, logging one line per sweep. A failed sweep is
// logged and retried at the next tick; Run returns nil when ctx ends.
// Without opts.Ledger it remembers redeliveries in memory across its
// sweeps.
func Run(ctx context.Context, hooks Hooks, opts Options, interval time.Duration) error {
	if interval <= 0 {
		interval = DefaultInterval
	}
	if opts.Ledger == nil {
		opts.Ledger = NewMemoryLedger()
	}
	opts = opts.withDefaults()
	log := opts.Logger
	for {
		start := time.Now()
		res, err := Sweep(ctx, hooks, opts)
		switch {
		case errors.Is(err, ErrSweepInProgress):
			log.Debug("redelivery sweep skipped: another replica holds the lease")
		case ctx.Err() != nil:
			return nil
		default:
			attrs := []any{"scanned", res.Scanned, "failed", res.Failed, "redelivered", res.Redelivered,
				"deferred", res.Deferred, "gave_up", res.GaveUp, "errors", res.Errors, "duration", time.Since(start).Round(time.Millisecond)}
			if err != nil {
				log.Warn("redelivery sweep", append(attrs, "error", err)...)
			} else {
				log.Info("redelivery sweep", attrs...)
			}
		}
		// A failure too recent to redeliver (or over this sweep's cap) is
		// picked up once its grace has passed, not a whole interval later:
		// a delivery missed just before promobot started, such as the
		// installation itself, must not wait ten minutes.
		next := interval
		if res.Deferred > 0 && opts.Grace+time.Second < next {
			next = opts.Grace + time.Second
		}
		t := time.NewTimer(next)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}
