package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Stream and bucket names.
const (
	// StreamGitHub holds every GitHub delivery promobot accepted.
	StreamGitHub = "GITHUB"
	// StreamFacts holds promobot's own facts: applies, promotions,
	// refusals, drift, dead letters. With StreamGitHub it is the audit log.
	StreamFacts = "PROMOBOT"
	// BucketInstallations records which installations and repositories
	// promobot serves.
	BucketInstallations = "promobot-installations"
	// BucketLedger remembers which events a handler has completed, so a
	// delivery GitHub sends again days later changes nothing.
	BucketLedger = "promobot-ledger"
	// BucketApps holds the applier's per-app record (last applied commit,
	// inventory, health) that the promoter's gates read.
	BucketApps = "promobot-apps"
	// BucketLocks holds leases that keep work on one app to one replica
	// at a time.
	BucketLocks = "promobot-locks"
)

// ErrUnavailable wraps every failure to store an event: the bus did not
// acknowledge in time or could not be reached. Callers answering GitHub
// turn it into a 503 so the delivery can be redelivered.
var ErrUnavailable = errors.New("event bus unavailable")

// Options configure the streams and buckets the Bus provisions.
type Options struct {
	// Replicas of every stream and bucket: 1 for the embedded server, 3
	// for an external cluster that must survive the loss of a node.
	Replicas int
	// GitHubMaxAge is how long deliveries are kept (default 30 days).
	GitHubMaxAge time.Duration
	// FactMaxAge is how long promobot's facts are kept (default 90 days).
	FactMaxAge time.Duration
	// Duplicates is the window in which a repeated Nats-Msg-Id is stored
	// once (default 2 minutes, JetStream's default).
	Duplicates time.Duration
	// LedgerTTL is how long the idempotency ledger remembers an event
	// (default 14 days, beyond GitHub's 3 or 7 days of redeliveries).
	LedgerTTL time.Duration
	// PublishTimeout bounds the wait for JetStream's acknowledgement
	// (default 5 seconds).
	PublishTimeout time.Duration
}

// DefaultOptions returns the defaults documented on Options.
func DefaultOptions() Options {
	return Options{
		Replicas:       1,
		GitHubMaxAge:   30 * 24 * time.Hour,
		FactMaxAge:     90 * 24 * time.Hour,
		Duplicates:     2 * time.Minute,
		LedgerTTL:      14 * 24 * time.Hour,
		PublishTimeout: 5 * time.Second,
	}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.Replicas <= 0 {
		o.Replicas = d.Replicas
	}
	if o.GitHubMaxAge <= 0 {
		o.GitHubMaxAge = d.GitHubMaxAge
	}
	if o.FactMaxAge <= 0 {
		o.FactMaxAge = d.FactMaxAge
	}
	if o.Duplicates <= 0 {
		o.Duplicates = d.Duplicates
	}
	if o.LedgerTTL <= 0 {
		o.LedgerTTL = d.LedgerTTL
	}
	if o.PublishTimeout <= 0 {
		o.PublishTimeout = d.PublishTimeout
	}
	return o
}

// Bus publishes and consumes CloudEvents on JetStream. It is safe for
// concurrent use.
type Bus struct {
	nc   *nats.Conn
	js   jetstream.JetStream
	opts Options
}

// New provisions promobot's streams and buckets on the connection (creating
// or updating them, so it is idempotent and safe to call from every replica)
// and returns a Bus. The caller owns nc.
func New(ctx context.Context, nc *nats.Conn, opts Options) (*Bus, error) {
	opts = opts.withDefaults()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	b := &Bus{nc: nc, js: js, opts: opts}
	if err := b.provision(ctx); err != nil {
		return nil, err
	}
	return b, nil
}

