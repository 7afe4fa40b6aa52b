package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
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
