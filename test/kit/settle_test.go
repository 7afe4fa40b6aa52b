package kit

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/promobot/promobot/events"
)

// TestConsumerCaughtUp: a stored message the consumer's filters match
// keeps it from being caught up until it is acknowledged; messages it does
// not match never do.
func TestConsumerCaughtUp(t *testing.T) {
	ctx := context.Background()
	js := Bus(t).JetStream()
	cons, err := js.CreateOrUpdateConsumer(ctx, events.StreamGitHub, jetstream.ConsumerConfig{
		Durable: "settle-test", FilterSubjects: []string{events.GitHubFilter("push")}, AckPolicy: jetstream.AckExplicitPolicy,
	})
	if err != nil {
		t.Fatal(err)
	}
	caughtUp := func() bool {
		t.Helper()
		ok, _, err := ConsumerCaughtUp(ctx, js, events.StreamGitHub, "settle-test")
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !caughtUp() {
		t.Fatal("an empty stream: not caught up")
	}
	if _, err := js.Publish(ctx, events.GitHubSubject("push", "acme", "repo"), []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if caughtUp() {
		t.Fatal("caught up with a stored push nobody consumed")
	}
	batch, err := cons.Fetch(1)
	if err != nil {
		t.Fatal(err)
	}
	for m := range batch.Messages() {
		if caughtUp() {
			t.Fatal("caught up with a push delivered, not acknowledged")
		}
		if err := m.DoubleAck(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if !caughtUp() {
		t.Fatal("not caught up once the push was acknowledged")
	}
	if _, err := js.Publish(ctx, events.GitHubSubject("issue_comment", "acme", "repo"), []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if !caughtUp() {
		t.Fatal("a message the consumer does not match kept it from being caught up")
	}
}