func (b *Bus) provision(ctx context.Context) error {
	streams := []jetstream.StreamConfig{
		{
			Name:        StreamGitHub,
			Description: "GitHub webhook deliveries accepted by promobot",
			Subjects:    []string{GitHubPrefix + ".>"},
			Storage:     jetstream.FileStorage,
			Retention:   jetstream.LimitsPolicy,
			MaxAge:      b.opts.GitHubMaxAge,
			Duplicates:  b.opts.Duplicates,
			Replicas:    b.opts.Replicas,
			Discard:     jetstream.DiscardOld,
		},
		{
			Name:        StreamFacts,
			Description: "promobot's own facts: applies, promotions, refusals, drift, dead letters",
			Subjects:    []string{FactPrefix + ".>"},
			Storage:     jetstream.FileStorage,
			Retention:   jetstream.LimitsPolicy,
			MaxAge:      b.opts.FactMaxAge,
			Duplicates:  b.opts.Duplicates,
			Replicas:    b.opts.Replicas,
			Discard:     jetstream.DiscardOld,
		},
	}
	for _, cfg := range streams {
		if _, err := b.js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("stream %s provision: %w", cfg.Name, err)
		}
	}
	buckets := []jetstream.KeyValueConfig{
		{Bucket: BucketInstallations, Description: "installations and repositories promobot serves", History: 1, Storage: jetstream.FileStorage, Replicas: b.opts.Replicas},
		{Bucket: BucketLedger, Description: "events handlers completed", History: 1, TTL: b.opts.LedgerTTL, Storage: jetstream.FileStorage, Replicas: b.opts.Replicas},
		{Bucket: BucketApps, Description: "per-app apply record: revision, inventory, health", History: 5, Storage: jetstream.FileStorage, Replicas: b.opts.Replicas},
		{Bucket: BucketLocks, Description: "leases serialising work per app across replicas", History: 1, Storage: jetstream.FileStorage, Replicas: b.opts.Replicas},
	}
	for _, cfg := range buckets {
		if _, err := b.js.CreateOrUpdateKeyValue(ctx, cfg); err != nil {
			return fmt.Errorf("bucket %s provision: %w", cfg.Bucket, err)
		}
	}
	return nil
}

// JetStream returns the underlying JetStream handle.
func (b *Bus) JetStream() jetstream.JetStream { return b.js }

// Conn returns the NATS connection the bus uses.
func (b *Bus) Conn() *nats.Conn { return b.nc }

// KeyValue opens one of promobot's buckets.
func (b *Bus) KeyValue(ctx context.Context, bucket string) (jetstream.KeyValue, error) {
	kv, err := b.js.KeyValue(ctx, bucket)
	if err != nil {
		return nil, fmt.Errorf("bucket %s open: %w", bucket, err)
	}
	return kv, nil
}

// PubAck says where JetStream stored a published event.
type PubAck struct {
	Stream    string
	Sequence  uint64
	Duplicate bool
}

// Publish stores ev on subject and returns once JetStream acknowledged it
// (file storage), or an error wrapping ErrUnavailable if it did not within
// the publish timeout or ctx's deadline, whichever comes first. The same
// event id published again within the duplicate window is stored once and
// acknowledged with Duplicate set.
func (b *Bus) Publish(ctx context.Context, subject string, ev event.Event) (PubAck, error) {
	msg, err := Encode(subject, ev)
	if err != nil {
		return PubAck{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, b.opts.PublishTimeout)
	defer cancel()
	ack, err := b.js.PublishMsg(ctx, msg, jetstream.WithMsgID(ev.ID()))
	if err != nil {
		return PubAck{}, fmt.Errorf("event %s publish on %s: %w: %w", ev.ID(), subject, ErrUnavailable, err)
	}
	return PubAck{Stream: ack.Stream, Sequence: ack.Sequence, Duplicate: ack.Duplicate}, nil
}

// Ping reports whether the bus answers: JetStream returns account
// information within timeout.
func (b *Bus) Ping(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if _, err := b.js.AccountInfo(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

// Fact describes one of promobot's own facts before it becomes a CloudEvent.
type Fact struct {
	// Kind and Verb name the fact: "apply" "completed", "promotion" "opened".
	Kind, Verb string
	// Owner and Repo name the repository it concerns (empty if none).
	Owner, Repo string
	// Source is the CloudEvent source, usually the repository URL.
	Source string
	// Subject is the CloudEvent subject: an app, a PR number, a commit.
	Subject string
	// Data is marshalled to JSON as the event data.
	Data any
}

// NewFactEvent builds the CloudEvent for f with a fresh id.
func NewFactEvent(f Fact) (event.Event, error) {
	ev := event.New()
	ev.SetID(uuid.NewString())
	ev.SetType(FactType(f.Kind, f.Verb))
	src := f.Source
	if src == "" {
		src = "promobot"
	}
	ev.SetSource(src)
	if f.Subject != "" {
		ev.SetSubject(f.Subject)
	}
	ev.SetTime(time.Now().UTC())
	raw, err := json.Marshal(f.Data)
	if err != nil {
		return ev, fmt.Errorf("fact %s.%s encode: %w", f.Kind, f.Verb, err)
	}
	if err := ev.SetData("application/json", raw); err != nil {
		return ev, fmt.Errorf("fact %s.%s data: %w", f.Kind, f.Verb, err)
	}
	return ev, nil
}

// PublishFact records f on the facts stream.
func (b *Bus) PublishFact(ctx context.Context, f Fact) (PubAck, error) {
	ev, err := NewFactEvent(f)
	if err != nil {
		return PubAck{}, err
	}
	return b.Publish(ctx, FactSubject(f.Kind, f.Verb, f.Owner, f.Repo), ev)
}
