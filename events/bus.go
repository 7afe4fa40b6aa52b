package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
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
	// BucketReports holds the applier's reports to GitHub (commit
	// statuses, Deployments) that GitHub's rate limits refused, until they
	// are delivered.
	BucketReports = "promobot-reports"
	// BucketFreezes holds the environments frozen with /freeze: no apply
	// and no promotion into them until /unfreeze. Never expires.
	BucketFreezes = "promobot-freezes"
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
	// (default 9 seconds: a NATS cluster that lost a stream's leader
	// elects another within about that, and GitHub waits 10 seconds for
	// the webhook's answer).
	PublishTimeout time.Duration
	// MaxBytes bounds the storage of each stream and bucket, keyed by its
	// name (StreamGitHub, StreamFacts, Bucket...); names left out, or
	// given 0, keep DefaultMaxBytes' value. At the limit:
	//   - StreamFacts drops its oldest facts;
	//   - StreamGitHub never drops a delivery no durable consumer has
	//     acknowledged: Publish first drops the oldest deliveries every
	//     durable consumer of the stream has acknowledged, and when none
	//     are left it fails with ErrUnavailable (the webhook answers 503
	//     and GitHub's redelivery brings the delivery back later);
	//   - a bucket refuses writes until entries are deleted or expire.
	MaxBytes map[string]int64
}

// DefaultMaxBytes returns the storage limit of each stream and bucket:
// 5.3 GiB in all, within the chart's 8 GiB volume with room for the
// storage's own overhead.
func DefaultMaxBytes() map[string]int64 {
	return map[string]int64{
		StreamGitHub:        2 << 30,
		StreamFacts:         2 << 30,
		BucketApps:          1 << 30,
		BucketLedger:        256 << 20,
		BucketInstallations: 64 << 20,
		BucketLocks:         16 << 20,
		BucketReports:       16 << 20,
		BucketFreezes:       16 << 20,
	}
}

