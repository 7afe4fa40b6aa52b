package ghevent

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/promobot/promobot/events"
)

// ExtensionEvent is the CloudEvent extension holding a delivery's GitHub
// event name (X-GitHub-Event), so consumers need not parse the type.
const ExtensionEvent = "githubevent"

// EventName returns the GitHub event name of a delivery's CloudEvent, ""
// for any other event.
func EventName(ev event.Event) string {
	name, _ := ev.Extensions()[ExtensionEvent].(string)
	return name
}

// Type is the CloudEvent type of a delivery: com.github.<event>, with
// .<action> appended when the payload has one.
func Type(name, action string) string {
	if action == "" {
		return "com.github." + name
	}
	return "com.github." + name + "." + action
}

// Subject is the bus subject a delivery is stored on:
// github.<event>.<owner>.<repo>, "_" standing in for what the payload lacks.
func Subject(name string, p Payload) string {
	return events.GitHubSubject(name, p.Owner(), p.Repository.Name)
}

// Filter is the subject filter matching deliveries of the event name from
// every repository.
func Filter(name string) string { return events.GitHubFilter(name) }

// Envelope is one GitHub delivery as every consumer starts from it,
// decoded once.
type Envelope struct {
	// DeliveryID is X-GitHub-Delivery; a redelivery carries the same.
	DeliveryID string
	// Event is X-GitHub-Event, Action the payload's action ("" if none).
	Event, Action string
	// Installation is the App installation the delivery is for (0: none).
	Installation int64
	// Repository is the payload's repository (zero: none).
	Repository Repository
	// Ref is the payload's ref ("" if none).
	Ref string
	// Sender is the user whose action caused the delivery.
	Sender Sender
	// Payload holds every routing field read; Raw the payload's bytes as
	// GitHub sent them, for a handler to decode what else it needs.
	Payload Payload
	Raw     []byte
}

// Decode builds the Envelope of a delivery's CloudEvent. An event that is
// no GitHub delivery, or whose payload is not a JSON object, is an error.
func Decode(ev event.Event) (Envelope, error) {
	name := EventName(ev)
	if name == "" {
		return Envelope{}, fmt.Errorf("event %s decode: no %s extension: not a GitHub delivery", ev.ID(), ExtensionEvent)
	}
	p, err := Parse(ev.Data())
	if err != nil {
		return Envelope{}, fmt.Errorf("delivery %s decode: %w", ev.ID(), err)
	}
	return Envelope{DeliveryID: ev.ID(), Event: name, Action: p.Action, Installation: p.InstallationID,
		Repository: p.Repository, Ref: p.Ref, Sender: p.Sender, Payload: p, Raw: ev.Data()}, nil
}

// LogAttrs are the envelope's log keys and values (see package events),
// those it has.
func (e Envelope) LogAttrs() []any {
	attrs := []any{events.KeyEvent, e.Event}
	add := func(key string, v any, ok bool) {
		if ok {
			attrs = append(attrs, key, v)
		}
	}
	add(events.KeyAction, e.Action, e.Action != "")
	add(events.KeyInstallationID, e.Installation, e.Installation != 0)
	add(events.KeyRepo, e.Repository.FullName, e.Repository.FullName != "")
	add(events.KeyRef, e.Ref, e.Ref != "")
	add(events.KeySender, e.Sender.Login, e.Sender.Login != "")
	return attrs
}

type envelopeKey struct{}

// FromContext returns the envelope Middleware put in ctx; ok is false
// outside a handler it wraps.
func FromContext(ctx context.Context) (Envelope, bool) {
	e, ok := ctx.Value(envelopeKey{}).(Envelope)
	return e, ok
}

// Middleware decodes each delivery's Envelope once and hands h a context
// carrying it (FromContext) and a logger with its keys (events.Logger). A
// delivery that cannot be decoded never succeeds: it is refused as
// permanent.
func Middleware(h events.Handler) events.Handler {
	return func(ctx context.Context, d events.Delivery) error {
		env, err := Decode(d.Event)
		if err != nil {
			return events.Permanent(err)
		}
		ctx = context.WithValue(ctx, envelopeKey{}, env)
		ctx = events.WithLogger(ctx, events.Logger(ctx).With(env.LogAttrs()...))
		return h(ctx, d)
	}
}

// Route routes the deliveries of the GitHub event name to h, through
// Middleware.
func Route(name string, h events.Handler) events.Route {
	return events.Route{Filter: Filter(name), Handle: Middleware(h)}
}

// DecodePayload decodes a delivery's payload into a T, the fields of its
// event a handler reads beyond the Envelope's. A payload that does not
// decode never will: the error is permanent and names the event and the
// delivery.
func DecodePayload[T any](d events.Delivery) (T, error) {
	var v T
	if err := json.Unmarshal(d.Event.Data(), &v); err != nil {
		return v, events.Permanent(fmt.Errorf("%s %s: decode: %w", EventName(d.Event), d.Event.ID(), err))
	}
	return v, nil
}
