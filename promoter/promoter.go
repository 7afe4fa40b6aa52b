// Package promoter answers /promote: a maintainer comments /promote on a
// merged pull request, and promobot opens (or updates) a pull request that
// sets the images the source environment runs in the next environment's
// kustomization, with a sticky comment showing the rendered manifests that
// environment will receive. Ordinary pull requests get the same rendered
// diff comment, and a pipeline step with autoPromote opens the promotion
// pull request once the applier reports the source environment applied
// and healthy.
//
// A command goes parse → authorize → load → plan → publish → answer:
//
//   - handleComment parses the comment once (command.Parse, no names
//     known yet);
//   - admit acknowledges it with 👀 and authorizes the commenter (write
//     permission, or a place under promoters in .promobot.yaml) before
//     anything of the repository is loaded;
//   - withWorld loads the default branch's head once: the commit, its
//     tarball and the repository model;
//   - command.Resolve checks the command's names against it, and
//     PlanPromotion, the pure planner, plans each selected app on the
//     Snapshot; the gates are checked (checkGates) on evidence read
//     before them (the source's apply record, one comparison);
//   - prWriter publishes each plan that passes as its promotion pull
//     request: branch, commit, pull request, labels, sticky diff comment;
//   - respond posts the answer, the reactions and reply, once the outcome
//     is known.
//
// Auto-promotion (HandleApplied) takes the same path from withWorld on,
// and `promobot promote` plans a local checkout with the same planner.
// upsertSticky is the one writer of sticky comments, for promotion and
// pull request diffs alike.
//
// It edits the repository only through pull requests, and never applies
// anything to a cluster.
package promoter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/ghevent"
	"github.com/promobot/promobot/internal/state"
)

var promotionsTotal = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "promobot_promotions_total",
	Help: "Promotions by outcome (opened, updated, already-open, unchanged, refused, failed).",
}, []string{"outcome"})

