// Package applier makes merging a PR deploy it. Three things start a
// reconcile of an app, and all go through one path, reconcile: render the
// app's overlay in the sandbox → decode its objects → resolve its
// destination cluster → server-side apply (package cluster), prune what the
// render no longer has, wait for health. Its outcome is typed: a change
// set with fluxcd/pkg/ssa's actions per object, the inventory to keep, the
// drift found; the app's record, its commit status and GitHub Deployment,
// and the promobot.apply.* facts are built from it.
//
//   - A push to the default branch (handlePush) syncs the apps whose render
//     the push can change.
//   - Installing the App (handleInstallation) and `promobot sync`
//     (SyncHead) sync every app at the head of the default branch.
//   - The drift check (CheckDrift), every DriftInterval on one replica of
//     those sharing the bus (an events.Locker turn), reconciles the commit
//     each app last applied in compare mode: a server-side dry run finds
//     what drifted (promobot.drift.found) and, for apps with selfHeal, the
//     same apply takes the fields back (promobot.drift.healed).
//
// Every reconcile of an app holds the app's lease (appLease), so applies
// and drift checks of one app never overlap, even across replicas. It
// never edits the repository.
package applier

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/ghevent"
	"github.com/promobot/promobot/internal/github"
	"github.com/promobot/promobot/internal/state"
)

// Options configure an Applier.
type Options struct {
	// HealthTimeout bounds the wait for an app's objects to become healthy
	// (default 2 minutes).
	HealthTimeout time.Duration
	// DriftInterval is how often live objects are compared with the last
	// render, by one of the replicas sharing the bus; a repository's
	// .promobot.yaml driftInterval of 0 turns it off for that repository.
	// Zero turns the periodic check off (default 5 minutes via the CLI).
	DriftInterval time.Duration
	// Concurrency is how many pushes are handled at once (default 4).
	// Applies of one app never overlap whatever it is.
	Concurrency int
	// SyncConcurrency is how many apps of one push or sync are applied at
	// once (default 16).
	SyncConcurrency int
	// Consumer names the durable consumer replicas share (default "applier").
	Consumer string
	// MaxDeliver and Backoff are the consume loop's retry policy
	// (defaults from events.ConsumerOptions).
	MaxDeliver int
	Backoff    []time.Duration
	// Logger receives the applier's log lines (default slog.Default()).
	Logger *slog.Logger
	// ReportPoll is how often the queue of reports GitHub's rate limits
	// refused is looked at besides when a report is queued and when a
	// limit lifts (default 30s; it finds reports other replicas queued).
	ReportPoll time.Duration
	// Clock is the time the report queue's waits follow (default the real
	// time; tests share one with the GitHub client and the local GitHub).
	Clock github.Clock
	// FrozenAllowsRollback applies the merge of a /rollback pull request
	// (a merge message naming its branch, promobot/rollback/<app>/<env>)
	// to that app's environment even while /freeze holds it.
	FrozenAllowsRollback bool
}

