package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	handledTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "promobot_events_handled_total",
		Help: "Events handled by a consumer, by result (ack, nak, term, deadletter, undecodable).",
	}, []string{"consumer", "result"})
	handleSeconds = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "promobot_event_handler_duration_seconds",
		Help:    "Time a consumer's handler took per event.",
		Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
	}, []string{"consumer"})
)

// permanentError marks an error that no retry can fix.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as permanent: the consume loop terminates the message
// (no redelivery) and records a dead-letter fact with the reason. Use it for
// input that can never succeed, such as a payload that does not parse.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err: err}
}

// IsPermanent reports whether err, or an error it wraps, was marked with
// Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// Delivery is one event handed to a Handler, with where it came from.
type Delivery struct {
	Event event.Event
	// Subject is the NATS subject the event was stored on.
	Subject string
	// StreamSequence is the event's position in its stream.
	StreamSequence uint64
	// Attempt counts deliveries of this event to the consumer, from 1.
	Attempt int
}

// Handler handles one event. Returning nil acknowledges it; an error marked
// Permanent terminates it; any other error has it redelivered with backoff
// until the consumer's MaxDeliver, then dead-lettered. Handlers must be
// idempotent: an event may be delivered more than once.
type Handler func(ctx context.Context, d Delivery) error

// ConsumerOptions configure a durable pull consumer and its loop.
type ConsumerOptions struct {
	// Name of the durable consumer; replicas using the same name share
	// the work.
	Name string
	// Stream to consume (StreamGitHub or StreamFacts).
	Stream string
	// FilterSubjects select the events to receive; empty means all.
	FilterSubjects []string
	// AckWait is how long the server waits for an ack before redelivering
	// (default 15s): the longest a replica that died mid-event delays the
	// event. Handlers running longer are kept alive by progress heartbeats
	// every AckWait/3.
	AckWait time.Duration
	// MaxDeliver bounds deliveries of one event (default 5); after the
	// last failed attempt the event is dead-lettered.
	MaxDeliver int
	// Backoff is the delay before the n-th redelivery after a failure
	// (default 1s, 5s, 30s, 2m; the last value repeats).
	Backoff []time.Duration
	// Concurrency is how many events are handled at once (default 1).
	Concurrency int
	// ShutdownGrace is how long in-flight handlers may finish after the
	// loop's context is cancelled; those still running are then
	// cancelled and their events negatively acknowledged for prompt
	// redelivery (default 10s).
	ShutdownGrace time.Duration
	// DeliverPolicy applies when the durable consumer is first created
	// (default: every event still in the stream).
	DeliverPolicy jetstream.DeliverPolicy
	// Logger receives the loop's log lines (default slog.Default()).
	Logger *slog.Logger
}

func (o ConsumerOptions) withDefaults() ConsumerOptions {
	if o.AckWait <= 0 {
		o.AckWait = 15 * time.Second
	}
	if o.MaxDeliver <= 0 {
		o.MaxDeliver = 5
	}
	if len(o.Backoff) == 0 {
		o.Backoff = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * time.Minute}
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 1
	}
	if o.ShutdownGrace <= 0 {
		o.ShutdownGrace = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

func (o ConsumerOptions) backoff(attempt int) time.Duration {
	i := attempt - 1
	if i < 0 {
		i = 0
	}
	if i >= len(o.Backoff) {
		i = len(o.Backoff) - 1
	}
	return o.Backoff[i]
}

// DeadLetter is the data of a dead-letter fact: an event a consumer gave up on.
type DeadLetter struct {
	Consumer       string `json:"consumer"`
	Stream         string `json:"stream"`
	StreamSequence uint64 `json:"stream_sequence"`
	Subject        string `json:"subject"`
	EventID        string `json:"event_id,omitempty"`
	EventType      string `json:"event_type,omitempty"`
	Attempts       int    `json:"attempts"`
	Reason         string `json:"reason"`
}

// DeadLetterSubject is where a consumer's dead letters are published:
// promobot.deadletter.<consumer>.<owner>.<repo> when the original subject
// names a repository (github.<event>.<owner>.<repo>), else with "_" tokens.
func DeadLetterSubject(consumer, original string) string {
	owner, repo := noToken, noToken
	if t := strings.Split(original, "."); len(t) >= 4 {
		owner, repo = t[len(t)-2], t[len(t)-1]
	}
	return strings.Join([]string{FactPrefix, "deadletter", EscapeToken(consumer), owner, repo}, ".")
}

// Consume runs a consume loop for opts until ctx is cancelled, then shuts
// down gracefully (see ConsumerOptions.ShutdownGrace) and returns nil. It
// creates or updates the durable consumer first, so it is safe to run in
// several replicas at once: they share the events.
func (b *Bus) Consume(ctx context.Context, opts ConsumerOptions, h Handler) error {
	opts = opts.withDefaults()
	if opts.Name == "" || opts.Stream == "" {
		return errors.New("consumer: name and stream are required")
	}
	cfg := jetstream.ConsumerConfig{
		Durable:        opts.Name,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        opts.AckWait,
		MaxDeliver:     opts.MaxDeliver,
		MaxAckPending:  opts.Concurrency * 4,
		DeliverPolicy:  opts.DeliverPolicy,
		FilterSubjects: opts.FilterSubjects,
		Replicas:       b.opts.Replicas,
	}
	cons, err := b.js.CreateOrUpdateConsumer(ctx, opts.Stream, cfg)
	if err != nil {
		return fmt.Errorf("consumer %s create: %w", opts.Name, err)
	}
	log := opts.Logger.With(KeyConsumer, opts.Name)

	// Handlers run under their own context so that cancelling ctx stops
	// fetching at once but lets in-flight work finish within the grace.
	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	go func() {
		<-ctx.Done()
		t := time.NewTimer(opts.ShutdownGrace)
		defer t.Stop()
		select {
		case <-t.C:
			cancelWork()
		case <-workCtx.Done():
		}
	}()

	var wg sync.WaitGroup
	for i := 0; i < opts.Concurrency; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				msg, err := cons.Next(jetstream.FetchContext(ctx))
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					if errors.Is(err, nats.ErrTimeout) || errors.Is(err, jetstream.ErrNoMessages) || errors.Is(err, context.DeadlineExceeded) {
						continue
					}
					log.Warn("fetch failed, retrying", "error", err)
					select {
					case <-ctx.Done():
						return
					case <-time.After(time.Second):
					}
					continue
				}
				b.handle(workCtx, log, opts, msg, h)
			}
		}()
	}
	wg.Wait()
	return nil
}

