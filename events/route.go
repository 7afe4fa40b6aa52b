package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// Route sends the events stored on the subjects Filter matches to Handle.
// A consumer declares its routes once: the durable consumer's
// FilterSubjects and the dispatch of each event are both derived from
// them, so the two cannot disagree.
type Route struct {
	// Filter is a NATS subject filter ("*" matches one token, a final
	// ">" one or more), for example GitHubFilter("push").
	Filter string
	// Handle handles the events Filter matches.
	Handle Handler
}

// Filters returns the subject filters of routes, in order, each once.
func Filters(routes []Route) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range routes {
		if !seen[r.Filter] {
			seen[r.Filter] = true
			out = append(out, r.Filter)
		}
	}
	return out
}

// Dispatch returns the Handler that hands each event to the first route
// whose filter matches the subject it was stored on. An event no route
// matches (one a previous version of the consumer's filters let in, say)
// is acknowledged untouched.
func Dispatch(routes []Route) Handler {
	return func(ctx context.Context, d Delivery) error {
		for _, r := range routes {
			if SubjectMatches(r.Filter, d.Subject) {
				return r.Handle(ctx, d)
			}
		}
		return nil
	}
}

// SubjectMatches reports whether subject matches the NATS subject filter:
// tokens are compared one by one, "*" matches any one token, and a last
// token ">" matches one or more remaining tokens.
func SubjectMatches(filter, subject string) bool {
	ft, st := strings.Split(filter, "."), strings.Split(subject, ".")
	for i, f := range ft {
		if f == ">" && i == len(ft)-1 {
			return len(st) > i
		}
		if i >= len(st) || (f != "*" && f != st[i]) {
			return false
		}
	}
	return len(ft) == len(st)
}

// ConsumeRoutes runs a consume loop (see Consume) whose FilterSubjects are
// the routes' filters, handing each event to its route. opts.FilterSubjects
// must be empty.
func (b *Bus) ConsumeRoutes(ctx context.Context, opts ConsumerOptions, routes []Route) error {
	if len(opts.FilterSubjects) > 0 {
		return fmt.Errorf("consumer %s: FilterSubjects are derived from the routes", opts.Name)
	}
	if len(routes) == 0 {
		return fmt.Errorf("consumer %s: no routes", opts.Name)
	}
	opts.FilterSubjects = Filters(routes)
	return b.Consume(ctx, opts, Dispatch(routes))
}

// NoteHandler handles one event at most once per ledger name (see
// Ledger.OnceHandler). It returns a note saying what it did, which the
// ledger records; an empty note means the event was not the handler's to
// act on (a push to another branch, a comment that is no command), and
// nothing is recorded, so the event is looked at again if redelivered.
type NoteHandler func(ctx context.Context, d Delivery) (note string, err error)

// OnceHandler is idempotency as middleware: the Handler it returns
// acknowledges untouched an event whose id the ledger records as completed
// under name, runs h otherwise, and records h's note when h succeeds with
// one. name is usually the consumer's: handlers sharing a name share
// their events' records. As with Once, two concurrent deliveries of one
// event may both run h.
func (l *Ledger) OnceHandler(name string, h NoteHandler) Handler {
	return func(ctx context.Context, d Delivery) error {
		skip := errSkip{}
		ran, err := l.Once(ctx, name, d.Event.ID(), func(ctx context.Context) (string, error) {
			note, err := h(ctx, d)
			if err == nil && note == "" {
				return "", skip
			}
			return note, err
		})
		switch {
		case errors.Is(err, skip):
			return nil
		case err != nil:
			return err
		case !ran:
			Logger(ctx).Info("event already handled, ignoring the redelivery", "handler", name)
		}
		return nil
	}
}

// errSkip is how OnceHandler tells Once not to record an event h left alone.
type errSkip struct{}

func (errSkip) Error() string { return "not handled" }

type loggerKey struct{}

// WithLogger returns ctx carrying log, the logger of the event being
// handled (see Logger).
func WithLogger(ctx context.Context, log *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, log)
}

// Logger returns the logger ctx carries: inside a handler, the consume
// loop's logger enriched with the event's keys (see the package
// documentation), else slog.Default().
func Logger(ctx context.Context) *slog.Logger {
	if log, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return log
	}
	return slog.Default()
}
