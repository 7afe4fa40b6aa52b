package ui

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/ghevent"
	"github.com/promobot/promobot/internal/state"
)

// Options configure the status page.
type Options struct {
	// GitHubWebURL is GitHub's web address, that the page links commits,
	// pull requests and checks to (default https://github.com; GitHub
	// Enterprise Server: https://HOST).
	GitHubWebURL string
	// FeedSize is how many recent facts, and dead letters, the page shows
	// (default 50).
	FeedSize int
	// History is how far back the page reads the bus when it starts: the
	// feed, drift and which pull request made which commit (default 72h).
	History time.Duration
	// MaxStreams bounds the live update streams open at once (default
	// 64); one more is answered 503, and its page stays as loaded.
	MaxStreams int
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger (default slog.Default()).
	Logger *slog.Logger
}

// DefaultOptions are the defaults New applies to unset fields.
func DefaultOptions() Options {
	return Options{GitHubWebURL: "https://github.com", FeedSize: 50, History: 72 * time.Hour, MaxStreams: 64, Now: time.Now, Logger: slog.Default()}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	o.GitHubWebURL = strings.TrimSuffix(cmp.Or(o.GitHubWebURL, d.GitHubWebURL), "/")
	o.FeedSize = cmp.Or(o.FeedSize, d.FeedSize)
	o.History = cmp.Or(o.History, d.History)
	o.MaxStreams = cmp.Or(o.MaxStreams, d.MaxStreams)
	if o.Now == nil {
		o.Now = d.Now
	}
	if o.Logger == nil {
		o.Logger = d.Logger
	}
	return o
}

// Server is the status page: an http.Handler, fed by Run from the bus.
type Server struct {
	opts     Options
	log      *slog.Logger
	bus      *events.Bus
	links    links
	registry *state.Registry
	records  *state.Records
	freezes  *state.Freezes
	prs      *state.PromotionPRs[promotionEntry]
	mem      *memory
	hub      *hub
	streams  chan struct{} // one token per open live stream
	mux      *http.ServeMux
}

// New opens what the page reads on bus. Nothing is read from the streams
// until Run.
func New(ctx context.Context, opts Options, bus *events.Bus) (*Server, error) {
	opts = opts.withDefaults()
	s := &Server{opts: opts, log: opts.Logger.With("component", "ui"), bus: bus, links: links{base: opts.GitHubWebURL},
		mem: newMemory(opts.FeedSize), hub: newHub(), streams: make(chan struct{}, opts.MaxStreams)}
	var err error
	if s.registry, err = state.OpenRegistry(ctx, bus); err != nil {
		return nil, fmt.Errorf("status page: %w", err)
	}
	if s.records, err = state.OpenRecords(ctx, bus); err != nil {
		return nil, fmt.Errorf("status page: %w", err)
	}
	if s.freezes, err = state.OpenFreezes(ctx, bus); err != nil {
		return nil, fmt.Errorf("status page: %w", err)
	}
	if s.prs, err = state.OpenPromotionPRs[promotionEntry](ctx, bus); err != nil {
		return nil, fmt.Errorf("status page: %w", err)
	}
	s.mux = s.routes()
	return s, nil
}

// ServeHTTP serves the page (GET /), its live updates (GET /events) and
// its script and style sheet (GET /static/).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	s.mux.ServeHTTP(w, r)
}

func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.servePage)
	mux.HandleFunc("GET /events", s.serveEvents)
	mux.Handle("GET /static/", Static())
	return mux
}

// Run reads the bus until ctx ends: promobot's facts and dead letters from
// History ago on (the feed, each app's last apply and drift, each
// promotion's last word), and merged pull requests (which pull request
// made which commit). Each message that changes the page is pushed to the
// open pages.
func (s *Server) Run(ctx context.Context) error {
	since := s.opts.Now().Add(-s.opts.History)
	js := s.bus.JetStream()
	facts, err := js.OrderedConsumer(ctx, events.StreamFacts, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{events.FactPrefix + ".>"}, DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &since})
	if ctx.Err() != nil {
		return nil // stopped while starting
	}
	if err != nil {
		return fmt.Errorf("status page: stream %s: %w", events.StreamFacts, err)
	}
	pulls, err := js.OrderedConsumer(ctx, events.StreamGitHub, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{ghevent.Filter("pull_request")}, DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &since})
	if ctx.Err() != nil {
		return nil
	}
	if err != nil {
		return fmt.Errorf("status page: stream %s: %w", events.StreamGitHub, err)
	}
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	for _, c := range []jetstream.Consumer{facts, pulls} {
		wg.Go(func() { errc <- s.read(ctx, c) })
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	return nil
}

// read feeds one consumer's messages into the page's memory until ctx ends.
func (s *Server) read(ctx context.Context, c jetstream.Consumer) error {
	it, err := c.Messages()
	if err != nil {
		return fmt.Errorf("status page: read: %w", err)
	}
	go func() { <-ctx.Done(); it.Stop() }()
	for {
		msg, err := it.Next()
		if errors.Is(err, jetstream.ErrMsgIteratorClosed) || errors.Is(err, nats.ErrConnectionClosed) || ctx.Err() != nil {
			return nil
		}
		if err != nil {
			s.log.Warn("status page: bus read", "error", err)
			continue
		}
		if s.remember(msg) {
			s.hub.changed()
		}
	}
}

// remember puts one message into the page's memory and reports whether
// the page changed.
func (s *Server) remember(msg jetstream.Msg) bool {
	ev, err := events.Decode(msg.Headers(), msg.Data())
	if err != nil {
		return false
	}
	at := ev.Time()
	if meta, err := msg.Metadata(); err == nil {
		at = meta.Timestamp
	}
	if strings.HasPrefix(msg.Subject(), events.GitHubPrefix+".") {
		return s.mem.addPullRequest(ev.Data())
	}
	return s.mem.addFact(msg.Subject(), at, ev)
}

// view reads what one render shows.
func (s *Server) view(ctx context.Context) pageView {
	now := s.opts.Now()
	snap := s.mem.snapshot()
	v := pageView{Now: now}
	var problems []string
	v.Repos, problems = s.matrix(ctx, snap, now)
	v.Problems = append(v.Problems, problems...)
	v.Promotions, problems = s.promotions(ctx, snap)
	v.Problems = append(v.Problems, problems...)
	v.Feed, v.Dead = s.feed(snap, now)
	return v
}
