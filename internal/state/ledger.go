package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/github"
)

// The ledger bucket (events.BucketLedger) is shared, its keys told apart
// by their first token:
//
//	<consumer>.<event id>                  events.Ledger: an event the consumer completed
//	redelivery.<guid>                      when the redelivery sweep last asked for a delivery
//	promoter-pr.<owner>.<repo>.<branch>    the promoter's open promotion pull request
//
// Every entry expires with the bucket's TTL (events.Options.LedgerTTL). A
// consumer must not be named after the other prefixes.
const (
	LedgerRedelivery   = "redelivery"
	LedgerPromotionPRs = "promoter-pr"
)

// RedeliveryKey is the ledger key of the redelivery sweep's record of the
// delivery guid.
func RedeliveryKey(guid string) string { return events.KVKey(LedgerRedelivery, guid) }

// PromotionPRKey is the ledger key of the promoter's memory of the
// promotion pull request on branch of repo.
func PromotionPRKey(repo github.Repo, branch string) string {
	return events.KVKey(LedgerPromotionPRs, repo.Owner, repo.Name, branch)
}

// PromotionPRs is the promoter's memory of the promotion pull requests it
// keeps open, one entry of type E per (repository, branch), in the ledger
// bucket under PromotionPRKey. An entry is a hint: GitHub stays the truth.
// It is safe for concurrent use.
type PromotionPRs[E any] struct {
	kv jetstream.KeyValue
}

// OpenPromotionPRs opens the promoter's memory.
func OpenPromotionPRs[E any](ctx context.Context, bus *events.Bus) (*PromotionPRs[E], error) {
	kv, err := bus.KeyValue(ctx, events.BucketLedger)
	if err != nil {
		return nil, err
	}
	return &PromotionPRs[E]{kv: kv}, nil
}

// Get returns the entry of branch; ok is false when there is none or it
// cannot be read (the caller then asks GitHub).
func (m *PromotionPRs[E]) Get(ctx context.Context, repo github.Repo, branch string) (v E, ok bool) {
	e, err := m.kv.Get(ctx, PromotionPRKey(repo, branch))
	if err != nil {
		return v, false
	}
	if json.Unmarshal(e.Value(), &v) != nil {
		var zero E
		return zero, false
	}
	return v, true
}

// Put remembers v for branch, replacing what was remembered.
func (m *PromotionPRs[E]) Put(ctx context.Context, repo github.Repo, branch string, v E) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("%s %s: remember pull request: %w", repo, branch, err)
	}
	if _, err := m.kv.Put(ctx, PromotionPRKey(repo, branch), raw); err != nil {
		return fmt.Errorf("%s %s: remember pull request: %w", repo, branch, err)
	}
	return nil
}

// Forget forgets branch. Idempotent.
func (m *PromotionPRs[E]) Forget(ctx context.Context, repo github.Repo, branch string) error {
	if err := m.kv.Delete(ctx, PromotionPRKey(repo, branch)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("%s %s: forget pull request: %w", repo, branch, err)
	}
	return nil
}
