package kit

import (
	"context"
	"testing"

	"github.com/promobot/promobot/events"
)

// Bus starts an in-process NATS server with JetStream on a temporary
// directory and returns a Bus connected to it with promobot's default
// streams; both stop when the test ends.
func Bus(t testing.TB) *events.Bus {
	t.Helper()
	emb, err := events.StartEmbedded(events.EmbeddedOptions{DataDir: t.TempDir()})
	if err != nil {
		t.Fatalf("embedded NATS: %v", err)
	}
	t.Cleanup(emb.Shutdown)
	nc, err := emb.Connect()
	if err != nil {
		t.Fatalf("embedded NATS connect: %v", err)
	}
	t.Cleanup(nc.Close)
	bus, err := events.New(context.Background(), nc, events.DefaultOptions())
	if err != nil {
		t.Fatalf("event bus: %v", err)
	}
	return bus
}
