package events

import (
	"context"
	"fmt"
	"time"
)

// Turn runs a periodic job on one replica per interval. Every replica
// sharing the bus calls it on its own tick; the first to come takes the
// job's lease (named "periodic/"+job) for nine tenths of interval and runs
// job, and a replica whose tick falls within that time runs nothing and
// gets false. The lease is refreshed while job runs and is not released
// when it ends, so a tick just after the run does not repeat it within
// the same interval. It returns whether job ran here; an error means the
// bus could not be asked (job did not run).
func (l *Locker) Turn(ctx context.Context, job string, interval time.Duration, run func(context.Context)) (bool, error) {
	ttl := interval * 9 / 10
	if ttl <= 0 {
		return false, fmt.Errorf("periodic %s: interval %v too short", job, interval)
	}
	lease, err := l.TryAcquire(ctx, "periodic/"+job, ttl)
	if err != nil || lease == nil {
		return false, err
	}
	done := make(chan struct{})
	refreshed := make(chan struct{})
	go func() {
		defer close(refreshed)
		t := time.NewTicker(ttl / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				// A lost lease only means another replica may start the
				// next turn early; the job goes on.
				_ = lease.Refresh(ctx)
			}
		}
	}()
	defer func() { close(done); <-refreshed }()
	run(ctx)
	return true, nil
}