// handle runs h on one message and settles it: ack, nak with delay, or term
// with a dead letter.
func (b *Bus) handle(ctx context.Context, log *slog.Logger, opts ConsumerOptions, msg jetstream.Msg, h Handler) {
	meta, err := msg.Metadata()
	if err != nil {
		log.Error("message without metadata, terminating", "subject", msg.Subject(), "error", err)
		_ = msg.Term()
		return
	}
	attempt := int(meta.NumDelivered)
	ev, err := Decode(msg.Headers(), msg.Data())
	if err != nil {
		handledTotal.WithLabelValues(opts.Name, "undecodable").Inc()
		b.deadLetter(ctx, log, opts, msg, meta, attempt, ev, fmt.Errorf("decode: %w", err))
		_ = msg.TermWithReason("undecodable")
		return
	}
	log = log.With(KeyDeliveryID, ev.ID(), KeyEventType, ev.Type(), KeyAttempt, attempt)
	ctx = WithLogger(ctx, log)

	// Progress heartbeats keep the event ours while the handler works.
	hbCtx, stopHB := context.WithCancel(ctx)
	go func() {
		t := time.NewTicker(opts.AckWait / 3)
		defer t.Stop()
		for {
			select {
			case <-hbCtx.Done():
				return
			case <-t.C:
				if err := msg.InProgress(); err != nil {
					log.Warn("progress heartbeat failed", "error", err)
				}
			}
		}
	}()
	start := time.Now()
	herr := safeHandle(ctx, h, Delivery{Event: ev, Subject: msg.Subject(), StreamSequence: meta.Sequence.Stream, Attempt: attempt})
	stopHB()
	handleSeconds.WithLabelValues(opts.Name).Observe(time.Since(start).Seconds())

	switch {
	case herr == nil:
		if err := msg.DoubleAck(context.WithoutCancel(ctx)); err != nil {
			log.Warn("ack failed; the event will be redelivered", "error", err)
		}
		handledTotal.WithLabelValues(opts.Name, "ack").Inc()
	case IsPermanent(herr):
		log.Warn("permanent failure, not retrying", "error", herr)
		b.deadLetter(ctx, log, opts, msg, meta, attempt, ev, herr)
		_ = msg.TermWithReason(truncate(herr.Error(), 200))
		handledTotal.WithLabelValues(opts.Name, "term").Inc()
	case ctx.Err() != nil:
		// Shutdown cut the handler short: hand the event back at once.
		log.Info("shutting down, returning event for redelivery", "error", herr)
		_ = msg.Nak()
		handledTotal.WithLabelValues(opts.Name, "nak").Inc()
	case attempt >= opts.MaxDeliver:
		log.Error("giving up after the last attempt", "error", herr)
		b.deadLetter(ctx, log, opts, msg, meta, attempt, ev, herr)
		_ = msg.TermWithReason("max deliveries reached")
		handledTotal.WithLabelValues(opts.Name, "deadletter").Inc()
	default:
		delay := opts.backoff(attempt)
		log.Warn("handler failed, retrying", "error", herr, "retry_in", delay)
		_ = msg.NakWithDelay(delay)
		handledTotal.WithLabelValues(opts.Name, "nak").Inc()
	}
}

// safeHandle runs h, turning a panic into a permanent error so one bad event
// cannot take the process down or loop forever.
func safeHandle(ctx context.Context, h Handler, d Delivery) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = Permanent(fmt.Errorf("handler panic: %v", r))
		}
	}()
	return h(ctx, d)
}

func (b *Bus) deadLetter(ctx context.Context, log *slog.Logger, opts ConsumerOptions, msg jetstream.Msg, meta *jetstream.MsgMetadata, attempt int, ev event.Event, reason error) {
	dl := DeadLetter{
		Consumer:       opts.Name,
		Stream:         meta.Stream,
		StreamSequence: meta.Sequence.Stream,
		Subject:        msg.Subject(),
		EventID:        ev.ID(),
		EventType:      ev.Type(),
		Attempts:       attempt,
		Reason:         reason.Error(),
	}
	fev, err := NewFactEvent(Fact{Kind: "deadletter", Verb: opts.Name, Source: ev.Source(), Subject: ev.ID(), Data: dl})
	if err == nil {
		_, err = b.Publish(context.WithoutCancel(ctx), DeadLetterSubject(opts.Name, msg.Subject()), fev)
	}
	if err != nil {
		log.Error("dead letter not recorded", "error", err, "reason", reason)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