// Options configure a Promoter.
type Options struct {
	// AppSlug is the GitHub App's slug (default "promobot"): comments from
	// "<slug>[bot]" are its own, and its sticky comments are recognised by
	// that author.
	AppSlug string
	// Consumer names the durable consumer of GitHub deliveries replicas
	// share (default "promoter"); auto-promotion consumes apply facts as
	// Consumer + "-auto".
	Consumer string
	// Concurrency is how many deliveries are handled at once (default 4).
	// Promotions of one app into one environment never overlap whatever
	// it is.
	Concurrency int
	// MaxDeliver and Backoff are the consume loop's retry policy
	// (defaults from events.ConsumerOptions). After the last attempt a
	// command gets a failure reply.
	MaxDeliver int
	Backoff    []time.Duration
	// LeaseTTL bounds how long a promoter that died holding a (repo, app,
	// environment) lease blocks the other replicas (default 15 seconds);
	// a live holder keeps its lease however long the promotion takes.
	LeaseTTL time.Duration
	// FingerprintKey keys the fingerprints that stand for Secret values in
	// diff comments; empty means a random key per comment.
	FingerprintKey []byte
	// DiffLimit is the size budget of a diff comment (default
	// diff.DefaultLimit).
	DiffLimit int
	// AckAfter is how long a command may run before promobot reacts 👀
	// to show it is under way (default 2 seconds); a command answered
	// sooner gets only its outcome (🚀, 😕, a reply). Negative reacts 👀
	// at once, before the outcome.
	AckAfter time.Duration
	// NoPullRequestDiffs turns the diff comment on ordinary pull requests
	// off.
	NoPullRequestDiffs bool
	// Now is the clock the gates read (default time.Now).
	Now func() time.Time
	// Logger receives the promoter's log lines (default slog.Default()).
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.AppSlug == "" {
		o.AppSlug = "promobot"
	}
	if o.Consumer == "" {
		o.Consumer = "promoter"
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.MaxDeliver <= 0 {
		o.MaxDeliver = 5
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = 15 * time.Second
	}
	if o.AckAfter == 0 {
		o.AckAfter = 2 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Promoter is the promoter subscriber. It is safe for concurrent use.
type Promoter struct {
	opts     Options
	bus      *events.Bus
	gh       Installations
	records  *state.Records
	freezes  *state.Freezes
	ledger   *events.Ledger
	locks    *events.Locker
	registry *state.Registry
	memo     *memo
	merges   *state.Merges
	log      *slog.Logger
}

// New returns a Promoter consuming from bus and talking to GitHub through
// installations. It reads the applier's records (the gates) from the bus.
func New(ctx context.Context, opts Options, bus *events.Bus, installations Installations) (*Promoter, error) {
	opts = opts.withDefaults()
	if bus == nil || installations == nil {
		return nil, errors.New("promoter: bus and GitHub installations are required")
	}
	st, err := state.OpenStores(ctx, bus)
	if err != nil {
		return nil, err
	}
	records, ledger, locks, registry, freezes := st.Records, st.Ledger, st.Locks, st.Registry, st.Freezes
	memo, err := openMemo(ctx, bus)
	if err != nil {
		return nil, err
	}
	return &Promoter{opts: opts, bus: bus, gh: installations, records: records, ledger: ledger, locks: locks, freezes: freezes,
		registry: registry, memo: memo, merges: st.Merges, log: opts.Logger}, nil
}

// Run consumes issue_comment and pull_request deliveries and the
// applier's apply facts until ctx is cancelled.
func (p *Promoter) Run(ctx context.Context) error {
	errc := make(chan error, 2)
	go func() {
		errc <- p.bus.ConsumeRoutes(ctx, events.ConsumerOptions{
			Name:        p.opts.Consumer,
			Stream:      events.StreamGitHub,
			Concurrency: p.opts.Concurrency,
			MaxDeliver:  p.opts.MaxDeliver,
			Backoff:     p.opts.Backoff,
			Logger:      p.log,
		}, p.GitHubRoutes())
	}()
	go func() {
		errc <- p.bus.ConsumeRoutes(ctx, events.ConsumerOptions{
			Name:        p.opts.Consumer + "-auto",
			Stream:      events.StreamFacts,
			Concurrency: p.opts.Concurrency,
			MaxDeliver:  p.opts.MaxDeliver,
			Backoff:     p.opts.Backoff,
			// Only applies from now on: an old apply is no reason to
			// open a promotion today.
			DeliverPolicy: jetstream.DeliverNewPolicy,
			Logger:        p.log,
		}, p.FactRoutes())
	}()
	err := <-errc
	if err2 := <-errc; err == nil {
		err = err2
	}
	return err
}

// GitHubRoutes are the GitHub deliveries the promoter handles:
// issue_comment (commands), pull_request (diff comments and checks, and
// closed promotion pull requests), merge_group (the merge queue's check),
// status and check_run (auto-merge), each once (the ledger remembers completed
// deliveries under the consumer's name), and installation deliveries,
// recorded in the registry that auto-promotion reads (as the applier
// does, so either role alone keeps it). The durable consumer's filters and
// its dispatch both come from them.
func (p *Promoter) GitHubRoutes() []events.Route {
	once := func(h events.NoteHandler) events.Handler { return p.ledger.OnceHandler(p.opts.Consumer, h) }
	return []events.Route{
		ghevent.Route("issue_comment", once(p.handleComment)),
		ghevent.Route("pull_request", once(p.handlePullRequest)),
		ghevent.Route("status", once(p.handleCheck)),
		ghevent.Route("check_run", once(p.handleCheck)),
		ghevent.Route("merge_group", once(p.handleMergeGroup)),
		ghevent.Route("installation", p.registry.Recording(nil)),
		ghevent.Route("installation_repositories", p.registry.Recording(nil)),
	}
}

// FactRoutes are the facts the promoter handles, each once: an app applied
// (auto-promotion).
func (p *Promoter) FactRoutes() []events.Route {
	return []events.Route{
		{Filter: state.ApplyFilter(state.ApplyCompleted), Handle: p.ledger.OnceHandler(p.opts.Consumer+"-auto", p.HandleApplied)},
	}
}

// HandleGitHub handles one GitHub delivery as its route in GitHubRoutes
// does; others are acknowledged untouched. A delivery handed in without
// the subject it was stored on (read back from the stream, say) is routed
// by its event name. It is idempotent: a delivery handled before changes
// nothing.
func (p *Promoter) HandleGitHub(ctx context.Context, d events.Delivery) error {
	if d.Subject == "" {
		d.Subject = events.GitHubSubject(ghevent.EventName(d.Event), "", "")
	}
	return events.Dispatch(p.GitHubRoutes())(ctx, d)
}

// lastAttempt reports whether a failure of d will not be retried.
func (p *Promoter) lastAttempt(d events.Delivery, err error) bool {
	return events.IsPermanent(err) || d.Attempt >= p.opts.MaxDeliver
}

// publish records a promotion fact; failures are logged.
func (p *Promoter) publish(ctx context.Context, repo Repo, verb, subject string, data factData) {
	data.Repo, data.Version = repo.String(), state.FactVersion
	if _, err := p.bus.PublishFact(context.WithoutCancel(ctx), events.Fact{
		Kind: "promotion", Verb: verb, Owner: repo.Owner, Repo: repo.Name,
		Source: "promobot/promoter", Subject: subject, Data: data,
	}); err != nil {
		p.log.Error("fact not published", "kind", "promotion", "verb", verb, "error", err)
	}
}

// withLease runs fn holding the lease on (repo, app, env), so promotions
// of one app into one environment never overlap, even across replicas.
func (p *Promoter) withLease(ctx context.Context, repo Repo, app, env string, fn func(context.Context) error) error {
	return p.holding(ctx, fmt.Sprintf("promote/%s/%s/%s", repo, app, env), fn)
}

// holding runs fn holding the lease named key, across replicas.
func (p *Promoter) holding(ctx context.Context, key string, fn func(context.Context) error) error {
	held, release, err := p.locks.Hold(ctx, key, p.opts.LeaseTTL)
	if err != nil {
		return err
	}
	defer release()
	return fn(held)
}
