package events

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
)

// Header names of the CloudEvents NATS protocol binding, binary content mode:
// every context attribute is a "ce-" header and the data is the message body.
const (
	headerPrefix      = "ce-"
	headerContentType = "content-type"
	// HeaderMsgID is JetStream's de-duplication header; promobot sets it to
	// the event id so a redelivered GitHub delivery is stored once.
	HeaderMsgID = "Nats-Msg-Id"
)

// ErrNotCloudEvent is returned by Decode for a message that lacks the
// required CloudEvents attributes.
var ErrNotCloudEvent = errors.New("message is not a binary-mode CloudEvent")

// Encode turns ev into a NATS message on subject in binary content mode: the
// context attributes and extensions become ce- headers, the data (never
// re-encoded) becomes the body, and Nats-Msg-Id carries the event id.
func Encode(subject string, ev event.Event) (*nats.Msg, error) {
	if err := ev.Validate(); err != nil {
		return nil, fmt.Errorf("event %s validate: %w", ev.ID(), err)
	}
	msg := nats.NewMsg(subject)
	h := msg.Header
	h.Set(headerPrefix+"specversion", ev.SpecVersion())
	h.Set(headerPrefix+"id", ev.ID())
	h.Set(headerPrefix+"source", ev.Source())
	h.Set(headerPrefix+"type", ev.Type())
	if s := ev.Subject(); s != "" {
		h.Set(headerPrefix+"subject", s)
	}
	if !ev.Time().IsZero() {
		h.Set(headerPrefix+"time", ev.Time().UTC().Format(time.RFC3339Nano))
	}
	if s := ev.DataSchema(); s != "" {
		h.Set(headerPrefix+"dataschema", s)
	}
	if ct := ev.DataContentType(); ct != "" {
		h.Set(headerContentType, ct)
	}
	for name, v := range ev.Extensions() {
		h.Set(headerPrefix+name, fmt.Sprint(v))
	}
	h.Set(HeaderMsgID, ev.ID())
	msg.Data = ev.Data()
	return msg, nil
}

// Decode reads a binary-mode CloudEvent from a message's headers and body.
// The body is used as the event data as is.
func Decode(header nats.Header, data []byte) (event.Event, error) {
	ev := event.New()
	attrs := make(map[string]string, len(header))
	for key, vals := range header {
		if len(vals) > 0 {
			attrs[strings.ToLower(key)] = vals[0]
		}
	}
	id := attrs[headerPrefix+"id"]
	if id == "" || attrs[headerPrefix+"type"] == "" || attrs[headerPrefix+"source"] == "" {
		return ev, ErrNotCloudEvent
	}
	for k, v := range attrs {
		switch k {
		case headerPrefix + "specversion", headerPrefix + "id", headerPrefix + "source", headerPrefix + "type",
			headerPrefix + "subject", headerPrefix + "dataschema", headerContentType:
			// set below
		case headerPrefix + "time":
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return ev, fmt.Errorf("event %s time %q: %w", id, v, err)
			}
			ev.SetTime(t)
		default:
			if strings.HasPrefix(k, headerPrefix) {
				ev.SetExtension(strings.TrimPrefix(k, headerPrefix), v)
			}
		}
	}
	ev.SetID(id)
	ev.SetSource(attrs[headerPrefix+"source"])
	ev.SetType(attrs[headerPrefix+"type"])
	if s := attrs[headerPrefix+"subject"]; s != "" {
		ev.SetSubject(s)
	}
	if s := attrs[headerPrefix+"dataschema"]; s != "" {
		ev.SetDataSchema(s)
	}
	if ct := attrs[headerContentType]; ct != "" {
		ev.SetDataContentType(ct)
	}
	ev.DataEncoded = data
	if err := ev.Validate(); err != nil {
		return ev, fmt.Errorf("event %s validate: %w", id, err)
	}
	return ev, nil
}