// DefaultOptions returns the defaults documented on Options.
func DefaultOptions() Options {
	return Options{
		Replicas:       1,
		GitHubMaxAge:   30 * 24 * time.Hour,
		FactMaxAge:     90 * 24 * time.Hour,
		Duplicates:     2 * time.Minute,
		LedgerTTL:      14 * 24 * time.Hour,
		PublishTimeout: 9 * time.Second,
		MaxBytes:       DefaultMaxBytes(),
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
	limits := d.MaxBytes
	for name, n := range o.MaxBytes {
		if n > 0 {
			limits[name] = n
		}
	}
	o.MaxBytes = limits
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
			MaxBytes:    b.opts.MaxBytes[StreamGitHub],
			Duplicates:  b.opts.Duplicates,
			Replicas:    b.opts.Replicas,
			// Never drop a delivery to store another: Publish makes room
			// from handled deliveries or refuses.
			Discard: jetstream.DiscardNew,
		},
		{
			Name:        StreamFacts,
			Description: "promobot's own facts: applies, promotions, refusals, drift, dead letters",
			Subjects:    []string{FactPrefix + ".>"},
			Storage:     jetstream.FileStorage,
			Retention:   jetstream.LimitsPolicy,
			MaxAge:      b.opts.FactMaxAge,
			MaxBytes:    b.opts.MaxBytes[StreamFacts],
			Duplicates:  b.opts.Duplicates,
			Replicas:    b.opts.Replicas,
			Discard:     jetstream.DiscardOld,
		},
	}
	for _, cfg := range streams {
		// Lowering the limit of a stream already fuller than it would
		// drop its oldest messages, handled or not: keep the current size
		// as the limit until Publish has made room.
		if cfg.Discard == jetstream.DiscardNew {
			if s, err := b.js.Stream(ctx, cfg.Name); err == nil {
				if n := int64(s.CachedInfo().State.Bytes); n > cfg.MaxBytes {
					cfg.MaxBytes = n
				}
			}
		}
		if _, err := b.js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("stream %s provision: %w", cfg.Name, err)
		}
	}
	buckets := []jetstream.KeyValueConfig{
		{Bucket: BucketInstallations, Description: "installations and repositories promobot serves", History: 1, Storage: jetstream.FileStorage, Replicas: b.opts.Replicas},
		{Bucket: BucketLedger, Description: "events handlers completed", History: 1, TTL: b.opts.LedgerTTL, Storage: jetstream.FileStorage, Replicas: b.opts.Replicas},
		{Bucket: BucketApps, Description: "per-app apply record: revision, inventory, health", History: 64, Storage: jetstream.FileStorage, Replicas: b.opts.Replicas},
		{Bucket: BucketLocks, Description: "leases serialising work per app across replicas", History: 1, Storage: jetstream.FileStorage, Replicas: b.opts.Replicas},
		{Bucket: BucketReports, Description: "applier reports waiting for GitHub's rate limits to lift", History: 1, Storage: jetstream.FileStorage, Replicas: b.opts.Replicas},
		{Bucket: BucketFreezes, Description: "environments frozen with /freeze, with who and why", History: 5, Storage: jetstream.FileStorage, Replicas: b.opts.Replicas},
	}
	for _, cfg := range buckets {
		cfg.MaxBytes = b.opts.MaxBytes[cfg.Bucket]
		// As for streams: a lower limit must not drop stored entries.
		if kv, err := b.js.KeyValue(ctx, cfg.Bucket); err == nil {
			if st, err := kv.Status(ctx); err == nil && int64(st.Bytes()) > cfg.MaxBytes {
				cfg.MaxBytes = int64(st.Bytes())
			}
		}
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
// acknowledged with Duplicate set. When StreamGitHub is full, Publish drops
// the oldest deliveries every durable consumer has acknowledged and tries
// once more; it never drops one that is not handled yet (see
// Options.MaxBytes).
func (b *Bus) Publish(ctx context.Context, subject string, ev event.Event) (PubAck, error) {
	msg, err := Encode(subject, ev)
	if err != nil {
		return PubAck{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, b.opts.PublishTimeout)
	defer cancel()
	ack, err := b.publishMsg(ctx, msg, ev.ID())
	// Each round drops about a tenth of the stream; a large delivery may
	// need a few.
	for round := 0; round < 10 && isFull(err); round++ {
		stream, ferr := b.makeRoom(ctx, subject)
		if ferr != nil {
			err = fmt.Errorf("%w; stream %s make room: %w", err, stream, ferr)
			break
		}
		ack, err = b.publishMsg(ctx, msg, ev.ID())
	}
	if err != nil {
		return PubAck{}, fmt.Errorf("event %s publish on %s: %w: %w", ev.ID(), subject, ErrUnavailable, err)
	}
	return PubAck{Stream: ack.Stream, Sequence: ack.Sequence, Duplicate: ack.Duplicate}, nil
}

// publishAttempt bounds one try to store a message. A stream whose leader
// was lost (its NATS node crashed) takes seconds to elect another, and a
// message sent meanwhile may get no answer at all, so publishMsg sends it
// again, with the same Nats-Msg-Id (stored once), until ctx ends.
const publishAttempt = 2 * time.Second

// publishMsg publishes msg with id as its Nats-Msg-Id, retrying what a
// failover or a reconnection causes (no answer, no responders, the
// cluster temporarily unavailable) until ctx ends. A refusal (a full
// stream, a bad request) returns at once.
func (b *Bus) publishMsg(ctx context.Context, msg *nats.Msg, id string) (*jetstream.PubAck, error) {
	for {
		actx, cancel := context.WithTimeout(ctx, publishAttempt)
		ack, err := b.js.PublishMsg(actx, msg, jetstream.WithMsgID(id),
			jetstream.WithRetryAttempts(1000), jetstream.WithRetryWait(100*time.Millisecond))
		cancel()
		if err == nil || ctx.Err() != nil || isRefusal(err) {
			return ack, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// isRefusal reports whether JetStream refused a publish for a reason
// another try would meet again: a full stream, or a request error.
func isRefusal(err error) bool {
	var apiErr *jetstream.APIError
	return isFull(err) || errors.As(err, &apiErr) && apiErr.Code >= 400 && apiErr.Code < 500
}

// isFull reports whether a publish was refused because its stream reached
// MaxBytes under DiscardNew.
func isFull(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && strings.Contains(apiErr.Description, "maximum bytes exceeded")
}

// errNothingHandled says a full stream holds no message every durable
// consumer acknowledged, so nothing may be dropped.
var errNothingHandled = errors.New("full, and no stored message is acknowledged by every durable consumer")

// makeRoom drops the oldest messages of the full stream that subject
// belongs to, but only those every durable consumer with explicit acks has
// acknowledged (below the lowest ack floor): about a tenth of the stream
// at a time, so most of the audit log stays. It returns the stream's name.
func (b *Bus) makeRoom(ctx context.Context, subject string) (string, error) {
	name, err := b.js.StreamNameBySubject(ctx, subject)
	if err != nil {
		return subject, fmt.Errorf("find stream: %w", err)
	}
	stream, err := b.js.Stream(ctx, name)
	if err != nil {
		return name, err
	}
	// The stream's state is read before the consumers': a consumer with
	// nothing pending then has handled every message up to LastSeq.
	state := stream.CachedInfo().State
	floor, durables := state.LastSeq, 0
	consumers := stream.ListConsumers(ctx)
	for ci := range consumers.Info() {
		if ci.Config.Durable == "" || ci.Config.AckPolicy == jetstream.AckNonePolicy {
			continue // tails and other readers handle nothing
		}
		durables++
		// A consumer's ack floor stops at the last message its filter
		// matched; with nothing left to deliver or acknowledge, the
		// messages after it were not its to handle.
		if ci.NumPending > 0 || ci.NumAckPending > 0 {
			floor = min(floor, ci.AckFloor.Stream)
		}
	}
	if err := consumers.Err(); err != nil {
		return name, fmt.Errorf("list consumers: %w", err)
	}
	if durables == 0 || floor < state.FirstSeq {
		return name, errNothingHandled
	}
	// Purge keeps messages from keep on.
	keep := min(floor+1, state.FirstSeq+max(1, (state.LastSeq-state.FirstSeq+1)/10))
	if err := stream.Purge(ctx, jetstream.WithPurgeSequence(keep)); err != nil {
		return name, fmt.Errorf("purge below %d: %w", keep, err)
	}
	return name, nil
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
