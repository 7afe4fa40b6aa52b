package events_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/promobot/promobot/events"
)

// TestHoldKeepsTheLeaseAliveAndACrashFreesIt: a lease held with Hold
// outlives its TTL while its holder lives; when the holder loses the bus
// (as when its process is killed), another replica takes the lease over
// within about one TTL, and the old holder's context ends with
// ErrLeaseLost; a release frees the lease at once.
func TestHoldKeepsTheLeaseAliveAndACrashFreesIt(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, bus := startBus(t, "")
	const ttl = 600 * time.Millisecond
	other, err := bus.Locks(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// The holder's own connection, which the test can cut.
	nc, err := srv.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	holderBus, err := events.New(ctx, nc, events.Options{PublishTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	holder, err := holderBus.Locks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	acquired := time.Now()
	held, release, err := holder.Hold(ctx, "acme/cfg/api", ttl)
	if err != nil {
		t.Fatal(err)
	}
	defer release()

	// Three refreshes later the TTL has long passed, and the lease is
	// still held: observed on the bucket, not by a pause.
	kv, err := bus.KeyValue(ctx, events.BucketLocks)
	if err != nil {
		t.Fatal(err)
	}
	w, err := kv.Watch(ctx, events.KVKey("lock", "acme/cfg/api"), jetstream.UpdatesOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Stop() }()
	for refreshes := 0; refreshes < 3; {
		select {
		case e := <-w.Updates():
			if e != nil && e.Operation() == jetstream.KeyValuePut {
				refreshes++
			}
		case <-ctx.Done():
			t.Fatal("the held lease was not refreshed")
		}
	}
	if time.Since(acquired) <= ttl {
		t.Fatalf("three refreshes within one TTL (%s): the test shows nothing", ttl)
	}
	if le, err := other.TryAcquire(ctx, "acme/cfg/api", time.Minute); err != nil || le != nil {
		t.Fatalf("another replica acquired a held lease after its TTL: %v %v", le, err)
	}

	// The holder loses the bus: the lease expires and is taken over.
	nc.Close()
	cut := time.Now()
	taken, err := other.Acquire(ctx, "acme/cfg/api", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(cut); waited > 2*ttl {
		t.Errorf("the lease of a holder without the bus was taken over after %s, want within its TTL %s", waited, ttl)
	}
	select {
	case <-held.Done():
		if !errors.Is(context.Cause(held), events.ErrLeaseLost) {
			t.Errorf("the old holder's context ended with %v, want ErrLeaseLost", context.Cause(held))
		}
	case <-ctx.Done():
		t.Fatal("the old holder's context did not end when it lost the lease")
	}
	if err := taken.Release(ctx); err != nil {
		t.Fatal(err)
	}

	// A release frees the lease at once.
	_, release2, err := other.Hold(ctx, "acme/cfg/web", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	release2()
	release2()
	if le, err := other.TryAcquire(ctx, "acme/cfg/web", time.Minute); err != nil || le == nil {
		t.Errorf("lease after release: %v %v, want it free", le, err)
	}
}
