package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/promobot/promobot/events"
)

// Sink is one configured destination with its filters.
type Sink struct {
	name     string
	subjects []string
	apps     []string
	envs     []string
	send     sender
}

// Name is the sink's configured name.
func (s *Sink) Name() string { return s.name }

// Consumer is the durable consumer the sink reads facts through.
func (s *Sink) Consumer() string { return "notify-" + s.name }

// NewSinks builds the sinks of cfg, reading each URL from its file. hc
// posts to them (http.DefaultClient's transport with a timeout if nil).
func NewSinks(cfg Config, hc *http.Client) ([]*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if hc == nil {
		hc = &http.Client{Timeout: defaultTimeout}
	}
	var out []*Sink
	for _, sc := range cfg.Sinks {
		target, err := readURL(sc.URLFile)
		if err != nil {
			return nil, fmt.Errorf("sink %s: %w", sc.Name, err)
		}
		s := &Sink{name: sc.Name, subjects: sc.Subjects, apps: sc.Apps, envs: sc.Environments}
		switch sc.Type {
		case TypeSlack:
			s.send = newSlackSender(target, hc)
		default:
			if s.send, err = newCloudEventsSender(target, sc.Encoding, hc); err != nil {
				return nil, fmt.Errorf("sink %s: %w", sc.Name, err)
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// Run forwards facts to every sink until ctx ends, one consume loop per
// sink built from base (Name, Stream, FilterSubjects and DeliverPolicy are
// set here). A sink's durable consumer, once created, keeps its place
// across restarts and outages; a new sink starts with the facts published
// after it was created, not with the stream's history.
func Run(ctx context.Context, bus *events.Bus, sinks []*Sink, base events.ConsumerOptions) error {
	if len(sinks) == 0 {
		return nil
	}
	log := base.Logger
	if log == nil {
		log = slog.Default()
	}
	var wg sync.WaitGroup
	errs := make([]error, len(sinks))
	for i, s := range sinks {
		opts := base
		opts.Name, opts.Stream, opts.FilterSubjects = s.Consumer(), events.StreamFacts, s.subjects
		opts.DeliverPolicy = jetstream.DeliverNewPolicy
		opts.Logger = log.With("sink", s.name)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = bus.Consume(ctx, opts, s.Handle)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Handle forwards one fact to the sink if it passes the sink's filters.
// The sink's own dead letters are never forwarded to it, so a sink that
// is down does not feed on itself.
func (s *Sink) Handle(ctx context.Context, d events.Delivery) error {
	if strings.HasPrefix(d.Subject, events.FactPrefix+".deadletter."+s.Consumer()+".") {
		return nil
	}
	if !s.wants(d) {
		return nil
	}
	if err := s.send(ctx, d.Event); err != nil {
		return fmt.Errorf("sink %s fact %s forward: %w", s.name, d.Event.ID(), err)
	}
	return nil
}

// wants reports whether d passes the sink's app and environment lists. A
// fact's app is its data's "app", else its CloudEvent subject; a fact
// naming no app or environment is dropped by a sink that lists them.
func (s *Sink) wants(d events.Delivery) bool {
	if len(s.apps) == 0 && len(s.envs) == 0 {
		return true
	}
	var f struct {
		App         string `json:"app"`
		Environment string `json:"environment"`
	}
	_ = json.Unmarshal(d.Event.Data(), &f)
	if f.App == "" {
		f.App = d.Event.Subject()
	}
	if len(s.apps) > 0 && !slices.Contains(s.apps, f.App) {
		return false
	}
	return len(s.envs) == 0 || slices.Contains(s.envs, f.Environment)
}
