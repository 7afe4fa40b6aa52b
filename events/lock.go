package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
)

// Locker hands out leases on names, shared by every replica connected to
// the same bus: while one replica holds the lease on a name, no other
// acquires it. A lease expires on its own if its holder dies, so a crashed
// replica never blocks the others for longer than the lease's TTL. It is
// safe for concurrent use.
type Locker struct {
	kv    jetstream.KeyValue
	owner string
}

// Locks opens the lease bucket. Leases acquired through the returned
// Locker name this process as their owner.
func (b *Bus) Locks(ctx context.Context) (*Locker, error) {
	kv, err := b.KeyValue(ctx, BucketLocks)
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	return &Locker{kv: kv, owner: fmt.Sprintf("%s/%d/%s", host, os.Getpid(), uuid.NewString()[:8])}, nil
}

// Lease is a held lock. Refresh it before its TTL runs out while work goes
// on; Release it when done.
type Lease struct {
	l       *Locker
	key     string
	rev     uint64
	ttl     time.Duration
	Expires time.Time
}

type leaseValue struct {
	Owner   string    `json:"owner"`
	Expires time.Time `json:"expires"`
}

// ErrLeaseLost is returned by Refresh and Release when another replica took
// over an expired lease.
var ErrLeaseLost = errors.New("lease lost")

// Acquire blocks until it holds the lease on name for ttl, or ctx ends.
func (l *Locker) Acquire(ctx context.Context, name string, ttl time.Duration) (*Lease, error) {
	wait := 20 * time.Millisecond
	for {
		le, err := l.TryAcquire(ctx, name, ttl)
		if err != nil || le != nil {
			return le, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("lock %s acquire: %w", name, ctx.Err())
		case <-time.After(wait):
		}
		if wait < 500*time.Millisecond {
			wait *= 2
		}
	}
}

// TryAcquire takes the lease on name for ttl if no one holds it (or its
// holder let it expire) and returns nil, without waiting, if someone does.
func (l *Locker) TryAcquire(ctx context.Context, name string, ttl time.Duration) (*Lease, error) {
	key := KVKey("lock", name)
	exp := time.Now().Add(ttl)
	val, _ := json.Marshal(leaseValue{Owner: l.owner, Expires: exp})
	rev, err := l.kv.Create(ctx, key, val)
	if err == nil {
		return &Lease{l: l, key: key, rev: rev, ttl: ttl, Expires: exp}, nil
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return nil, fmt.Errorf("lock %s acquire: %w", name, err)
	}
	// Held: take it over only if it expired, atomically.
	if e, gerr := l.kv.Get(ctx, key); gerr == nil {
		var cur leaseValue
		if json.Unmarshal(e.Value(), &cur) != nil || time.Now().After(cur.Expires) {
			if rev, uerr := l.kv.Update(ctx, key, val, e.Revision()); uerr == nil {
				return &Lease{l: l, key: key, rev: rev, ttl: ttl, Expires: exp}, nil
			}
		}
	}
	return nil, nil
}

// Refresh extends the lease by its TTL from now.
func (le *Lease) Refresh(ctx context.Context) error {
	exp := time.Now().Add(le.ttl)
	val, _ := json.Marshal(leaseValue{Owner: le.l.owner, Expires: exp})
	rev, err := le.l.kv.Update(ctx, le.key, val, le.rev)
	if err != nil {
		return fmt.Errorf("%s refresh: %w: %w", le.key, ErrLeaseLost, err)
	}
	le.rev, le.Expires = rev, exp
	return nil
}

// Release gives the lease up. Releasing a lease another replica took over
// returns ErrLeaseLost and leaves theirs alone.
func (le *Lease) Release(ctx context.Context) error {
	if err := le.l.kv.Delete(ctx, le.key, jetstream.LastRevision(le.rev)); err != nil {
		return fmt.Errorf("%s release: %w: %w", le.key, ErrLeaseLost, err)
	}
	return nil
}

// Hold waits for the lease on name and keeps it alive while held: it is
// refreshed every ttl/3, so a holder that dies (or loses the bus) blocks the
// other replicas for at most ttl, however long its work runs. The returned
// context is ctx, cancelled when the lease is lost (another replica took
// it over after the refreshes failed for a whole ttl): work under it must
// stop. release stops the refreshes and gives the lease back; it is safe
// to call more than once.
func (l *Locker) Hold(ctx context.Context, name string, ttl time.Duration) (held context.Context, release func(), err error) {
	lease, err := l.Acquire(ctx, name, ttl)
	if err != nil {
		return nil, nil, err
	}
	held, cancel := context.WithCancelCause(ctx)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		lease.keepAlive(held, stop, cancel)
	}()
	var once sync.Once
	release = func() {
		once.Do(func() {
			close(stop)
			<-done
			cancel(nil)
			_ = lease.Release(context.WithoutCancel(ctx))
		})
	}
	return held, release, nil
}

// keepAlive refreshes the lease every ttl/3 until stop is closed or ctx
// ends. A refresh that fails for lack of the bus is retried at the next
// tick; once the lease is lost, or has expired unrefreshed, lost is called.
func (le *Lease) keepAlive(ctx context.Context, stop <-chan struct{}, lost context.CancelCauseFunc) {
	t := time.NewTicker(le.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, le.ttl/3)
		err := le.Refresh(rctx)
		cancel()
		switch {
		case err == nil:
		case errors.Is(err, jetstream.ErrKeyExists), errors.Is(err, jetstream.ErrKeyNotFound):
			lost(err)
			return
		case time.Now().After(le.Expires):
			lost(fmt.Errorf("%s: expired before a refresh got through: %w: %w", le.key, ErrLeaseLost, err))
			return
		}
	}
}
