package redelivery

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/state"
)

// Ledger remembers when a GUID was last redelivered, so a redelivery that
// GitHub has not attempted yet is not asked for again, by this sweep's next
// run or by another replica's.
type Ledger interface {
	// LastRedelivered returns when guid was last redelivered, or the zero
	// time if never (or forgotten). Safe for concurrent use.
	LastRedelivered(ctx context.Context, guid string) (time.Time, error)
	// MarkRedelivered records that guid was redelivered at at. Marking
	// again overwrites the time; safe for concurrent use.
	MarkRedelivered(ctx context.Context, guid string, at time.Time) error
}

// MemoryLedger is a Ledger of one process. It is safe for concurrent use.
type MemoryLedger struct {
	mu sync.Mutex
	at map[string]time.Time
}

// NewMemoryLedger returns an empty MemoryLedger.
func NewMemoryLedger() *MemoryLedger { return &MemoryLedger{at: map[string]time.Time{}} }

// forgetAfter is how long a MemoryLedger keeps an entry: beyond GitHub
// Enterprise Server's 7 days of redeliverable deliveries.
const forgetAfter = 8 * 24 * time.Hour

// LastRedelivered implements Ledger.
func (m *MemoryLedger) LastRedelivered(_ context.Context, guid string) (time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.at[guid], nil
}

// MarkRedelivered implements Ledger; it also forgets entries older than
// eight days, so the map does not grow without bound.
func (m *MemoryLedger) MarkRedelivered(_ context.Context, guid string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for g, t := range m.at {
		if at.Sub(t) > forgetAfter {
			delete(m.at, g)
		}
	}
	m.at[guid] = at
	return nil
}

// busLedger keeps the times in the event bus's ledger bucket, shared by
// every replica; the bucket's TTL (14 days by default) forgets them.
type busLedger struct {
	kv jetstream.KeyValue
}

// BusLedger returns a Ledger shared by every replica connected to bus. It
// is safe for concurrent use.
func BusLedger(ctx context.Context, bus *events.Bus) (Ledger, error) {
	kv, err := bus.KeyValue(ctx, events.BucketLedger)
	if err != nil {
		return nil, err
	}
	return &busLedger{kv: kv}, nil
}

func (b *busLedger) LastRedelivered(ctx context.Context, guid string) (time.Time, error) {
	e, err := b.kv.Get(ctx, state.RedeliveryKey(guid))
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return time.Time{}, nil
	case err != nil:
		return time.Time{}, fmt.Errorf("redelivery ledger %s read: %w", guid, err)
	}
	at, err := time.Parse(time.RFC3339Nano, string(e.Value()))
	if err != nil {
		// Unreadable: treat as never redelivered rather than blocking the
		// GUID for good.
		return time.Time{}, nil
	}
	return at, nil
}

func (b *busLedger) MarkRedelivered(ctx context.Context, guid string, at time.Time) error {
	if _, err := b.kv.Put(ctx, state.RedeliveryKey(guid), []byte(at.UTC().Format(time.RFC3339Nano))); err != nil {
		return fmt.Errorf("redelivery ledger %s write: %w", guid, err)
	}
	return nil
}
