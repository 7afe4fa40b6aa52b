package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

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
//	merged.<owner>.<repo>.<number>         a merged pull request's merge commit and time
//
// Every entry expires with the bucket's TTL (events.Options.LedgerTTL). A
// consumer must not be named after the other prefixes.
const (
	LedgerRedelivery   = "redelivery"
	LedgerPromotionPRs = "promoter-pr"
	LedgerMerges       = "merged"
)

// RedeliveryKey is the ledger key of the redelivery sweep's record of the
// delivery guid.
func RedeliveryKey(guid string) string { return events.KVKey(LedgerRedelivery, guid) }

// PromotionPRKey is the ledger key of the promoter's memory of the
// promotion pull request on branch of repo.
func PromotionPRKey(repo github.Repo, branch string) string {
	return events.KVKey(LedgerPromotionPRs, repo.Owner, repo.Name, branch)
}

// ParsePromotionPRKey reads the repository and branch out of a
// PromotionPRKey; ok is false for any other key.
func ParsePromotionPRKey(key string) (repo github.Repo, branch string, ok bool) {
	parts, ok := events.SplitKVKey(key)
	if !ok || len(parts) != 4 || parts[0] != LedgerPromotionPRs {
		return github.Repo{}, "", false
	}
	return github.Repo{Owner: parts[1], Name: parts[2]}, parts[3], true
}

// PromotionPR is one entry of the promoter's memory.
type PromotionPR[E any] struct {
	Repo   github.Repo
	Branch string
	Entry  E
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

// List returns every entry remembered, in no particular order; an entry
// that cannot be read is left out.
func (m *PromotionPRs[E]) List(ctx context.Context) ([]PromotionPR[E], error) {
	lister, err := m.kv.ListKeysFiltered(ctx, LedgerPromotionPRs+".>")
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list promotion pull requests: %w", err)
	}
	var out []PromotionPR[E]
	for key := range lister.Keys() {
		repo, branch, ok := ParsePromotionPRKey(key)
		if !ok {
			continue
		}
		if v, ok := m.Get(ctx, repo, branch); ok {
			out = append(out, PromotionPR[E]{Repo: repo, Branch: branch, Entry: v})
		}
	}
	return out, nil
}

// Forget forgets branch. Idempotent.
func (m *PromotionPRs[E]) Forget(ctx context.Context, repo github.Repo, branch string) error {
	if err := m.kv.Delete(ctx, PromotionPRKey(repo, branch)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("%s %s: forget pull request: %w", repo, branch, err)
	}
	return nil
}

// Merge is a merged pull request as its closed event told it.
type Merge struct {
	Commit   string    `json:"commit"`
	MergedAt time.Time `json:"merged_at"`
}

// Merges remembers each merged pull request's merge commit and time, as
// its closed event told them: a /promote on it needs no read of the pull
// request, and the promotion's lead time starts at the merge. An entry is
// written only from a GitHub delivery and expires with the ledger. It is
// safe for concurrent use.
type Merges struct {
	kv jetstream.KeyValue
}

// OpenMerges opens the record of merges.
func OpenMerges(ctx context.Context, bus *events.Bus) (*Merges, error) {
	kv, err := bus.KeyValue(ctx, events.BucketLedger)
	if err != nil {
		return nil, err
	}
	return &Merges{kv: kv}, nil
}

func mergeKey(repo github.Repo, number int) string {
	return events.KVKey(LedgerMerges, repo.Owner, repo.Name, fmt.Sprint(number))
}

// Put records the merge of pull request number.
func (m *Merges) Put(ctx context.Context, repo github.Repo, number int, merge Merge) error {
	raw, err := json.Marshal(merge)
	if err == nil {
		_, err = m.kv.Put(ctx, mergeKey(repo, number), raw)
	}
	if err != nil {
		return fmt.Errorf("%s#%d: record merge: %w", repo, number, err)
	}
	return nil
}

// Get returns the merge of pull request number; ok is false when none is
// recorded or it cannot be read (the caller then asks GitHub, or goes
// without).
func (m *Merges) Get(ctx context.Context, repo github.Repo, number int) (merge Merge, ok bool) {
	e, err := m.kv.Get(ctx, mergeKey(repo, number))
	if err != nil || json.Unmarshal(e.Value(), &merge) != nil || merge.Commit == "" {
		return Merge{}, false
	}
	return merge, true
}
