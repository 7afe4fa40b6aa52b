package events_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestTurnRunsAJobOnOneReplicaPerInterval: two replicas sharing one bus
// tick the same job; the first runs it, the second's tick within the
// interval runs nothing, also right after the first run ended; once the
// interval has passed the next tick runs it again.
func TestTurnRunsAJobOnOneReplicaPerInterval(t *testing.T) {
	_, bus := startBus(t, "")
	ctx := context.Background()
	a, err := bus.Locks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := bus.Locks(ctx) // another replica
	var runs []string
	job := func(name string) func(context.Context) {
		return func(context.Context) { runs = append(runs, name) }
	}

	const interval = time.Hour
	ran, err := a.Turn(ctx, "drift", interval, job("a"))
	if err != nil || !ran {
		t.Fatalf("first turn: ran %v, %v", ran, err)
	}
	for _, l := range []struct {
		name string
		turn func(context.Context, string, time.Duration, func(context.Context)) (bool, error)
	}{{"b", b.Turn}, {"a", a.Turn}} {
		if ran, err := l.turn(ctx, "drift", interval, job(l.name)); err != nil || ran {
			t.Errorf("%s's tick within the interval: ran %v, %v", l.name, ran, err)
		}
	}
	if ran, err := b.Turn(ctx, "redelivery", interval, job("b redelivery")); err != nil || !ran {
		t.Errorf("another job is independent: ran %v, %v", ran, err)
	}

	// A short interval: the turn's lease lapses with it, and the next
	// tick (whoever's) runs the job again.
	const short = 200 * time.Millisecond
	if ran, _ := a.Turn(ctx, "sweep", short, job("a sweep")); !ran {
		t.Fatal("first sweep did not run")
	}
	// b's ticker, as a replica's: the turn lapses at an instant no
	// event marks.
	tick := time.NewTicker(short / 4)
	defer tick.Stop()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ran, err := b.Turn(ctx, "sweep", short, job("b sweep"))
		if err != nil {
			t.Fatal(err)
		}
		if ran {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the next interval's tick never ran the job")
		}
		<-tick.C
	}
	if diff := cmp.Diff([]string{"a", "b redelivery", "a sweep", "b sweep"}, runs); diff != "" {
		t.Errorf("runs (-want +got):\n%s", diff)
	}
}

// TestTurnHoldsItsLeaseWhileTheJobRuns: a job running longer than its
// interval keeps the turn (the lease is refreshed), so no other replica
// starts the same job beside it.
func TestTurnHoldsItsLeaseWhileTheJobRuns(t *testing.T) {
	_, bus := startBus(t, "")
	ctx := context.Background()
	a, _ := bus.Locks(ctx)
	b, _ := bus.Locks(ctx)
	const interval = 300 * time.Millisecond
	var overlaps, tries int
	ran, err := a.Turn(ctx, "drift", interval, func(ctx context.Context) {
		// Three lease lifetimes, b ticking ten times an interval:
		// without refreshes b would take over.
		tick := time.NewTicker(interval / 10)
		defer tick.Stop()
		end := time.Now().Add(3 * interval)
		for time.Now().Before(end) {
			tries++
			if ran, _ := b.Turn(ctx, "drift", interval, func(context.Context) {}); ran {
				overlaps++
			}
			<-tick.C
		}
	})
	if err != nil || !ran {
		t.Fatalf("turn: ran %v, %v", ran, err)
	}
	if overlaps != 0 {
		t.Errorf("another replica ran the job %d times of %d ticks while it ran", overlaps, tries)
	}
}
