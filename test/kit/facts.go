package kit

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/promobot/promobot/events"
)

// Fact is one of promobot's facts as stored on the facts stream.
type Fact struct {
	// NATSSubject is the message's subject (promobot.<kind>.<verb>.…).
	NATSSubject string
	// Type and Subject are the CloudEvent's.
	Type    string
	Subject string
	// Data is the CloudEvent's data, the fact's JSON.
	Data json.RawMessage
}

// Decode unmarshals the fact's data into v, failing the test on an error.
func (f Fact) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(f.Data, v); err != nil {
		t.Fatalf("fact %s %s: decode: %v", f.Type, f.Subject, err)
	}
}

// Facts returns every fact stored so far on the NATS subjects matching
// filter (e.g. "promobot.redelivery.>"), oldest first. It reads exactly the
// number of messages the stream holds on those subjects when called, so it
// never waits on a timeout to learn that no more are coming.
func Facts(t testing.TB, js jetstream.JetStream, filter string) []Fact {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream, err := js.Stream(ctx, events.StreamFacts)
	if err != nil {
		t.Fatalf("facts stream: %v", err)
	}
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		t.Fatalf("facts stream info %s: %v", filter, err)
	}
	total := 0
	for _, n := range info.State.Subjects {
		total += int(n)
	}
	if total == 0 {
		return nil
	}
	cons, err := js.OrderedConsumer(ctx, events.StreamFacts, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
	if err != nil {
		t.Fatalf("facts stream consumer %s: %v", filter, err)
	}
	out := make([]Fact, 0, total)
	for len(out) < total {
		msg, err := cons.Next(jetstream.FetchMaxWait(10 * time.Second))
		if err != nil {
			t.Fatalf("facts %s: read %d of %d: %v", filter, len(out)+1, total, err)
		}
		ev, err := events.Decode(msg.Headers(), msg.Data())
		if err != nil {
			t.Fatalf("fact on %s: decode: %v", msg.Subject(), err)
		}
		out = append(out, Fact{NATSSubject: msg.Subject(), Type: ev.Type(), Subject: ev.Subject(), Data: ev.Data()})
	}
	return out
}