func (o Options) withDefaults() Options {
	if o.HealthTimeout <= 0 {
		o.HealthTimeout = 2 * time.Minute
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.SyncConcurrency <= 0 {
		o.SyncConcurrency = 16
	}
	if o.Consumer == "" {
		o.Consumer = "applier"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.ReportPoll <= 0 {
		o.ReportPoll = 30 * time.Second
	}
	if o.Clock == nil {
		o.Clock = github.RealClock()
	}
	return o
}

// SyncConcurrencyOrDefault is SyncConcurrency with its default applied.
func (o Options) SyncConcurrencyOrDefault() int { return o.withDefaults().SyncConcurrency }

// Applier is the applier subscriber. It is safe for concurrent use.
type Applier struct {
	opts     Options
	bus      *events.Bus
	gh       Installations
	clusters *Clusters
	records  *Records
	ledger   *events.Ledger
	locks    *events.Locker
	registry *state.Registry
	freezes  *state.Freezes
	merges   *state.Merges
	reports  *reportQueue
	log      *slog.Logger
}

// New returns an Applier consuming from bus, talking to GitHub through gh
// and to clusters through clusters.
func New(ctx context.Context, opts Options, bus *events.Bus, gh Installations, clusters *Clusters) (*Applier, error) {
	opts = opts.withDefaults()
	if bus == nil || gh == nil || clusters == nil {
		return nil, errors.New("applier: bus, GitHub and clusters are required")
	}
	st, err := state.OpenStores(ctx, bus)
	if err != nil {
		return nil, err
	}
	records, ledger, locks, registry, freezes := &Records{s: st.Records}, st.Ledger, st.Locks, st.Registry, st.Freezes
	reports, err := openReports(ctx, bus)
	if err != nil {
		return nil, err
	}
	return &Applier{opts: opts, bus: bus, gh: idInstallations{gh}, clusters: clusters, records: records, ledger: ledger, locks: locks, freezes: freezes,
		registry: registry, merges: st.Merges, reports: reports, log: opts.Logger}, nil
}

// Records gives access to the apps' records (what the promoter's gates read).
func (a *Applier) Records() *Records { return a.records }

// Run consumes push and installation deliveries and runs the periodic drift
// check until ctx is cancelled.
func (a *Applier) Run(ctx context.Context) error {
	if err := metrics.seed(ctx, a); err != nil {
		a.log.Warn("app metrics not seeded from the apps' records", "error", err)
	}
	errc := make(chan error, 3)
	reports := make(chan struct{})
	go func() {
		defer close(reports)
		a.runReports(ctx)
	}()
	defer func() { <-reports }()
	go func() {
		errc <- a.bus.ConsumeRoutes(ctx, events.ConsumerOptions{
			Name:        a.opts.Consumer,
			Stream:      events.StreamGitHub,
			Concurrency: a.opts.Concurrency,
			MaxDeliver:  a.opts.MaxDeliver,
			Backoff:     a.opts.Backoff,
			Logger:      a.log,
		}, a.Routes())
	}()
	go func() {
		errc <- a.bus.ConsumeRoutes(ctx, events.ConsumerOptions{
			Name:        a.opts.Consumer + "-sync",
			Stream:      events.StreamFacts,
			Concurrency: 1,
			MaxDeliver:  a.opts.MaxDeliver,
			Backoff:     a.opts.Backoff,
			// Requests from now on: the consumer is made when the applier
			// first starts, before anyone can ask.
			DeliverPolicy: jetstream.DeliverNewPolicy,
			Logger:        a.log,
		}, a.FactRoutes())
	}()
	go func() {
		if a.opts.DriftInterval <= 0 {
			<-ctx.Done()
			errc <- nil
			return
		}
		t := time.NewTicker(a.opts.DriftInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				errc <- nil
				return
			case <-t.C:
				a.driftTick(ctx)
			}
		}
	}()
	var err error
	for range 3 {
		if e := <-errc; err == nil {
			err = e
		}
	}
	return err
}

// FactRoutes are the facts the applier handles, each once: a /sync
// request.
func (a *Applier) FactRoutes() []events.Route {
	return []events.Route{
		{Filter: state.SyncRequestedFilter(), Handle: a.ledger.OnceHandler(a.opts.Consumer+"-sync", a.handleSync)},
	}
}

// Routes are the GitHub deliveries the applier handles, each once (the
// ledger remembers completed deliveries under the consumer's name): the
// durable consumer's filters and its dispatch both come from them.
// Installation deliveries are recorded in the registry first, every time,
// so the repositories an install syncs are known before their applies are
// told.
func (a *Applier) Routes() []events.Route {
	once := func(h events.NoteHandler) events.Handler { return a.ledger.OnceHandler(a.opts.Consumer, h) }
	return []events.Route{
		ghevent.Route("push", once(a.handlePush)),
		ghevent.Route("installation", a.registry.Recording(once(a.handleInstallation))),
		ghevent.Route("installation_repositories", a.registry.Recording(once(a.handleInstallation))),
	}
}

// errorf wraps an error with its subject.
func errorf(subject string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", subject, err)
}
